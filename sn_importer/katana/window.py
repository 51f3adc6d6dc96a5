"""The tenant's rate-limit window, as arithmetic: the one ledger every run keeps.

Katana counts requests per tenant in a window (60 per 60 s by default; other
limits exist), shared with the tenant's other integrations, and every answer
says how much is left (``X-Ratelimit-Remaining``) and when the window resets
(``X-Ratelimit-Reset``). Fixed-rate limiters spread requests at a configured
rate and never read those headers, so they can neither learn a tenant's real
limit nor notice quota that another integration spent; hence this ledger.

How a client stays free of 429s with several requests in flight, when
answers arrive out of order and some never arrive: every request is
numbered when it is *granted*. An answer to request ``q`` saying
``Remaining: R`` proves the server takes ``R`` more requests after ``q``;
every request that had finished when ``q`` was granted was counted before
``q``, so those the server may still count against ``R`` are the ones granted
after ``done_before(q)``. Hence a *budget*: grants may go up to number
``R + done_before(q) + 1``. Within one window the answer to the newest
request sets the budget (an older answer arriving late knows less, and
another integration may have spent quota since). When the window resets,
every request not finished before the reset may land in the new window and
is charged to it.

Of a window of ``L`` requests, sn-importer uses at most ``floor(share × L)``
and keeps the rest for the tenant's other integrations: every budget an
answer gives is lowered by that reserve. Until an answer has shown the real
window, one request at a time goes out: the assumed 60/60 serves estimates,
never a burst; and at the start of each window one request goes first, so
its answer tells how much another integration's burst has left. A 429, or ``Remaining: 0``, means nothing more until the
reset (the 429's ``Retry-After``, else the reset its headers give, else one
whole window). Resets are moments on the server's clock, turned into ours
by the caller (:class:`~sn_importer.katana.answers.ServerClock`). A learnt
window is kept within :data:`WINDOW_BOUNDS`.

:class:`Window` is the state and the rules; where it lives (in memory for one
process, or in SQLite shared by every process on the host) is
:mod:`sn_importer.katana.ledger`'s business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The shortest and longest window a tenant is believed to have (seconds).
WINDOW_BOUNDS = (1.0, 3600.0)
#: The window assumed before any answer (Katana's default).
INITIAL_QUOTA = (60, 60.0)
#: sn-importer's share of the tenant's window unless told otherwise.
DEFAULT_SHARE = 0.8


def cap_of(limit: int, share: float) -> int:
    """Requests per window sn-importer allows itself at ``share`` of ``limit`` (at least one)."""
    return max(1, math.floor(limit * share + 1e-9))


def bounded_window(seconds: float) -> float:
    low, high = WINDOW_BOUNDS
    return min(high, max(low, seconds))


@dataclass(frozen=True)
class Grant:
    """One request granted from the window."""

    seq: int
    done_before: int
    sent_at: float


@dataclass(frozen=True)
class Refusal:
    """No grant now: why (``window`` spent, or another run's ``turn``), until when at most (if
    known), and how many other sn-importer runs are active on the tenant."""

    why: str
    until: float | None
    others: int


WINDOW, TURN = "window", "turn"


@dataclass
class Window:
    """The accounting of one tenant's window (field names are the SQLite columns)."""

    quota_limit: int
    window: float
    learned: int
    reset_at: float | None  # when the current window ends, on the local clock (None: not known)
    newest_reset_ms: int  # the server's reset stamp of the newest window heard of
    newest_seq: int  # the grant whose answer set the budget of that window
    sent: int  # grants so far
    done: int  # grants finished so far (answered, failed, or reaped)
    settled: int  # grants known to have finished before the current window's reset
    budget: int  # may grant up to number ``budget``
    epoch: int  # counts windows, for fair shares between runs
    seen_at: float

    @classmethod
    def fresh(cls, now: float, initial: tuple[int, float] = INITIAL_QUOTA) -> "Window":
        return cls(int(initial[0]), float(initial[1]), 0, None, -1, 0, 0, 0, 0, 0, 0, now)

    @property
    def in_flight(self) -> int:
        return self.sent - self.done

    def available(self) -> int:
        """Grants that may go out now: one at a time until an answer has shown the window, and
        again at the start of each new window until its first answer (another integration may have
        spent most of it already: a burst at the reset would meet 429s)."""
        if not self.learned or self.reset_at is None:
            return 1 - self.in_flight
        return self.budget - self.sent

    def room(self, cap: int) -> int:
        """Requests the window is believed to hold still (for estimates)."""
        return max(0, self.budget - self.sent) if self.learned else cap

    # -- granting
    def roll(self, now: float, cap: int, margin: float) -> None:
        """A new window: what did not finish before the reset may count in it."""
        if self.reset_at is not None and now >= self.reset_at + margin:
            self.budget, self.reset_at, self.epoch = self.settled + cap, None, self.epoch + 1

    def refuse(self, now: float) -> None:
        """Spent, and no answer told when the window resets: it opened at the latest with the
        last request, so one whole window from now is safe."""
        if self.reset_at is None and self.in_flight == 0:
            self.reset_at = now + self.window

    def grant(self, now: float) -> Grant:
        self.sent += 1
        return Grant(self.sent, self.done, now)

    def finish_one(self, now: float, margin: float) -> None:
        self.done += 1
        if self.reset_at is None or now < self.reset_at - margin:
            self.settled = self.done

    # -- learning
    def observe(self, limit: int, remaining: int, reset_ms: int, reset_at: float, grant: Grant,
                reserve_share: float) -> None:
        """An answer's ``X-Ratelimit-*`` (any status, 429 included); ``reset_at`` is its reset on
        the local clock. The budget it gives is lowered by the reserve kept for the others."""
        self.quota_limit, self.learned = max(1, limit), 1
        reserve = self.quota_limit - cap_of(self.quota_limit, reserve_share)
        budget = remaining - reserve + grant.done_before + 1
        if reset_ms > self.newest_reset_ms:  # the first word from a newer window
            rolled = self.reset_at is None
            self.newest_reset_ms, self.newest_seq, self.reset_at = reset_ms, grant.seq, reset_at
            self.budget = budget
            self.epoch += 0 if rolled else 1
            if remaining == self.quota_limit - 1 and reset_at > grant.sent_at:  # this request opened the window
                self.window = bounded_window(reset_at - grant.sent_at)
        elif reset_ms == self.newest_reset_ms and self.reset_at is not None and grant.seq >= self.newest_seq:
            self.newest_seq, self.budget, self.reset_at = grant.seq, budget, max(self.reset_at, reset_at)

    def block(self, until: float) -> None:
        """Nothing more until ``until`` (a 429, or the server's word that the window is spent)."""
        self.learned = 1
        self.budget = min(self.budget, self.sent)
        self.reset_at = max(self.reset_at or 0.0, until)

    def forget(self, now: float, initial: tuple[int, float]) -> None:
        """Unused for long: the tenant's plan may have changed. Pace carefully again (one at a time
        until an answer), but keep the last known limit and window for estimates."""
        self.learned, self.reset_at, self.budget = 0, None, self.sent

    # -- planning
    def estimate_seconds(self, requests: int, now: float, cap: int) -> float:
        """About how long ``requests`` take: those that fit in what is left of this window cost
        nothing; the rest need ``ceil(rest / cap)`` more windows, the first opening at the reset."""
        available = self.room(cap)
        if requests <= available:
            return 0.0
        windows = math.ceil((requests - available) / cap)
        until_reset = self.window if self.reset_at is None else max(0.0, self.reset_at - now)
        return until_reset + (windows - 1) * self.window


__all__ = ["DEFAULT_SHARE", "Grant", "INITIAL_QUOTA", "Refusal", "TURN", "WINDOW", "WINDOW_BOUNDS", "Window",
           "bounded_window", "cap_of"]
