"""preview and apply against the sandbox over real loopback HTTP.

Every status is reached for real: the sandbox is the Katana the importer
talks to, and faults are injected the way they happen in the field (a wrong
key, a failing server, a network that drops, a gateway that answers 204 and
does nothing) rather than by patching the client.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from conftest import FAST
from sandbox_fixtures import serial as rec

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

def sheet(tmp_path: Path, rows: list[tuple], name: str = "in.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_id", "serial_number"])
        writer.writerows(rows)
    return path


def statuses(job) -> list[str]:
    return [s for s in job.rows["status"] if s]


def on(store, rtype, rid) -> set[int]:
    return {r["id"] for r in store.find(rtype, rid)}


def test_apply_deletes_and_verifies_against_the_tenant(tmp_path, state):
    records = [rec(1, "A1"), rec(2, "A2"), rec(3, "000123"), rec(4, "B1", resource_id=3002)]
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, "", "000123"), ("MO", 3001, 4, ""),
                            ("MO", 3001, "", "NOPE"), ("MO", 3001, 1, "")])
    with running_sandbox(records=records, api_key="k", rate_limit=(100, 1.0)) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="k", state_dir=state, client_options=FAST)
        assert statuses(result) == ["deleted", "deleted", "not_on_resource", "not_on_resource", "duplicate"]
        assert on(server.store, "ManufacturingOrder", 3001) == {2}
        assert on(server.store, "ManufacturingOrder", 3002) == {4}, "an id on another resource is never touched"
        assert list(result.rows["serial_id"][:3]) == [1, 3, 4]
        assert "serial id 4 is not on Manufacturing order 3001" in result.rows.at[2, "message"]
        assert "row 2" in result.rows.at[4, "message"]
        assert server.store.stats()["requests"]["DELETE"] == 1
    assert sorted(result.removed["id"]) == [1, 3]
    assert result.removed.loc[result.removed["id"] == 3, "serial_number"].item() == "000123"
    assert result.requests["GET"] == 2 and result.requests["DELETE"] == 1
    assert result.exit_code == 1


def test_preview_sends_no_delete(tmp_path, state):
    records = [rec(1, "A1"), rec(2, "A2")]
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 9, "")])
    with running_sandbox(records=records, rate_limit=(100, 1.0)) as server:
        job = sn.read(path)
        result = job.preview(base_url=server.base_url, api_key="sandbox", client_options=FAST)
        assert statuses(result) == ["planned", "not_on_resource"]
        assert on(server.store, "ManufacturingOrder", 3001) == {1, 2}
        assert server.store.stats()["requests"] == {"GET": 1, "DELETE": 0, "POST": 0}


def test_serial_on_three_resources_is_detached_from_one_only(tmp_path, state):
    records = [rec(7, "MTO-7", "Production", 4001), rec(7, "MTO-7", "ManufacturingOrder", 3004),
               rec(7, "MTO-7", "SalesOrderRow", 5001)]
    path = sheet(tmp_path, [("Sales order row", 5001, "", "MTO-7")])
    with running_sandbox(records=records, rate_limit=(100, 1.0)) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(result) == ["deleted"]
        assert on(server.store, "SalesOrderRow", 5001) == set()
        assert on(server.store, "Production", 4001) == {7}
        assert on(server.store, "ManufacturingOrder", 3004) == {7}


def test_resource_with_300_serials_pages_and_chunks(tmp_path, state):
    records = [rec(10_000 + n, f"S{n:05d}") for n in range(300)]
    path = sheet(tmp_path, [("MO", 3001, 10_000 + n, "") for n in range(300)])
    with running_sandbox(records=records, rate_limit=(100, 1.0)) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(result) == ["deleted"] * 300
        assert server.store.find("ManufacturingOrder", 3001) == []
        # before: 2 pages of 250, read twice (two reads must agree); DELETE: 3 chunks of 100; after: 1 page,
        # empty, read twice (an empty list after a DELETE is believed only when a second read agrees)
        assert server.store.stats()["requests"] == {"GET": 2 * 2 + 2, "DELETE": 3, "POST": 0}


def test_rides_through_failures_and_a_tight_quota(tmp_path, state):
    records = [rec(100 * r + n, f"R{r}N{n}", resource_id=r) for r in range(1, 9) for n in range(3)]
    path = sheet(tmp_path, [("MO", r, 100 * r + n, "") for r in range(1, 9) for n in range(3)])
    with running_sandbox(records=records, rate_limit=(20, 1.0), fail_rate=0.3) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                  client_options={"backoff": (0.01, 0.1), "max_retries": 12})
        assert statuses(result) == ["deleted"] * 24
        assert server.store.records == []
        assert result.requests["retries"] > 0
        assert result.exit_code == 0


def test_wrong_key_stops_everything(tmp_path, state):
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3002, 2, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B", resource_id=3002)], api_key="right") as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="wrong", state_dir=state, client_options=FAST)
        assert statuses(result) == ["skipped", "skipped"]
        assert "check KATANA_API_KEY" in result.rows.at[0, "message"]
        assert result.exit_code == 2 and "check KATANA_API_KEY" in result.error
        assert server.store.stats()["requests"]["DELETE"] == 0
        assert result.rows["request"].tolist() == ["", ""], "nothing was sent for them"


def test_no_key_says_how_to_set_one(tmp_path, state, monkeypatch):
    monkeypatch.delenv("KATANA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    job = sn.read(sheet(tmp_path, [("MO", 3001, 1, "")]))
    result = job.apply(base_url="http://127.0.0.1:9/v1", state_dir=state)
    assert result.exit_code == 2
    assert "KATANA_API_KEY" in result.error and "--sandbox" in result.error
    assert statuses(result) == ["skipped"]


class _SwallowDeletes(httpx.AsyncHTTPTransport):
    """A gateway that answers 204 to DELETE without passing it on."""

    async def handle_async_request(self, request):
        if request.method == "DELETE":
            return httpx.Response(204, request=request)
        return await super().handle_async_request(request)


class _DropAfterDelete(httpx.AsyncHTTPTransport):
    """A network that goes away right after the first DELETE got through."""

    def __init__(self):
        super().__init__()
        self.deleted = False

    async def handle_async_request(self, request):
        if self.deleted:
            raise httpx.ConnectError("network went away", request=request)
        response = await super().handle_async_request(request)
        self.deleted = request.method == "DELETE"
        return response


class _FailDeletes(httpx.AsyncHTTPTransport):
    """A server whose DELETE always breaks the connection."""

    async def handle_async_request(self, request):
        if request.method == "DELETE":
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return await super().handle_async_request(request)


@pytest.mark.parametrize("transport, status, words", [
    (_SwallowDeletes, "still_present", "still on the resource"),
    (_DropAfterDelete, "unverified", "check afterwards failed"),
    (_FailDeletes, "failed", "DELETE failed"),
])
def test_untrustworthy_answers_are_reported_as_they_are(tmp_path, state, transport, status, words):
    path = sheet(tmp_path, [("MO", 3001, 1, "")])
    with running_sandbox(records=[rec(1, "A")]) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                           client_options={**FAST, "transport": transport()}, recheck=0.5)
        assert statuses(result) == [status]
        assert words in result.rows.at[0, "message"]
        expected_left = set() if status == "unverified" else {1}
        assert on(server.store, "ManufacturingOrder", 3001) == expected_left
        assert result.exit_code >= 1


def test_sandbox_stopped_mid_run(tmp_path, state):
    records = [rec(r, f"S{r}", resource_id=r) for r in range(1, 7)]
    path = sheet(tmp_path, [("MO", r, r, "") for r in range(1, 7)])
    with running_sandbox(records=records, rate_limit=(100, 1.0)) as server:
        job = sn.read(path)

        def stop_after_two(progress):
            if progress.resources_done == 2:
                server.stop()

        # resource by resource, so that the first two are verified before the stop
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST,
                           progress=stop_after_two, concurrency=1, listing="per_resource")
    got = statuses(result)
    assert got[:2] == ["deleted", "deleted"]
    assert set(got[2:]) <= {"failed", "skipped"} and "skipped" in got
    assert result.exit_code == 2 and "unreachable" in result.error
    out = result.write(tmp_path / "out.xlsx")
    assert out.exists()


def test_progress_counts_each_request_as_it_goes_out(tmp_path, state):
    """The requests figure moves with every request, not only when a resource is through (under
    the quota a resource's lists and DELETEs take seconds, and the page would stand still)."""
    path = sheet(tmp_path, [("MO", r, r, "") for r in range(1, 4)])
    with running_sandbox(records=[rec(r, f"S{r}", resource_id=r) for r in range(1, 4)]) as server:
        told: list[int] = []
        result = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                                     client_options=FAST, progress=lambda p: told.append(p.requests_done),
                                     concurrency=1, listing="per_resource")
        sent = sum(server.store.stats()["requests"].values())
    assert statuses(result) == ["deleted"] * 3
    assert sent >= 9  # per resource: a list before, a DELETE, a list after
    assert set(range(1, sent + 1)) <= set(told), told


