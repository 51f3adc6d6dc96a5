"""Undo end to end on the sandbox (real HTTP on loopback): an apply, then its undo, from the results
workbook and from the CSV results, leaves every resource holding the serial strings it held before
(except what Katana's POST cannot take); a preview sends no POST; a second undo sends none; a stopped
undo resumes without sending a serial twice; files that are not an apply's results are refused."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import FAST, read_back, sheet_dicts, write_csv

import sn_importer as sn
from sn_importer.interrupt import Interrupt
from sn_importer.journal import Journal
from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.restore.records import read_removed
from sn_importer.sandbox import running_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SOF = ("SalesOrderFulfillmentRow", 9501)
MINTING = {"ManufacturingOrder", "PurchaseOrderRow"}
ROOMY = (1000, 1.0)


def tenant(store) -> dict[tuple[str, int], list[str]]:
    """Serial strings per resource, as the sandbox holds them."""
    found = defaultdict(list)
    for r in store.records:
        found[(r["resource_type"], r["resource_id"])].append(r["serial_number"])
    return {k: sorted(v) for k, v in found.items()}


def posts(server) -> int:
    return server.store.stats()["requests"]["POST"]


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """The samples applied once, on the samples' tenant: the tenant before, the results written (the
    workbook, the CSV and its removed records) and the apply's run ids. Each test undoes a copy."""
    work = tmp_path_factory.mktemp("applied")
    runs = {}
    for name in ("serials.xlsx", "serials.csv"):
        with running_sandbox(rate_limit=ROOMY) as server:
            before = tenant(server.store)
            shutil.copy(SAMPLES / name, work / name)
            result = sn.read(work / name).apply(base_url=server.base_url, api_key="sandbox", state_dir=work / "s")
            assert result.counts()["deleted"] == 15
            result.write()
            runs[name] = result.run_id
    return before, work, runs


@pytest.fixture
def results(applied, tmp_path) -> dict[str, Path]:
    """This test's own copy of the results files."""
    for name in ("serials.results.xlsx", "serials.results.csv", "serials.results.removed.csv"):
        shutil.copy(applied[1] / name, tmp_path / name)
    return {"workbook": tmp_path / "serials.results.xlsx", "results csv": tmp_path / "serials.results.csv",
            "removed csv": tmp_path / "serials.results.removed.csv"}


@pytest.fixture
def katana(results):
    """The samples' tenant as the apply left it: its records with the removed ones detached."""
    with running_sandbox(rate_limit=ROOMY) as server:
        for record in read_removed(results["workbook"]).records.to_dict("records"):
            server.store.detach(record["resource_type"], record["resource_id"], [record["id"]])
        yield server


def undo(results, server, state, **options):
    return sn.undo(results, base_url=server.base_url, api_key="sandbox", state_dir=state,
                   client_options=FAST, recheck=0, **options)


@pytest.mark.parametrize("given", ["workbook", "results csv", "removed csv"])
def test_undo_returns_the_tenant_to_its_state_before_the_apply(applied, results, katana, state, given):
    before = applied[0]
    assert tenant(katana.store) != before
    undone = undo(results[given], katana, state)
    after = tenant(katana.store)
    assert undone.counts() == {"restored": 14, "cannot_restore": 1}
    assert undone.exit_code == 1, "a record that cannot be put back needs attention"
    assert after == {k: v for k, v in before.items() if k != SOF}, "every resource as before but the fulfillment row"
    rows = undone.rows
    minted = rows[rows["resource_type"].isin(MINTING)]
    assert (minted["new_serial_id"] != minted["id"]).all(), "a mint gives the serial a new record id"
    assert minted["message"].str.contains(r"record id \d+ \(was \d+\)").all()
    moved = rows[(rows["status"] == "restored") & ~rows["resource_type"].isin(MINTING)]
    assert (moved["new_serial_id"] == moved["id"]).all(), "a transfer moves the serial the tenant knows"
    assert rows.loc[rows["resource_type"] == SOF[0], "message"].str.contains("through its API").all()
    assert undone.write().name == {"workbook": "serials.results.undo.xlsx", "results csv": "serials.results.undo.csv",
                                   "removed csv": "serials.results.removed.undo.csv"}[given]


