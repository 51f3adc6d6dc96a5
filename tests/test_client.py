"""The client against the sandbox: pages, deletes, errors, retries and pacing.

In-process tests reach the sandbox through ``httpx.ASGITransport`` (with a
shared FakeClock where time matters); the end-to-end ones serve it on a
loopback port. Odd answers the sandbox never gives come from
``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import httpx
import pytest
from sandbox_fixtures import AUTH, KEY, RecordingTransport, assert_valid, grid, many, small_seed

from sn_importer.katana.client import KatanaClient
from sn_importer.clock import FakeClock
from sn_importer.errors import ApiRequestError, ApiUnavailableError, AuthError
from sn_importer.katana.ledger import Ledger
from sn_importer.katana.window import Grant, Window
from sn_importer.sandbox import create_app, running_sandbox

BASE = "http://sandbox/v1"
FAST = {"backoff": (0.01, 0.05)}


def in_process(records, *, clock=None, key=KEY, max_in_flight=4, **options):
    """A client wired to an in-process sandbox; returns (client, app, recorder)."""
    app = create_app(records, clock=clock, **options)
    recorder = RecordingTransport(httpx.ASGITransport(app=app))
    client = KatanaClient(BASE, key, transport=recorder, clock=clock, max_in_flight=max_in_flight, **FAST)
    return client, app, recorder


def mocked(handler, **options) -> KatanaClient:
    return KatanaClient(BASE, KEY, transport=httpx.MockTransport(handler), clock=FakeClock(), **FAST, **options)


def quota_headers(remaining=59, reset_ms=1_700_000_060_000) -> dict:
    return {"X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Reset": str(reset_ms)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- listing


def test_list_fetches_every_page_of_250():
    async def scenario():
        client, _, recorder = in_process(many(300) + many(3, resource_id=4001, first_id=90_000))
        async with client:
            records = await client.list_serials("ManufacturingOrder", 4000)
        return records, recorder.sent, client.stats

    records, sent, stats = asyncio.run(scenario())
    assert len(records) == 300 and len({r["id"] for r in records}) == 300
    # two pages, read twice: a list of several pages is trusted when two complete reads agree
    assert [(method, body) for method, _, body in sent] == [("GET", None)] * 4
    assert stats.as_dict() == {"GET": 4, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0,
                               "waited_s": 0.0, "waited_for_other_runs_s": 0.0}


def test_list_stops_on_the_last_page_header():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        data = [{"id": i, "serial_number": f"SN{i:05d}", "resource_type": "Production", "resource_id": 7}
                for i in range(250)]
        pages = {"total_records": "250", "total_pages": "1", "offset": "0", "page": "1", "first_page": "true", "last_page": "true"}
        return httpx.Response(200, json={"data": data}, headers={**quota_headers(), "X-Pagination": json.dumps(pages)})

    records = asyncio.run(mocked(handler).list_serials("Production", 7))
    assert len(records) == 250
    assert seen == [{"limit": "250", "resource_type": "Production", "resource_id": "7", "page": "1"}]


# --------------------------------------------------------------------------- deleting


def test_delete_detaches_from_one_resource_and_sends_schema_valid_bodies():
    async def scenario():
        client, app, recorder = in_process(small_seed())
        async with client:
            await client.delete_serials("ManufacturingOrder", 3001, [904179])
            await client.delete_serials("ManufacturingOrder", 3001, [2001, 424242])  # elsewhere / unknown
            await client.delete_serials("ManufacturingOrder", 3001, [])  # nothing to send
            resources = [("ManufacturingOrder", 3001), ("Production", 7001), ("SalesOrderRow", 5001), ("ManufacturingOrder", 3002)]
            left = {resource: await client.list_serials(*resource) for resource in resources}
        return left, recorder.sent

    left, sent = asyncio.run(scenario())
    bodies = [body for method, _, body in sent if method == "DELETE"]
    assert len(bodies) == 2
    for body in bodies:
        assert_valid(body, "DeleteSerialNumbersRequest")
    assert bodies[0] == {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [904179]}
    assert {resource: [r["id"] for r in records] for resource, records in left.items()} == {
        ("ManufacturingOrder", 3001): [1001, 1002],  # 904179 detached from here only
        ("Production", 7001): [904179],
        ("SalesOrderRow", 5001): [904179],
        ("ManufacturingOrder", 3002): [2001],  # named with the wrong resource: untouched
    }


# --------------------------------------------------------------------------- refusals


def test_wrong_key_raises_auth_error_at_once():
    async def scenario():
        client, app, _ = in_process(small_seed(), key="not-the-key")
        async with client:
            with pytest.raises(AuthError) as raised:
                await client.list_serials("ManufacturingOrder", 3001)
        return raised.value, client.stats, app.state.store.stats()

    error, stats, served = asyncio.run(scenario())
    assert error.status_code == 401 and "KATANA_API_KEY" in str(error)
    assert "not-the-key" not in str(error)
    assert stats.retries == 0 and served["status"] == {"401": 1}


def test_unknown_resource_type_is_an_api_request_error():
    async def scenario():
        client, _, _ = in_process(small_seed())
        async with client:
            await client.list_serials("Manufacturing order", 3001)

    with pytest.raises(ApiRequestError) as raised:
        asyncio.run(scenario())
    assert raised.value.status_code == 400 and "resource_type" in raised.value.api_message


def test_wrapped_error_body_message_is_used():
    def handler(request):
        body = {"error": {"statusCode": 422, "name": "UnprocessableEntityError", "message": "The request body is invalid.",
                          "code": "VALIDATION_FAILED", "details": [{"path": ".ids", "code": "minItems", "message": "should NOT have fewer than 1 items"}]}}
        return httpx.Response(422, json=body, headers=quota_headers())

    with pytest.raises(ApiRequestError) as raised:
        asyncio.run(mocked(handler).delete_serials("Production", 1, [5]))
    assert raised.value.api_message == "The request body is invalid. (.ids should NOT have fewer than 1 items)"
    assert raised.value.method == "DELETE"


def test_403_is_an_auth_error_too():
    with pytest.raises(AuthError):
        asyncio.run(mocked(lambda r: httpx.Response(403, json={"statusCode": 403, "name": "Forbidden", "message": "Forbidden"})).list_serials("Production", 1))


# --------------------------------------------------------------------------- retries


def test_retries_5xx_then_succeeds():
    statuses = iter([503, 500, 200])

    def handler(request):
        status = next(statuses)
        return httpx.Response(status, json={"data": []} if status == 200 else {"statusCode": status, "name": "X", "message": "down"}, headers=quota_headers())

    client = mocked(handler)
    assert asyncio.run(client.list_serials("Production", 1)) == []
    assert client.stats.as_dict() == {"GET": 3, "DELETE": 0, "POST": 0, "retries": 2, "rate_limited": 0,
                                      "waited_s": 0.0, "waited_for_other_runs_s": 0.0}


def test_keeps_failing_5xx_becomes_api_unavailable():
    client = mocked(lambda r: httpx.Response(502, text="Bad Gateway"), max_retries=3)
    with pytest.raises(ApiUnavailableError, match=r"kept failing at http://sandbox/v1: HTTP 502 Bad Gateway \(text/plain that is not the API's JSON\) after 3 tries"):
        asyncio.run(client.list_serials("Production", 1))
    assert client.stats.requests["GET"] == 3


def test_429_from_another_integration_waits_for_retry_after():
    async def scenario():
        clock = FakeClock()
        client, app, _ = in_process(small_seed(), clock=clock, rate_limit=(3, 30.0))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=AUTH) as other:
            for _ in range(3):
                await other.get("/serial_numbers")  # the shop-front spends the quota
        start = clock.now()
        async with client:
            records = await client.list_serials("ManufacturingOrder", 3001)
        return records, client.stats, clock.now() - start

    records, stats, waited = asyncio.run(scenario())
    assert len(records) == 3
    assert (stats.rate_limited, stats.retries) == (1, 1)
    assert waited >= 30


def test_connection_refused_is_api_unavailable_quickly():
    url = f"http://127.0.0.1:{free_port()}/v1"

    clock = FakeClock()

    async def scenario():
        async with KatanaClient(url, KEY, max_retries=3, backoff=(0.01, 0.02), clock=clock) as client:
            await client.list_serials("Production", 1)

    started = clock.now()
    with pytest.raises(ApiUnavailableError) as raised:
        asyncio.run(scenario())
    assert str(raised.value) == f"Katana did not answer at {url}: connection refused after 3 tries"
    assert clock.now() - started < 0.1  # two short backoffs, nothing more


def test_rides_through_faults_on_a_tight_quota():
    records = grid(6, 4)

    async def work(client, resource_id):
        before = await client.list_serials("ManufacturingOrder", resource_id)
        await client.delete_serials("ManufacturingOrder", resource_id, [r["id"] for r in before])
        return before, await client.list_serials("ManufacturingOrder", resource_id)

    async def scenario(server):
        async with KatanaClient(server.base_url, KEY, max_retries=12, backoff=(0.01, 0.1)) as client:
            results = await asyncio.gather(*(work(client, 6000 + n) for n in range(6)))
        return results, client.stats

    with running_sandbox(records, rate_limit=(20, 1.0), fail_rate=0.3, random_seed=7) as server:
        results, stats = asyncio.run(scenario(server))
        served = server.store.stats()
        left = server.store.records
    assert [len(before) for before, _ in results] == [4] * 6
    assert [after for _, after in results] == [[]] * 6
    assert left == []
    assert stats.retries > 0
    assert served["status"].get("500", 0) + served["status"].get("dropped", 0) == stats.retries
    assert "429" not in served["status"]


# --------------------------------------------------------------------------- pacing


def test_pacing_with_fake_clock_never_exceeds_the_quota():
    async def scenario():
        clock = FakeClock()
        client, app, _ = in_process(grid(8, 2), clock=clock, rate_limit=(5, 10.0), max_in_flight=8)
        # more in flight than the window holds
        start = clock.now()
        async with client:
            await asyncio.gather(*(client.list_serials("ManufacturingOrder", 6000 + n % 8) for n in range(40)))
        return app.state.store.stats(), clock.now() - start, client.ledger

    served, fake_seconds, ledger = asyncio.run(scenario())
    assert served["status"] == {"200": 40}
    assert 70 <= fake_seconds < 72  # 8 windows of 10 s: the last opens 70 s after the first
    limit, _cap, window = ledger.quota()
    assert (limit, round(window)) == (5, 10)


def test_alone_on_a_real_window_meets_no_429():
    async def scenario(server):
        async with KatanaClient(server.base_url, KEY, **FAST) as client:
            await asyncio.gather(*(client.list_serials("ManufacturingOrder", 6000 + n % 5) for n in range(25)))
        return client.stats

    started = time.monotonic()
    with running_sandbox(grid(5, 3), rate_limit=(10, 1.0)) as server:
        stats = asyncio.run(scenario(server))
        served = server.store.stats()
    counts = stats.as_dict()
    assert counts | {"waited_s": 0} == {"GET": 25, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0,
                                        "waited_s": 0, "waited_for_other_runs_s": 0.0}
    assert counts["waited_s"] > 1  # 25 requests at 10/1: the later ones waited for the window
    assert served["status"] == {"200": 25}
    assert time.monotonic() - started >= 2.0  # 25 requests at 10 per second: at least two more windows


def observe(window: Window, grant: Grant, limit: int, remaining: int, reset_ms: int) -> None:
    window.observe(limit, remaining, reset_ms, reset_ms / 1000, grant, 1.0)


def test_out_of_order_and_stale_answers():
    window = Window.fresh(0.0)
    a, b = window.grant(0.0), window.grant(0.0)
    observe(window, b, 10, 3, 1_700_000_060_000)
    observe(window, a, 10, 4, 1_700_000_060_000)  # the older request's answer, arriving late, knows less
    assert window.available() == 2  # 3 left after b; both were granted with none done: up to number 4
    observe(window, a, 10, 9, 1_700_000_030_000)
    assert window.available() == 2  # an answer about an older window changes nothing


def test_the_newest_answer_of_a_window_sets_the_budget_even_when_it_is_lower():
    """Another integration spent quota meanwhile: the newest answer's Remaining is the truth."""
    window = Window.fresh(0.0)
    first = window.grant(0.0)
    observe(window, first, 60, 50, 1_700_000_060_000)
    second = window.grant(1.0)
    observe(window, second, 60, 0, 1_700_000_060_000)  # the others took the rest of the window
    assert window.available() <= 0


