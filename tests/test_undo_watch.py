"""``watch`` leaves undo reports alone: one named ``*.undo.*``, and one renamed that only its
document properties tell, stay in the inbox untouched while the sheet beside them is run; each is
said once in the log, so whoever dropped it is not left waiting for results."""

from __future__ import annotations

import shutil

import pandas as pd
from conftest import run_cli

from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.report.paths import is_undo_report
from sn_importer.restore.records import from_frame
from sn_importer.restore.run import run_undo
from sn_importer.watch import Settings, Watcher


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
    said = [line for line in done.stderr.splitlines() if "event=undo-report" in line]
    assert [line.split(" file=")[1].split(" reason=")[0] for line in said] == ['"put back.xlsx"',
                                                                               "x.results.undo.xlsx"]
    assert all("left in the inbox untouched" in line and "sn-importer undo" in line for line in said)


def test_a_polling_watcher_says_an_undo_report_once_while_it_stays(tmp_path):
    inbox = tmp_path / "drops" / "inbox"
    inbox.mkdir(parents=True)
    report = an_undo_report(inbox / "x.results.undo.xlsx")
    lines: list[str] = []
    watcher = Watcher(tmp_path / "drops", Settings(mode="validate", settle=0, state_dir=tmp_path / "state"),
                      log=lines.append)
    for _ in range(3):
        watcher.run_pass()
    assert sum("event=undo-report" in line for line in lines) == 1
    report.rename(tmp_path / "away.xlsx")
    watcher.run_pass()
    (tmp_path / "away.xlsx").rename(report)  # dropped again: said again
    watcher.run_pass()
    assert sum("event=undo-report" in line for line in lines) == 2
    assert report.is_file()
