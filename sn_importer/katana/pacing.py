"""The pacing layer: each request waits for room in the tenant's window, and every answer teaches it.

One of the layers the client is built from, as httpx builds clients from
transports: ``handle_async_request`` is the cut between the client's
endpoints and the network. This layer holds a request until one of
``max_in_flight`` slots is free and the :class:`~sn_importer.katana.ledger.Ledger`
grants it, sends it with a timeout for the whole try, and gives the ledger
what the answer said: the ``X-Ratelimit-*`` headers, with the reset read
against the server's ``Date`` (:class:`~sn_importer.katana.answers.ServerClock`),
so a client clock minutes off changes nothing. A 429 blocks the whole
window until its ``Retry-After`` (seconds or an HTTP date), else the reset
its headers give, else one whole window from now.

A run that is stopping lets no write (DELETE, POST) leave: one waiting for
the quota raises :class:`RequestNotSent`, so the caller knows it never went.
"""

from __future__ import annotations

import asyncio
from typing import Callable

import httpx

from ..clock import Clock
from .answers import QuotaHeaders, ServerClock, retry_after
from .ledger import Ledger
from .stats import ClientStats, Teller, WaitMeter

#: Methods that change the tenant: a stopping run sends none of them.
WRITES = frozenset({"DELETE", "POST"})


class RequestNotSent(Exception):
    """A write held back because the run is stopping: it never left (nothing to verify for it)."""


class Holds:
    """The run is stopping: no write leaves from now on (lists, the checks after, still go)."""

    def __init__(self) -> None:
        self.writes = False


class PacedTransport(httpx.AsyncBaseTransport):
    """Sends each request when the tenant's window has room; learns from every answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, ledger: Ledger, *, clock: Clock, stats: ClientStats,
                 tell: Teller, max_in_flight: int = 4, timeout: float = 30.0,
                 before_wait: Callable[[float, str], None] = lambda seconds, why: None, holds: Holds | None = None):
        self.inner, self.ledger, self.clock, self.stats, self.tell = inner, ledger, clock, stats, tell
        self.timeout, self.before_wait = timeout, before_wait
        self.holds = holds or Holds()
        self.server = ServerClock()
        self.meter = stats.meter = stats.meter or WaitMeter(clock)
        self._slots = asyncio.Semaphore(max_in_flight)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._slots:
            with self.meter.waiting():
                grant = await self.ledger.reserve(self._window_wait)
            answer = None
            try:
                if request.method in WRITES and self.holds.writes:
                    raise RequestNotSent()
                self.stats.requests[request.method] += 1
                response = await self._send(request)
                answer = self._learn(response, grant.sent_at)
            finally:
                quota, reset_at = answer or (None, None)
                self.ledger.finish(grant, quota, reset_at)
            if self.stats.on_request is not None:  # told once its grant is settled: a callback cannot cost it
                self.stats.on_request()
            if response.status_code == 429:
                self._block(response)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """One try, bounded as a whole (not only between bytes), its body read."""
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.inner.handle_async_request(request)
                await response.aread()
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {self.timeout:g} s", request=request) from None
        return response

    def _learn(self, response: httpx.Response, sent_at: float) -> tuple[tuple[int, int, int], float] | None:
        """The server's clock from ``Date``; the answer's quota with its reset on our clock."""
        self.server.seen(response.headers, sent_at, self.clock.now())
        quota = QuotaHeaders.read(response.headers)
        if quota is None:
            return None
        return quota.as_tuple(), self.server.local(quota.reset_ms / 1000)

    def _block(self, response: httpx.Response) -> None:
        """A 429: nothing more until Retry-After, else the reset the headers give, else a window.
        A wait beyond what the run accepts stops it here, before anything more is sent."""
        now = self.clock.now()
        wait = retry_after(response.headers, self.server.server_now(now))
        why = "Katana asked to wait"
        quota = QuotaHeaders.read(response.headers)
        if wait is None and quota is not None:
            reset = self.server.local(quota.reset_ms / 1000)
            wait, why = (reset - now, "Katana's quota window resets in") if reset > now else (None, why)
        if wait is None:
            wait, why = self.ledger.quota()[2], "a 429 without a time to wait: one quota window,"
        self.ledger.block(now + wait, "rate limited (HTTP 429); waiting for the window")
        self.before_wait(wait, why)

    def _window_wait(self, seconds: float) -> None:
        """Told before a wait for the window: ``before_wait`` may refuse it (too long, a stall)."""
        self.before_wait(seconds, "Katana's quota window resets in")
        self.tell(seconds, self.ledger.wait_reason())


__all__ = ["Holds", "PacedTransport", "RequestNotSent", "WRITES"]
