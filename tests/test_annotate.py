"""The user's own workbook comes back annotated: every sheet, style and setting
kept, read back with openpyxl; the Summary speaks to staff; names never collide."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

import sn_importer as sn
from sn_importer.report import default_output_path
from sn_importer.report.paths import PROPERTY_INPUT, PROPERTY_INPUT_ID, PROPERTY_MODE, input_id, recorded

from conftest import read_back, run_cli, write_csv, write_ods, write_xlsx

RESULTS = ("status", "message", "serial_id", "request", "checked_at")
YELLOW, BLUE = "FFFFFF00", "FF305496"


def rich_workbook(path):
    """A workbook as staff make them: a merged title, a styled header, widths,
    heights, panes, a drop-down, comments, fills, a date format, a serial stored
    as a number formatted 00000, a formula, formula-like text, a hidden sheet,
    a sheet of notes and a second data sheet with its own filter."""
    book = Workbook()
    ws = book.active
    ws.title = "Orders"
    ws["A1"] = "Serials to detach — week 48"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells("A1:E1")
    ws.append([])
    ws.append(["Resource type", "Resource ID", "Serial number", "Received", "Note", "Check"])
    for cell in ws[3]:
        cell.font, cell.fill = Font(bold=True, color="FFFFFFFF"), PatternFill("solid", fgColor=BLUE)
    ws.append(["MO", 3001, "SN-1", datetime(2026, 11, 20), "first"])
    ws.append(["MO", 3001, 42, datetime(2026, 11, 21), None])
    ws.append(["MO", "abc", "SN-3", None, "typo"])
    ws.append(["MO", 3001, "SN-1", None, "again"])
    ws.append(["MO", 3002, "SN-5", None, "=HYPERLINK(\"http://example.com\")"])
    ws["E8"].data_type = "s"  # text that looks like a formula, as staff type it with a leading '
    ws["F4"] = "=LEN(C4)"  # a live formula of their own
    ws["C5"].number_format = "00000"
    ws["D4"].number_format = ws["D5"].number_format = "dd.mm.yyyy"
    ws["E4"].fill = PatternFill("solid", fgColor=YELLOW)
    ws["C3"].comment = Comment("Text, please", "ops")
    ws.column_dimensions["A"].width, ws.column_dimensions["C"].width = 22, 18
    ws.row_dimensions[3].height = 30
    ws.freeze_panes = "B4"
    drop = DataValidation(type="list", formula1='"Manufacturing order,Sales order row"', allow_blank=True)
    drop.add("A4:A200")
    ws.add_data_validation(drop)
    old = book.create_sheet("Old")
    old.append(["resource_type", "resource_id", "serial_number"])
    old.append(["MO", 3001, "OLD-1"])
    old.sheet_state = "hidden"
    book.create_sheet("Notes").append(["Fill one row per serial; ask ops."])
    sales = book.create_sheet("Sales")
    sales.append(["resource_type", "resource_id", "serial_number"])
    sales.append(["SO row", 5001, "S-1"])
    sales.append(["SO row", 5001, "S-2"])
    sales.auto_filter.ref = "A1:C3"
    book.save(path)
    return path


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rich")
    source = rich_workbook(folder / "week48.xlsx")
    before = source.read_bytes()
    job = sn.read(source)
    out = job.write()
    assert source.read_bytes() == before, "the input is never modified"
    return job, load_workbook(out), out


def test_every_sheet_in_its_order_and_visibility(annotated):
    _, book, _ = annotated
    assert book.sheetnames == ["Orders", "Old", "Notes", "Sales", "Summary"]  # no Removed outside apply
    assert book["Old"].sheet_state == "hidden"
    assert [r for r in book["Old"].iter_rows(values_only=True)] == [("resource_type", "resource_id", "serial_number"),
                                                                    ("MO", 3001, "OLD-1")]
    assert book["Notes"]["A1"].value == "Fill one row per serial; ask ops."
    assert book.active.title == "Summary"


def test_formatting_of_the_sheet_is_kept(annotated):
    _, book, _ = annotated
    ws = book["Orders"]
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:E1"]
    assert (ws["A1"].value, ws["A1"].font.b, ws["A1"].font.sz) == ("Serials to detach — week 48", True, 14)
    assert ws.column_dimensions["A"].width == 22 and ws.column_dimensions["C"].width == 18
    assert ws.row_dimensions[3].height == 30
    assert ws.freeze_panes == "B4"  # their own panes, not ours
    assert ws["E4"].fill.fgColor.rgb == YELLOW
    assert ws["C3"].comment.text == "Text, please"
    [drop] = ws.data_validations.dataValidation
    assert (str(drop.sqref), drop.formula1) == ("A4:A200", '"Manufacturing order,Sales order row"')


def test_values_formats_and_formulas_are_kept(annotated):
    _, book, _ = annotated
    ws = book["Orders"]
    assert (ws["D4"].value, ws["D4"].number_format) == (datetime(2026, 11, 20), "dd.mm.yyyy")
    assert (ws["C5"].value, ws["C5"].number_format) == (42, "00000")  # Excel still shows 00042
    assert (ws["E8"].value, ws["E8"].data_type) == ('=HYPERLINK("http://example.com")', "s")  # text stays text
    assert (ws["F4"].value, ws["F4"].data_type) == ("=LEN(C4)", "f")  # their formula stays a formula


def test_result_columns_in_the_headers_style_with_coloured_statuses(annotated):
    _, book, _ = annotated
    ws = book["Orders"]
    header = [c.value for c in ws[3]]
    assert header == ["Resource type", "Resource ID", "Serial number", "Received", "Note", "Check", *RESULTS]
    assert ws["G3"].fill.fgColor.rgb == BLUE and ws["K3"].font.b
    assert [ws.cell(r, 7).value for r in range(4, 9)] == ["valid", "valid", "invalid", "duplicate", "valid"]
    assert ws["I6"].value is None and "Resource ID 'abc'" in ws["H6"].value
    assert "row 4" in ws["H7"].value
    assert ws["G4"].fill.fgColor.rgb == "FFC6EFCE" and ws["G6"].fill.fgColor.rgb == "FFFFC7CE"
    assert ws.column_dimensions["H"].width == 60
    assert ws.auto_filter.ref == "A3:K8"


def test_cells_right_of_the_header_are_never_written_over(tmp_path):
    book = Workbook()
    ws = book.active
    ws.append(["resource_type", "resource_id", "serial_number"])
    ws.append(["MO", 3001, "A"])
    ws["E2"] = "=1+1"  # no header above it, no cached value: the reader does not see it
    ws["F2"] = "kept"
    book.save(tmp_path / "stray.xlsx")
    out = load_workbook(sn.read(tmp_path / "stray.xlsx").write())["Sheet"]
    assert (out["E2"].value, out["F2"].value) == ("=1+1", "kept")
    assert [c.value for c in out[1]][6:8] == ["status", "message"] and out["G2"].value == "valid"


def test_a_second_sheet_keeps_its_filter_grown_over_the_results(annotated):
    _, book, _ = annotated
    ws = book["Sales"]
    assert [c.value for c in ws[1]] == ["resource_type", "resource_id", "serial_number", *RESULTS]
    assert [ws.cell(r, 4).value for r in (2, 3)] == ["valid", "valid"]
    assert ws.auto_filter.ref == "A1:H3"
    assert ws.freeze_panes == "A2"  # none of its own: the header is frozen


def test_summary_speaks_to_staff_first(annotated):
    _, book, out = annotated
    rows = [r for r in book["Summary"].iter_rows(values_only=True)]
    texts = [r[0] for r in rows if r[0]]
    assert texts[:3] == ["sn-importer results: validate", "What happened",
                         "7 rows checked offline; nothing was sent to Katana."]
    assert "• 5 ready to go (valid)." in texts and "• 1 that cannot be used as written (invalid)." in texts
    assert texts.index("What to do next") < texts.index("Statuses") < texts.index("Technical details")
    legend = {r[0]: (r[1], r[2]) for r in rows if r[0] in ("valid", "invalid", "duplicate")}
    assert legend["invalid"][0] == 1 and "message says which column" in legend["invalid"][1]
    facts = {r[0]: r[1] for r in rows if r[0]}
    assert facts["Mode"] == "validate" and facts["Exit code"] == "1 (some rows need attention)"
    assert recorded(out) == {PROPERTY_MODE: "validate", PROPERTY_INPUT: "week48.xlsx",
                             PROPERTY_INPUT_ID: input_id(out.with_name("week48.xlsx"))}


def test_a_results_file_fed_back_in_gets_fresh_results_in_place(annotated, tmp_path):
    _, _, first = annotated
    again = sn.read(first)
    book = load_workbook(again.write(tmp_path / "again.xlsx"))
    ws = book["Orders"]
    assert [c.value for c in ws[3]] == ["Resource type", "Resource ID", "Serial number", "Received", "Note", "Check",
                                        *RESULTS]
    assert [ws.cell(r, 7).value for r in range(4, 9)] == ["valid", "valid", "invalid", "duplicate", "valid"]
    assert book.sheetnames[:5] == ["Orders", "Old", "Notes", "Sales", "Summary"]
    assert book.active.title == "Summary"  # this run's, in the place of the earlier run's
    assert not [name for name in book.sheetnames if name.startswith("Summary (")]


def test_old_formats_come_back_as_xlsx(tmp_path):
    """An .xls or .ods cannot be patched: it comes back as an .xlsx of the same sheets (see test_office_formats)."""
    source = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]})
    ods = tmp_path / "old.ods"
    _save_as_ods(source, ods)
    job = sn.read(ods)
    out = job.write()
    assert out.name == "old.ods.results.xlsx"
    book = load_workbook(out)
    assert book.sheetnames == ["S", "Summary"]
    assert [c.value for c in book["S"][2]][:4] == ["MO", 3001, "A", "valid"]
    assert not [r[0] for r in book["Summary"].iter_rows(values_only=True) if r[0] and "rebuilt" in str(r[0])]


def _save_as_ods(source, target):
    """A minimal OpenDocument spreadsheet with the same cells (written by hand: no converter needed)."""
    write_ods(target, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]})


@pytest.mark.parametrize("names, expected", [
    (("base.xlsx", "base.xls", "base.ods", "base.xlsm"),
     ("base.results.xlsx", "base.xls.results.xlsx", "base.ods.results.xlsx", "base.xlsm.results.xlsx")),
    (("x.csv", "x.txt", "x.tsv", "x"), ("x.results.csv", "x.txt.results.csv", "x.tsv.results.csv", "x.noext.results.csv")),
])
def test_results_of_different_inputs_never_share_a_name(tmp_path, names, expected):
    kind = "csv" if expected[0].endswith(".csv") else "excel"
    assert tuple(default_output_path(tmp_path / n, kind).name for n in names) == expected


def test_results_of_another_input_are_kept_aside_not_replaced(tmp_path):
    one = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]}, name="one.xlsx")
    two = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3002, "B"]]}, name="two.xlsx")
    shared = tmp_path / "shared.xlsx"
    sn.read(one).write(shared)
    sn.read(two).write(shared)
    kept = [p for p in tmp_path.glob("shared.*.xlsx")]
    assert len(kept) == 1 and recorded(kept[0])[PROPERTY_INPUT] == "one.xlsx"
    assert recorded(shared)[PROPERTY_INPUT] == "two.xlsx"
    sn.read(two).write(shared)  # the same input again: simply replaced
    assert len(list(tmp_path.glob("shared.*.xlsx"))) == 1


def test_results_of_an_input_of_the_same_name_in_another_folder_are_kept_aside(tmp_path):
    rows = [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]
    (tmp_path / "week").mkdir(), (tmp_path / "month").mkdir()
    one = write_xlsx(tmp_path / "week", {"S": rows}, name="serials.xlsx")
    two = write_xlsx(tmp_path / "month", {"S": rows}, name="serials.xlsx")
    shared = tmp_path / "shared.xlsx"
    sn.read(one).write(shared)
    result = sn.read(two).validation()
    result.write(shared)
    kept = list(tmp_path.glob("shared.*.xlsx"))
    assert len(kept) == 1 and recorded(kept[0])[PROPERTY_INPUT_ID] == input_id(one)
    assert recorded(shared)[PROPERTY_INPUT_ID] == input_id(two)
    assert result.notes[-1] == f"shared.xlsx already held another file; it was kept as {kept[0].name}."


def test_a_workbook_of_the_users_own_chosen_as_output_is_kept_not_replaced(tmp_path):
    source = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]})
    own = write_xlsx(tmp_path, {"Budget": [["item", "cost"], ["desk", 300]]}, name="budget.xlsx")
    sn.read(source).write(own)
    kept = list(tmp_path.glob("budget.*.xlsx"))
    assert len(kept) == 1 and read_back(kept[0])["Budget"] == [["item", "cost"], ["desk", 300]]


def test_csv_results_of_another_input_are_kept_aside_and_the_command_says_so(tmp_path):
    (tmp_path / "a.csv").write_text("resource_type,resource_id,serial_id\nMO,3001,1\n")
    (tmp_path / "b.csv").write_text("resource_type,resource_id,serial_id\nMO,3002,2\nMO,3002,3\n")
    assert run_cli("validate", "b.csv", cwd=tmp_path).returncode == 0
    b_results = (tmp_path / "b.results.csv").read_bytes()
    done = run_cli("validate", "a.csv", "--output", "b.results.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    kept = list(tmp_path.glob("b.results.2*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == b_results
    assert f"b.results.csv already held another file; it was kept as {kept[0].name}." in done.stderr
    assert run_cli("validate", "b.csv", cwd=tmp_path).returncode == 0  # at its own default name: replaced
    assert len(list(tmp_path.glob("b.results.2*.csv"))) == 1


def test_csv_input_gives_csv_output_as_before(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,3001,A\n")
    out = sn.read(path).write()
    assert out.name == "serials.results.csv"
    assert out.read_text(encoding="utf-8-sig").splitlines()[1] == "MO,3001,A,valid,,,DELETE ManufacturingOrder 3001 (1/1),"


# --- the blank template, filled in and run -------------------------------------------------------


def test_the_blank_template_round_trips_into_clean_results(tmp_path):
    from sn_importer.blank import choices, write_blank_sheet
    from sn_importer.template import load_template

    template = load_template(None)
    blank = write_blank_sheet(tmp_path / "blank.xlsx", template)
    book = load_workbook(blank)
    offered = book["Serials"].data_validations.dataValidation[0].formula1.strip('"').split(",")
    assert offered == choices(template) and "Manufacturing order" in offered
    told = "\n".join(c.value or "" for c in book["Instructions"]["A"])
    assert all(choice in told for choice in offered) and "ManufacturingOrder" not in told
    assert all(template.resolve_resource_type(choice) for choice in offered)  # every choice is read back
    ws = book["Serials"]
    # Resource type, Resource id, Order number, SKU, Serial record id, Serial number, Note
    ws.append(["Sales order fulfillment row", 7001, None, None, None, "000123", "from the list"])
    ws.append(["Manufacturing order", 3001, None, None, 1001, None, None])
    ws.append(["Sales order row", None, "SO-1042", "KNF-01", None, "A-1", "by order number"])
    book.save(blank)
    out = load_workbook(sn.read(blank).write())
    header = [c.value for c in out["Serials"][1]]
    assert header.count("serial_id") == 1, header
    assert [r[7] for r in out["Serials"].iter_rows(min_row=2, values_only=True)] == ["valid", "valid", "valid"]
    summary = [r[0] for r in out["Summary"].iter_rows(values_only=True) if r[0]]
    assert "Instructions" not in summary and not any("not read" in str(t) or "no rows read" in str(t) for t in summary)
    assert out.sheetnames == ["Serials", "Instructions", "Summary"]


@pytest.mark.parametrize("name, words", [
    ("res", "has no extension; name it .xlsx (a workbook) or .csv (text)"),
    ("out.pdf", "has the extension '.pdf'"),
    ("week48.xlsx", "would overwrite the input"),
    ("blocker/out.xlsx", "which is a file, not a folder"),
])
def test_a_bad_output_is_refused_in_plain_words_before_anything_is_sent(tmp_path, name, words):
    from sn_importer import UsageError
    from sn_importer.report import prove_writable

    (tmp_path / "blocker").write_text("a file where a folder would go")
    with pytest.raises(UsageError, match=re.escape(words)):
        prove_writable(tmp_path / name, tmp_path / "week48.xlsx")
    prove_writable(tmp_path / "fine" / "out.xlsx", tmp_path / "week48.xlsx")
    assert list((tmp_path / "fine").iterdir()) == []  # the probe leaves nothing behind


def test_the_00000_serial_is_read_as_shown_and_its_row_says_so(annotated):
    job, book, _ = annotated
    row = job.rows[(job.rows["sheet"] == "Orders") & (job.rows["row"] == 5)].iloc[0]
    assert row["serial_number"] == "00042" and row["status"] == "valid"
    message = book["Orders"]["H5"].value
    assert "stored in the workbook as a number" in message and "'00042'" in message
