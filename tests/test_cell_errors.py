"""A key cell that shows a formula's error (#N/A, #DIV/0!, #REF!) says so, naming the error.

Staff then fix the formula, instead of looking for characters Katana does not
allow in a serial, or for a blank cell that is not blank in Excel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sn_importer as sn

from conftest import write_csv

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_workbooks import write_cell_errors  # noqa: E402

FIX = "instead of a value; fix the formula (or the cells it uses) in the workbook"
EXPECTED = [
    ("Orders", 2, "invalid", f"Serial number shows the Excel error '#DIV/0!' {FIX}"),
    ("Orders", 3, "invalid", f"Resource ID shows the Excel error '#REF!' {FIX}"),
    ("Orders", 4, "valid", ""),
    ("Sales", 2, "invalid", f"Order no shows the Excel error '#N/A' {FIX}"),
    ("Sales", 3, "invalid", f"SKU shows the Excel error '#VALUE!' {FIX}"),
]


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))


def rows_of(job) -> list[tuple]:
    return [(s, int(r), st, m) for s, r, st, m in job.rows[["sheet", "row", "status", "message"]].itertuples(
        index=False, name=None)]


def test_error_cells_of_an_xlsx_name_the_error(tmp_path):
    path = tmp_path / "cell-errors.xlsx"
    write_cell_errors(path)
    assert rows_of(sn.read(path)) == EXPECTED


@pytest.mark.parametrize("name", ["cell-errors.xls", "cell-errors.ods"])
def test_error_cells_of_an_xls_or_ods_name_the_error(tmp_path, name):
    target = tmp_path / name
    target.write_bytes((FIXTURES / name).read_bytes())
    assert rows_of(sn.read(target)) == EXPECTED


def test_an_error_in_a_serial_beside_a_serial_id_is_not_passed_over(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Resource type", "Resource ID", "Serial id", "Serial number"])
    book.active.append(["MO", 3001, 1001, "#N/A"])
    book.save(tmp_path / "both.xlsx")
    assert rows_of(sn.read(tmp_path / "both.xlsx")) == [
        ("Sheet", 2, "invalid", f"Serial number shows the Excel error '#N/A' {FIX}")]


def test_a_csv_saved_from_a_sheet_with_errors_says_the_same(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,#REF!,SN-1\nMO,3001,#N/A\n")
    assert [m for *_, m in rows_of(sn.read(path))] == [f"resource_id shows the Excel error '#REF!' {FIX}",
                                                      f"serial_number shows the Excel error '#N/A' {FIX}"]