def test_the_report_is_one_row_per_removed_record_and_a_summary(applied, results, katana, state):
    undone = undo(results["workbook"], katana, state)
    report = undone.write()
    assert report == results["workbook"].with_name("serials.results.undo.xlsx")
    book = read_back(report)
    assert list(book) == ["Undo", "Summary"]
    header = book["Undo"][0]
    assert tuple(header) == (*REMOVED_COLUMNS, "status", "message", "new_serial_id", "request", "checked_at")
    records = sheet_dicts(book["Undo"])
    removed = sheet_dicts(read_back(results["workbook"])["Removed"])
    assert [r["id"] for r in records] == [r["id"] for r in removed] and len(records) == 15
    assert all(r["serial_number"] == s["serial_number"] for r, s in zip(records, removed))
    mo = next(r for r in records if r["resource_type"] == "ManufacturingOrder")
    assert mo["status"] == "restored" and isinstance(mo["new_serial_id"], int)
    assert mo["request"].startswith("POST ManufacturingOrder 3001 (1/1)") and mo["checked_at"]
    summary = [c for row in book["Summary"] for c in row if c]
    run = applied[2]["serials.xlsx"]
    assert f"15 removed records of apply run {run} read from serials.results.xlsx; put back where Katana allowed." \
        in summary
    assert "restored" in summary and "cannot_restore" in summary and ("Apply run id", run) in \
        [tuple(r[:2]) for r in book["Summary"]]
    csv_report = undo(results["removed csv"], katana, state).write()
    lines = csv_report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join((*REMOVED_COLUMNS, "status", "message", "new_serial_id", "request", "checked_at"))
    assert len(lines) == 16 and sn_mode(report) == "undo"


def sn_mode(path: Path) -> str | None:
    from sn_importer.report.paths import PROPERTY_MODE, recorded

    return recorded(path).get(PROPERTY_MODE)


def test_a_preview_sends_no_post_and_a_second_undo_sends_none(results, katana, state):
    written = results["workbook"]
    looked = undo(written, katana, state, preview=True)
    assert posts(katana) == 0
    assert looked.counts() == {"planned": 14, "cannot_restore": 1}
    assert looked.rows.loc[looked.rows["status"] == "planned", "request"].str.startswith("POST ").all()
    first = undo(written, katana, state)
    sent = posts(katana)
    second = undo(written, katana, state)
    assert posts(katana) == sent, "nothing is missing any more: nothing is sent"
    again = undo(written, katana, state, preview=True)
    assert sent == 8, "one POST per resource that POST accepts"
    assert second.counts() == {"already_there": 14, "cannot_restore": 1}
    assert any(f"Undone before on {first.finished_at} (run {first.run_id})" in n for n in second.notes)
    there = second.rows[second.rows["status"] == "already_there"]
    assert there["message"].str.startswith("put back on ").all() and \
        there["message"].str.contains(f"by undo run {first.run_id}").all()
    assert again.counts() == {"already_there": 14, "cannot_restore": 1} and again.exit_code == 1
    assert looked.write().name == "serials.results.undo.xlsx"