def test_a_preview_after_an_apply_says_which_run_took_a_row_off(tmp_path, state):
    """A preview of a file applied before tells the rows that apply detached from serials never
    there (the journal only read); it still calls them not_on_resource: nothing would be sent."""
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 2, ""), ("MO", 3001, 9, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B")]) as server:
        first = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(first) == ["deleted", "deleted", "not_on_resource"]
        server.store.add(rec(2, "B"))  # serial 2 came back since
        journal = (state / "journal.sqlite3").read_bytes()
        preview = sn.read(path).preview(base_url=server.base_url, api_key="sandbox", state_dir=state,
                                        client_options=FAST)
    assert statuses(preview) == ["not_on_resource", "planned", "not_on_resource"]
    assert preview.rows.at[0, "message"] == (f"serial id 1 is not on Manufacturing order 3001 now: detached on "
                                             f"{first.rows.at[0, 'checked_at']} by run {first.run_id}, an apply of "
                                             "this file")
    assert preview.rows.at[2, "message"].startswith("serial id 9 is not on Manufacturing order 3001 (checked before")
    assert (state / "journal.sqlite3").read_bytes() == journal


def test_the_same_file_again_is_checked_again_and_reports_todays_truth(tmp_path, state):
    """A re-run re-checks: it lists again, sends what is on the resource now, and notes the earlier run."""
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 2, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B")]) as server:
        first = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(first) == ["deleted", "deleted"]
        server.store.add(rec(2, "B"))  # serial 2 came back since; serial 1 stays gone
        again = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(again) == ["deleted", "deleted"]
        assert again.rows.at[0, "message"].startswith(f"detached on {first.rows.at[0, 'checked_at']} by run "
                                                      f"{first.run_id}; still absent now")
        assert again.rows.at[1, "message"] == ""  # detached again, today
        assert again.rows["request"].tolist() == ["", "DELETE ManufacturingOrder 3001 (1/1)"]  # what this run sent
        from sn_importer.report.summary import summary_lines

        said = [line.cells[0] for line in summary_lines(again.rows, again.report_facts()) if line.kind == "text"]
        assert "• 1 detached and checked gone afterwards (deleted)." in said
        assert "• 1 detached by an earlier run of this file and still gone (deleted)." in said
        # the list after came back empty: read twice before the row is deleted
        assert again.run_id != first.run_id and again.requests["GET"] == 3 and again.requests["DELETE"] == 1
        assert f"Applied before on {first.finished_at} (run {first.run_id})" in " ".join(again.notes)
        assert on(server.store, "ManufacturingOrder", 3001) == set()
        assert list(again.removed["id"]) == [2]  # only what this run detached
        third = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert [m.split(";")[0] for m in third.rows["message"]] == [
            f"detached on {first.rows.at[0, 'checked_at']} by run {first.run_id}",
            f"detached on {again.rows.at[1, 'checked_at']} by run {again.run_id}"]
        fresh = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                                    client_options=FAST, fresh=True)
        assert statuses(fresh) == ["not_on_resource", "not_on_resource"]