def test_estimate_follows_the_known_quota():
    clock = FakeClock(start=1_700_000_000.0)
    ledger = Ledger(share=1.0, clock=clock)
    assert (ledger.estimate_seconds(60), ledger.estimate_seconds(61), ledger.estimate_seconds(180)) == (0.0, 60.0, 120.0)
    grant = ledger.try_reserve()
    ledger.finish(grant, (20, 19, 1_700_000_001_000), 1_700_000_001.0)
    assert ledger.quota() == (20, 20, 1.0)
    assert ledger.estimate_seconds(19) == 0.0
    assert ledger.estimate_seconds(19 + 40) == pytest.approx(2.0)  # reset in 1 s, then one more window


# --------------------------------------------------------------------------- the key stays secret


def test_key_never_in_repr_or_logs(caplog):
    secret = "sk-live-very-secret"
    statuses = iter([500, 200])

    def handler(request):
        status = next(statuses)
        return httpx.Response(status, json={"data": []}, headers=quota_headers())

    client = KatanaClient(BASE, secret, transport=httpx.MockTransport(handler), clock=FakeClock(), **FAST)
    with caplog.at_level(logging.DEBUG):
        asyncio.run(client.list_serials("Production", 1))
    assert repr(client) == "KatanaClient(base_url='http://sandbox/v1')"
    assert client.stats.retries == 1 and "try 2 of 6" in caplog.text  # the retry was logged
    assert secret not in caplog.text
