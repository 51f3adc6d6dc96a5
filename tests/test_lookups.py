"""Order numbers and SKUs resolved through the sandbox's order lists (in-process, no mocks)."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest
from sandbox_fixtures import KEY, orders_seed

from sn_importer.katana.client import KatanaClient
from sn_importer.errors import AuthError
from sn_importer.fold import fold
from sn_importer.katana.lookups import Found, Lookups, resolve
from sn_importer.references import Reference, lookup_requests, references
from sn_importer.sandbox import create_app, seed_from
from sn_importer.status import Status


def client_for(app, key=KEY) -> KatanaClient:
    return KatanaClient("http://sandbox/v1", key, transport=httpx.ASGITransport(app=app), backoff=(0.01, 0.05))


def app_for(seed=None, **options):
    return create_app(seed_from(seed or orders_seed()), rate_limit=(1000, 60.0), **options)


def find(app, *refs: Reference) -> list[Found]:
    async def go():
        async with client_for(app) as client:
            lookups = Lookups(client)
            return await asyncio.gather(*(lookups.find(r) for r in refs))

    return asyncio.run(go())


def endpoints(app) -> dict[str, int]:
    return app.state.store.stats()["endpoints"]


def rows_frame(*rows) -> pd.DataFrame:
    """A rows frame as validation leaves it: (type, resource_id or None, order_no, sku, serial)."""
    frame = pd.DataFrame(rows, columns=["resource_type", "resource_id", "order_no", "sku", "serial_number"])
    frame["resource_id"] = frame["resource_id"].astype("Int64")
    frame["status"] = Status.VALID.value
    frame["message"] = ""
    frame["request"] = ""
    return frame


# --------------------------------------------------------------------------- each lookup


def test_manufacturing_order_by_number_is_its_id_not_the_number():
    app = app_for()
    assert find(app, Reference("ManufacturingOrder", "MO-3001")) == [Found(8123)]
    assert endpoints(app) == {"GET /manufacturing_orders": 1}


def test_sales_order_row_by_order_and_sku():
    app = app_for()
    assert find(app, Reference("SalesOrderRow", "SO-1042", "KNF-01")) == [Found(5001)]
    assert endpoints(app) == {"GET /sales_order_rows": 1, "GET /sales_orders": 1, "GET /variants": 1}


def test_purchase_order_row_by_order_and_sku():
    app = app_for()
    assert find(app, Reference("PurchaseOrderRow", "PO-77", "STL-304")) == [Found(7001)]
    assert endpoints(app) == {"GET /purchase_order_rows": 1, "GET /purchase_orders": 1, "GET /variants": 1}


@pytest.mark.parametrize(("ref", "problem"), [
    (Reference("ManufacturingOrder", "MO-404"), "Katana has no manufacturing order MO-404"),
    (Reference("SalesOrderRow", "SO-9", "KNF-01"), "Katana has no sales order SO-9"),
    (Reference("PurchaseOrderRow", "PO-77", "NOPE"), "Katana has no item with SKU NOPE"),
    (Reference("PurchaseOrderRow", "PO-77", "KNF-01"), "purchase order PO-77 has no row with SKU KNF-01"),
    (Reference("SalesOrderRow", "SO-1042", "KNF-02"),
     "sales order SO-1042 has 2 rows with SKU KNF-02 (row ids 5002, 5003); add a resource id column and give the row's id there"),
])
def test_unknown_and_ambiguous_references_say_which(ref, problem):
    [found] = find(app_for(), ref)
    assert (found.resource_id, found.problem, found.status) == (None, problem, Status.INVALID)


def test_an_unknown_order_spends_no_sku_lookup():
    app = app_for()
    find(app, Reference("SalesOrderRow", "SO-9", "KNF-01"))
    assert endpoints(app) == {"GET /sales_orders": 1}


def test_a_refused_lookup_fails_its_rows_and_a_wrong_key_stops():
    async def go(key):
        async with client_for(app_for(), key) as client:
            return await Lookups(client).find(Reference("ManufacturingOrder", "MO-3001"))

    with pytest.raises(AuthError):
        asyncio.run(go("wrong"))
    broken = create_app(seed_from(orders_seed()), fail_rate=1.0)

    async def unreachable():
        async with KatanaClient("http://sandbox/v1", KEY, transport=httpx.ASGITransport(app=broken),
                                backoff=(0.001, 0.002), max_retries=2) as client:
            return await Lookups(client).find(Reference("ManufacturingOrder", "MO-3001"))

    found = asyncio.run(unreachable())
    assert found.resource_id is None and found.status is Status.FAILED
    assert found.problem.startswith("could not look up MO-3001 in Katana:")


# --------------------------------------------------------------------------- caching and counting


def sheet() -> pd.DataFrame:
    return rows_frame(
        ("ManufacturingOrder", None, "MO-3001", "", "A"),
        ("ManufacturingOrder", None, "MO-3001", "", "B"),
        ("ManufacturingOrder", None, "MO-404", "", "C"),
        ("SalesOrderRow", None, "SO-1042", "KNF-01", "D"),
        ("SalesOrderRow", None, "SO-1042", "KNF-01", "E"),
        ("SalesOrderRow", None, "SO-1042", "KNF-02", "F"),
        ("PurchaseOrderRow", None, "PO-77", "STL-304", "G"),
        ("PurchaseOrderRow", None, "PO-77", "KNF-01", "H"),
        ("ManufacturingOrder", 3001, "", "", "I"),  # by id: not looked up
    )


def run_resolve(app, rows):
    async def go():
        async with client_for(app) as client:
            return await resolve(rows, Lookups(client)), client.stats.requests["GET"]

    return asyncio.run(go())


def test_each_distinct_order_and_sku_is_asked_once_per_run():
    app, rows = app_for(), sheet()
    resolution, sent = run_resolve(app, rows)
    assert endpoints(app) == {"GET /manufacturing_orders": 2, "GET /sales_orders": 1, "GET /purchase_orders": 1,
                              "GET /variants": 3, "GET /sales_order_rows": 2, "GET /purchase_order_rows": 2}
    assert sent == sum(endpoints(app).values()) == 11
    # said beforehand: 4 distinct orders + 3 distinct SKUs + 4 (order, SKU) row searches
    assert lookup_requests(rows) == 4 + 3 + 4 == 11
    assert resolution.ids == {0: 8123, 1: 8123, 3: 5001, 4: 5001, 6: 7001}


def test_resolution_fills_ids_marks_problems_and_notes_beside_the_row():
    rows = sheet()
    resolution, _ = run_resolve(app_for(), rows)
    out = fold(rows, resolution=resolution)
    assert rows["resource_id"].isna().sum() == 8  # the input frame is left as it was
    assert out["resource_id"].tolist()[:8] == [8123, 8123, pd.NA, 5001, 5001, pd.NA, 7001, pd.NA]
    assert out["status"].tolist() == ["valid", "valid", "invalid", "valid", "valid", "invalid", "valid", "invalid", "valid"]
    assert out.at[2, "message"] == "Katana has no manufacturing order MO-404"
    assert "row ids 5002, 5003" in out.at[5, "message"]
    assert out.at[0, "message"] == "MO-3001 is Manufacturing order 8123"
    assert out.at[3, "message"] == "SO-1042 / SKU KNF-01 is Sales order row 5001"
    assert out.at[8, "message"] == ""


def test_an_unknown_spelling_of_an_order_or_sku_found_in_another_row_names_it():
    """Katana matches order numbers and SKUs as written: "mo-3001" beside a found "MO-3001" says
    how Katana writes it, without a request more; a number no other row spells is left as it was."""
    rows = rows_frame(("ManufacturingOrder", None, "MO-3001", "", "A"),
                      ("ManufacturingOrder", None, "mo 3001", "", "B"),
                      ("SalesOrderRow", None, "SO-1042", "KNF-01", "C"),
                      ("PurchaseOrderRow", None, "PO-77", "knf01", "D"),
                      ("ManufacturingOrder", None, "MO-404", "", "E"))
    app = app_for()
    out = fold(rows, resolution=run_resolve(app, rows)[0])
    assert out["status"].tolist() == ["valid", "invalid", "valid", "invalid", "invalid"]
    assert out.at[1, "message"] == ("Katana has no manufacturing order mo 3001; another row writes it MO-3001, "
                                    "which Katana found: write the order number as Katana shows it")
    assert out.at[3, "message"] == ("Katana has no item with SKU knf01; another row writes it KNF-01, "
                                    "which Katana found: write the SKU as Katana shows it")
    assert out.at[4, "message"] == "Katana has no manufacturing order MO-404"
    assert sum(endpoints(app).values()) <= lookup_requests(rows)  # no request more than said beforehand


def test_an_order_row_with_its_id_but_no_sku_is_not_looked_up():
    rows = rows_frame(("SalesOrderRow", 5001, "SO-1042", "", "A"))
    assert lookup_requests(rows) == 0
    app = app_for()
    out = fold(rows, resolution=run_resolve(app, rows)[0])
    assert out["status"].tolist() == ["valid"] and out["resource_id"].tolist() == [5001]
    assert endpoints(app) == {}


def test_a_given_id_must_agree_with_the_order_number():
    rows = rows_frame(("ManufacturingOrder", 3001, "MO-3001", "", "A"), ("ManufacturingOrder", 8123, "MO-3001", "", "B"))
    out = fold(rows, resolution=run_resolve(app_for(), rows)[0])
    assert out["status"].tolist() == ["invalid", "valid"]
    assert out.at[0, "message"] == "resource id 3001 is not MO-3001, which is Manufacturing order 8123 in Katana"


def test_the_cost_model_counts_each_reference_as_one_resource():
    from sn_importer.strategy import upfront_requests

    rows = sheet()
    named = [(ref.resource_type, len(labels)) for ref, labels in references(rows).items()]
    # 6 references (8 rows) of 3 types: list before + after and one DELETE each, and a probe for the
    # type with several resources (ManufacturingOrder has 2, SalesOrderRow 2, PurchaseOrderRow 2)
    assert upfront_requests(named, 100, "apply") == 6 * 3 + 3
    assert upfront_requests(named, 100, "preview") == 6 + 3
    assert upfront_requests(named, 1, "apply") == 6 * 2 + 8 + 3