def test_written_report_carries_removed_records_and_summary(tmp_path, state):
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, "", "A2")])
    with running_sandbox(records=[rec(1, "A1"), rec(2, "A2")]) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
    out = result.write(tmp_path / "out.xlsx")
    from openpyxl import load_workbook

    book = load_workbook(out)
    data = list(book["in"].iter_rows(values_only=True))
    assert [r[4] for r in data[1:]] == ["deleted", "deleted"]
    assert [r[6] for r in data[1:]] == [1, 2]
    assert all(r[8] for r in data[1:]), "checked_at is set on verified rows"
    removed = list(book["Removed"].iter_rows(values_only=True))
    assert [r[:4] for r in removed[1:]] == [(1, "A1", "ManufacturingOrder", 3001), (2, "A2", "ManufacturingOrder", 3001)]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Mode"] == "apply" and summary["Base URL"] == server.base_url
    assert summary["deleted"] == 2
    assert json.dumps(result.summary())  # serialisable


def test_one_unreachable_resource_means_katana_unreachable(tmp_path, state):
    job = sn.read(sheet(tmp_path, [("MO", 3001, 1, "")]))
    result = job.preview(base_url="http://127.0.0.1:9/v1", api_key="k", client_options=FAST)
    assert statuses(result) == ["failed"]
    assert result.exit_code == 2 and "unreachable" in result.error


