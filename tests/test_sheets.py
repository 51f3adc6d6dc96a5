"""Staff's own sheets, read as they mean them: workbooks saved by LibreOffice (``tests/sheets/``,
made by ``tests/sheets/make.py``) with punctuated headers, a grouped two-row header, a sheet
whose header lacks a column, and totals and notes under the table.

The files are read as committed: no office suite is needed to run these tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

import sn_importer as sn
from sn_importer.errors import HeaderNotFoundError
from sn_importer.report.summary import ReportFacts, opening, summary_lines, what_next
from sn_importer.sandbox import running_sandbox
from sn_importer.resource_types import TABLE, normalise_key, staff_label, staff_resource
from sn_importer.status import COLOURS, GOAL, Mode, Origin, Status

from conftest import run_cli, write_csv

SHEETS = Path(__file__).resolve().parent / "sheets"
ROOT = SHEETS.parent.parent
RETURNS_WHY = ("its header row 3 (Resource type | 'Order ref' | Serial) has no resource id or order number column; "
               "nearest: 'Order ref' ~ order_no")
RETURNS_SENTENCE = f"Sheet 'Returns' was not read: {RETURNS_WHY}"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    target.write_bytes((SHEETS / name).read_bytes())
    return target


def rows_of(job) -> list[tuple]:
    return [(s, int(r), st, m) for s, r, st, m in job.rows[["sheet", "row", "status", "message"]].itertuples(
        index=False, name=None)]


def summary_texts(path: Path) -> list[str]:
    book = load_workbook(path)
    return [str(r[0]) for r in book["Summary"].iter_rows(values_only=True) if r[0]]


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(("written", "same_as"), [
    ("Order no.", "order no"), ("Order No", "order_no"), ("Order #", "order no"), ("S/N", "SN"),
    ("Serial #", "serial no"), ("Item SKU", "item-sku"), ("Serial ID", "serial_id"), ("SerialId", "serial-id"),
    ("Resource #", "resource no"), ("Serial:*", "serial"),
])
def test_headers_match_ignoring_punctuation_and_symbols(written, same_as):
    assert normalise_key(written) == normalise_key(same_as)


def test_a_number_sign_is_a_number_not_nothing():
    # "Resource #" is the resource's number (an id), never "Resource" (its type)
    assert normalise_key("Resource #") != normalise_key("Resource")


def test_punctuated_headers_are_read_and_messages_use_the_sheets_words(tmp_path):
    job = sn.read(copy("punctuated_headers.xlsx", tmp_path))
    assert job.source.skipped == []
    mapping = set(job.mapping())
    assert {("Orders", "order_no", "column 'Order no.'"), ("Orders", "sku", "column 'Item SKU'"),
            ("Orders", "serial_number", "column 'S/N'"), ("Stock", "resource_id", "column 'Resource #'"),
            ("Stock", "serial_number", "column 'Serial #'"), ("By id", "resource_id", "column 'Order ID'"),
            ("By id", "serial_number", "column 'SN'")} <= mapping
    rows = rows_of(job)
    assert [r[:3] for r in rows[:3]] == [("Orders", 4, "valid"), ("Orders", 5, "valid"), ("Orders", 6, "valid")]
    assert rows[3] == ("Orders", 7, "", "")  # a blank row
    assert rows[4] == ("Orders", 8, "ignored", "a total row below the table ('Total'), not a serial to import")
    assert rows[5][:3] == ("Stock", 2, "valid")
    assert rows[6] == ("By id", 2, "invalid", "Order ID 'abc' is not a whole number")  # the sheet's own header
    labels = ", ".join(t.label for t in TABLE)
    assert rows[8][2:] == ("invalid", f"unknown resource type 'Invoice'; pick one of: {labels} "
                                      "(or a short name such as MO or SO row)")
    assert "ManufacturingOrder" not in rows[8][3]


def test_a_grouped_two_row_header_is_read_as_such(tmp_path):
    job = sn.read(copy("grouped_header.xlsx", tmp_path))
    [sheet] = job.source.sheets
    assert sheet.header_row == 3 and sheet.header == ["Type", "ID", "ID", "Number", ""]
    assert job.mapping() == [("Serials", "resource_type", "column 'Resource Type'"),
                             ("Serials", "resource_id", "column 'Resource ID'"),
                             ("Serials", "serial_id", "column 'Serial ID'"),
                             ("Serials", "serial_number", "column 'Serial Number'")]
    assert job.rows["status"].tolist() == ["valid", "valid", "valid", "invalid"]
    assert job.rows["message"].tolist()[3] == "Resource ID '30x1' is not a whole number"
    assert job.plan_detail.serial_count == 3
    book = load_workbook(job.write())
    ws = book["Serials"]
    assert [ws.cell(2, c).value for c in (1, 3, 5)] == ["Resource", "Serial", "Note"]  # the group row stays
    assert [ws.cell(3, c).value for c in range(1, 8)] == ["Type", "ID", "ID", "Number", None, "status", "message"]
    assert "A2:B2" in {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(r, 6).value for r in range(4, 8)] == ["valid", "valid", "valid", "invalid"]


def test_a_grouped_header_saved_as_csv_is_read_the_same(tmp_path):
    job = sn.read(copy("grouped_header.csv", tmp_path))
    assert [f for _, f, _ in job.mapping()] == ["resource_type", "resource_id", "serial_id", "serial_number"]
    assert job.rows["status"].tolist() == ["valid", "valid", "valid", "invalid"]
    out = job.write().read_text(encoding="utf-8-sig").splitlines()
    assert out[:3] == ["Serials to detach,,,,", "Resource,,Serial,,Note",
                       "Type,ID,ID,Number,,status,message,serial_id,request,checked_at"]


def test_an_error_quotes_the_header_row_not_the_title(tmp_path):
    with pytest.raises(HeaderNotFoundError) as caught:
        sn.read(copy("no_serial_column.xlsx", tmp_path))
    message = str(caught.value)
    assert "its header row 3 (Resource type | Resource id | 'Qty') has no serial column" in message
    assert "Stock count March" not in message


def test_a_sheet_by_order_number_without_an_id_column_is_read(tmp_path):
    path = write_csv(tmp_path, "Resource type,Order no.,SKU,Serial\nMO,MO-3001,,A\nSO row,SO-1042,KNF-01,B\n")
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["valid", "valid"]
    assert job.rows["order_no"].tolist() == ["MO-3001", "SO-1042"]


# --------------------------------------------------------------------------- a sheet not read


def test_a_sheet_not_read_is_said_and_its_rows_are_skipped(tmp_path):
    job = sn.read(copy("skipped_sheet.xlsx", tmp_path))
    assert job.source.skipped == [("Returns", RETURNS_WHY)]
    rows = rows_of(job)
    assert [r[:3] for r in rows] == [("Orders", 2, "valid"), ("Orders", 3, "valid"), ("Returns", 4, "skipped"),
                                     ("Returns", 5, "skipped"), ("Returns", 6, ""), ("Returns", 7, "skipped")]
    assert rows[2][3] == f"sheet not read: {RETURNS_WHY}"
    assert job.plan_detail.serial_count == 2 and job.exit_code == 1
    output = job.write()
    ws = load_workbook(output)["Returns"]
    assert [ws.cell(3, c).value for c in range(1, 6)] == ["Resource type", "Order ref", "Serial", "status", "message"]
    assert [ws.cell(r, 4).value for r in range(4, 8)] == ["skipped", "skipped", None, "skipped"]
    texts = summary_texts(output)
    assert texts[1:3] == ["Not read", RETURNS_SENTENCE]  # the top of the Summary
    assert any(t.startswith("Add or rename the missing column of each sheet not read") for t in texts)


def test_the_console_says_a_sheet_not_read_first(tmp_path):
    path = copy("skipped_sheet.xlsx", tmp_path)
    done = run_cli("validate", path)
    assert done.returncode == 1, done.stderr
    first = " ".join(done.stdout.splitlines()[:3]).replace("  ", " ")
    assert first.startswith("Sheet 'Returns' was not read: its header row 3")
    assert "nearest: 'Order ref' ~ order_no" in first
    as_json = json.loads(run_cli("validate", path, "--json", "--output", tmp_path / "j.xlsx").stdout)
    assert as_json["sheets_skipped"] == [{"sheet": "Returns", "reason": RETURNS_WHY}]
    assert as_json["statuses"] == {"valid": 2, "skipped": 3}


def test_a_finished_apply_with_a_sheet_not_read_is_finished_in_the_journal(tmp_path):
    path = copy("skipped_sheet.xlsx", tmp_path)
    with running_sandbox() as katana:  # one Katana for both runs: the journal knows the file there
        first = sn.read(path).apply(base_url=katana.base_url, api_key="sandbox")
        assert first.stop is None and first.counts()["skipped"] == 3
        again = sn.read(path).apply(base_url=katana.base_url, api_key="sandbox")
    assert any(n.startswith("Applied before on") for n in again.notes), again.notes  # re-checked
    assert not any(n.startswith("Resumed") for n in again.notes)


# --------------------------------------------------------------------------- totals and notes


def test_totals_subtotals_and_notes_are_ignored_and_the_exit_code_is_0(tmp_path):
    job = sn.read(copy("totals.xlsx", tmp_path))
    rows = rows_of(job)
    ignored = [(r[1], r[3]) for r in rows if r[2] == "ignored"]
    assert ignored == [
        (5, "a total row ('Subtotal'), not a serial to import"),
        (9, "a total row below the table ('Total'), not a serial to import"),
        (10, "a note row below the table ('Notes: checked by Ann on Monday'), not a serial to import"),
    ]
    assert job.counts() == {"valid": 5, "ignored": 3}
    assert job.exit_code == 0 and job.plan_detail.serial_count == 5
    output = job.write()
    ws = load_workbook(output)["Serials"]
    assert ws.cell(9, 5).value == "ignored" and ws.cell(9, 5).fill.fgColor.rgb.endswith(COLOURS[Status.IGNORED])
    texts = summary_texts(output)
    assert "• 3 below the table that are totals or notes, not serials (ignored)." in texts
    assert not any("Fix the rows marked invalid" in t for t in texts)


def test_an_incomplete_data_row_stays_invalid(tmp_path):
    job = sn.read(copy("totals_with_a_gap.xlsx", tmp_path))
    assert [r[1:] for r in rows_of(job)] == [
        (2, "valid", ""), (3, "invalid", "Resource id is blank"), (4, "valid", ""),
        (5, "invalid", "Resource id is blank"), (6, "", ""),
        (7, "ignored", "a total row below the table ('Total'), not a serial to import")]
    assert job.exit_code == 1


def test_ignored_reaches_the_goal_in_every_mode():
    assert all(Status.IGNORED in GOAL[mode] for mode in Mode)


def test_a_csv_total_row_with_a_formula_written_as_text(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number\nMO,3001,A\nMO,3001,B\n,,=COUNTA(C2:C3)\n")
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["valid", "valid", "ignored"]
    assert job.rows["message"].tolist()[2] == "a formula row below the table ('=COUNTA(C2:C3)'), not a serial to import"


# --------------------------------------------------------------------------- words for staff


def test_staff_labels_of_types():
    assert staff_label("ManufacturingOrder") == "Manufacturing order"
    assert staff_label("SalesOrderFulfillmentRow") == "Sales order fulfillment row"
    assert staff_label("Unknown") == "Unknown"
    assert staff_resource("ManufacturingOrder", 3001) == "Manufacturing order 3001"


def test_an_order_number_message_names_types_in_staff_words(tmp_path):
    path = write_csv(tmp_path, "Resource type,Order no.,Serial\nProduction,P-1,A\n")
    [message] = sn.read(path).rows["message"]
    assert message == ("Order no. names only a manufacturing order, purchase order row or sales order row; "
                       "give resource id for other resource types")


# --------------------------------------------------------------------------- the Summary's advice and counts


@pytest.mark.parametrize(("origin", "words"), [
    (Origin.COMMAND_LINE, "then run sn-importer validate on it again."),
    (Origin.WEB, "then upload it again on the page."),
    (Origin.WATCH, "then drop it into the watched folder again."),
    (Origin.NOTEBOOK, "then read it again (sn.read) and run validate."),
])
def test_the_advice_fits_where_the_run_came_from(origin, words):
    [advice] = what_next(Mode.VALIDATE, {Status.VALID: 3, Status.INVALID: 1}, origin)
    assert advice == f"Fix the rows marked invalid (the message column says what is wrong), {words}"


def test_a_checked_page_run_is_told_to_press_the_button_not_to_run_a_command():
    [advice] = what_next(Mode.PREVIEW, {Status.PLANNED: 3}, Origin.WEB)
    assert "confirm button" in advice and "sn-importer" not in advice and "apply" not in advice.split(":")[0]


def test_counts_say_what_they_count():
    counts = {Status.DELETED: 15, Status.NOT_ON_RESOURCE: 2, Status.INVALID: 5, Status.DUPLICATE: 1}
    assert opening(Mode.APPLY, counts) == ("23 rows read; 17 of them checked against Katana, "
                                           "6 never sent (they are counted below).")
    assert opening(Mode.APPLY, {Status.DELETED: 2}) == "2 rows read; all of them checked against Katana."
    assert opening(Mode.VALIDATE, counts) == "23 rows checked offline; nothing was sent to Katana."


def test_the_samples_apply_summary_counts_only_what_was_sent(tmp_path):
    sample = copy_sample(tmp_path)
    done = run_cli("apply", sample, "--sandbox", "--state-dir", tmp_path / "state")
    assert done.returncode == 1, done.stderr  # the sample holds invalid rows on purpose
    texts = summary_texts(sample.with_name("serials.results.xlsx"))
    assert "23 rows read; 17 of them checked against Katana, 6 never sent (they are counted below)." in texts
    assert any("then run sn-importer apply on it again." in t for t in texts)
    facts = dict(r[:2] for r in load_workbook(sample.with_name("serials.results.xlsx"))["Summary"].iter_rows(
        values_only=True) if r[0])
    assert facts["Started from"] == "command line"


def copy_sample(tmp_path: Path) -> Path:
    target = tmp_path / "serials.xlsx"
    target.write_bytes((ROOT / "samples" / "serials.xlsx").read_bytes())
    return target


def test_a_notebook_run_is_advised_in_python(tmp_path):
    result = sn.read(copy("totals_with_a_gap.xlsx", tmp_path)).validation()
    assert result.origin == Origin.NOTEBOOK
    texts = [line.cells[0] for line in summary_lines(result.rows, result.report_facts()) if line.cells]
    assert "Fix the rows marked invalid (the message column says what is wrong), then read it again (sn.read) " \
           "and run validate." in texts


def test_report_facts_default_to_the_library():
    assert ReportFacts([], []).origin == Origin.NOTEBOOK


# --------------------------------------------------------------------------- what the README says


def test_the_readme_says_what_is_needed_and_that_the_sample_exits_1():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    before = readme[: readme.index("pip install . &&")]
    assert "Python 3.11 or newer" in before and "virtual environment" in before
    assert "It exits\nwith code 1, by design" in readme
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "| `ignored` |" in readme


# --------------------------------------------------------------------------- watch's log lines


def test_watch_logs_a_copy_of_a_file_done_as_a_recheck_not_as_new_detaches(tmp_path):
    from sn_importer.watch import watch

    good = "resource_type,resource_id,serial_id\nManufacturingOrder,3001,1001\nManufacturingOrder,3001,1002\n"
    (tmp_path / "drops" / "inbox").mkdir(parents=True)
    lines: list[str] = []
    with running_sandbox() as katana:
        options = dict(mode=Mode.APPLY, base_url=katana.base_url, api_key="sandbox", state_dir=tmp_path / "state",
                       settle=0)
        for _ in range(2):
            (tmp_path / "drops" / "inbox" / "serials.csv").write_text(good)
            assert watch(tmp_path / "drops", once=True, log=lines.append, **options) == 0
    first, second = [line for line in lines if "event=file" in line]
    assert " deleted=2 " in first and "recheck" not in first and "gone_before" not in first
    assert " recheck=yes " in second and " deleted=0 " in second and " gone_before=2 " in second
    assert "same_content_as=serials.csv" in second


def test_watch_says_a_sheet_not_read_before_the_files_line(tmp_path):
    from sn_importer.watch import watch

    (tmp_path / "drops" / "inbox").mkdir(parents=True)
    copy("skipped_sheet.xlsx", tmp_path / "drops" / "inbox")
    lines: list[str] = []
    assert watch(tmp_path / "drops", once=True, log=lines.append, mode=Mode.VALIDATE, settle=0) == 1
    events = [line for line in lines if "event=sheet-not-read" in line or "event=file" in line]
    assert "event=sheet-not-read" in events[0] and "event=file" in events[1]
    assert "level=warn" in events[0] and "sheet=Returns" in events[0]
    assert json.dumps(RETURNS_SENTENCE) in events[0]


def test_rows_with_blank_key_cells_and_no_table_above_stay_invalid(tmp_path):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_number,note\n,,,moved\n,,,to column D\n")
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["invalid", "invalid"] and job.exit_code == 1


def test_a_long_block_of_notes_is_not_a_footer(tmp_path):
    notes = "".join(f",,,note {n}\n" for n in range(60))
    job = sn.read(write_csv(tmp_path, "resource_type,resource_id,serial_number,note\nMO,3001,A,\n" + notes))
    assert job.counts() == {"valid": 1, "invalid": 60}


def test_a_stopped_apply_with_a_sheet_not_read_still_says_to_finish():
    counts = {Status.DELETED: 2, Status.SKIPPED: 4}
    advice = what_next(Mode.APPLY, counts, Origin.COMMAND_LINE, unread=True, stopped=True)
    assert advice[0].startswith("Add or rename the missing column of each sheet not read")
    assert advice[1] == "Run sn-importer apply on the same file again: it checks Katana again and finishes what is left."
    assert what_next(Mode.APPLY, counts, Origin.COMMAND_LINE, unread=True, stopped=False)[1:] == []


def test_the_blank_sheets_instructions_speak_to_the_page_and_the_command_line(tmp_path):
    from sn_importer.blank import write_blank_sheet
    from sn_importer.template import load_template

    book = load_workbook(write_blank_sheet(tmp_path / "blank.xlsx", load_template()))
    lines = [str(c.value) for c in book["Instructions"]["A"] if c.value]
    assert any(line.startswith("On the web page: upload this file.") and "confirm button" in line for line in lines)
    assert any(line.startswith("Or on the command line: sn-importer validate FILE") for line in lines)
    assert not any("at preview and apply" in line for line in lines)


def test_a_results_workbook_read_again_reads_its_rows_and_not_its_summary(tmp_path):
    """Staff fix the invalid rows of a results workbook and run it again: its Summary (whose
    "Columns read" table has a sheet name and a field name on each row) is not read as rows, and
    the rows read are the first run's rows, with the same statuses."""
    sample = Path(sn.__file__).parent / "_data" / "samples" / "serials.xlsx"
    sample = sample if sample.is_file() else Path(__file__).parents[1] / "samples" / "serials.xlsx"
    (tmp_path / "serials.xlsx").write_bytes(sample.read_bytes())
    first = run_cli("validate", "serials.xlsx", "--json", cwd=tmp_path)
    again = run_cli("validate", "serials.results.xlsx", "--json", cwd=tmp_path)
    assert again.returncode == first.returncode == 1, again.stderr
    before, after = json.loads(first.stdout), json.loads(again.stdout)
    assert after["statuses"] == before["statuses"] and after["rows"] == before["rows"]
    assert {m["sheet"] for m in after["mapping"]} == {m["sheet"] for m in before["mapping"]}
    assert {"sheet": "Summary", "reason": "the Summary of an earlier sn-importer run"} in after["sheets_skipped"]


