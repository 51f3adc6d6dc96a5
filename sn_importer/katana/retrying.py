"""The retry layer: try again what is worth trying again, within bounds, and never hang silently.

Worth trying again: a 429 (the pacing layer below then waits for the
window: a 429 is a reason to wait, never a used-up try), a 500/502/503/504,
a dropped or refused connection, a timeout, and an answer whose body is not
the API's JSON (a proxy's HTML page, JSON cut off, a 200 without ``data``:
``judge`` says so, in a few words). Anything else comes back as it is, for
the client to turn into the project's errors.

Bounds, so a run never hangs silently: ``max_tries`` tries of one request
(429s not counted), ``deadline`` seconds across its tries, and no successful
request for ``stall_limit`` seconds (:class:`~sn_importer.errors.StalledError`,
which stops the run resumably). Backoff is exponential with jitter, on the
injected clock. A write that failed is not tried again once the run is
stopping: its first try may have landed, and the check after tells. A POST
is never tried again once a try may have landed (anything but a refused
connection or a 429): sent twice, it could put a serial on twice; the caller
lists the resource, waits for a late landing, and decides.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Callable

import httpx

from ..clock import Clock
from ..errors import ApiUnavailableError, StalledError
from .answers import describe_answer, describe_transport_error
from .pacing import Holds, RequestNotSent
from .stats import ClientStats, Teller

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Methods not tried again once a try may have reached the API.
ONCE = frozenset({"POST"})

#: (request, response) → why the answer is worth trying again, or None when it is an answer.
Judge = Callable[[httpx.Request, httpx.Response], "str | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``backoff`` is (initial, max) seconds; jitter of up to ``initial`` is added."""

    max_tries: int = 6
    backoff: tuple[float, float] = (0.5, 30.0)
    deadline: float = 90.0
    stall_limit: float = 120.0
    timeout: float = 30.0  # of one try, for the words of a timeout

    def delay(self, attempt: int) -> float:
        initial, ceiling = max(0.0, self.backoff[0]), max(0.0, self.backoff[1])
        return min(ceiling, initial * 2 ** (attempt - 1)) + random.uniform(0, initial)


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries below the client's endpoints; the first answer that is an answer comes back."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, clock: Clock, policy: RetryPolicy, stats: ClientStats,
                 tell: Teller, judge: Judge, base_url: str, holds: Holds):
        self.inner, self.clock, self.policy, self.stats, self.tell = inner, clock, policy, stats, tell
        self.judge, self.base_url, self.holds = judge, base_url, holds
        self.last_success: float | None = None

    async def aclose(self) -> None:
        await self.inner.aclose()

    def check_stall(self, wait: float, why: str = "") -> None:
        """Refuse a wait after which no request would have succeeded for the stall limit."""
        now = self.clock.now()
        if self.last_success is None:
            self.last_success = now
        if now + wait - self.last_success >= self.policy.stall_limit:
            raise StalledError(now - self.last_success, why, self.policy.stall_limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.last_success is None:
            self.last_success = self.clock.now()
        started, attempt, landed, previous = self.clock.now(), 1, False, ""
        while True:
            limited, failing = False, "kept failing at"
            try:
                response = await self.inner.handle_async_request(request)
            except RequestNotSent:
                if not landed:
                    raise
                raise ApiUnavailableError(f"Katana {failing} {self.base_url}: {previous}; not tried again: "
                                          "the run is stopping") from None
            except httpx.TransportError as exc:
                why, failing = describe_transport_error(exc, self.policy.timeout), "did not answer at"
                landed = landed or not isinstance(exc, httpx.ConnectError)
            else:
                limited = response.status_code == 429
                why = "rate limited (HTTP 429)" if limited else self._problem(request, response)
                if not why:
                    self.last_success = self.clock.now()
                    return response
                landed = landed or not limited
            previous = why
            if landed and request.method in ONCE:
                raise ApiUnavailableError(f"Katana {failing} {self.base_url}: {why}; a {request.method} is not sent "
                                          "again once it may have reached Katana")
            delay = 0.0 if limited else self.policy.delay(attempt)
            self._check_bounds(request.method, f"{failing} {self.base_url}: {why}", delay, started, attempt,
                               patient=limited)
            self._count(limited)
            await self._pause(request, why, delay, attempt, limited)
            attempt += 0 if limited else 1

    def _problem(self, request: httpx.Request, response: httpx.Response) -> str:
        if response.status_code in RETRY_STATUSES:
            return describe_answer(response)
        if response.status_code < 300:
            return self.judge(request, response) or ""
        return ""

    def _count(self, limited: bool) -> None:
        self.stats.retries += 1
        self.stats.rate_limited += limited

    async def _pause(self, request: httpx.Request, why: str, delay: float, attempt: int, limited: bool) -> None:
        log.info("%s %s: %s; try %d of %d in %.1f s", request.method, request.url.path, why, attempt + 1,
                 self.policy.max_tries, delay)
        if limited:  # the pacing layer waits for the window on the next try
            await asyncio.sleep(0)
            return
        self.tell(delay, f"{why}; try {attempt + 1} of {self.policy.max_tries}")
        with self.stats.meter.waiting():
            await self.clock.sleep(delay)

    def _check_bounds(self, method: str, why: str, delay: float, started: float, attempt: int,
                      patient: bool) -> None:
        """Stop trying: the stall limit for every failure; the tries and the deadline except for 429s,
        which are bounded by the stall limit and --max-wait only."""
        now = self.clock.now()
        self.check_stall(delay, why.split(": ", 1)[-1])
        if patient:
            return
        if attempt >= self.policy.max_tries:
            raise ApiUnavailableError(f"Katana {why} after {attempt} tries")
        if now + delay - started >= self.policy.deadline:
            raise ApiUnavailableError(f"Katana {why}; {method} gave up after {attempt} tries in {now - started:.0f} s")


__all__ = ["ONCE", "RETRY_STATUSES", "RetryPolicy", "RetryingTransport"]