def test_a_base_url_without_v1_is_named_as_the_likely_mistake(tmp_path, state):
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3002, 2, "")])
    with running_sandbox(records=[rec(1, "A")]) as server:
        job = sn.read(path)
        result = job.apply(base_url=server.base_url.removesuffix("/v1"), api_key="sandbox", state_dir=state,
                  client_options=FAST, concurrency=1)
    assert result.exit_code == 2 and "base URL" in result.error and "/v1" in result.error
    assert statuses(result) == ["failed", "skipped"]


def test_a_malformed_base_url_is_refused_before_any_request(tmp_path):
    job = sn.read(sheet(tmp_path, [("MO", 3001, 1, "")]))
    with pytest.raises(sn.UsageError, match="needs http:// or https://"):
        job.preview(base_url="ftp://example.com/v1", api_key="k")


def test_two_applies_of_one_file_never_both_send(tmp_path, state):
    from sn_importer.journal import Journal, run_key

    path = sheet(tmp_path, [("MO", 3001, 1, "")])
    with running_sandbox(records=[rec(1, "A")]) as server:
        job = sn.read(path)
        journal = Journal(state)
        with journal.exclusive(run_key(path, job.template.path, server.base_url, "sandbox")):
            result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        journal.close()
        assert result.exit_code == 2 and "another apply of this file" in result.error
        assert statuses(result) == ["skipped"]
        assert server.store.stats()["requests"]["GET"] == 0
        again = sn.read(path)
        again_run = again.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(again_run) == ["deleted"]


def test_a_file_applied_on_one_account_is_not_reported_deleted_on_another(tmp_path, state):
    """Every customer shares Katana's base URL: what a run did on account A is not account B's truth."""
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 2, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B")], api_key="key-a") as first:
        port, base_url = first.port, first.base_url
        on_a = sn.read(path).apply(base_url=base_url, api_key="key-a", state_dir=state, client_options=FAST)
        assert statuses(on_a) == ["deleted", "deleted"]
    with running_sandbox(records=[rec(7, "Z")], api_key="key-b", port=port) as second:
        assert second.base_url == base_url
        previewed = sn.read(path).preview(base_url=base_url, api_key="key-b", state_dir=state, client_options=FAST)
        assert not any("applied before" in note for note in previewed.notes)
        on_b = sn.read(path).apply(base_url=base_url, api_key="key-b", state_dir=state, client_options=FAST)
        assert statuses(on_b) == ["not_on_resource", "not_on_resource"]
        assert on_b.removed.empty and not any("Applied before" in note for note in on_b.notes)


def test_an_id_not_on_the_resource_whose_serial_is_there_under_another_id_is_invalid_not_absent(tmp_path, state):
    """Both given, they must agree: after an undo the serial is back under a new id, and the row's id is gone."""
    path = sheet(tmp_path, [("MO", 3001, 1004, "KNF4"), ("MO", 3001, 1005, "")])
    with running_sandbox(records=[rec(5009, "KNF4"), rec(1005, "KNF5")]) as server:
        applied = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                                      client_options=FAST)
        assert statuses(applied) == ["invalid", "deleted"]
        assert applied.rows["message"][0] == (
            "serial id 1004 is not on Manufacturing order 3001, but serial 'KNF4' is, as record 5009 (put back under "
            "a new id, or a mistyped id): the two disagree, so nothing was sent; give the id on Manufacturing order "
            "3001 or the serial alone")
        assert [r["id"] for r in server.store.find("ManufacturingOrder", 3001)] == [5009]  # not sent