def test_a_results_workbook_run_again_holds_one_summary_this_runs(tmp_path):
    """Staff fix the invalid rows of a results workbook in Excel and run it again, then preview that:
    each run's Summary takes the place of the earlier one (the tab the file opens on, telling of this
    run), instead of the earlier Summary staying as it was beside 'Summary (sn-importer)' and then
    'Summary (sn-importer) (2)'."""
    sample = Path(sn.__file__).parent / "_data" / "samples" / "serials.xlsx"
    sample = sample if sample.is_file() else Path(__file__).parents[1] / "samples" / "serials.xlsx"
    (tmp_path / "serials.xlsx").write_bytes(sample.read_bytes())
    assert run_cli("validate", "serials.xlsx", cwd=tmp_path).returncode == 1
    book = load_workbook(tmp_path / "serials.results.xlsx")
    for row in book["Orders"].iter_rows(min_row=4):
        if row[5].value == "invalid":  # each fixed as staff would: a serial of the same order, by its id
            row[0].value, row[1].value, row[2].value, row[3].value = "MO", 3002, 1104, None
    book.save(tmp_path / "serials.results.xlsx")
    again = run_cli("validate", "serials.results.xlsx", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["statuses"] == {"valid": 18, "duplicate": 5}, again.stderr
    looked = run_cli("preview", "serials.results.results.xlsx", "--sandbox", cwd=tmp_path,
                     env={"SN_IMPORTER_STATE_DIR": str(tmp_path / "state")})
    assert looked.returncode == 1, looked.stderr  # the sample's two rows not on their resource
    for name, told in (("serials.results.results.xlsx", "• 18 ready to go (valid)."),
                       ("serials.results.results.results.xlsx", "(planned).")):
        book = load_workbook(tmp_path / name)
        assert [s for s in book.sheetnames if s.startswith("Summary")] == ["Summary"], book.sheetnames
        assert book.active.title == "Summary"
        lines = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r[0]]
        assert any(str(line).endswith(told) for line in lines), lines
        assert not any("invalid" in str(line) for line in lines[:8])
        assert ("Summary", "the Summary of an earlier sn-importer run, replaced by this one") in \
            [r[:2] for r in book["Summary"].iter_rows(values_only=True)]


def test_an_earlier_runs_result_columns_with_a_column_added_right_of_them_are_not_read_as_fields(tmp_path):
    """Staff add a 'Comment' column right of a results workbook's result columns and run it again: the
    earlier run's 'serial_id' (the id it resolved) is not read as the sheet's serial id, and a note
    says what happened to those columns and how to have them replaced."""
    from conftest import write_xlsx

    header = ["Resource type", "Order number", "SKU", "Serial number", "status", "message", "serial_id",
              "request", "checked_at", "Comment"]
    write_xlsx(tmp_path, {"By order": [header, ["MO", "MO-3001", None, "KNF000005001", "planned", None, 5001,
                                                "DELETE ManufacturingOrder 8301 (1/1)", None, "checked by Anna"]]},
               name="fixed.xlsx")
    done = run_cli("validate", "fixed.xlsx", "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert {m["field"] for m in summary["mapping"]} == {"resource_type", "order_no", "sku", "serial_number"}
    assert ("Sheet 'By order': columns 'status' to 'checked_at' are an earlier run's results with column "
            "'Comment' right of them, so none of them was read") in done.stdout
