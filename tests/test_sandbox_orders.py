"""The sandbox's order lists: the endpoints order numbers and SKUs are looked up in."""

from __future__ import annotations

import json

import pytest
from sandbox_fixtures import InProcess, assert_api_headers, assert_valid, orders_seed, pagination, serial

from sn_importer.clock import FakeClock
from sn_importer.errors import InputError
from sn_importer.sandbox import Seed, create_app, load_seed, seed_from


def sandbox(**options) -> InProcess:
    return InProcess(create_app(seed_from(orders_seed()), **options))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


@pytest.mark.parametrize(("url", "params", "expected", "schema"), [
    ("/v1/manufacturing_orders", {"order_no": "MO-3001"}, [8123], "ManufacturingOrderListResponse"),
    ("/v1/manufacturing_orders", {"order_no": "MO-404"}, [], "ManufacturingOrderListResponse"),
    ("/v1/manufacturing_orders", {}, [8123, 3001], "ManufacturingOrderListResponse"),
    ("/v1/sales_orders", {"order_no": "SO-1042"}, [601], "SalesOrderListResponse"),
    ("/v1/sales_order_rows", {"sales_order_ids": "601", "variant_id": "202"}, [5003, 5002], "SalesOrderRowListResponse"),
    ("/v1/sales_order_rows", {"sales_order_ids": "601,602", "variant_id": "201"}, [5004, 5001], "SalesOrderRowListResponse"),
    ("/v1/purchase_orders", {"order_no": "PO-77"}, [701], "PurchaseOrderListResponse"),
    ("/v1/purchase_order_rows", {"purchase_order_id": "701", "variant_id": "301"}, [7001], "PurchaseOrderRowListResponse"),
    ("/v1/purchase_order_rows", {"purchase_order_id": "701", "variant_id": "201"}, [], "PurchaseOrderRowListResponse"),
    ("/v1/variants", {"sku": "KNF-02"}, [202], "VariantListResponse"),
    ("/v1/variants", {"ids": "201,301"}, [301, 201], "VariantListResponse"),
])
def test_list_endpoints_filter_like_the_api(url, params, expected, schema):
    response = sandbox().get(url, params=params)
    assert ids(response) == expected
    assert_valid(response.json(), schema)
    assert_api_headers(response)
    assert pagination(response)["total_records"] == str(len(expected))


def test_array_filters_also_come_repeated():
    response = sandbox().get("/v1/sales_order_rows", params=[("sales_order_ids", "601"), ("sales_order_ids", "602")])
    assert ids(response) == [5004, 5003, 5002, 5001]


def test_records_are_filled_in_the_api_shape():
    record = sandbox().get("/v1/manufacturing_orders", params={"order_no": "MO-3001"}).json()["data"][0]
    assert record["id"] == 8123 and record["order_no"] == "MO-3001"
    assert {"status", "variant_id", "created_at", "updated_at", "deleted_at"} <= set(record)


def test_order_lists_page_with_x_pagination():
    seed = {"variants": [{"id": n, "sku": f"SKU-{n}"} for n in range(1, 8)]}
    client = InProcess(create_app(seed_from(seed)))
    second = client.get("/v1/variants", params={"limit": 3, "page": 2})
    assert ids(second) == [4, 3, 2]
    assert pagination(second) == {"total_records": "7", "total_pages": "3", "offset": "3", "page": "2",
                                  "first_page": "false", "last_page": "false"}
    assert ids(client.get("/v1/variants", params={"limit": 3, "page": 9})) == []


@pytest.mark.parametrize("params", [{"limit": "0"}, {"page": "x"}, {"variant_id": "abc"}, {"sales_order_ids": "1,x"}])
def test_bad_query_values_are_422(params):
    response = sandbox().get("/v1/sales_order_rows", params=params)
    assert response.status_code == 422
    assert_valid(response.json(), "DetailedErrorResponse")


def test_order_lists_need_the_key_and_share_the_quota():
    client = sandbox(rate_limit=(2, 60.0), clock=FakeClock())
    assert client.get("/v1/variants", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/variants").status_code == 200
    assert client.get("/v1/serial_numbers").status_code == 200
    limited = client.get("/v1/manufacturing_orders")
    assert limited.status_code == 429 and limited.headers["retry-after"]
    del client.headers["Authorization"]
    stats = client.get("/_sandbox/stats").json()
    assert_valid(stats, "SandboxStats")
    assert stats["endpoints"] == {"GET /manufacturing_orders": 1, "GET /serial_numbers": 1, "GET /variants": 2}
    assert stats["requests"]["GET"] == 4


def test_only_get_is_served_on_the_order_lists():
    response = sandbox().request("DELETE", "/v1/variants")
    assert response.status_code == 404
    assert response.json()["name"] == "NotFoundError"


def test_load_seed_object_form(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(orders_seed()))
    seed = load_seed(path)
    assert isinstance(seed, Seed)
    assert [r["id"] for r in seed.serial_numbers] == [1]
    assert seed.orders.counts() == {"manufacturing_orders": 2, "sales_orders": 2, "sales_order_rows": 4,
                                    "purchase_orders": 1, "purchase_order_rows": 1, "variants": 3}


def test_array_and_data_forms_mean_serial_numbers_only():
    assert seed_from({"data": [serial(1, "A")]}).orders.counts()["manufacturing_orders"] == 0
    assert len(seed_from([serial(1, "A")])) == 1


@pytest.mark.parametrize(("document", "problem"), [
    ({"manufacturing_orders": [{"id": "7", "order_no": "MO-1"}]}, "manufacturing_orders[0]: 'id' must be an integer"),
    ({"variants": [{"id": 1}]}, "variants[0]: 'sku' must be a non-empty string"),
    ({"sales_order_rows": [{"id": 1, "sales_order_id": 2}]}, "sales_order_rows[0]: 'variant_id' must be an integer"),
    ({"sales_orders": [{"id": 1, "order_no": "A"}, {"id": 1, "order_no": "B"}]}, "sales_orders[1]: id 1 appears twice"),
    ({"serial_numbers": [], "customers": []}, "unknown key 'customers'"),
    ({"purchase_orders": {}}, "'purchase_orders' must be a list"),
])
def test_bad_order_seed_names_the_record_and_field(tmp_path, document, problem):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="seed.json") as raised:
        load_seed(path)
    assert problem in str(raised.value)