def test_an_id_and_an_order_number_that_disagree_are_named_in_the_sheets_words(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("Resource type,Resource ID,Order no,Serial number\nMO,3001,MO-3001,KNF000001001\n")
    with running_sandbox() as server:  # the samples' dataset: MO-3001 is manufacturing order 8301
        result = sn.read(path).preview(base_url=server.base_url, api_key="sandbox", client_options=FAST)
    assert result.rows[["status", "message"]].values.tolist() == [
        ["invalid", "Resource ID 3001 is not MO-3001, which is Manufacturing order 8301 in Katana"]]


def test_a_serial_put_back_by_an_undo_is_not_reported_still_gone_by_the_next_apply(tmp_path, state):
    """An undo puts a serial back as a new record: the sheet's old id is gone, its serial is not."""
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 2, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B")]) as server:
        first = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(first) == ["deleted", "deleted"]
        undone = first.undo(api_key="sandbox", state_dir=state, recheck=0)
        assert undone.counts() == {"restored": 2}
        back = {r["serial_number"]: r["id"] for r in server.store.find("ManufacturingOrder", 3001)}
        again = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
    assert statuses(again) == ["not_on_resource", "not_on_resource"]
    assert again.rows["message"][0] == (
        f"serial id 1 was detached on {first.rows['checked_at'][0]} by run {first.run_id}, but its serial 'A' is on "
        f"Manufacturing order 3001 again, as record {back['A']} (put back by an undo?): nothing was sent; to detach "
        f"it again, give the serial number or the new id")
    assert again.requests["DELETE"] == 0


def test_a_later_run_never_erases_an_apply_report(tmp_path, state):
    path = sheet(tmp_path, [("MO", 3001, 1, "")])
    with running_sandbox(records=[rec(1, "A1")]) as server:
        applied = sn.read(path)
        applied_run = applied.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        first = applied_run.write()
        assert first.name == "in.results.csv"
        removed = tmp_path / "in.results.removed.csv"
        assert removed.read_text(encoding="utf-8-sig").splitlines()[1].startswith("1,A1,ManufacturingOrder,3001,")
        previewed = sn.read(path)
        previewed_run = previewed.preview(base_url=server.base_url, api_key="sandbox", client_options=FAST)
        previewed_run.write()
    kept = [p.name for p in tmp_path.glob("in.results.2*.csv")]
    assert len(kept) == 2 and any(name.endswith(".removed.csv") for name in kept)
    assert any("was kept as" in note for note in previewed_run.notes)
    old = next(p for p in tmp_path.glob("in.results.2*.csv") if not p.name.endswith(".removed.csv"))
    assert ",deleted," in old.read_text(encoding="utf-8-sig")
    assert ",not_on_resource," in first.read_text(encoding="utf-8-sig")
    assert not removed.exists(), "the new report (a preview) removed nothing"


def test_title_rows_of_a_csv_come_back_in_the_csv_output(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("Serials to detach, week 48\n\nresource_type;resource_id;serial_id\nMO;1;1\n")
    out = sn.read(path).write()
    assert out.read_text(encoding="utf-8-sig").splitlines() == [
        "Serials to detach, week 48", "", "resource_type;resource_id;serial_id;status;message;serial_id;request;checked_at",
        "MO;1;1;valid;;1;DELETE ManufacturingOrder 1 (1/1);"]


def test_one_job_previewed_then_applied_resolves_afresh(tmp_path, state):
    """A preview's resolved ids are not the user's input: the apply resolves again."""
    path = sheet(tmp_path, [("MO", 3001, "", "SN-A"), ("MO", 3001, "", "SN-B")])
    job = sn.read(path)
    with running_sandbox(records=[rec(1, "SN-A"), rec(2, "SN-B")]) as first:
        result = job.preview(base_url=first.base_url, api_key="sandbox", client_options=FAST)
    assert statuses(result) == ["planned", "planned"] and list(result.rows["serial_id"]) == [1, 2]
    with running_sandbox(records=[rec(7, "SN-A"), rec(8, "SN-B")]) as second:
        result = job.apply(base_url=second.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(result) == ["deleted", "deleted"]
        assert list(result.rows["serial_id"]) == [7, 8]
        assert list(result.rows["request"]) == ["DELETE ManufacturingOrder 3001 (1/1)"] * 2
        assert second.store.records == []
    assert statuses(job) == ["valid", "valid"], "the job stays as read"
    assert job.rows["serial_id"].isna().all()


def test_a_run_that_cannot_start_does_not_keep_the_previous_results(tmp_path, state, monkeypatch):
    monkeypatch.delenv("KATANA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 9, "")])
    job = sn.read(path)
    with running_sandbox(records=[rec(1, "A")]) as server:
        result = job.preview(base_url=server.base_url, api_key="sandbox", client_options=FAST)
    assert statuses(result) == ["planned", "not_on_resource"]
    result = job.apply(base_url="http://127.0.0.1:9/v1", state_dir=state)
    assert statuses(result) == ["skipped", "skipped"] and result.stop_kind == "no_key"
    assert set(result.rows["checked_at"]) == {""}


def test_failed_resources_are_tried_again_on_the_next_apply(tmp_path, state):
    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3002, 2, "")])
    with running_sandbox(records=[rec(1, "A"), rec(2, "B", resource_id=3002)]) as server:
        first = sn.read(path)
        first_run = first.apply(base_url=server.base_url, api_key="sandbox", state_dir=state,
                    client_options={**FAST, "transport": _FailDeletes()})
        assert statuses(first_run) == ["failed", "failed"]
        second = sn.read(path)
        second_run = second.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(second_run) == ["deleted", "deleted"]
        assert any("Resumed" in note for note in second_run.notes)
        assert not any("already applied" in note for note in second_run.notes)
        assert second_run.requests["DELETE"] == 2 and server.store.records == []


def test_a_re_run_keeps_the_earlier_run_in_the_history(tmp_path, state):
    from sn_importer.journal import Journal

    path = sheet(tmp_path, [("MO", 3001, 1, "")])
    with running_sandbox(records=[rec(1, "A")]) as server:
        first = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        again = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
    journal = Journal(state)
    history = {run["run_id"]: run for run in journal.history()}
    journal.close()
    assert set(history) == {first.run_id, again.run_id}
    assert history[first.run_id]["finished_at"] == first.finished_at
    # the resource's list is empty now: read twice (two reads must agree) before anything is concluded
    assert again.requests["GET"] == 2 and statuses(again) == ["deleted"]


def test_a_corrupt_journal_is_one_clear_stop(tmp_path, state):
    state.mkdir()
    (state / "journal.sqlite3").write_bytes(b"this is not a database" * 100)
    job = sn.read(sheet(tmp_path, [("MO", 3001, 1, "")]))
    with running_sandbox(records=[rec(1, "A")]) as server:
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert server.store.stats()["requests"]["GET"] == 0
    assert result.stop_kind == "journal" and "not a usable journal" in result.error
    assert statuses(result) == ["skipped"] and result.exit_code == 2


def test_ctrl_c_inside_a_running_loop_cancels_the_run():
    """As in Jupyter: the cell's loop is running, Ctrl-C raises KeyboardInterrupt in it."""
    import asyncio
    import signal
    import threading

    from sn_importer.run import run_sync

    cancelled = threading.Event()

    async def long_run():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def cell():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        threading.Timer(0.3, signal.raise_signal, args=(signal.SIGINT,)).start()
        with pytest.raises(KeyboardInterrupt):
            run_sync(long_run())

    asyncio.run(cell())
    assert cancelled.is_set(), "the run in the worker thread was cancelled, not left running"


def test_a_job_edited_in_a_notebook_still_sends_the_sheet_as_read(tmp_path, state):
    """``job.rows`` and ``job.plan`` are the notebook's own to change: a run sends what was read."""
    import warnings

    path = sheet(tmp_path, [("MO", 3001, 1, ""), ("MO", 3001, 2, "")])
    job = sn.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas says such an edit changes a copy: that is the point
        job.rows.loc[0, "serial_id"] = 3
        job.plan.loc[0, "serials"] = 99
    edited = job.rows
    edited.loc[1, "status"] = "invalid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inplace is deprecated; notebooks still use it
        edited.drop(index=0, inplace=True)
    assert job.rows["serial_id"].tolist() == [1, 2] and job.plan["serials"].tolist() == [2]
    with running_sandbox(records=[rec(1, "A"), rec(2, "B"), rec(3, "C")]) as server:
        result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=state, client_options=FAST)
        assert statuses(result) == ["deleted", "deleted"]
        assert on(server.store, "ManufacturingOrder", 3001) == {3}
