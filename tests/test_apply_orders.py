"""A sheet by order number and SKU, applied on the sandbox where order numbers are not ids.

MO-3001 is Manufacturing order 8123 here, and the MO whose id is 3001 (MO-2999)
holds the same serial: only the named order's serial may go. The sandbox runs
in-process (httpx's ASGI transport) or on loopback; nothing is mocked.
"""

from __future__ import annotations

import json

import httpx
import pytest
from openpyxl import load_workbook
from sandbox_fixtures import orders_seed, serial
from typer.testing import CliRunner

import sn_importer as sn
from sn_importer.sandbox import create_app, seed_from

from conftest import write_xlsx

KEY = "sandbox"
HEADER = ["Resource type", "Order number", "SKU", "Serial number", "Note"]


def tenant() -> dict:
    seed = orders_seed()
    seed["serial_numbers"] = [
        serial(1, "KNF-1", "ManufacturingOrder", 3001),  # MO-2999, whose id is 3001
        serial(1, "KNF-1", "ManufacturingOrder", 8123),  # MO-3001: the same serial
        serial(2, "KNF-2", "ManufacturingOrder", 8123),
        serial(3, "S-1", "SalesOrderRow", 5001),
        serial(4, "S-2", "SalesOrderRow", 5002),
        serial(4, "S-2", "SalesOrderRow", 5003),
        serial(5, "P-1", "PurchaseOrderRow", 7001),
    ]
    return seed


def staff_sheet(tmp_path, rows=None):
    rows = rows or [
        ("MO", "MO-3001", "", "KNF-1", "the MO-3001 one only"),
        ("Sales order row", "SO-1042", "KNF-01", "S-1", ""),
        ("PO row", "PO-77", "STL-304", "P-1", ""),
        ("Sales order row", "SO-1042", "KNF-02", "S-2", "two rows of KNF-02"),
        ("MO", "MO-404", "", "KNF-2", "no such order"),
    ]
    return write_xlsx(tmp_path, {"Orders": [HEADER, *rows]}, name="by-order.xlsx")


def in_process(app) -> dict:
    return {"base_url": "http://127.0.0.1/v1", "api_key": KEY,
            "client_options": {"transport": httpx.ASGITransport(app=app), "backoff": (0.01, 0.05)}}


def held(app) -> set[tuple[int, str, int]]:
    return {(r["id"], r["resource_type"], r["resource_id"]) for r in app.state.store.records}


def test_serials_leave_exactly_the_named_resources(tmp_path):
    app = create_app(seed_from(tenant()))
    before = held(app)
    result = sn.read(staff_sheet(tmp_path)).apply(state_dir=tmp_path / "state", **in_process(app))
    rows = result.rows
    assert rows["status"].tolist() == ["deleted", "deleted", "deleted", "invalid", "invalid"]
    assert rows["resource_id"].tolist()[:3] == [8123, 5001, 7001]
    gone = before - held(app)
    assert gone == {(1, "ManufacturingOrder", 8123), (3, "SalesOrderRow", 5001), (5, "PurchaseOrderRow", 7001)}
    assert (1, "ManufacturingOrder", 3001) in held(app), "the MO whose id is 3001 keeps its serial"
    # nothing sent for the ambiguous SKU or the unknown order: three DELETEs, one per named resource
    assert app.state.store.stats()["endpoints"]["DELETE /serial_numbers"] == 3
    assert rows.at[3, "message"] == ("sales order SO-1042 has 2 rows with SKU KNF-02 (row ids 5002, 5003); "
                                     "add a resource id column and give the row's id there")
    assert rows.at[4, "message"] == "Katana has no manufacturing order MO-404"
    assert rows.at[0, "message"] == "MO-3001 is Manufacturing order 8123"
    assert result.plan[["resource_type", "resource_id", "serials", "deleted"]].values.tolist() == [
        ["ManufacturingOrder", 8123, 1, 1], ["SalesOrderRow", 5001, 1, 1], ["PurchaseOrderRow", 7001, 1, 1]]
    assert result.exit_code == 1


def test_the_output_shows_the_resolved_resource_beside_each_row(tmp_path):
    app = create_app(seed_from(tenant()))
    result = sn.read(staff_sheet(tmp_path)).apply(state_dir=tmp_path / "state", **in_process(app))
    book = load_workbook(result.write(tmp_path / "out.xlsx"))
    table = [list(r) for r in book["Orders"].iter_rows(values_only=True)]
    at = {name: table[0].index(name) for name in ("status", "message", "request")}
    assert [r[:4] for r in table[1:]] == [list(r[:4]) for r in [
        ("MO", "MO-3001", None, "KNF-1"), ("Sales order row", "SO-1042", "KNF-01", "S-1"),
        ("PO row", "PO-77", "STL-304", "P-1"), ("Sales order row", "SO-1042", "KNF-02", "S-2"),
        ("MO", "MO-404", None, "KNF-2")]]
    assert table[2][at["status"]] == "deleted"
    assert table[2][at["message"]] == "SO-1042 / SKU KNF-01 is Sales order row 5001"
    assert table[2][at["request"]] == "DELETE SalesOrderRow 5001 (1/1)"
    assert table[5][at["status"]] == "invalid" and not table[5][at["request"]]


