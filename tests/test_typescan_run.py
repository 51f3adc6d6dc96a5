"""preview and apply list a resource type whole when that is cheaper, and stay truthful.

Every run talks HTTP to the real sandbox in process (``httpx.ASGITransport``);
another integration changing the tenant between two page reads, and a Katana
that goes down or refuses a DELETE, are ASGI gateways in front of it
(tests/busy_tenant.py), never patches of the client.
"""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
from busy_tenant import BusyTenant, Refusing, attach_in_front, down_after_deletes, type_wide
from sandbox_fixtures import KEY, serial

import sn_importer as sn
from sn_importer.sandbox import create_app as sandbox_app

MO = "ManufacturingOrder"
URL = "http://127.0.0.1/v1"  # in-process; plain http is taken for loopback only
FAST = {"backoff": (0.001, 0.002), "max_retries": 2}


def tenant(mos: int, per_mo: int, first_mo: int = 1) -> list[dict]:
    """``mos`` MOs from ``first_mo`` on, each holding ``per_mo`` serials (strings sort MO by MO)."""
    return [serial(mo * 1000 + n, f"S{mo:05d}-{n:03d}", MO, mo) for mo in range(first_mo, first_mo + mos)
            for n in range(per_mo)]


def create_app(records: list[dict], **options):
    """A sandbox with room for a whole test run in its quota window."""
    return sandbox_app(records, **{"rate_limit": (10_000, 60.0), **options})


def sheet(tmp_path: Path, rows: list[tuple]) -> Path:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_number"])
        writer.writerows(rows)
    return path


def first_two_of(mos) -> list[tuple]:
    """A sheet naming the first two serials of each MO in ``mos``."""
    return [("MO", mo, f"S{mo:05d}-{n:03d}") for mo in mos for n in range(2)]


def run(app, path: Path, mode: str = "apply", state: Path | None = None, **options):
    """One run of ``path`` against ``app``; the run's result (its rows, counts, requests, notes)."""
    job = sn.read(path)
    client_options = {**FAST, "transport": httpx.ASGITransport(app=app)}
    call = job.apply if mode == "apply" else job.preview
    kwargs = {"state_dir": state} if mode == "apply" else {}
    return call(base_url=URL, api_key=KEY, client_options=client_options, **kwargs, **options)


def gets(app) -> int:
    return app.state.store.stats()["requests"]["GET"]


def left(app, mo: int) -> set[str]:
    return {r["serial_number"] for r in app.state.store.find(MO, mo)}


# --------------------------------------------------------------------------- the choice


def test_many_resources_in_a_small_tenant_list_the_type_whole(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))  # 900 MO serials: 4 pages
    result = run(app, sheet(tmp_path, first_two_of(range(1, 31))), state=tmp_path / "state")
    assert result.counts() == {"deleted": 60}
    stats = app.state.store.stats()["requests"]
    # 4 pages before (the first is the probe), 4 after (840 serials left), each list of several pages
    # read twice (two reads must agree); 30 lists would be 60 requests
    assert stats == {"GET": 2 * 4 + 2 * 4, "DELETE": 30, "POST": 0}
    assert all(left(app, mo) == {f"S{mo:05d}-002"} for mo in range(1, 31))
    assert all(len(left(app, mo)) == 3 for mo in range(31, 301))


def test_few_resources_in_a_large_tenant_are_listed_one_by_one_after_one_probe(tmp_path):
    app = create_app(tenant(mos=300, per_mo=4))  # 1,200 MO serials: 5 pages
    result = run(app, sheet(tmp_path, first_two_of(range(1, 5))), state=tmp_path / "state")
    assert result.counts() == {"deleted": 8}
    assert app.state.store.stats()["requests"] == {"GET": 1 + 2 * 4, "DELETE": 4, "POST": 0}


def test_one_resource_is_listed_on_its_own_without_a_probe(tmp_path):
    app = create_app(tenant(mos=3, per_mo=3))
    result = run(app, sheet(tmp_path, first_two_of([2])), state=tmp_path / "state")
    assert result.counts() == {"deleted": 2}
    assert app.state.store.stats()["requests"] == {"GET": 2, "DELETE": 1, "POST": 0}


