"""A workbook parsed ahead (while the command line loads the library) is used only when it is still true.

The command line starts :func:`sn_importer.workbook_cells.read_ahead` for its
file; the workbook reader takes what the thread parsed, or reads the file
itself. Each test here fails if the reader took cells that no longer match the
file, the limits or the path, or if the read ahead were never taken.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

import sn_importer as sn
from sn_importer import InputError, workbook_cells
from sn_importer.guard import LIMITS, Limits
from sn_importer.reader import read_file
from sn_importer.template import load_template

from conftest import run_cli, write_xlsx

HEADER = ["resource_type", "resource_id", "serial_number"]
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "serials.xlsx"


def _book(tmp_path, serials, name="serials.xlsx"):
    return write_xlsx(tmp_path, {"Orders": [HEADER, *(["MO", 3001, s] for s in serials)]}, name=name)


def _serials(job) -> list[str]:
    return job.rows["serial_number"].tolist()


def _touch_later(path: Path) -> None:
    """Move the file's modification time on by a minute (a rewrite within one clock tick looks unchanged)."""
    later = os.stat(path).st_mtime_ns + 60 * 10**9
    os.utime(path, ns=(later, later))


def test_cells_parsed_ahead_are_handed_over_and_read_like_cells_parsed_now(tmp_path):
    copy = tmp_path / "serials.xlsx"
    copy.write_bytes(SAMPLE.read_bytes())
    plain = sn.read(copy)
    workbook_cells.read_ahead(copy).join()
    cells = workbook_cells.cells_of(copy, LIMITS)
    assert set(cells.parsed) >= {"Orders", "Sales and purchasing"}, "the visible sheets were parsed ahead"
    assert "Old" not in cells.parsed, "a hidden sheet is never parsed"
    assert workbook_cells.cells_of(copy, LIMITS).parsed == {}, "what was read ahead is handed over once"
    workbook_cells.read_ahead(copy)
    ahead = sn.read(copy)
    assert ahead.rows.equals(plain.rows)
    assert ahead.notes == plain.notes
    assert ahead.source.skipped == plain.source.skipped


def test_a_sheet_the_template_leaves_out_is_not_parsed_ahead(tmp_path):
    path = write_xlsx(tmp_path, {"Orders": [HEADER, ["MO", 3001, "A-1"]], "Archive": [HEADER, ["MO", 3001, "Z-9"]]})
    template = tmp_path / "orders-only.toml"
    shipped = (Path(__file__).resolve().parents[1] / "templates" / "default.toml").read_text(encoding="utf-8")
    template.write_text(shipped.replace('include = []', 'include = ["Orders"]'), encoding="utf-8")
    workbook_cells.read_ahead(path, template).join()
    cells = workbook_cells.cells_of(path, LIMITS)
    assert list(cells.parsed) == ["Orders"]
    before = workbook_cells.handed_over
    done = run_cli("validate", path, "--template", template, "--output", tmp_path / "out.xlsx")
    assert done.returncode == 0, done.stderr
    assert workbook_cells.handed_over == before + 1


def test_a_file_changed_after_it_was_read_ahead_is_read_again(tmp_path):
    path = _book(tmp_path, ["A-1", "A-2"])
    workbook_cells.read_ahead(path).join()
    _book(tmp_path, ["B-1", "B-2", "B-3"])
    _touch_later(path)
    assert _serials(sn.read(path)) == ["B-1", "B-2", "B-3"]


def test_a_file_replaced_by_one_of_the_same_size_and_time_is_read_again(tmp_path):
    path = _book(tmp_path, ["A-1", "A-2"])
    before = os.stat(path)
    workbook_cells.read_ahead(path).join()
    other = _book(tmp_path, ["B-1", "B-2"], name="other.xlsx")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)  # a new inode where the old file was
    assert _serials(sn.read(path)) == ["B-1", "B-2"]


def test_another_file_does_not_take_what_was_read_ahead(tmp_path):
    first = _book(tmp_path, ["A-1"], name="first.xlsx")
    second = _book(tmp_path, ["B-1"], name="second.xlsx")
    workbook_cells.read_ahead(first).join()
    assert _serials(sn.read(second)) == ["B-1"]
    assert _serials(sn.read(first)) == ["A-1"]


def test_cells_read_ahead_under_the_default_limits_do_not_pass_tighter_ones(tmp_path):
    path = _book(tmp_path, [f"S-{i}" for i in range(20)])
    workbook_cells.read_ahead(path).join()
    with pytest.raises(InputError, match="rows"):
        read_file(path, load_template(None), Limits(rows=5))


def test_a_workbook_that_fails_ahead_is_refused_in_the_readers_own_words(tmp_path):
    path = tmp_path / "broken.xlsx"
    good = _book(tmp_path, ["A-1"], name="good.xlsx")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as broken:
        for item in source.infolist():
            data = source.read(item)
            broken.writestr(item, b"<worksheet><sheetData><row" if item.filename.endswith("sheet1.xml") else data)
    with pytest.raises(InputError) as unread:
        sn.read(path)
    workbook_cells.read_ahead(path).join()
    with pytest.raises(InputError) as ahead:
        sn.read(path)
    assert str(ahead.value) == str(unread.value)
    done = run_cli("validate", path)
    assert done.returncode == 2
    assert str(unread.value).split(": ", 1)[-1][:40] in " ".join(done.stderr.split())


def test_the_command_line_reads_its_workbook_ahead_and_the_read_takes_it(tmp_path):
    path = _book(tmp_path, ["A-1", "A-2"])
    before = workbook_cells.handed_over
    done = run_cli("validate", path)
    assert done.returncode == 0, done.stderr
    assert workbook_cells.handed_over == before + 1, "the command's read took what its thread parsed"
    assert workbook_cells.read_ahead(tmp_path / "serials.csv") is None, "a CSV is not read ahead"
    pipe = tmp_path / "pipe.xlsx"
    os.mkfifo(pipe)
    assert workbook_cells.read_ahead(pipe) is None, "a pipe is left to the reader (reading it ahead would empty it)"
