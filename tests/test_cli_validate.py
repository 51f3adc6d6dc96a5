"""The installed ``sn-importer`` command: validate's exit codes and --json, template, --help."""

from __future__ import annotations

import json
import re

from openpyxl import load_workbook

from sn_importer.resource_types import NAMES as RESOURCE_TYPES

from conftest import read_back, run_cli, write_csv, write_xlsx

HEADER = "resource_type,resource_id,serial_id,serial_number\n"


def test_validate_exit_0_all_valid(tmp_path):
    path = write_csv(tmp_path, HEADER + "MO,3001,1,\nMO,3001,1,\n")
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stderr
    assert "Output:" in result.stdout
    assert (tmp_path / "serials.results.csv").is_file()


def test_validate_exit_1_some_invalid_and_output_written(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", 3001, 1], ["MO", "abc", 2]]})
    result = run_cli("validate", path, "--output", tmp_path / "out" / "checked.xlsx")
    assert result.returncode == 1, result.stderr
    out = read_back(tmp_path / "out" / "checked.xlsx")
    assert [r[3] for r in out["S"]] == ["status", "valid", "invalid"]


def test_validate_exit_2_usage_and_unreadable(tmp_path):
    assert run_cli("validate").returncode == 2
    result = run_cli("validate", tmp_path / "missing.xlsx")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.xlsx'}: file not found"


def test_validate_refuses_output_over_the_input(tmp_path):
    path = write_csv(tmp_path, HEADER + "MO,3001,1,\n")
    before = path.read_bytes()
    result = run_cli("validate", path, "--output", path)
    assert result.returncode == 2
    assert "would overwrite the input" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_validate_json_is_one_object(tmp_path):
    path = write_csv(tmp_path, HEADER + "MO,3001,1,\nMO,3001,1,\nInvoice,1,2,\n,,,\nSO row,5001,,A-1\n")
    result = run_cli("validate", path, "--json", "--output", tmp_path / "r.xlsx")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert result.stdout.count("\n") == 1
    assert summary["input"] == str(path)
    assert summary["output"] == str(tmp_path / "r.xlsx")
    assert summary["mode"] == "validate"
    assert summary["rows"] == 4
    assert summary["statuses"] == {"valid": 2, "duplicate": 1, "invalid": 1}
    assert summary["requests"] == {"GET": 0, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0,
                                   "waited_s": 0.0, "waited_for_other_runs_s": 0.0}
    assert summary["exit_code"] == 1
    assert summary["plan"] == {"resources": 2, "serials": 2, "delete_requests": 2, "listing": {}}


def test_validate_json_with_csv_output_for_xlsx_input(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", 3001, 1]]})
    result = run_cli("validate", path, "--json", "-o", tmp_path / "r.csv")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == str(tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "resource_type,resource_id,serial_id,status,message,serial_id,request,checked_at",
        "MO,3001,1,valid,,1,DELETE ManufacturingOrder 3001 (1/1),"]


def test_python_dash_m_works(tmp_path):
    import subprocess
    import sys

    path = write_csv(tmp_path, HEADER + "MO,3001,1,\n")
    result = subprocess.run([sys.executable, "-m", "sn_importer", "validate", path, "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statuses"] == {"valid": 1}


def test_template_writes_a_blank_sheet_that_validates_as_nothing_to_import(tmp_path):
    target = tmp_path / "blank.xlsx"
    result = run_cli("template", "--output", target)
    assert result.returncode == 0, result.stderr
    book = load_workbook(target)
    assert book.sheetnames == ["Serials", "Instructions"]
    ws = book["Serials"]
    assert [c.value for c in ws[1]] == ["Resource type", "Resource id", "Order number", "SKU", "Serial record id",
                                        "Serial number", "Note"]
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1
    assert lists[0].formula1.startswith('"Manufacturing order,Production,')
    assert str(lists[0].sqref).startswith("A2:")
    assert len(RESOURCE_TYPES) == 7
    text_columns = {n for d in ws.column_dimensions.values() if d.number_format == "@" for n in range(d.min, d.max + 1)}
    assert text_columns == {3, 4, 6}  # order number, SKU and serial number as text
    assert book["Instructions"]["A1"].value == "How to fill in the Serials sheet"

    checked = run_cli("validate", target)
    assert checked.returncode == 0, checked.stderr
    assert "Nothing to import" in checked.stderr

    again = run_cli("template", "--output", target)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert run_cli("template", "--output", target, "--force").returncode == 0


def test_template_for_mo_labels_has_no_type_column(tmp_path):
    target = tmp_path / "labels.xlsx"
    assert run_cli("template", "-o", target, "--template", "mo-labels").returncode == 0
    ws = load_workbook(target)["Serials"]
    assert [c.value for c in ws[1]] == ["Resource id", "Order number", "Serial number", "Note"]  # no SKU for MOs
    assert [dv.type for dv in ws.data_validations.dataValidation if dv.type == "list"] == []


def _commands() -> list[str]:
    listed = run_cli("--help").stdout
    section = listed[listed.index("Commands"):]
    return re.findall(r"^│ ([a-z][a-z-]+)\s", section, flags=re.MULTILINE)


def test_help_for_every_command():
    top = run_cli("--help")
    assert top.returncode == 0
    commands = _commands()
    assert {"validate", "template"} <= set(commands)
    for command in commands:
        result = run_cli(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert f"Usage: sn-importer {command}" in result.stdout
    assert run_cli("-h").returncode == 0


def test_names_that_look_like_emoji_codes_are_printed_as_they_are(tmp_path):
    """A sheet, a header or a path with ``:heart:`` in it is printed as typed: the output's path on
    the screen is the path on disk."""
    path = tmp_path / "week:heart:.csv"
    path.write_text("resource_type,resource_id,serial_number,:smile: note\nMO,3001,SN1,x\n", encoding="utf-8")
    result = run_cli("validate", path)
    printed = " ".join(result.stdout.split())  # the terminal's wrapping undone
    assert "week:heart:" in printed and "❤" not in printed, result.stdout
    assert "week:heart:.results.csv" in printed
    assert (tmp_path / "week:heart:.results.csv").is_file()


def test_names_with_square_brackets_are_printed_as_they_are(tmp_path):
    """Square brackets in a name are the terminal toolkit's markup: a file ``week[bold].csv`` keeps its
    name on the screen, a folder ``a[`` holding ``]b.csv`` does not stop the command, and a missing
    file is named as typed."""
    header = "Resource type,Resource ID,Serial number\nMO,3001,SN1\n"
    (tmp_path / "week[bold].csv").write_text(header, encoding="utf-8")
    result = run_cli("validate", tmp_path / "week[bold].csv")
    assert result.returncode == 0, result.stderr
    assert "week[bold].results.csv" in " ".join(result.stdout.split())
    (tmp_path / "a[").mkdir()
    (tmp_path / "a[" / "]b.csv").write_text(header, encoding="utf-8")
    result = run_cli("validate", tmp_path / "a[" / "]b.csv")
    assert result.returncode == 0, result.stderr
    assert "a[/]b.results.csv" in " ".join(result.stdout.split())
    missing = run_cli("validate", tmp_path / "nope[bold]x.csv")
    assert missing.returncode == 2 and "nope[bold]x.csv: file not found" in " ".join(missing.stderr.split())


def test_headers_with_non_breaking_spaces_are_quoted_as_they_look(tmp_path):
    """Spreadsheets often put a non-breaking space in a header: messages show it as the space it looks
    like, not as Python's escape for it."""
    path = tmp_path / "nbsp.csv"
    path.write_text("Resource\u00a0type,Resource ID,Serial\u00a0number\nMO,3001,SN1\n", encoding="utf-8")
    result = run_cli("validate", path)
    printed = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stderr
    assert "column 'Resource type'" in printed and "column 'Serial number'" in printed
    assert "\\xa0" not in result.stdout + result.stderr
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Item\u00a0name,Colour\nwidget,red\n", encoding="utf-8")
    refused = run_cli("validate", wrong)
    assert refused.returncode == 2 and "'Item name' | 'Colour'" in " ".join(refused.stderr.split())
