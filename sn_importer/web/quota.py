"""How long the next run takes under the tenant's quota as Katana last described it.

A preview's client is gone by the time the page shows the plan, so the page
lends each run's client a transport that notes every ``X-Ratelimit-*``
answer. Those headers tell the limit, what is left and when the window
resets, but not how long a window is. The window is learnt when an answer
shows that its request opened one (``remaining == limit - 1``: the reset is
one window after it was sent), or bounded from above by the gap between two
successive resets. Until it is known the page shows a range, from the
shortest window the answers allow to Katana's usual 60 s, rather than
guessing 60 requests per 60 s (which made a 46-second run read "about 35
min"). Before any answer at all, the estimate is the library's starting
60 per 60 s, and the page says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx

from ..clock import SYSTEM, Clock
from ..katana.pacing import Pacer, Ticket

HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
#: Katana's usual window, the longest one assumed when the answers do not tell it.
USUAL_WINDOW = 60.0


@dataclass(frozen=True)
class Quota:
    """The last answer's figures, and the window length if it is known."""

    limit: int
    remaining: int
    reset_at: float            # epoch seconds
    seen_at: float             # when that answer's request was sent
    window: float | None       # seconds, when learnt
    window_at_most: float | None = None  # the shortest gap seen between two resets


@dataclass(frozen=True)
class Estimate:
    """Seconds a run waits for the quota: one figure, or a range while the window is unknown."""

    low: float
    high: float
    quota: Quota | None

    @property
    def known(self) -> bool:
        return self.quota is not None and self.low == self.high


class QuotaWatch:
    """The tenant's quota as the last answers told it, shared by every run of the server."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or SYSTEM
        self._quota: Quota | None = None
        self._lock = threading.Lock()

    @property
    def quota(self) -> Quota | None:
        with self._lock:
            return self._quota

    def seen(self, headers: httpx.Headers, sent_at: float | None = None) -> None:
        """Note one answer (any status) whose request was sent at ``sent_at``."""
        try:
            limit, remaining, reset_ms = (int(headers[name]) for name in HEADERS)
        except (KeyError, ValueError):
            return
        sent_at = self.clock.now() if sent_at is None else sent_at
        reset_at = reset_ms / 1000
        with self._lock:
            last = self._quota
            window = last.window if last and last.limit == limit else None
            at_most = last.window_at_most if last and last.limit == limit else None
            if remaining == limit - 1 and reset_at > sent_at:  # this request opened the window
                window = reset_at - sent_at
            if last and reset_at - last.reset_at > 0.5:       # a later window: at most this far apart
                at_most = min(at_most or float("inf"), reset_at - last.reset_at)
            if last and reset_at < last.reset_at:             # an older window's answer arrived late
                return
            self._quota = Quota(limit, remaining, reset_at, sent_at, window, at_most)

    def transport(self) -> httpx.AsyncBaseTransport:
        """A fresh transport for one run (each run has its own event loop)."""
        return _WatchingTransport(self)

    def estimate(self, requests: int) -> Estimate:
        """How long ``requests`` wait for the quota, as a figure or a range."""
        quota = self.quota
        if quota is None:
            seconds = Pacer(self.clock).estimate_seconds(requests)
            return Estimate(seconds, seconds, None)
        if quota.window is not None:
            seconds = self._seconds(quota, quota.window, requests)
            return Estimate(seconds, seconds, quota)
        shortest = max(0.001, quota.reset_at - quota.seen_at)
        longest = max(shortest, min(USUAL_WINDOW, quota.window_at_most or USUAL_WINDOW))
        return Estimate(self._seconds(quota, shortest, requests), self._seconds(quota, longest, requests), quota)

    def estimate_seconds(self, requests: int) -> float:
        """The estimate's upper end (what a cautious person plans for)."""
        return self.estimate(requests).high

    def _seconds(self, quota: Quota, window: float, requests: int) -> float:
        pacer = Pacer(self.clock, initial_quota=(quota.limit, window))
        remaining = quota.remaining if quota.reset_at > self.clock.now() else quota.limit  # that window is over
        headers = {"x-ratelimit-limit": str(quota.limit), "x-ratelimit-remaining": str(remaining),
                   "x-ratelimit-reset": str(int(max(quota.reset_at, self.clock.now()) * 1000))}
        pacer.observe(headers, Ticket(sent_at=self.clock.now()))
        pacer.window = window  # observe() would take this moment for the window's start
        return pacer.estimate_seconds(requests)


class _WatchingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, watch: QuotaWatch):
        super().__init__()
        self._watch = watch

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent_at = self._watch.clock.now()
        response = await super().handle_async_request(request)
        self._watch.seen(response.headers, sent_at)
        return response
