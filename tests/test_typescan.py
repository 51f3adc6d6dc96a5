"""Reading a whole resource type: the probe is its first page, and it is trusted only when it held still.

The client talks HTTP to the real sandbox in process; "another integration"
changes the tenant between two page reads (tests/busy_tenant.py).
"""

from __future__ import annotations

import asyncio

import httpx
from busy_tenant import BusyTenant, attach_in_front, type_wide
from sandbox_fixtures import KEY, serial

from sn_importer.katana.client import KatanaClient
from sn_importer.errors import UntrustedListError
from sn_importer.sandbox import create_app
from sn_importer.katana.typescan import read_type, type_pages

MO = "ManufacturingOrder"


def tenant(mos: int = 3, per_mo: int = 200) -> list[dict]:
    """``mos`` MOs × ``per_mo`` serials, interleaved in the string sort; plus a few SalesOrderRow serials."""
    records = [serial(1000 + n, f"MO-{n % per_mo:04d}-{n // per_mo}", MO, 3000 + n // per_mo)
               for n in range(mos * per_mo)]
    return records + [serial(9000 + n, f"SO-{n}", "SalesOrderRow", 5000 + n) for n in range(5)]


def read(app, probe: bool = True):
    """Probe page 1, then read the whole type from it; (TypeList or the error, pages the probe told, GETs)."""

    async def go():
        client = KatanaClient("http://sandbox/v1", KEY, transport=httpx.ASGITransport(app=app), backoff=(0.001, 0.002))
        async with client:
            first = await client.get_page(MO, None, 1) if probe else None
            try:
                return await read_type(client, MO, first), type_pages(first) if first else None
            except UntrustedListError as exc:
                return exc, None

    result, pages = asyncio.run(go())
    return result, pages, app.state.store.stats()["requests"]["GET"]


def test_a_whole_type_is_read_in_pages_and_grouped_by_resource():
    result, pages, gets = read(create_app(tenant()))
    assert pages == 3 and (result.total_records, result.pages) == (600, 3)
    assert gets == 3 + 3  # the probe is page 1 of the first read (not asked twice); a second read agrees
    assert sorted(result.by_resource) == [3000, 3001, 3002]
    assert [len(result.on(r)) for r in (3000, 3001, 3002, 4242)] == [200, 200, 200, 0]
    assert {r["id"] for r in result.on(3001)} == set(range(1200, 1400))


def test_a_list_that_changes_while_paged_is_read_again():
    app = create_app(tenant())
    busy = BusyTenant(app, when=type_wide(page=1), then=attach_in_front([50_000]), times=1)
    result, _, gets = read(busy)
    assert busy.changes == 1
    assert result.total_records == 601
    assert gets == 3 + 3 + 3  # the first read (from the probe) did not hold still; the next two agree
    assert [r["serial_number"] for r in result.on(8888)] == ["0-ATTACHED-50001"]


def test_a_list_that_never_holds_still_is_not_trusted():
    app = create_app(tenant())
    busy = BusyTenant(app, when=type_wide(page=2), then=attach_in_front([50_000]), times=99)
    error, _, gets = read(busy)
    assert isinstance(error, UntrustedListError)
    assert "could not be read the same way twice in 4 reads" in str(error)
    assert gets == 4 * 3


def test_a_detach_between_pages_is_caught_too():
    app = create_app(tenant())

    def detach_first(store):
        first = store.find(MO)[0]
        store.detach(MO, first["resource_id"], [first["id"]])

    busy = BusyTenant(app, when=type_wide(page=1), then=detach_first, times=1)
    result, _, gets = read(busy)
    assert result.total_records == 599 and gets == 3 + 3 + 3


def test_a_type_with_no_serials_is_one_trusted_empty_page():
    result, pages, gets = read(create_app([serial(1, "A", "SalesOrderRow", 1)]))
    assert pages == 1 and result.total_records == 0 and result.by_resource == {}
    assert gets == 1


def test_without_a_probe_the_first_page_is_asked_for():
    result, _, gets = read(create_app(tenant()), probe=False)
    assert result.total_records == 600 and gets == 3 + 3


def test_a_server_that_ignores_the_type_filter_is_not_trusted():
    """A proxy that drops the query's resource_type answers with the whole tenant."""

    async def app(scope, receive, send):
        scope = {**scope, "query_string": b"limit=250&page=1"}
        await inner(scope, receive, send)

    inner = create_app(tenant(mos=1, per_mo=10))
    app.state = inner.state
    error, _, _ = read(app)
    assert isinstance(error, UntrustedListError)
    assert "SalesOrderRow" in str(error) and "filter" in str(error)
