"""Where the tenant's window is kept: in memory for one process, or shared by every process.

A :class:`Ledger` grants requests from a :class:`~sn_importer.katana.window.Window`
and learns from their answers. This one keeps the window in memory: a run
that paces itself alone (the state directory could not hold a shared one).
:class:`~sn_importer.katana.quota.SharedLedger` keeps the same window in
SQLite, so every sn-importer process of the host that talks to the tenant
draws from one budget; it adds fair turns and the reaping of dead processes'
grants through the hooks below. The rules are :class:`Window`'s in both.

The one estimate of how long requests take under the quota is
:meth:`Ledger.estimate_seconds`: the command line, the web page and the
Summary all ask a ledger for it.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Callable, Iterator

from ..clock import Clock, SystemClock
from .window import DEFAULT_SHARE, INITIAL_QUOTA, TURN, WINDOW, Grant, Refusal, Window, cap_of

#: A process that waits polls the ledger at least this often (answers may widen the budget).
POLL_MAX = 0.25
#: Knowledge of a window nobody has used for this long is no longer trusted for pacing.
FORGET_AFTER = 600.0


class Ledger:
    """The tenant's window as one process sees it; ``reserve``/``finish`` around each request."""

    shared = False

    def __init__(self, *, share: float = DEFAULT_SHARE, clock: Clock | None = None,
                 initial_quota: tuple[int, float] = INITIAL_QUOTA, margin: float = 0.05, poll: float = 0.05):
        if not 0 < share <= 1:
            raise ValueError(f"the quota share must be above 0 and at most 1, not {share}")
        self.share, self.clock = share, clock or SystemClock()
        self.initial, self.margin, self.poll = (int(initial_quota[0]), float(initial_quota[1])), margin, poll
        self._window = Window.fresh(self.clock.now(), self.initial)
        self._turn = asyncio.Lock()  # one waiter per process polls the ledger; the rest queue here
        self._finished = asyncio.Event()  # one of this process's requests is over: the budget may have grown
        self._waiting = 0
        self.waited_for_others = 0.0
        self.last_refusal: Refusal | None = None
        self._blocked: tuple[float, str] | None = None  # until when this process met a 429, and its words

    def close(self) -> None:
        """Nothing to let go of in memory."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(share={self.share:g})"

    # -- storage hooks (the shared ledger keeps these in SQLite)
    @contextmanager
    def _tx(self) -> Iterator[tuple[Window, float]]:
        now = self.clock.now()
        yield self._window, now
        self._window.seen_at = now

    def _others(self, window: Window, now: float) -> list[tuple[int, int, int, int]]:
        """(waiting, grants this window, total grants, demand) of the other live processes."""
        return []

    def _mine(self, window: Window) -> int:
        """This process's grants in the current window."""
        return 0

    def _note(self, window: Window, now: float, grant: Grant | None = None) -> None:
        """Record that this process is alive (and its grant)."""

    def _forget_grant(self, grant: Grant) -> bool:
        """The grant is over; False when it was already counted as finished (reaped)."""
        return True

    def _reap(self, window: Window, now: float) -> None:
        """Count grants of dead processes as finished."""

    # -- granting
    def try_reserve(self) -> Grant | Refusal:
        """A grant if the window has room and it is this process's turn."""
        with self._tx() as (window, now):
            if now - window.seen_at > FORGET_AFTER and window.in_flight == 0:
                window.forget(now, self.initial)
            cap = cap_of(window.quota_limit, self.share)
            window.roll(now, cap, self.margin)
            if window.available() < 1 and window.in_flight:
                self._reap(window, now)
            others = self._others(window, now)
            why = WINDOW if window.available() < 1 else TURN if self._others_first(window, cap, others) else None
            if why:
                if why == WINDOW:
                    window.refuse(now)
                self._note(window, now)
                return Refusal(why, window.reset_at, len(others))
            grant = window.grant(now)
            self._note(window, now, grant)
            return grant

    def _others_first(self, window: Window, cap: int, others: list) -> bool:
        """Has this process had its fair share of the window while another waits with less?"""
        waiting = [granted for wait, granted, _, _ in others if wait]
        if not waiting:
            return False
        fair = -(-cap // (len(waiting) + 1))
        return self._mine(window) >= fair and any(granted < fair for granted in waiting)

    def finish(self, grant: Grant, quota: tuple[int, int, int] | None = None, reset_at: float | None = None) -> None:
        """The request is over; ``quota`` is its answer's (limit, remaining, reset ms) and
        ``reset_at`` that reset on the local clock, when the answer had them."""
        with self._tx() as (window, now):
            if quota is not None:
                window.observe(*quota, reset_at if reset_at is not None else quota[2] / 1000, grant, self.share)
            if self._forget_grant(grant):
                window.finish_one(now, self.margin)
        self._finished.set()

    def block(self, until: float, why: str = "") -> None:
        """Nothing more for anyone until ``until`` (local clock): a 429. ``why`` is what a waiting
        terminal says meanwhile."""
        with self._tx() as (window, _now):
            window.block(until)
        self._blocked = (until, why) if why else None

    async def reserve(self, on_wait: Callable[[float], None] | None = None) -> Grant:
        """Wait for a grant. One request per process polls at a time, so
        :attr:`waited_for_others` adds up the time this process waited while another
        sn-importer run on the tenant drew from the budget. ``on_wait`` is told the
        seconds until the window resets before each wait for it (it may refuse the wait)."""
        self._waiting += 1
        try:
            async with self._turn:
                while True:
                    outcome = self.try_reserve()
                    if isinstance(outcome, Grant):
                        self.last_refusal = None
                        return outcome
                    self.last_refusal = outcome
                    before = self.clock.now()
                    if on_wait is not None and outcome.why == WINDOW and outcome.until is not None:
                        on_wait(outcome.until - before)
                    await self._nap(self._pause(outcome, before))
                    self.waited_for_others += (self.clock.now() - before) if outcome.others else 0.0
        finally:
            self._waiting -= 1

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if one of this process's own requests finishes meanwhile."""
        self._finished.clear()
        waiters = [asyncio.ensure_future(self._finished.wait()), asyncio.ensure_future(self.clock.sleep(seconds))]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _pause(self, refusal: Refusal, now: float) -> float:
        """Until the reset if known (waking now and then when shared: answers may widen the budget)."""
        if refusal.why == WINDOW and refusal.until is not None:
            wait = max(0.0, refusal.until + self.margin - now)
            return min(POLL_MAX, wait) if self.shared else wait
        return self.poll

    def wait_reason(self) -> str:
        """Why requests wait for the window, in the words the terminal shows."""
        refusal = self.last_refusal
        if self._blocked and self.clock.now() < self._blocked[0]:
            return self._blocked[1]
        if refusal and refusal.others:
            return ("waiting for another sn-importer run on this tenant: "
                    "the runs share Katana's quota, and this window's share is spent")
        return "Katana's quota for this window is spent; waiting for it to reset"

    # -- planning
    def expect(self, requests: int) -> None:
        """Tell the other runs how many requests this run still plans (for their estimates)."""

    def others_active(self) -> int:
        """Other sn-importer runs drawing from this tenant's budget now."""
        with self._tx() as (window, now):
            return len(self._others(window, now))

    def estimate_seconds(self, requests: int) -> float:
        """About how long ``requests`` take at the share in force, the other runs' plans included:
        the budget is shared fairly, so each other run takes up to as many meanwhile.
        The one estimate every front end shows."""
        with self._tx() as (window, now):
            others = self._others(window, now)
            cap = cap_of(window.quota_limit, self.share)
            total = requests + sum(min(max(0, demand - done), requests) for _, _, done, demand in others)
            return window.estimate_seconds(total, now, cap)

    def quota(self) -> tuple[int, int, float]:
        """(limit, requests allowed per window at the share, window seconds) as known now."""
        with self._tx() as (window, _now):
            return window.quota_limit, cap_of(window.quota_limit, self.share), window.window

    @property
    def learned(self) -> bool:
        with self._tx() as (window, _now):
            return bool(window.learned)


__all__ = ["FORGET_AFTER", "Ledger", "POLL_MAX"]