def test_lookups_are_made_once_per_order_and_sku_and_counted_beforehand(tmp_path):
    rows = [("MO", "MO-3001", "", f"KNF-{n}", "") for n in (1, 2)] * 2 + [
        ("SO row", "SO-1042", "KNF-01", "S-1", ""), ("SO row", "SO-1042", "KNF-01", "S-9", ""),
        ("PO row", "PO-77", "KNF-01", "P-1", "")]
    app = create_app(seed_from(tenant()))
    said = []
    result = sn.read(staff_sheet(tmp_path, rows)).preview(announce=said.append, **in_process(app))
    endpoints = app.state.store.stats()["endpoints"]
    assert {k: v for k, v in endpoints.items() if "serial_numbers" not in k} == {
        "GET /manufacturing_orders": 1, "GET /sales_orders": 1, "GET /purchase_orders": 1,
        "GET /variants": 1, "GET /sales_order_rows": 1, "GET /purchase_order_rows": 1}
    # MO-3001 (1 list), SO-1042/KNF-01 (1 list); PO-77 has no KNF-01 row: nothing listed for it
    assert endpoints["GET /serial_numbers"] == 2
    assert result.requests["GET"] == 8
    # said before the first lookup: 3 orders + 1 SKU + 2 row searches; then the engine's own estimate
    assert said[0] == ("First 6 requests at most to look up 3 resources named by order number and SKU in Katana; "
                       "no waiting.")
    assert said[1].startswith("Preview: 2 requests at most for 2 resources")
    assert result.rows["status"].tolist() == ["planned", "planned", "duplicate", "duplicate", "planned",
                                              "not_on_resource", "invalid"]
    assert result.rows.at[6, "message"] == "purchase order PO-77 has no row with SKU KNF-01"


def test_a_refused_key_stops_the_lookups_and_skips_every_row(tmp_path):
    app = create_app(seed_from(tenant()), api_key="right")
    result = sn.read(staff_sheet(tmp_path)).preview(**in_process(app))
    assert result.exit_code == 2 and result.stop_kind == "auth"
    assert set(result.rows["status"]) == {"skipped"}
    assert app.state.store.stats()["requests"]["GET"] >= 1


def test_validate_never_asks_katana(tmp_path):
    result = sn.read(staff_sheet(tmp_path)).validation()
    assert result.rows["status"].tolist() == ["valid"] * 5
    assert result.rows["resource_id"].isna().all()


@pytest.fixture
def sample_seed(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(tenant()))
    return path


def test_mo_labels_resolves_mo_3001_through_katana_on_the_command_line(tmp_path, sample_seed):
    from sn_importer.cli import app

    labels = write_xlsx(tmp_path, {"Labels": [["MO number", "Label serial"], ["MO-3001", "KNF-1"]]})
    runner = CliRunner()
    result = runner.invoke(app, ["apply", str(labels), "--template", "mo-labels", "--sandbox", "--sandbox-seed",
                                 str(sample_seed), "--state-dir", str(tmp_path / "state"), "--json"],
                           env={"COLUMNS": "200", "NO_COLOR": "1"})
    summary = json.loads(result.stdout)
    assert summary["statuses"] == {"deleted": 1}, result.output
    assert summary["exit_code"] == 0
    book = load_workbook(summary["output"])
    header, row = [list(r) for r in book["Labels"].iter_rows(values_only=True)][:2]
    assert row[header.index("message")] == "MO-3001 is Manufacturing order 8123"


def test_applying_the_same_sheet_again_checks_again_and_sends_nothing_gone(tmp_path):
    app = create_app(seed_from(tenant()))
    job = sn.read(staff_sheet(tmp_path))
    first = job.apply(state_dir=tmp_path / "state", **in_process(app))
    again = job.apply(state_dir=tmp_path / "state", **in_process(app))
    assert again.rows["status"].tolist() == first.rows["status"].tolist()
    deleted = first.rows["status"] == "deleted"
    assert deleted.any()
    for before, now in zip(first.rows.loc[deleted, "checked_at"], again.rows.loc[deleted, "message"]):
        assert f"detached on {before} by run {first.run_id}; still absent now" in now
    assert any(note.startswith("Applied before on") for note in again.notes)
    assert app.state.store.stats()["endpoints"]["DELETE /serial_numbers"] == 3, "nothing sent again"
