"""Cells as Excel shows them: a serial stored as a number is read with its number format."""

from __future__ import annotations

import pytest
from openpyxl import Workbook, load_workbook

import hostile_files as hostile
import sn_importer as sn
from sn_importer.numfmt import excel_text


@pytest.mark.parametrize("value, code, shown", [
    (42, "00000", "00042"), (123, "000000", "000123"), (42, '"SN-"00000', "SN-00042"), (42, "\\S\\N0000", "SN0042"),
    (123456, "000-000", "123-456"), (1234567, "#,##0", "1,234,567"), (1.23e12, "0.00E+00", "1.23E+12"),
    (42, "[Red]00000;-00000", "00042"), (3.5, "0.00", "3.50"), (12345678, "0000", "12345678"),
])
def test_excel_text_applies_the_format(value, code, shown):
    assert excel_text(value, code) == shown


@pytest.mark.parametrize("code", ["General", "@", "yyyy-mm-dd", "0%", "# ?/?"])
def test_excel_text_leaves_general_text_and_dates_to_the_default(code):
    assert excel_text(44000, code) is None


def numbers_book(path):
    """Serials typed by staff: text, numbers formatted 00000 / 000000, and a plain number."""
    book = Workbook()
    ws = book.active
    ws.title = "Serials"
    ws.append(["resource_type", "resource_id", "serial_number", "note"])
    ws.append(["MO", 3001, "A-1", "text"])
    ws.append(["MO", 3001, 42, "padded"])
    ws.append(["MO", 3001, 123, "six"])
    ws.append(["MO", 3001, 7, "plain"])
    ws["C3"].number_format = "00000"
    ws["C4"].number_format = "000000"
    book.save(path)
    return path


def test_a_serial_stored_as_a_number_is_read_as_excel_shows_it(tmp_path):
    job = sn.read(numbers_book(tmp_path / "numbers.xlsx"))
    assert job.rows["serial_number"].tolist() == ["A-1", "00042", "000123", "7"]
    assert job.rows["status"].tolist() == ["valid"] * 4
    messages = job.rows["message"].tolist()
    assert messages[0] == ""
    assert messages[1] == ("serial_number: stored in the workbook as a number, read as Excel shows it ('00042'); "
                           "format the column as Text to keep serials exact")
    assert "('7')" in messages[3]


def test_the_same_read_on_the_sparse_path(tmp_path):
    """A sheet read cell by cell (a far stray cell) applies the same formats."""
    body = hostile.rows_xml([hostile.HEADER]) + '<row r="2">' + hostile.cell("A2", "ManufacturingOrder") + \
        hostile.cell("B2", 3001) + hostile.cell("C2", 42, style=1) + "</row>" + \
        f'<row r="1048576">{hostile.cell("XFD1048576", "stray")}</row>'
    job = sn.read(hostile.write_book(tmp_path / "far.xlsx", hostile.sheet_xml(body, "A1:XFD1048576")))
    assert job.rows["serial_number"].tolist() == ["00042"]
    assert "stored in the workbook as a number" in job.rows.loc[0, "message"]


def test_validate_writes_the_note_beside_the_row(tmp_path):
    from typer.testing import CliRunner

    from sn_importer.cli import app

    source = numbers_book(tmp_path / "numbers.xlsx")
    result = CliRunner().invoke(app, ["validate", str(source)])
    assert result.exit_code == 0, result.output
    out = next(p for p in tmp_path.iterdir() if p.name.startswith("numbers.") and "results" in p.name)
    ws = load_workbook(out)["Serials"]
    header = [c.value for c in ws[1]]
    status, message = header.index("status") + 1, header.index("message") + 1
    assert [ws.cell(r, status).value for r in range(2, 6)] == ["valid"] * 4
    assert "'00042'" in ws.cell(3, message).value
    assert ws["C3"].value == 42 and ws["C3"].number_format == "00000"  # the user's cell as it was


def test_a_serial_that_lost_its_zeros_is_never_matched_and_the_message_says_how_to_fix_it(tmp_path):
    """123 (a plain number) is not 000123: only exact serials are sent; the message points at the zeros."""
    from sandbox_fixtures import serial

    from sn_importer.sandbox import running_sandbox

    book = Workbook()
    ws = book.active
    ws.append(["resource_type", "resource_id", "serial_number"])
    ws.append(["MO", 3001, 123])        # typed as a number: Excel shows 123
    ws.append(["MO", 3001, 42])         # formatted 00000: shown and read as 00042, which is on the MO
    ws.append(["MO", 3001, "9"])        # text, no padded twin on the resource
    ws["C3"].number_format = "00000"
    path = tmp_path / "zeros.xlsx"
    book.save(path)
    records = [serial(1, "000123"), serial(2, "00042"), serial(3, "A-1")]
    with running_sandbox(records=records, rate_limit=(100, 1.0)) as server:
        result = sn.read(path).preview(base_url=server.base_url, api_key="sandbox",
                                       client_options={"backoff": (0.01, 0.05), "max_retries": 4})
        assert server.store.stats()["requests"].get("DELETE", 0) == 0
    rows = result.rows
    assert rows["status"].tolist() == ["not_on_resource", "planned", "not_on_resource"]
    assert rows.at[0, "message"].startswith(
        "serial '123' is not on Manufacturing order 3001 (checked before any delete; nothing sent); '000123' is on it: "
        "Excel drops the leading zeros of a serial stored as a number, so format the serial column as Text")
    assert rows.at[0, "message"].endswith("('123'); format the column as Text to keep serials exact")
    assert rows.at[1, "serial_id"] == 2 and "'00042'" in rows.at[1, "message"]
    assert "is on it" not in rows.at[2, "message"]