def test_a_mixed_sheet_decides_type_by_type(tmp_path):
    records = tenant(mos=20, per_mo=3) + [serial(90_000 + n, f"SO-{n}", "SalesOrderRow", 500 + n) for n in range(3)]
    app = create_app(records)
    rows = first_two_of(range(1, 11)) + [("SalesOrderRow", 501, "SO-1")]
    result = run(app, sheet(tmp_path, rows), state=tmp_path / "state")
    assert result.counts() == {"deleted": 21}
    # MOs: 1 page before (the probe), 1 after; the one SalesOrderRow: its own list before and after, the
    # list after read twice (it came back empty, so a second read must agree before any row is deleted)
    assert app.state.store.stats()["requests"] == {"GET": 2 + 3, "DELETE": 11, "POST": 0}
    assert left(app, 1) == {"S00001-002"} and {r["id"] for r in app.state.store.find("SalesOrderRow")} == {90_000, 90_002}


def test_preview_uses_the_same_plan_and_reads_the_type_once(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    rows = first_two_of(range(1, 51)) + [("MO", 7, "NOT-THERE")]
    result = run(app, sheet(tmp_path, rows), mode="preview")
    assert result.counts() == {"planned": 100, "not_on_resource": 1}
    assert app.state.store.stats()["requests"] == {"GET": 2 * 4, "DELETE": 0, "POST": 0}  # 4 pages, read twice


# --------------------------------------------------------------------------- lists that change while paged


def test_a_type_list_that_changes_once_while_paged_is_read_again(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    busy = BusyTenant(app, when=type_wide(page=2), then=attach_in_front([500_000], resource_id=900), times=1)
    result = run(busy, sheet(tmp_path, first_two_of(range(1, 31))), state=tmp_path / "state")
    assert busy.changes == 1
    assert result.counts() == {"deleted": 60}
    # before: the first read (from the probe) changed, the next two agree; after: two reads that agree
    assert gets(app) == 3 * 4 + 2 * 4


def test_a_type_list_that_never_holds_still_before_falls_back_to_one_list_per_resource(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    busy = BusyTenant(app, when=type_wide(page=1), then=attach_in_front([500_000], resource_id=900), times=99)
    path = sheet(tmp_path, first_two_of(range(1, 21)) + [("MO", 3, "NOT-THERE")])
    result = run(busy, path, state=tmp_path / "state")
    assert result.counts() == {"deleted": 40, "not_on_resource": 1}
    assert all(left(app, mo) == {f"S{mo:05d}-002"} for mo in range(1, 21))
    # four reads of the type's 4 pages (the first from the probe), then 20 lists before and 20 after
    assert gets(app) == 4 * 4 + 20 + 20
    assert any("could not be used" in note and "before any delete" in note for note in result.notes)


def test_a_type_list_that_never_holds_still_after_falls_back_to_one_list_per_resource(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    after = {"deletes": 0}

    def after_the_deletes(params):
        return type_wide(page=1)(params) and app.state.store.stats()["requests"]["DELETE"] >= 20

    busy = BusyTenant(app, when=after_the_deletes, then=attach_in_front([500_000], resource_id=900), times=99)
    result = run(busy, sheet(tmp_path, first_two_of(range(1, 21))), state=tmp_path / "state")
    assert result.counts() == {"deleted": 40}
    assert busy.changes == 4 and after["deletes"] == 0
    # before: 4 pages read twice; after (860 left): four reads of 4 pages, then 20 lists
    assert gets(app) == 2 * 4 + 4 * 4 + 20
    assert any("could not be used" in note and "after the DELETEs" in note for note in result.notes)


def test_no_row_is_deleted_on_an_after_list_that_cannot_be_read(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    down = Refusing(app, down_after_deletes(20))
    result = run(down, sheet(tmp_path, first_two_of(range(1, 21))), state=tmp_path / "state")
    assert result.counts() == {"unverified": 40}
    assert result.exit_code == 2
    assert all(left(app, mo) == {f"S{mo:05d}-002"} for mo in range(1, 21))  # they were detached, but unverified


# --------------------------------------------------------------------------- resume


def test_a_run_stopped_before_its_check_after_resumes_truthfully(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    path, state = sheet(tmp_path, first_two_of(range(1, 21))), tmp_path / "state"
    first = run(Refusing(app, down_after_deletes(20)), path, state=state)
    assert first.counts() == {"unverified": 40}
    again = run(app, path, state=state)
    assert again.counts() == {"deleted": 40}
    assert any("Resumed" in note for note in again.notes)
    assert set(again.rows.loc[again.rows["status"] == "deleted", "message"]) == {
        "gone at the check after an interrupted attempt"}
    assert app.state.store.stats()["requests"]["DELETE"] == 20  # nothing sent twice


def test_a_resumed_run_chooses_again_for_what_is_left(tmp_path):
    app = create_app(tenant(mos=300, per_mo=3))
    path, state = sheet(tmp_path, first_two_of(range(1, 21))), tmp_path / "state"
    stuck = Refusing(app, lambda method, params, body: method == "DELETE" and body["resource_id"] == 7, status=500)
    first = run(stuck, path, state=state)
    assert first.counts() == {"deleted": 38, "failed": 2}
    before = app.state.store.stats()["requests"]
    again = run(app, path, state=state)
    assert again.counts() == {"deleted": 40}
    spent = {k: v - before[k] for k, v in app.state.store.stats()["requests"].items()}
    assert spent == {"GET": 2, "DELETE": 1, "POST": 0}  # one resource left: its own lists, no probe
    assert left(app, 7) == {"S00007-002"}


@pytest.mark.parametrize("mode", ["apply", "preview"])
def test_a_refused_key_on_the_probe_stops_the_run(tmp_path, mode):
    app = create_app(tenant(mos=30, per_mo=3), api_key="right")
    job = sn.read(sheet(tmp_path, first_two_of(range(1, 11))))
    call = job.apply if mode == "apply" else job.preview
    kwargs = {"state_dir": tmp_path / "state"} if mode == "apply" else {}
    result = call(base_url=URL, api_key="wrong", client_options={**FAST, "transport": httpx.ASGITransport(app=app)},
                  **kwargs)
    assert result.counts() == {"skipped": 20} and result.stop_kind == "auth"
    assert app.state.store.stats()["status"] == {"401": 1}  # the probe was refused; nothing else was sent


# --------------------------------------------------------------------------- what the run says


def test_the_estimate_json_and_summary_name_the_listing_and_the_cost_per_resource(tmp_path):
    import json

    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from sn_importer.cli import app

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(tenant(mos=10, per_mo=3) + [serial(90_000, "SO-0", "SalesOrderRow", 500)]))
    path = sheet(tmp_path, first_two_of(range(1, 11)) + [("SalesOrderRow", 500, "SO-0")])
    common = ["--sandbox", "--sandbox-seed", str(seed)]
    env = {"COLUMNS": "300", "NO_COLOR": "1", "KATANA_API_KEY": ""}
    said = CliRunner().invoke(app, ["preview", str(path), *common], env=env)
    assert said.exit_code == 0, said.output
    assert "Preview: 2 requests at most for 11 resources (0.18 per resource)" in said.output
    assert "ManufacturingOrder: 10 resources, listed whole (1 page of its 30 serials in the tenant, once)" in said.output
    assert "SalesOrderRow: 1 resource, listed one by one" in said.output

    done = CliRunner().invoke(app, ["apply", str(path), *common, "--state-dir", str(tmp_path / "state"), "--json",
                                    "-o", str(tmp_path / "out.xlsx")], env=env)
    summary = json.loads(done.stdout)
    assert summary["statuses"] == {"deleted": 21}
    # the SalesOrderRow's list after came back empty: read a second time before its row is deleted
    assert summary["requests"]["GET"] + summary["requests"]["DELETE"] == 2 + 3 + 11
    assert summary["requests_per_resource"] == round(16 / 11, 2)
    assert summary["plan"]["listing"] == {
        "ManufacturingOrder": {"listing": "type_wide", "resources": 10, "type_records": 30, "type_pages": 1,
                               "requests": 12},
        "SalesOrderRow": {"listing": "per_resource", "resources": 1, "type_records": None, "type_pages": None,
                          "requests": 3}}
    facts = {row[0]: row[1] for row in load_workbook(tmp_path / "out.xlsx")["Summary"].iter_rows(values_only=True)
             if row and row[0]}
    assert facts["Requests per resource"] == "1.45"
    assert facts["How each type was listed"].startswith("ManufacturingOrder: 10 resources, listed whole (1 page")
