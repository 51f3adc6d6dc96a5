"""What is said first about a sheet that is read: rows it hides, a header with nothing under it.

A sheet not read is said first (``test_sheets.py``); so is what a person
should know of a sheet that is read before anything is sent: the console's
first lines, the top of the Summary, the check page, the drop folder's log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

import sn_importer as sn
from sn_importer.status import Mode

from conftest import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HIDDEN = ("Sheet 'Orders': 3 rows are hidden (by a filter or by hand; rows 3-4, 6); "
          "they are read and checked like the others.")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))


def filtered_workbook(path: Path) -> Path:
    """Seven serials under a filter that hides rows 3, 4 and 6 (and a blank row 9, not counted)."""
    book = Workbook()
    ws = book.active
    ws.title = "Orders"
    ws.append(["Resource type", "Resource ID", "Serial number", "Note"])
    for n in range(1, 8):
        ws.append(["MO", 3001, f"SN-{n}", "Müller"])
    ws.auto_filter.ref = "A1:D8"
    for row in (3, 4, 6, 9):
        ws.row_dimensions[row].hidden = True
    book.save(path)
    return path


def summary_texts(path: Path) -> list[str]:
    return [str(r[0]) for r in load_workbook(path)["Summary"].iter_rows(values_only=True) if r[0]]


def test_rows_a_filter_hides_are_read_and_said_first(tmp_path):
    path = filtered_workbook(tmp_path / "filtered.xlsx")
    done = run_cli("validate", path)
    assert done.returncode == 0, done.stderr
    assert " ".join(done.stdout.split("Columns read")[0].split()) == HIDDEN  # the console's first words
    job = sn.read(path)
    assert job.counts() == {"valid": 7}, "every row is read and gets a status"
    assert job.sheet_notes == job.validation().sheet_notes == (HIDDEN,)  # a notebook reads them from a job or a result
    assert summary_texts(job.write())[1:3] == ["Read this first", HIDDEN]  # the top of the Summary
    as_json = json.loads(run_cli("validate", path, "--json", "--output", tmp_path / "j.xlsx").stdout)
    assert as_json["sheet_notes"] == [HIDDEN]


@pytest.mark.parametrize("name", ["hidden-rows.xls", "hidden-rows.ods"])
def test_rows_hidden_in_an_xls_or_ods_are_said_too(tmp_path, name):
    target = tmp_path / name
    target.write_bytes((FIXTURES / name).read_bytes())
    job = sn.read(target)
    assert job.source.sheet_notes == ["Sheet 'Orders': 2 rows are hidden (by a filter or by hand; rows 3-4); "
                                      "they are read and checked like the others."]
    assert job.counts() == {"valid": 5}


def test_one_hidden_row_is_said_in_the_singular(tmp_path):
    book = Workbook()
    book.active.title = "Orders"
    for row in (["Resource type", "Resource ID", "Serial number"], ["MO", 3001, "SN-1"], ["MO", 3001, "SN-2"]):
        book.active.append(row)
    book.active.row_dimensions[3].hidden = True
    book.save(tmp_path / "one.xlsx")
    assert sn.read(tmp_path / "one.xlsx").source.sheet_notes == [
        "Sheet 'Orders': 1 row is hidden (by a filter or by hand; row 3); it is read and checked like the others."]


def test_a_sheet_with_no_hidden_rows_says_nothing(tmp_path):
    book = Workbook()
    book.active.append(["Resource type", "Resource ID", "Serial number"])
    book.active.append(["MO", 3001, "SN-1"])
    book.active.column_dimensions["D"].hidden = True  # a hidden column is not a hidden row
    book.save(tmp_path / "plain.xlsx")
    assert sn.read(tmp_path / "plain.xlsx").source.sheet_notes == []


def test_watch_logs_hidden_rows_before_the_files_line(tmp_path):
    from sn_importer.watch import watch

    inbox = tmp_path / "drops" / "inbox"
    inbox.mkdir(parents=True)
    filtered_workbook(inbox / "filtered.xlsx")
    lines: list[str] = []
    assert watch(tmp_path / "drops", once=True, log=lines.append, mode=Mode.VALIDATE, settle=0) == 0
    events = [line for line in lines if "event=sheet-note" in line or "event=file" in line]
    assert "event=sheet-note" in events[0] and "level=warn" in events[0] and "event=file" in events[1]
    assert json.dumps(HIDDEN) in events[0]


def test_a_sheet_with_a_header_and_no_rows_is_named(tmp_path):
    book = Workbook()
    orders = book.active
    orders.title = "Orders"
    orders.append(["Resource type", "Resource ID", "Serial number"])
    orders.append(["MO", 3001, "SN-1"])
    sales = book.create_sheet("Sales")  # where the rows were meant to go
    sales.append(["Resource type", None, None])
    sales.append(["Resource type", "Resource ID", "Serial number"])
    sales.append([" ", None, None])
    path = tmp_path / "pasted.xlsx"
    book.save(path)
    said = "Sheet 'Sales': header found (row 2), no rows below it."
    done = run_cli("validate", path)
    assert done.returncode == 0, done.stderr
    assert " ".join(done.stdout.split("Columns read")[0].split()) == said
    job = sn.read(path)
    assert summary_texts(job.write())[1:3] == ["Read this first", said]
    assert job.validation().summary()["sheet_notes"] == [said]


def test_a_sheet_with_only_a_total_under_its_header_is_named(tmp_path):
    book = Workbook()
    book.active.title = "Orders"
    book.active.append(["Resource type", "Resource ID", "Serial number"])
    book.active.append(["MO", 3001, "SN-1"])
    sales = book.create_sheet("Sales")  # the rows were pasted elsewhere; its total row stayed
    sales.append(["Resource type", "Resource ID", "Serial number"])
    sales.append([None, None, None])
    sales.append(["Total", None, "=COUNTA(C2:C3)"])
    path = tmp_path / "total.xlsx"
    book.save(path)
    said = "Sheet 'Sales': header found (row 1), no rows below it (only a total or a note: row 3)."
    job = sn.read(path)
    assert job.counts() == {"valid": 1, "ignored": 1}
    assert job.validation().summary()["sheet_notes"] == [said]
    assert said.replace("'", "&#x27;") in job._repr_html_()
    csv_path = tmp_path / "total.csv"  # a CSV says nothing first of its rows, as with no rows at all
    csv_path.write_text("resource_type,resource_id,serial_number\nTotal,,=COUNTA(C2:C2)\n")
    assert sn.read(csv_path).source.sheet_notes == []


def test_a_csv_says_nothing_first_of_its_rows(tmp_path):
    path = tmp_path / "serials.csv"
    path.write_text("resource_type,resource_id,serial_number\n")
    assert sn.read(path).source.sheet_notes == []
