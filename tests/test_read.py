"""Reading: formats, encodings, delimiters, header search, sheets, and refusing bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

import sn_importer as sn
from sn_importer import HeaderNotFoundError, InputError

from conftest import _command, read_back, run_cli, write_csv, write_xlsx


def csv_rows(path):
    """An output CSV (UTF-8 with BOM) as a list of cell lists, with the delimiter it used."""
    import csv

    text = path.read_text(encoding="utf-8-sig")
    delimiter = next(d for d in ",;\t|" if d in text.splitlines()[0])
    return list(csv.reader(text.splitlines(), delimiter=delimiter))


# --- CSV: delimiters and encodings ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected(tmp_path, delimiter):
    lines = [["resource_type", "resource_id", "serial_number", "note"],
             ["MO", "3001", "000123", "first"],
             ["SO row", "5001", "A-7", "second"]]
    path = write_csv(tmp_path, "".join(delimiter.join(r) + "\r\n" for r in lines))
    job = sn.read(path)
    assert job.source.delimiter == delimiter
    assert job.rows["status"].tolist() == ["valid", "valid"]
    assert job.rows["resource_type"].tolist() == ["ManufacturingOrder", "SalesOrderRow"]
    out = job.write()
    assert out.read_text(encoding="utf-8-sig").splitlines()[1] == delimiter.join(
        ["MO", "3001", "000123", "first", "valid", "", "", "DELETE ManufacturingOrder 3001 (1/1)", ""])


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_and_without_bom(tmp_path, bom):
    text = ("\ufeff" if bom else "") + "Serial ID,resource-id,ResourceType,Note\nKNF1,3001,MO,Ünïcødé ✓\n"
    text = text.replace("KNF1", "17")
    job = sn.read(write_csv(tmp_path, text))
    assert job.source.encoding == ("utf-8-sig" if bom else "utf-8")
    assert job.source.sheets[0].header == ["Serial ID", "resource-id", "ResourceType", "Note"]
    assert job.rows.loc[0, "serial_id"] == 17
    rows = csv_rows(job.write())
    assert rows[0] == ["Serial ID", "resource-id", "ResourceType", "Note", "status", "message", "serial_id",
                       "request", "checked_at"]
    assert rows[1][3] == "Ünïcødé ✓"


def test_utf16_unicode_text_as_excel_saves_it(tmp_path):
    text = "\ufeffresource_type\tresource_id\tserial_number\tnote\r\nMO\t3001\t000123\tMüller\r\n"
    path = write_csv(tmp_path, text, "utf-16-le", name="unicode.txt")
    job = sn.read(path)
    assert job.source.encoding == "utf-16"
    assert job.source.delimiter == "\t"
    assert job.rows["serial_number"].tolist() == ["000123"]
    out = job.write()
    assert out.name == "unicode.txt.results.csv"
    assert csv_rows(out)[1][:5] == ["MO", "3001", "000123", "Müller", "valid"]


def test_cp1252_fallback_keeps_passthrough_text(tmp_path):
    text = "resource_type;resource_id;serial_number;note\r\nMO;3001;SN-1;Müller – façade\r\n"
    job = sn.read(write_csv(tmp_path, text, "cp1252"))
    assert job.source.encoding == "cp1252"
    assert job.source.sheets[0].data.iloc[0, 3] == "Müller – façade"
    assert csv_rows(job.write())[1][3] == "Müller – façade"


def test_one_windows_row_of_a_utf8_file_is_said_in_the_singular(tmp_path):
    path = tmp_path / "one.csv"
    path.write_bytes("resource_type,resource_id,serial_number,note\nMO,3001,SN-1,Müller\n".encode()
                     + "MO,3001,SN-2,Café\n".encode("cp1252"))
    assert sn.read(path).source.sheet_notes == [
        "one.csv: some lines are not UTF-8 and were read as Windows-1252 (row 3); the rest as UTF-8. "
        "Check the accented letters of that row."]


def test_a_utf8_file_with_a_few_windows_lines_is_read_line_by_line(tmp_path):
    lines = ["resource_type,resource_id,serial_number,note", "MO,3001,SN-1,Müller", "MO,3001,SN-2,Café",
             "MO,3001,SN-3,€ 5 – Zoë", "MO,3001,SN-4,plain", "MO,3001,SN-5,façade"]
    raw = b"".join(line.encode("cp1252" if n in (2, 5) else "utf-8") + b"\r\n" for n, line in enumerate(lines))
    path = tmp_path / "mixed.csv"
    path.write_bytes(raw)
    said = ("mixed.csv: some lines are not UTF-8 and were read as Windows-1252 (rows 3, 6); the rest as UTF-8. "
            "Check the accented letters of those rows.")
    job = sn.read(path)
    assert job.source.sheet_notes == [said]
    notes = [line.split(",")[3] for line in lines[1:]]
    assert job.source.sheets[0].data[3].tolist() == notes
    assert [row[3] for row in csv_rows(job.write())[1:]] == notes  # the output writes what was read
    done = run_cli("validate", path, "--output", tmp_path / "again.csv")
    assert done.returncode == 0 and " ".join(done.stdout.split("Columns read")[0].split()) == said
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + raw)  # a BOM says UTF-8; a Windows line under it is read all the same
    assert sn.read(with_bom).source.sheets[0].data[3].tolist() == notes


def test_windows_lines_are_named_by_their_rows_when_a_cell_runs_over_lines(tmp_path):
    raw = ('resource_type,resource_id,serial_number,note\nMO,3001,SN-1,"two\nlines Müller"\n'.encode()
           + "MO,3001,SN-2,Café\n".encode("cp1252"))
    path = tmp_path / "lines.csv"
    path.write_bytes(raw)
    job = sn.read(path)
    assert "(row 3)" in job.source.sheet_notes[0]  # line 4 of the file
    assert job.source.sheets[0].data[3].tolist() == ["two\nlines Müller", "Café"]


def test_a_windows_file_throughout_says_nothing_of_its_lines(tmp_path):
    text = "resource_type,resource_id,serial_number,note\r\nMO,3001,SN-1,Müller\r\nMO,3001,SN-2,façade\r\n"
    job = sn.read(write_csv(tmp_path, text, "cp1252"))
    assert job.source.encoding == "cp1252" and job.source.sheet_notes == []
    assert job.source.sheets[0].data[3].tolist() == ["Müller", "façade"]


def test_quoted_cr_inside_a_cell(tmp_path):
    path = write_csv(tmp_path, 'resource_type,resource_id,serial_id,note\r\nMO,3001,1,"line one\rline two"\r\n')
    job = sn.read(path)
    assert job.source.sheets[0].data.iloc[0, 3] == "line one\rline two"
    assert job.rows["status"].tolist() == ["valid"]


def test_classic_mac_cr_line_endings(tmp_path):
    path = write_csv(tmp_path, "Week 48\rresource_type;resource_id;serial_id\rMO;3001;1\rMO;3001;2\r")
    job = sn.read(path)
    assert job.source.delimiter == ";"
    assert job.rows[["row", "status"]].values.tolist() == [[3, "valid"], [4, "valid"]]


# --- header search and matching -------------------------------------------------------------


def test_a_header_below_the_rows_searched_is_said_and_its_rows_skipped(tmp_path):
    """Not passed over as a sheet of notes while the run reports every row ready."""
    notes = [[f"Instructions line {n}"] for n in range(1, 22)]
    path = write_xlsx(tmp_path, {"Good": [["Resource type", "Resource ID", "Serial ID"], ["MO", 3001, 1001]],
                                 "Deep": [*notes, ["Resource type", "Resource ID", "Serial ID"],
                                          ["MO", 3001, 1003], ["MO", 3001, 1004]]})
    job = sn.read(path)
    assert job.rows[["sheet", "row", "status"]].values.tolist() == [
        ["Good", 2, "valid"], ["Deep", 23, "skipped"], ["Deep", 24, "skipped"]]
    assert job.rows["message"].iloc[1] == (
        "sheet not read: its header row 22 (Resource type | Resource ID | Serial ID) is below the first 20 rows "
        "searched; move the table up, or use a template (--template) whose [header] search_rows reaches it")
    assert job.validation().exit_code == 1


def test_a_csv_header_below_the_rows_searched_is_named_where_it_is(tmp_path):
    lines = "".join(f"note {n}\n" for n in range(1, 23))
    path = write_csv(tmp_path, lines + "resource_type,resource_id,serial_id\nMO,3001,1\n")
    assert_refused(path, "its header row 23 (resource_type | resource_id | serial_id) is below the first 20 rows")


def test_header_on_row_three_under_title_rows(tmp_path):
    text = "Serials to detach - week 48,,\nprepared by ops,,\nResource Type,Resource ID,Serial number\nMO,3001,A1\n"
    job = sn.read(write_csv(tmp_path, text))
    sheet = job.source.sheets[0]
    assert sheet.header_row == 3
    assert job.rows["row"].tolist() == [4]
    assert job.rows["status"].tolist() == ["valid"]


@pytest.mark.parametrize("spelling", ["Serial ID", "serial-id", "SerialId", " serial_id ", "SERIAL ID"])
def test_header_matching_ignores_case_spaces_underscores_dashes(tmp_path, spelling):
    job = sn.read(write_csv(tmp_path, f"Resource Type,Resource-ID,{spelling}\nMO,3001,77\n"))
    assert job.source.sheets[0].mapping.columns == {"resource_type": 0, "resource_id": 1, "serial_id": 2}
    assert job.rows.loc[0, "serial_id"] == 77


# --- leading zeros and Excel damage ---------------------------------------------------------


def test_leading_zeros_survive_csv(tmp_path):
    job = sn.read(write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,3003,000123\nMO,3003,0012345678901234567\n"))
    assert job.rows["serial_number"].tolist() == ["000123", "0012345678901234567"]
    assert job.rows["status"].tolist() == ["valid", "valid"]
    rows = csv_rows(job.write())
    assert [r[2] for r in rows[1:]] == ["000123", "0012345678901234567"]


def test_leading_zeros_survive_xlsx_text_cell(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3003, "000123"]]},
                      text_cells=[("S", "C2")])
    job = sn.read(path)
    assert job.rows["serial_number"].tolist() == ["000123"]
    out = read_back(job.write())
    assert out["S"][1][2] == "000123"


def test_excel_damaged_serials_are_invalid_with_a_message_saying_so(tmp_path):
    job = sn.read(write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,1,1.23E+12\nMO,1,12345.0\nMO,1,1.5e3\n"))
    assert job.rows["status"].tolist() == ["invalid"] * 3
    messages = job.rows["message"].tolist()
    assert messages[0] == ("serial_number '1.23E+12' was damaged by Excel (shown in scientific notation); "
                           "format the column as Text and enter the serial again")
    assert messages[1] == ("serial_number '12345.0' ends in '.0' as Excel writes numbers; "
                           "format the column as Text and enter the serial again")
    assert "damaged by Excel" in messages[2]


def test_a_formula_showing_an_error_is_read_as_shown_not_as_blank(tmp_path):
    import xlsxwriter

    path = tmp_path / "errors.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet("S")
        sheet.write_row(0, 0, ["Resource type", "Resource ID", "Serial ID", "Serial number"])
        sheet.write_row(1, 0, ["MO", 3001])
        sheet.write_formula(1, 2, "=VLOOKUP(1,A1:A2,1,0)", None, "#N/A")  # saved as Excel saves it: t="e"
        sheet.write_row(2, 0, ["MO", 3001, 5])
        sheet.write_formula(3, 3, "=1/0", None, "#DIV/0!")
        sheet.write_row(3, 0, ["MO", 3001])
    job = sn.read(path)
    fix = "instead of a value; fix the formula (or the cells it uses) in the workbook"
    assert job.rows["message"].tolist() == [
        f"Serial ID shows the Excel error '#N/A' {fix}", "", f"Serial number shows the Excel error '#DIV/0!' {fix}"]


def test_a_formula_saved_without_its_result_is_said_not_called_blank(tmp_path):
    """As openpyxl and other programs that do not calculate write formulas."""
    book = Workbook()
    ws = book.active
    ws.title = "S"
    ws.append(["Resource type", "Resource ID", "Serial ID", "Serial number"])
    ws.append(["MO", 3001, "=1000+5", None])
    ws.append(["MO", 3001, None, '="KNF"&"0001"'])
    ws.append(["MO", 3001, 7, None])
    path = tmp_path / "uncached.xlsx"
    book.save(path)
    messages = sn.read(path).rows["message"].tolist()
    assert messages[0].startswith("Serial ID: holds a formula saved without its result (=1000+5); open the file in "
                                  "Excel or LibreOffice and save it, so its results are saved with it")
    assert messages[1].startswith('Serial number: holds a formula saved without its result (="KNF"&"0001")')
    assert messages[2] == ""


DATE_SAID = ("the workbook holds a date or time here ({}), not the text that was typed (a spreadsheet turns "
             "entries like 1-2 into dates); format the column as Text and type it again")


def test_a_serial_a_spreadsheet_turned_into_a_date_is_invalid_saying_so_xlsx(tmp_path):
    from datetime import datetime

    path = write_xlsx(tmp_path, {"S": [["Resource type", "Resource ID", "Serial number"],
                                       ["MO", 3001, datetime(2026, 1, 2)], ["MO", 3001, "KNF-1"]]})
    book = load_workbook(path)
    book["S"]["C2"].number_format = "d-mmm"  # Excel shows 2-Jan where 1-2 was typed
    book.save(path)
    job = sn.read(path)
    assert job.rows[["status", "message"]].values.tolist() == [
        ["invalid", "Serial number: " + DATE_SAID.format("2026-01-02")], ["valid", ""]]


def test_a_serial_a_spreadsheet_turned_into_a_date_is_invalid_saying_so_ods(tmp_path):
    from hostile_files import ods

    cell = '<table:table-cell office:value-type="{}" {}><text:p>{}</text:p></table:table-cell>'
    row = "".join([cell.format("string", "", "MO"), cell.format("float", 'office:value="3001"', "3001"),
                   cell.format("date", 'office:date-value="2026-01-02"', "2-Jan")])
    job = sn.read(ods(tmp_path / "dates.ods", f"<table:table-row>{row}</table:table-row>"))
    assert job.rows[["status", "message"]].values.tolist() == [
        ["valid", ""], ["invalid", "serial_number: " + DATE_SAID.format("2026-01-02")]]


def test_numeric_serial_cell_in_xlsx_is_read_without_dot_zero(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001.0, 123456]]})
    job = sn.read(path)
    assert job.rows[["resource_id", "serial_number", "status"]].values.tolist() == [[3001, "123456", "valid"]]


# --- workbooks ------------------------------------------------------------------------------


def test_xlsx_several_sheets_hidden_and_headerless(tmp_path):
    path = write_xlsx(tmp_path, {
        "Orders": [["Serials"], [], ["Resource type", "Resource ID", "Serial ID"], ["MO", 3001, 1]],
        "Old": [["resource_type", "resource_id", "serial_id"], ["MO", 3001, 99]],
        "Notes": [["Fill one row per serial."], ["Ask ops."]],
        "Sales": [["resource_type", "resource_id", "serial_number"], ["SO row", 5001, "S-1"], ["SO row", 5001, "S-2"]],
    }, hidden=("Old",))
    job = sn.read(path)
    assert [s.name for s in job.source.sheets] == ["Orders", "Sales"]
    assert job.source.skipped == [("Old", "hidden sheet"),
                                  ("Notes", "no recognisable header (row 1: 'Fill one row per serial.')")]
    assert job.rows[["sheet", "row", "status"]].astype(str).values.tolist() == [
        ["Orders", "4", "valid"], ["Sales", "2", "valid"], ["Sales", "3", "valid"]]
    out = read_back(job.write())
    assert list(out) == ["Orders", "Old", "Notes", "Sales", "Summary"]  # every sheet kept, in order
    assert out["Orders"][0][0] == "Serials"


def test_results_file_fed_back_in_drops_result_columns(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number", "note"],
                                       ["MO", 3001, "A1", "x"], ["MO", "abc", "A2", "y"]]})
    first = sn.read(path).write()
    again = sn.read(first)
    sheets = {s.name: s for s in again.source.sheets}
    assert list(sheets) == ["S"]  # not Summary, not Removed
    assert sheets["S"].header == ["resource_type", "resource_id", "serial_number", "note"]
    assert sheets["S"].dropped_result_columns == 5
    out = read_back(again.write(tmp_path / "second.xlsx"))
    assert out["S"][0] == ["resource_type", "resource_id", "serial_number", "note",
                           "status", "message", "serial_id", "request", "checked_at"]
    assert out["S"][2][:5] == ["MO", "abc", "A2", "y", "invalid"]


def test_results_csv_fed_back_in(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,3001,A1\n")
    first = sn.read(path).write()
    assert first.name == "serials.results.csv"
    again = sn.read(first)
    assert again.source.sheets[0].header == ["resource_type", "resource_id", "serial_number"]
    assert csv_rows(again.write(tmp_path / "again.csv"))[0] == [
        "resource_type", "resource_id", "serial_number", "status", "message", "serial_id", "request", "checked_at"]


def test_row_with_more_cells_than_header_is_refused_not_shifted(tmp_path):
    """An unquoted delimiter in the first data row must not shift every cell one to the left."""
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number,note\nMO,3001,A1,Smith, J.\nMO,3001,A2,ok\n")
    with pytest.raises(InputError) as caught:
        sn.read(path)
    assert "line 2 has 5 cells where the header has 4" in str(caught.value)


def test_a_quote_left_open_is_refused_at_its_line_not_read_as_one_row(tmp_path):
    """A stray opening quote would swallow every later line into one cell: three serials read as one."""
    path = write_csv(tmp_path, 'Resource type,Resource ID,Serial number,Note\r\nMO,3001,K1,"unterminated\r\n'
                               'MO,3001,K2,ok\r\nMO,3001,K3,ok\r\n')
    assert_refused(path, "line 2 opens a quote", "never closed")


def test_a_later_row_with_a_stray_cell_is_refused_at_its_line_in_plain_words(tmp_path):
    path = write_csv(tmp_path, "Resource type,Resource ID,Serial ID\nMO,3001,1001\nMO,3001,1002,see note\n"
                               "MO,3001,1003\n")
    line = assert_refused(path, "line 3 has 4 cells where the header has 3")
    assert "C error" not in line and "tokenizing" not in line


def test_cells_over_several_lines_keep_every_row_after_them(tmp_path):
    path = write_csv(tmp_path, 'resource_type,resource_id,serial_id,note\nMO,3001,1,"two\nlines"\n'
                               'MO,3001,2,"three\r\nmore\nlines"\nMO,3001,3,plain\n')
    job = sn.read(path)
    assert job.source.sheets[0].data[3].tolist() == ["two\nlines", "three\r\nmore\nlines", "plain"]
    assert job.rows["status"].tolist() == ["valid"] * 3


# --- bad input ------------------------------------------------------------------------------


def assert_refused(path, *expected, cwd=None):
    """The installed command refuses ``path`` with exit 2 and one line on stderr, no traceback."""
    result = run_cli("validate", path, cwd=cwd)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        sn.read(tmp_path / "nope.csv")
    assert_refused(tmp_path / "nope.csv", "nope.csv", "file not found")


def test_directory(tmp_path):
    assert_refused(tmp_path, "is a directory")


@pytest.mark.parametrize("name", ["serials.csv", "serials.xlsx"])
def test_a_pipe_is_refused_at_once_not_waited_on(tmp_path, name):
    """A named pipe with no writer: opening it would wait for ever."""
    pipe = tmp_path / name
    os.mkfifo(pipe)
    assert_refused(pipe, name, "is not a regular file")


def _as_nobody(*args):
    """Run the installed command as the unprivileged user 'nobody' (for tests run as root)."""
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", _command()[0], *map(str, args)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("running as root and setpriv is missing: cannot make a file unreadable")
    if result.stderr.startswith("setpriv:"):
        pytest.skip(f"running as root and cannot drop privileges: {result.stderr.strip()}")
    return result


@pytest.fixture
def open_dir():
    """A folder every user may enter (pytest's tmp_path is private to root when run as root)."""
    path = Path(tempfile.mkdtemp(prefix="sn-perm-"))
    path.chmod(0o755)
    yield path
    for child in path.rglob("*"):
        child.chmod(0o755)
    shutil.rmtree(path)


def _refused_unreadable(path, expected):
    if os.geteuid() != 0:
        assert_refused(path, expected)
        return
    # root reads any file: check as 'nobody' instead
    result = _as_nobody("validate", path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_unreadable_permissions_library(open_dir):
    path = write_csv(open_dir, "resource_type,resource_id,serial_id\nMO,1,2\n")
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(InputError, match="permission denied"):
            sn.read(path)
        return
    script = ("import sys, sn_importer\ntry:\n    sn_importer.read(sys.argv[1])\n"
              "except sn_importer.InputError as exc:\n    print(exc)\n    raise SystemExit(2)\n")
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script, str(path)]
    if not shutil.which("setpriv"):
        pytest.skip("running as root and setpriv is missing: cannot make a file unreadable")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == f"{path}: permission denied: the file cannot be read"


def test_unreadable_permissions_cli(open_dir):
    path = write_csv(open_dir, "resource_type,resource_id,serial_id\nMO,1,2\n")
    path.chmod(0)
    _refused_unreadable(path, "permission denied")


def test_file_in_a_folder_that_cannot_be_entered(open_dir):
    inner = open_dir / "private"
    inner.mkdir()
    path = write_csv(inner, "resource_type,resource_id,serial_id\nMO,1,2\n")
    inner.chmod(0o700 if os.geteuid() == 0 else 0)
    try:
        _refused_unreadable(path, "permission denied")
    finally:
        inner.chmod(0o755)


def test_empty_file(tmp_path):
    path = write_csv(tmp_path, "")
    with pytest.raises(InputError, match="the file is empty"):
        sn.read(path)
    assert_refused(path, "the file is empty")


def test_header_only_is_nothing_to_import(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number\n")
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stderr
    assert "Nothing to import" in result.stderr
    assert csv_rows(tmp_path / "serials.results.csv") == [[
        "resource_type", "resource_id", "serial_number", "status", "message", "serial_id", "request", "checked_at"]]


def test_no_recognisable_header_names_found_and_expected(tmp_path):
    path = write_csv(tmp_path, "name,qty\nwidget,1\n")
    with pytest.raises(HeaderNotFoundError) as caught:
        sn.read(path)
    message = str(caught.value)
    assert "(row 1: 'name' | 'qty')" in message
    # the headers to write, in the blank template's words, each with a few other spellings read alike
    assert "Resource type (or resource, type" in message and "Resource id (or " in message
    assert "Serial number (or serial no" in message
    assert "resource_type" not in message and "serial_number" not in message
    assert_refused(path, "no recognisable header", "(row 1: 'name' | 'qty')", "expected headers like")


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(bytes(range(256)) * 20)
    assert_refused(path, "broken.xlsx", "not a readable workbook")


def test_a_workbook_with_an_excel_4_macro_sheet_is_not_called_corrupt(tmp_path):
    """The reader cannot read a workbook holding an Excel 4.0 macro sheet; it is sound, and the line says
    what it holds and what to do, not "corrupt"."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["resource_type", "resource_id", "serial_number"])
    book.active.append(["MO", 3001, "SN-1"])
    book.save(tmp_path / "plain.xlsx")
    macro = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xm:macrosheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/'
             'main"><sheetData/></xm:macrosheet>')
    path = tmp_path / "macros.xlsm"
    with zipfile.ZipFile(tmp_path / "plain.xlsx") as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/workbook.xml":
                data = data.replace(b"</sheets>", b'<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                                    b'relationships" name="Macro1" sheetId="9" r:id="rIdM"/></sheets>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdM" Type="http://schemas.microsoft.'
                                    b'com/office/2006/relationships/xlMacrosheet" Target="macrosheets/sheet1.xml"/>'
                                    b"</Relationships>")
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/macrosheets/sheet1.xml" ContentType='
                                    b'"application/vnd.ms-excel.macrosheet+xml"/></Types>')
            dst.writestr(item, data)
        dst.writestr("xl/macrosheets/sheet1.xml", macro)
    line = assert_refused(path, "holds an Excel 4.0 macro sheet (xl/macrosheets/sheet1.xml), which cannot be read",
                          "copy the sheets with the serials into a new workbook")
    assert "corrupt" not in line


def test_password_protected_xlsx(tmp_path):
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    assert_refused(path, "password-protected", "without a password")


def test_old_xls_that_cannot_be_read(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8)
    assert_refused(path, "old.xls", "save it as .xlsx")


def test_binary_file_with_csv_name(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert_refused(path, "not a text file")


def test_workbook_with_csv_name(tmp_path):
    book = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", 1, 2]]})
    path = tmp_path / "really.csv"
    path.write_bytes(book.read_bytes())
    assert_refused(path, "is an Excel workbook")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "serials.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    assert_refused(path, "unsupported file type '.pdf'")
