"""An .xls or .ods is read as the application that made it shows it, and comes back as the .xlsx it would be.

``tests/fixtures/formats.xls`` and ``formats.ods`` were saved by LibreOffice
Calc (see ``make_workbooks.py``): a serial typed as 123 and formatted
``000000``, a formula column showing "ok", merged cells, a wide column and a
hidden sheet.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

import sn_importer as sn
from sn_importer.ods import excel_formula

from conftest import write_ods

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS = ["status", "message", "serial_id", "request", "checked_at"]


def results_of(tmp_path: Path, name: str):
    source = tmp_path / name
    shutil.copy(FIXTURES / name, source)
    job = sn.read(source)
    return job, job.write()


def test_serials_formatted_000000_read_as_shown_from_xlsx_xls_and_ods_alike(tmp_path):
    book = Workbook()
    ws = book.active
    ws.append(["resource_type", "resource_id", "serial_number"])
    ws.append(["MO", 3001, 123])
    ws["C2"].number_format = "000000"
    book.save(tmp_path / "formats.xlsx")
    for name in ("formats.xlsx", "formats.xls", "formats.ods"):
        if name != "formats.xlsx":
            shutil.copy(FIXTURES / name, tmp_path / name)
        rows = sn.read(tmp_path / name).rows
        assert rows["serial_number"].iloc[0] == "000123", name
        assert "read as Excel shows it ('000123')" in rows["message"].iloc[0], name


@pytest.mark.parametrize("name", ["formats.xls", "formats.ods"])
def test_the_output_keeps_sheets_formats_merges_widths_and_formulas(tmp_path, name):
    job, out = results_of(tmp_path, name)
    assert out.name == f"{name}.results.xlsx"
    book = load_workbook(out)
    assert book.sheetnames == ["Serials", "Hidden", "Summary"] and book.active.title == "Summary"
    assert book["Hidden"].sheet_state == "hidden" and book["Hidden"]["A1"].value == "kept hidden"
    ws = book["Serials"]
    assert [c.value for c in ws[1]][:4] == ["resource_type", "resource_id", "serial_number", "check"]
    assert [c.value for c in ws[1]][7:12] == RESULTS  # right of the merged note in F1:G1
    assert [str(r) for r in ws.merged_cells.ranges] == ["F1:G1"]
    assert (ws["C2"].value, ws["C2"].number_format) == (123, "000000")
    assert ws["D2"].value.replace("0.0", "0") == '=IF(B2>0,"ok","no")'  # the formula itself
    assert 20 < ws.column_dimensions["C"].width < 30
    assert [ws.cell(r, 8).value for r in (2, 3)] == ["valid", "valid"]
    cached = load_workbook(out, data_only=True)["Serials"]
    assert [cached["D2"].value, cached["D3"].value] == ["ok", "ok"]  # what the application showed
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.fitToWidth in (None, 1)  # 1 is the default
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    notes = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r[0]]
    assert "The workbook holds 2 formulas, kept in the results as they are: check them before sharing the " \
           "results with others." in notes


def test_a_results_file_of_an_ods_fed_back_in_gets_fresh_results(tmp_path):
    _, out = results_of(tmp_path, "formats.ods")
    again = load_workbook(sn.read(out).write(tmp_path / "again.xlsx"))["Serials"]
    assert [c.value for c in again[1]][7:12] == RESULTS and again.max_column == 12


@pytest.mark.parametrize("formula, excel", [
    ('of:=IF([.B2]>0;"ok";"no")', '=IF(B2>0,"ok","no")'),
    ("of:=SUM([.A1:.A9])", "=SUM(A1:A9)"),
    ("of:=[$Sheet2.A1]+['My list'.$B$2]", "=Sheet2!A1+'My list'!$B$2"),
    ('of:="a;b"&[.C3]', '="a;b"&C3'),
])
def test_openformula_is_written_in_excels_words(formula, excel):
    assert excel_formula(formula) == excel


def test_a_results_workbook_saved_as_ods_and_run_again_holds_one_summary_this_runs(tmp_path):
    """Results opened in LibreOffice, fixed and saved as .ods, then run again: this run's Summary takes
    the place of the earlier one, as for an .xlsx, instead of a 'Summary (sn-importer)' beside it."""
    from sn_importer.mapping import REMOVED_COLUMNS

    source = tmp_path / "fixed.ods"
    write_ods(source, {"S": [["resource_type", "resource_id", "serial_number", *RESULTS], ["MO", 3001, "A", "invalid"]],
                  "Summary": [["sn-importer results: validate"], ["• 1 that cannot be used as written (invalid)."]],
                  "Removed": [list(REMOVED_COLUMNS), [1, "A", "ManufacturingOrder", 3001, "t", "d", 1, "row 2"]]})
    book = load_workbook(sn.read(source).write())
    assert book.sheetnames == ["S", "Summary", "Removed"] and book.active.title == "Summary"
    lines = [r for r in book["Summary"].iter_rows(values_only=True)]
    assert lines[0][0] == "sn-importer results: validate" and not any("invalid" in str(r[0]) for r in lines)
    assert ("Summary", "the Summary of an earlier sn-importer run, replaced by this one") in [r[:2] for r in lines]
    assert [c.value for c in book["S"][2]][:4] == ["MO", 3001, "A", "valid"] and book["S"].max_column == 8
