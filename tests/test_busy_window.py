"""Pacing on a busy tenant: another integration bursts at each window's start, 429s come worded
every way a gateway words them, and the client's clock is minutes off the server's.

The sandbox and the client share one fake clock (the sandbox's windows, resets and ``Date``
headers run on it), so minutes of rate-limited traffic take a fraction of a second and no
assertion depends on how busy the machine is. What stands in front of the sandbox is an ASGI
gateway (:class:`Bursting`), never a patch of the client.
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import httpx
import pytest
from sandbox_fixtures import KEY, grid
from starlette.datastructures import MutableHeaders

from sn_importer.clock import Clock, FakeClock
from sn_importer.katana.client import KatanaClient
from sn_importer.sandbox import create_app

MO = "ManufacturingOrder"
LIMIT, WINDOW = 60, 60.0
REQUESTS = 12  # ours: the other integration leaves one request of each window, so twelve windows


class Bursting:
    """The sandbox behind a gateway: another integration spends the rest of every window right after
    the first request that opens it (ours: it answers "59 left", and they are gone a moment later),
    and the gateway rewords each 429 (``style``): ``seconds`` (the API's own Retry-After), ``date``
    (Retry-After as an HTTP date), ``headers_only`` (no Retry-After, only X-Ratelimit-*), ``bare``
    (neither)."""

    def __init__(self, app, style: str):
        self.app, self.style = app, style
        self.store = app.state.store
        self.state = app.state
        self.windows = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            return await self.app(scope, receive, send)
        window = self.store.window
        opens = window._start is None or self.store.clock.now() >= window._start + window.seconds
        await self.app(scope, receive, self._reworded(send))
        if opens:
            self.windows += 1
            while window.take().allowed:  # the other integration's burst
                pass

    def _reworded(self, send):
        async def reworded(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                headers = MutableHeaders(scope=message)
                seconds = int(headers["retry-after"])
                if self.style == "date":
                    headers["retry-after"] = formatdate(self.store.clock.now() + seconds, usegmt=True)
                elif self.style in ("headers_only", "bare"):
                    del headers["retry-after"]
                if self.style == "bare":
                    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
                        del headers[name]
            await send(message)

        return reworded


class Skewed(Clock):
    """The client's clock, ``skew`` seconds off the server's (a VM whose clock drifted)."""

    def __init__(self, base: FakeClock, skew: float):
        self.base, self.skew = base, skew

    def now(self) -> float:
        return self.base.now() + self.skew

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


def busy_run(style: str, skew: float = 0.0) -> dict:
    """``REQUESTS`` lists through the gateway; what it cost on the server's clock."""
    clock = FakeClock()
    app = Bursting(create_app(grid(1, 2), clock=clock, rate_limit=(LIMIT, WINDOW)), style)
    client_clock = Skewed(clock, skew) if skew else clock

    async def go():
        client = KatanaClient("http://sandbox/v1", KEY, transport=httpx.ASGITransport(app=app), clock=client_clock,
                              backoff=(0.01, 0.05))
        async with client:
            lists = await asyncio.gather(*(client.list_serials(MO, 6000) for _ in range(REQUESTS)))
        return lists, client.stats

    start = clock.now()
    lists, stats = asyncio.run(go())
    served = app.store.stats()["status"]
    return {"lists": lists, "ok": served.get("200", 0), "limited": served.get("429", 0), "windows": app.windows,
            "seconds": clock.now() - start, "stats": stats.as_dict()}


@pytest.mark.parametrize("style", ["seconds", "date", "headers_only", "bare"])
def test_a_busy_tenant_costs_at_most_one_429_per_window_whatever_the_429_says(style):
    run = busy_run(style)
    assert run["ok"] == REQUESTS and all(len(found) == 2 for found in run["lists"])
    assert run["limited"] >= 1, "the burst never got in the way: nothing was tested"
    assert run["limited"] <= run["windows"], run  # on average at most one 429 per window
    assert run["stats"]["rate_limited"] == run["limited"]
    # every second the run stood still was waiting, and is counted as such
    assert run["stats"]["waited_s"] >= run["seconds"] - WINDOW


@pytest.mark.parametrize("skew", [-120.0, 90.0, 120.0])
def test_a_client_clock_minutes_off_changes_neither_the_outcome_nor_the_time(skew):
    """Resets and Retry-After dates are moments on the server's clock: read against its Date header."""
    straight, skewed = busy_run("date"), busy_run("date", skew=skew)
    assert skewed["ok"] == straight["ok"] == REQUESTS
    assert skewed["limited"] <= skewed["windows"]
    assert abs(skewed["seconds"] - straight["seconds"]) <= 0.1 * straight["seconds"], (straight, skewed)


def test_alone_on_the_tenant_a_run_meets_no_429_and_waits_only_for_resets():
    clock = FakeClock()
    app = create_app(grid(1, 2), clock=clock, rate_limit=(10, 10.0))

    async def go():
        client = KatanaClient("http://sandbox/v1", KEY, transport=httpx.ASGITransport(app=app), clock=clock)
        async with client:
            await asyncio.gather(*(client.list_serials(MO, 6000) for _ in range(35)))
        return client.stats

    stats = asyncio.run(go())
    assert app.state.store.stats()["status"] == {"200": 35}
    assert stats.rate_limited == 0 and 30 <= clock.now() - 1_700_000_000.0 < 32  # four windows of 10
