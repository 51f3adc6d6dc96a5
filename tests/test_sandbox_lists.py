"""The sandbox lists a whole type, one id or the whole tenant the way Katana does.

A type-wide list is what lets a run read a resource type in a few pages instead
of one list per resource, so the sandbox must page it like the API: sorted by
the serial-number string, every record carrying its ``resource_id``, and an
``X-Pagination`` header whose ``total_records``/``total_pages`` describe the
whole filtered list from its first page on.
"""

from __future__ import annotations

import pytest
from sandbox_fixtures import InProcess, assert_valid, pagination, serial

from sn_importer.sandbox import create_app

URL = "/v1/serial_numbers"


def tenant() -> list[dict]:
    """600 MO serials over 3 MOs, interleaved so the string sort mixes resources;
    serial 7 also sits on a Production and a SalesOrderRow (make-to-order)."""
    mos = [serial(1000 + n, f"MO-{n % 200:03d}-{n // 200}", "ManufacturingOrder", 3000 + n // 200) for n in range(600)]
    shared = [serial(7, "SHARED-7", t, rid) for t, rid in (("ManufacturingOrder", 3000), ("Production", 3000),
                                                            ("SalesOrderRow", 9000))]
    others = [serial(2000 + n, f"SO-{n}", "SalesOrderRow", 9000 + n) for n in range(10)]
    return mos + shared + others


def pages(client: InProcess, params: dict, limit: int = 250) -> list:
    """Every page of a list until the header says last_page; (data, X-Pagination) each."""
    found, page = [], 1
    while True:
        response = client.get(URL, params={**params, "limit": limit, "page": page})
        assert response.status_code == 200
        assert_valid(response.json(), "SerialNumberListResponse")
        found.append((response.json()["data"], pagination(response)))
        if found[-1][1]["last_page"] == "true":
            return found
        page += 1


def test_a_type_alone_pages_through_every_serial_of_that_type_sorted_by_string():
    client = InProcess(create_app(tenant()))
    read = pages(client, {"resource_type": "ManufacturingOrder"})
    records = [r for data, _ in read for r in data]
    assert [len(data) for data, _ in read] == [250, 250, 101]
    assert [p["total_records"] for _, p in read] == ["601"] * 3
    assert [p["total_pages"] for _, p in read] == ["3"] * 3
    assert [(p["page"], p["offset"], p["first_page"]) for _, p in read] == [
        ("1", "0", "true"), ("2", "250", "false"), ("3", "500", "false")]
    assert [r["serial_number"] for r in records] == sorted(r["serial_number"] for r in records)
    assert {r["resource_type"] for r in records} == {"ManufacturingOrder"}
    assert {r["resource_id"] for r in records} == {3000, 3001, 3002}
    assert len({r["id"] for r in records}) == 601  # no record twice, none missed


def test_the_first_page_of_a_type_tells_its_size_before_anything_else_is_read():
    client = InProcess(create_app(tenant()))
    response = client.get(URL, params={"resource_type": "ManufacturingOrder", "limit": 250})
    assert pagination(response)["total_records"] == "601"
    assert pagination(response)["total_pages"] == "3"
    assert pagination(response)["last_page"] == "false"


def test_an_id_alone_lists_that_resource_id_whatever_the_type():
    client = InProcess(create_app(tenant()))
    read = pages(client, {"resource_id": 3000})
    records = [r for data, _ in read for r in data]
    assert {(r["resource_type"], r["resource_id"]) for r in records} == {("ManufacturingOrder", 3000),
                                                                         ("Production", 3000)}
    assert read[0][1]["total_records"] == "202"  # 200 + the shared serial on MO and Production
    assert [r["serial_number"] for r in records] == sorted(r["serial_number"] for r in records)


def test_no_filter_lists_the_whole_tenant_paged():
    client = InProcess(create_app(tenant()))
    read = pages(client, {})
    records = [r for data, _ in read for r in data]
    assert read[0][1]["total_records"] == str(len(tenant())) == str(len(records))
    assert read[0][1]["total_pages"] == "3"
    assert [r["serial_number"] for r in records] == sorted(r["serial_number"] for r in records)


def test_the_sort_is_by_string_not_by_number_or_id():
    records = [serial(1, "SN9", resource_id=1), serial(2, "SN10", resource_id=2), serial(3, "sn1", resource_id=1), serial(4, "00042", resource_id=3)]
    data = InProcess(create_app(records)).get(URL, params={"resource_type": "ManufacturingOrder"}).json()["data"]
    assert [r["serial_number"] for r in data] == ["00042", "SN10", "SN9", "sn1"]


@pytest.mark.parametrize("params", [{"resource_type": "ManufacturingOrder"}, {"resource_id": 3000}, {}])
def test_a_page_past_the_end_is_empty_not_an_error(params):
    response = InProcess(create_app(tenant())).get(URL, params={**params, "limit": 250, "page": 9})
    assert response.status_code == 200 and response.json() == {"data": []}
    assert pagination(response)["last_page"] == "true"


def test_a_type_with_no_serials_is_one_empty_last_page():
    response = InProcess(create_app(tenant())).get(URL, params={"resource_type": "StockTransferRow", "limit": 250})
    assert response.json() == {"data": []}
    assert pagination(response) | {} == {"total_records": "0", "total_pages": "0", "offset": "0", "page": "1",
                                          "first_page": "true", "last_page": "true"}


def test_a_record_attached_between_pages_shifts_the_later_pages():
    """What a reader of a type-wide list must guard against: a serial attached by
    another integration while the list is paged moves every record after it one
    place on, so the next page repeats a record and total_records changes."""
    app = create_app(tenant())
    client = InProcess(app)
    first = client.get(URL, params={"resource_type": "ManufacturingOrder", "limit": 250, "page": 1})
    app.state.store.add(serial(99, "MO-000-00", "ManufacturingOrder", 3001))  # sorts near the very front
    second = client.get(URL, params={"resource_type": "ManufacturingOrder", "limit": 250, "page": 2})
    assert pagination(first)["total_records"] == "601" and pagination(second)["total_records"] == "602"
    assert first.json()["data"][-1]["id"] == second.json()["data"][0]["id"]  # seen twice
