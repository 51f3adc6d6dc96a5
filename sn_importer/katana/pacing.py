"""Header-driven pacing: stay inside the tenant's rate-limit window.

Katana counts requests per tenant in a window (60 per 60 s by default, other
limits exist) shared with the tenant's other integrations, and tells every
answer how much is left (``X-Ratelimit-Remaining``) and when the window resets
(``X-Ratelimit-Reset``, epoch ms). Fixed-rate limiters such as aiolimiter
spread requests evenly at a configured rate and never read those headers, so
they can neither learn a tenant's real limit nor notice quota that another
integration has spent; hence this small one.

How a lone client stays free of 429s with several requests in flight, when
answers arrive out of order and some never arrive (dropped connections):
every request is numbered when it is *reserved*. An answer to request ``q``
saying ``Remaining: R`` proves the server will take ``R`` more requests after
``q``; every request that had already finished when ``q`` was sent was counted
before ``q``, so the requests the server may still count against those ``R``
are the ones sent after ``done_before(q)``. Hence a *budget*: the client may
reserve requests up to number ``R + done_before(q) + 1``. Each answer gives a
safe budget; the pacer keeps the best one of the current window. When the
window resets, every request not finished before the reset may land in the
new window and is charged to it.

Until the first answer has shown the real window, one request at a time goes
out: the initial 60/60 is used for estimates, never trusted for a burst.

With a :class:`~sn_importer.katana.quota.SharedBudget` the same accounting runs over
numbers shared by every sn-importer process on the host, and that budget
alone decides when a request may go; this pacer still bounds the requests in
flight and keeps what the answers said.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from ..clock import Clock, SystemClock

if TYPE_CHECKING:
    from .quota import Grant, SharedBudget


@dataclass
class Ticket:
    """One reserved request."""

    sent_at: float
    done_before: int = 0  # requests finished when this one was reserved
    shared: "Grant | None" = None  # the host-wide grant, with a shared budget
    headers: tuple[int, int, int] | None = None  # (limit, remaining, reset ms) of its answer


class Pacer:
    """Bounds requests in flight and holds each one until the window has room."""

    def __init__(self, clock: Clock | None = None, *, initial_quota: tuple[int, float] = (60, 60.0), max_in_flight: int = 4, margin: float = 0.05, shared: "SharedBudget | None" = None):
        self.clock = clock or SystemClock()
        self.shared = shared
        self.limit, self.window = int(initial_quota[0]), float(initial_quota[1])
        self.learned = False  # has an answer carried the rate-limit headers yet?
        self.reset_at: float | None = None  # when the current window ends, if known (epoch s)
        self.margin = margin  # allowance for clock skew against the server
        self._newest_reset_ms = -1  # answers about older windows teach nothing new
        self._sent = 0  # requests reserved so far
        self._done = 0  # requests finished so far (answered or failed)
        self._settled = 0  # requests known to have finished before the current window's reset
        self._budget = 0  # may reserve up to request number _budget
        self.waited = 0.0  # seconds during which some request waited for room in the window
        self._looking, self._looking_since = 0, 0.0
        self._slots = asyncio.Semaphore(max_in_flight)
        self._changed = asyncio.Event()
        #: Told the seconds until the window resets before each wait for it; may raise to refuse the wait.
        self.on_wait: Callable[[float], None] | None = None

    @property
    def in_flight(self) -> int:
        return self._sent - self._done

    @property
    def available(self) -> int:
        """Requests that may go out now without risking a 429 (while alone on the tenant)."""
        if not self.learned:
            return 1 - self.in_flight
        return self._budget - self._sent

    # -- sending
    async def acquire(self) -> Ticket:
        """Wait for a free slot and for room in the window; the caller must ``release``."""
        await self._slots.acquire()
        self._look(+1)
        grant = None
        try:
            if self.shared:
                grant = await self.shared.reserve(self.on_wait)
            else:
                while not self._roll_and_check():
                    await self._wait_for_room()
        except BaseException:
            self._slots.release()
            raise
        finally:
            self._look(-1)
        ticket = Ticket(sent_at=self.clock.now(), done_before=self._done, shared=grant)
        self._sent += 1
        return ticket

    def _look(self, change: int) -> None:
        """Count the time during which at least one request waits for room (not the sum over requests)."""
        now = self.clock.now()
        if self._looking:
            self.waited += now - self._looking_since
        self._looking, self._looking_since = self._looking + change, now

    @property
    def waited_for_others(self) -> float:
        """Of :attr:`waited`, the seconds while another sn-importer run drew from the shared budget."""
        return self.shared.waited_for_others if self.shared else 0.0

    def wait_reason(self) -> str:
        """Why requests wait for the window, in the words the terminal shows."""
        refusal = self.shared.last_refusal if self.shared else None
        if refusal and refusal.others:
            return ("waiting for another sn-importer run on this tenant: "
                    "the runs share Katana's quota, and this window's share is spent")
        return "Katana's quota for this window is spent; waiting for it to reset"

    def release(self, ticket: Ticket) -> None:
        """The request is over, answered or not."""
        self._done += 1
        if self.reset_at is None or self.clock.now() < self.reset_at - self.margin:
            self._settled = self._done
        self._slots.release()
        if ticket.shared:
            self.shared.finish(ticket.shared, ticket.headers)
        self._changed.set()

    def _roll_and_check(self) -> bool:
        if self.reset_at is not None and self.clock.now() >= self.reset_at + self.margin:
            # A new window: what did not finish before the reset may count in it.
            self._budget, self.reset_at = self._settled + self.limit, None
        return self.available >= 1

    async def _wait_for_room(self) -> None:
        """Sleep until an answer changes the picture or the window resets, whichever comes first."""
        self._changed.clear()
        if self.reset_at is None and self.in_flight == 0:
            # Spent, and no answer told when the window resets: it opened at the
            # latest with our last request, so one whole window from now is safe.
            self.reset_at = self.clock.now() + self.window
        if self.reset_at is not None and self.on_wait is not None:
            self.on_wait(self.reset_at - self.clock.now())
        waiters = [asyncio.ensure_future(self._changed.wait())]
        if self.reset_at is not None:
            waiters.append(asyncio.ensure_future(self.clock.sleep(self.reset_at + self.margin - self.clock.now())))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- learning
    def observe(self, headers: Mapping[str, str], ticket: Ticket) -> None:
        """Learn from an answer's X-Ratelimit-* headers (any status, 429 included)."""
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
            reset_ms = int(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return  # nothing to learn; the request still counts as sent
        ticket.headers = (limit, remaining, reset_ms)
        self.limit, self.learned = max(1, limit), True
        budget = remaining + ticket.done_before + 1
        if reset_ms > self._newest_reset_ms:  # the first word from a newer window
            rolled = self.reset_at is None
            self._newest_reset_ms, self.reset_at = reset_ms, reset_ms / 1000
            self._budget = max(self._budget, budget) if rolled else budget
            if remaining == self.limit - 1:  # this request opened the window
                self.window = max(0.001, self.reset_at - ticket.sent_at)
        elif reset_ms == self._newest_reset_ms and self.reset_at is not None:
            self._budget = max(self._budget, budget)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429 without usable headers: nothing more until Retry-After."""
        if self.shared:
            self.shared.rate_limited(retry_after)
        self.learned = True
        self._budget = min(self._budget, self._sent)
        if retry_after is not None:
            self.reset_at = max(self.reset_at or 0.0, self.clock.now() + retry_after)

    # -- planning
    def estimate_seconds(self, n_requests: int) -> float:
        """About how long ``n_requests`` take under the quota as currently known.

        Requests that fit in what is left of this window cost nothing; the
        rest need ``ceil(rest / limit)`` more windows, the first of which
        opens when this one resets. A shared budget estimates at the share
        in force, with the other runs on the tenant.
        """
        if self.shared:
            return self.shared.estimate_seconds(n_requests)
        available = max(0, self.available) if self.learned else self.limit
        if n_requests <= available:
            return 0.0
        windows = math.ceil((n_requests - available) / self.limit)
        until_reset = self.window if self.reset_at is None else max(0.0, self.reset_at - self.clock.now())
        return until_reset + (windows - 1) * self.window

    def __repr__(self) -> str:
        return f"Pacer(limit={self.limit}, window={self.window:g}s, available={self.available}, in_flight={self.in_flight})"
