"""``watch`` leaves undo reports alone: one named ``*.undo.*``, and one renamed that only its
document properties tell, stay in the inbox untouched while the sheet beside them is run."""

from __future__ import annotations

import shutil

import pandas as pd
from conftest import run_cli

from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.report.paths import is_undo_report
from sn_importer.restore.records import from_frame
from sn_importer.restore.run import run_undo


def an_undo_report(path):
    """A real undo report, made without Katana: its one record cannot be put back."""
    record = dict.fromkeys(REMOVED_COLUMNS) | {"id": 1, "serial_number": "A", "resource_type": "Mystery",
                                                "resource_id": 1}
    result = run_undo(from_frame(pd.DataFrame([record]), "x.results.xlsx"))
    assert result.counts() == {"cannot_restore": 1}
    return result.write(path)


def test_watch_leaves_undo_reports_in_the_inbox(tmp_path):
    inbox = tmp_path / "drops" / "inbox"
    inbox.mkdir(parents=True)
    named = an_undo_report(inbox / "x.results.undo.xlsx")
    renamed = inbox / "put back.xlsx"
    shutil.copy(named, renamed)
    (inbox / "sheet.csv").write_text("resource_type,resource_id,serial_id\nManufacturingOrder,3001,1001\n")
    assert is_undo_report(named) and is_undo_report(renamed) and not is_undo_report(inbox / "sheet.csv")
    done = run_cli("watch", tmp_path / "drops", "--once", "--offline", "--settle", "0", "--state-dir",
                   tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in inbox.iterdir()) == ["put back.xlsx", "x.results.undo.xlsx"]
    assert (tmp_path / "drops" / "done" / "sheet.csv").is_file()
    assert not list((tmp_path / "drops" / "failed").iterdir())
    assert "x.results.undo" not in done.stderr and "put back" not in done.stderr