def test_an_undo_stopped_midway_resumes_and_sends_each_serial_once(applied, results, katana, state):
    interrupt = Interrupt(grace=5.0)

    def stop_after_the_first_post(progress):
        if posts(katana) >= 1:
            interrupt.request("test")

    written = results["workbook"]
    stopped = sn.undo(written, base_url=katana.base_url, api_key="sandbox", state_dir=state, recheck=0,
                      interrupt=interrupt, progress=stop_after_the_first_post, concurrency=1)
    first_posts = posts(katana)
    resumed = undo(written, katana, state)
    assert stopped.exit_code == 2 and "interrupted (test)" in stopped.error
    assert "skipped" in stopped.counts() and 1 <= first_posts < 8
    assert stopped.counts()["cannot_restore"] == 1, "never to be sent: it keeps its status when the run stops"
    assert resumed.run_id == stopped.run_id and any("Resumed the unfinished undo" in n for n in resumed.notes)
    assert resumed.counts() == {"restored": 14, "cannot_restore": 1}
    assert posts(katana) == 8, "a resource put back before the stop is not sent again"
    assert tenant(katana.store) == {k: v for k, v in applied[0].items() if k != SOF}


def test_an_apply_result_undoes_itself_against_the_katana_it_ran_on(tmp_path, state):
    path = tmp_path / "serials.csv"
    shutil.copy(SAMPLES / "serials.csv", path)
    with running_sandbox(rate_limit=ROOMY) as server:
        before = tenant(server.store)
        applied = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state)
        undone = applied.undo(api_key="sandbox", state_dir=state, recheck=0)
        assert tenant(server.store) == {k: v for k, v in before.items() if k != SOF}
    assert isinstance(undone, sn.UndoResult) and undone.apply_run_id == applied.run_id
    assert undone.write().name == "serials.results.undo.csv"
    assert repr(undone) == ("<UndoResult undo of serials.csv: 15 removed records (restored 14, cannot_restore 1); "
                            "exit code 1>")
    html = undone._repr_html_()
    assert ">restored</td>" in html and "Records that need attention (1)" in html and "through its API" in html


def test_only_an_apply_on_a_katana_still_there_can_be_undone_from_its_result(tmp_path, state):
    job = sn.read(write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,3001,1001\n"))
    with pytest.raises(sn.UsageError, match="only an apply removes serials"):
        job.validation().undo()
    on_its_own = job.apply(sandbox=True, state_dir=state)
    with pytest.raises(sn.UsageError, match="ran on a built-in sandbox that ended with it"):
        on_its_own.undo()


def test_records_that_cannot_be_used_or_sent_say_why_and_the_rest_go_back(tmp_path, state):
    rows = ["id,serial_number,resource_type,resource_id,transaction_id,transaction_date,quantity_change,sheet_rows",
            "2002,KNF000002002,SalesOrderRow,5001,,,1,row 2", "9,NEVER-SEEN,SalesOrderRow,5001,,,1,row 3",
            "10,,ManufacturingOrder,3001,,,1,row 4", "11,X-1,Make order,3001,,,1,row 5"]
    removed = write_csv(tmp_path, "\r\n".join(rows) + "\r\n", name="edited.results.removed.csv")
    with running_sandbox(rate_limit=ROOMY) as server:
        server.store.detach("SalesOrderRow", 5001, [2002])
        undone = undo(removed, server, state)
        back = tenant(server.store)[("SalesOrderRow", 5001)]
        sent = posts(server)
    statuses = undone.rows["status"].tolist()
    assert statuses == ["restored", "not_restored", "cannot_restore", "cannot_restore"]
    assert "KNF000002002" in back and "NEVER-SEEN" not in back
    assert undone.rows["message"][1] == "Katana refused the POST: 422 serial numbers not found"
    assert sent == 3, "the refused POST of two serials is sent again one serial at a time"
    assert "has no serial number" in undone.rows["message"][2] and "not one Katana knows" in undone.rows["message"][3]


def test_an_apply_that_removed_nothing_has_nothing_to_undo(tmp_path, state):
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,3001,424242\n")
    with running_sandbox(rate_limit=ROOMY) as server:
        applied = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state)
        written = applied.write()
        undone = undo(written, server, state)
        requests = server.store.stats()["requests"]
    assert undone.counts() == {} and undone.exit_code == 0 and requests["POST"] == 0
    assert undone.requests["GET"] == 0, "nothing to put back: Katana is not asked"
    assert "there is nothing to undo" in " ".join(c for row in read_back(undone.write(tmp_path / "u.xlsx"))["Summary"]
                                                  for c in row if isinstance(c, str))


