"""The command line reads like its peers: plain switches, a real usage line,
--version, --json wherever the README lists it, plain errors for a bad --output;
and what a sandbox run's Summary says. In-process (typer's CliRunner)."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import sn_importer
from sn_importer.cli import app

from conftest import write_xlsx

COMMANDS = ["validate", "preview", "apply", "sandbox", "template", "watch", "serve"]


def run(*args):
    env = {"COLUMNS": "200", "NO_COLOR": "1", "KATANA_API_KEY": ""}
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="sn-importer", env=env)


def test_version():
    done = run("--version")
    assert (done.exit_code, done.output) == (0, f"sn-importer {sn_importer.__version__}\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_switches_plainly_and_a_real_usage_line(command):
    done = run(command, "--help")
    assert done.exit_code == 0
    assert "<bool>" not in done.output and "{" not in done.output.splitlines()[1]
    if command in ("validate", "preview", "apply"):
        assert f"Usage: sn-importer {command} [OPTIONS] FILE" in done.output


def test_top_level_help_has_no_bool_placeholders():
    done = run("--help")
    assert "--version" in done.output and "<bool>" not in done.output


def test_template_answers_json(tmp_path):
    done = run("template", "-o", tmp_path / "blank.xlsx", "--json")
    assert done.exit_code == 0
    summary = json.loads(done.stdout)
    assert summary["output"] == str(tmp_path / "blank.xlsx") and summary["mode"] == "template"
    assert summary["exit_code"] == 0 and summary["statuses"] == {} and summary["requests"]["DELETE"] == 0
    refused = run("template", "-o", tmp_path / "blank", "--json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["mode"] == "template"


@pytest.mark.parametrize("output, words", [
    ("res", "the output 'res' has no extension; name it .xlsx (a workbook) or .csv (text)"),
    ("res.pdf", "has the extension '.pdf'"),
    ("in.xlsx", "would overwrite the input"),
    ("in.xlsx/out.xlsx", "would go inside in.xlsx, which is a file, not a folder"),
])
def test_a_bad_output_is_one_plain_line_before_anything_runs(tmp_path, monkeypatch, output, words):
    monkeypatch.chdir(tmp_path)
    write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, "A"]]}, name="in.xlsx")
    for command in ("validate", "apply"):
        done = run(command, "in.xlsx", "--output", output, *(["--sandbox"] if command == "apply" else []), "--json")
        assert done.exit_code == 2, done.output
        result = json.loads(done.stdout)
        assert words in result["error"] and result["requests"]["GET"] == 0  # nothing was sent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.xlsx"]


def test_a_sandbox_run_names_the_sandbox_and_only_apply_adds_removed(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", 3001, 1001],
                                       ["MO", 3001, 999999]]})
    state = tmp_path / "state"
    preview = run("preview", path, "--sandbox", "-o", tmp_path / "preview.xlsx", "--json")
    assert preview.exit_code == 1, preview.output
    book = load_workbook(tmp_path / "preview.xlsx")
    assert book.sheetnames == ["S", "Summary"]
    facts = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert facts["Base URL"] == "built-in sandbox (started for this run)"
    assert facts["not_on_resource"] == 1 and facts["planned"] == 1
    applied = run("apply", path, "--sandbox", "--state-dir", state, "-o", tmp_path / "apply.xlsx", "--json")
    assert applied.exit_code == 1, applied.output
    book = load_workbook(tmp_path / "apply.xlsx")
    assert book.sheetnames == ["S", "Summary", "Removed"]
    assert [r[0] for r in book["Removed"].iter_rows(min_row=2, values_only=True)] == [1001]
    texts = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r[0]]
    assert "• 1 detached and checked gone afterwards (deleted)." in texts
    assert any(t.startswith("Check the rows marked not_on_resource") for t in texts)


def test_apply_on_the_sandbox_detaches_the_serial_excel_shows(tmp_path):
    """The cell holds 42 formatted 00000: Excel shows 00042, and 00042 is what goes, not 42."""
    from test_annotate import rich_workbook

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([_record(1, "SN-1"), _record(2, "00042"), _record(3, "42"),
                                _record(5, "SN-5", 3002), _record(7, "S-1", 5001, "SalesOrderRow")]))
    path = rich_workbook(tmp_path / "week48.xlsx")
    done = run("apply", path, "--sandbox", "--sandbox-seed", seed, "--state-dir", tmp_path / "state", "--json")
    assert done.exit_code == 1, done.output
    book = load_workbook(tmp_path / "week48.results.xlsx")
    ws = book["Orders"]
    assert [(ws.cell(r, 7).value, ws.cell(r, 9).value) for r in range(4, 9)] == [
        ("deleted", 1), ("deleted", 2), ("invalid", None), ("duplicate", None), ("deleted", 5)]
    assert [c.value for c in book["Sales"]["D"]][1:] == ["deleted", "not_on_resource"]
    assert sorted(r[1] for r in book["Removed"].iter_rows(min_row=2, values_only=True)) == ["00042", "S-1", "SN-1",
                                                                                            "SN-5"]
    assert (ws["C5"].value, ws["C5"].number_format) == (42, "00000")  # the workbook itself is unchanged


def _record(id_, serial, rid=3001, rtype="ManufacturingOrder"):
    return {"id": id_, "serial_number": serial, "resource_type": rtype, "resource_id": rid,
            "transaction_id": f"tx-{id_}", "transaction_date": "2026-11-01T08:00:00.000Z", "quantity_change": 1}