@pytest.mark.parametrize(("made_by", "words"), [("preview", "is the results of a preview"),
                                                ("undo", "is an undo's report"),
                                                ("input", "is not a results workbook of sn-importer"),
                                                ("csv", "is not an apply's removed-records CSV")])
def test_a_file_that_is_not_an_apply_results_is_refused_before_anything_is_sent(tmp_path, results, state, made_by,
                                                                                 words):
    with running_sandbox(rate_limit=ROOMY) as server:
        source = tmp_path / "serials.xlsx"
        shutil.copy(SAMPLES / "serials.xlsx", source)
        if made_by == "preview":
            target = sn.read(source).preview(base_url=server.base_url, api_key="sandbox").write()
        elif made_by == "undo":
            target = undo(results["workbook"], server, state, preview=True).write()
        elif made_by == "csv":
            target = SAMPLES / "serials.csv"
        else:
            target = source
        asked = sum(server.store.stats()["requests"].values())
        with pytest.raises(sn.InputError, match=words):
            undo(target, server, state)
        assert sum(server.store.stats()["requests"].values()) == asked


def test_two_undos_of_one_apply_never_both_send(results, katana, state):
    journal = Journal(state)
    with journal.exclusive(read_removed(results["workbook"]).key(katana.base_url, "sandbox"), "undo"):
        blocked = undo(results["workbook"], katana, state)
    journal.close()
    assert posts(katana) == 0
    assert blocked.exit_code == 2 and "another undo of these removed records" in blocked.error
    assert blocked.counts() == {"skipped": 15}


def test_a_record_typed_over_in_the_results_is_not_created_when_the_journal_knows_what_the_apply_removed(
        applied, results, katana):
    """Undo puts back what the apply removed, as this computer's journal of it shows: an edited record
    would otherwise create a serial that was never there."""
    from openpyxl import load_workbook

    book = load_workbook(results["workbook"])
    removed = book["Removed"]
    row = next(r for r in range(2, removed.max_row + 1) if removed.cell(r, 2).value == "PO-77-001")
    removed.cell(row, 2).value = "NEVERSEEN-XYZ"
    book.save(results["workbook"])
    undone = undo(results["workbook"], katana, applied[1] / "s")
    edited = undone.rows[undone.rows["serial_number"] == "NEVERSEEN-XYZ"]
    assert edited["status"].tolist() == ["cannot_restore"]
    assert edited["message"].iloc[0].startswith(f"apply run {applied[2]['serials.xlsx']} did not remove record ")
    assert "NEVERSEEN-XYZ" not in {s for serials in tenant(katana.store).values() for s in serials}
    assert undone.counts() == {"restored": 13, "cannot_restore": 2}


def test_an_undo_on_one_account_is_not_taken_for_an_undo_on_another(results, tmp_path):
    """Every customer shares Katana's base URL: an undo is known by its account too."""
    state = tmp_path / "state"
    with running_sandbox(rate_limit=ROOMY, api_key="key-a") as first:
        port, base_url = first.port, first.base_url
        on_a = sn.undo(results["removed csv"], base_url=base_url, api_key="key-a", state_dir=state, recheck=0)
        assert "restored" not in on_a.counts()  # the samples' tenant still holds every record
    with running_sandbox(rate_limit=ROOMY, api_key="key-b", port=port) as second:
        assert second.base_url == base_url
        on_b = sn.undo(results["removed csv"], base_url=base_url, api_key="key-b", state_dir=state, recheck=0)
    assert not any("Undone before" in note for note in on_b.notes)
    assert on_b.run_id != on_a.run_id
