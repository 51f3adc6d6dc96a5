"""One rate-limit budget per tenant per host, shared by every sn-importer process.

Katana counts requests per tenant, and every integration of the tenant draws
from that one window. Each :class:`~sn_importer.katana.pacing.Pacer` sees only its own
requests, so two or three processes on one server (a cron ``watch``, the web
page, a notebook) each believe the whole window is theirs and together meet
429s. Here they draw from one budget instead, kept in ``quota.sqlite3`` in the
state directory and keyed by the tenant: the base URL and a SHA-256 of the key
(the key itself is never stored).

The ledger runs the pacer's own accounting (see pacing.py) over numbers that
every process shares: each grant is numbered host-wide and notes how many
requests had finished host-wide when it was granted, so an answer's
``X-Ratelimit-Remaining`` yields a budget that holds for all the processes
together. Of a window of ``L`` requests, sn-importer uses at most
``floor(share × L)`` (80 % by default) and keeps the rest in reserve for the
tenant's other integrations: every budget an answer gives is lowered by that
reserve, so the others always find it free. The learned limit and window are
shared too: a second process never starts from the assumed 60/60.

Fairness: when processes compete, each may take ``ceil(cap / runs waiting)``
grants of a window before one that has had fewer; what one of them leaves
unused goes to whoever asks. Every step is one short ``BEGIN IMMEDIATE``
transaction; the tickets of a process that died are reaped (dead pid on this
host, or older than ``ticket_ttl``), so a crash never shrinks the budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import socket
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Iterator

from ..clock import Clock, SystemClock

DEFAULT_SHARE = 0.8
FILE_NAME = "quota.sqlite3"
#: A process that waits polls at least this often, so the others see it is alive.
POLL_MAX = 0.25
#: A waiting process not heard from for this long is gone (it would have polled).
LIVE = 3.0
#: Knowledge of a window nobody has used for this long is forgotten: the tenant's plan may have changed.
FORGET_AFTER = 600.0
WINDOW, TURN = "window", "turn"  # why a grant was refused: the window is spent / another run's turn

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    quota_limit INTEGER NOT NULL, window REAL NOT NULL, learned INTEGER NOT NULL,
    reset_at REAL, newest_reset_ms INTEGER NOT NULL,
    sent INTEGER NOT NULL, done INTEGER NOT NULL, settled INTEGER NOT NULL, budget INTEGER NOT NULL,
    epoch INTEGER NOT NULL, seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    tenant TEXT NOT NULL, member TEXT NOT NULL, seen_at REAL NOT NULL,
    waiting INTEGER NOT NULL, epoch INTEGER NOT NULL, granted INTEGER NOT NULL,
    total INTEGER NOT NULL, demand INTEGER NOT NULL,
    PRIMARY KEY (tenant, member)
);
CREATE TABLE IF NOT EXISTS tickets (
    tenant TEXT NOT NULL, seq INTEGER NOT NULL, member TEXT NOT NULL,
    host TEXT NOT NULL, pid INTEGER NOT NULL, sent_at REAL NOT NULL,
    PRIMARY KEY (tenant, seq)
);
"""


def tenant_key(base_url: str, api_key: str) -> str:
    """The tenant as the ledger knows it: base URL and a hash of the key, never the key."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:32]
    return f"{base_url.rstrip('/')} {digest}"


def cap_of(limit: int, share: float) -> int:
    """Requests per window sn-importer allows itself at ``share`` of ``limit`` (at least one)."""
    return max(1, math.floor(limit * share + 1e-9))


@dataclass
class TenantState:
    """The shared accounting of one tenant: the pacer's fields, numbered host-wide."""

    quota_limit: int
    window: float
    learned: int
    reset_at: float | None
    newest_reset_ms: int
    sent: int  # grants so far, host-wide
    done: int  # grants finished so far (answered, failed, or reaped)
    settled: int  # grants known to have finished before the current window's reset
    budget: int  # may grant up to number ``budget``
    epoch: int  # counts windows, for the per-window fair shares
    seen_at: float

    @property
    def in_flight(self) -> int:
        return self.sent - self.done

    def available(self) -> int:
        """Grants that may go out now; one at a time until an answer has shown the window."""
        return self.budget - self.sent if self.learned else 1 - self.in_flight

    def roll(self, now: float, cap: int, margin: float) -> None:
        """A new window: what did not finish before the reset may count in it."""
        if self.reset_at is not None and now >= self.reset_at + margin:
            self.budget, self.reset_at, self.epoch = self.settled + cap, None, self.epoch + 1

    def finish_one(self, now: float, margin: float) -> None:
        self.done += 1
        if self.reset_at is None or now < self.reset_at - margin:
            self.settled = self.done

    def observe(self, limit: int, remaining: int, reset_ms: int, grant: "Grant", share: float) -> None:
        """The pacer's rule with the others' reserve taken off every budget an answer gives."""
        self.quota_limit, self.learned = max(1, limit), 1
        reserve = self.quota_limit - cap_of(self.quota_limit, share)
        budget = remaining - reserve + grant.done_before + 1
        if reset_ms > self.newest_reset_ms:  # the first word from a newer window
            rolled = self.reset_at is None
            self.newest_reset_ms, self.reset_at = reset_ms, reset_ms / 1000
            self.budget = max(self.budget, budget) if rolled else budget
            self.epoch += 0 if rolled else 1
            if remaining == self.quota_limit - 1:  # this request opened the window
                self.window = max(0.001, self.reset_at - grant.sent_at)
        elif reset_ms == self.newest_reset_ms and self.reset_at is not None:
            self.budget = max(self.budget, budget)


@dataclass(frozen=True)
class Grant:
    """One request granted from the shared budget."""

    seq: int
    done_before: int
    sent_at: float


@dataclass(frozen=True)
class Refusal:
    """No grant now: why, until when at most (if known), and how many other runs are active."""

    why: str
    until: float | None
    others: int


class SharedBudget:
    """The tenant's budget as one process sees it; ``reserve``/``finish`` around each request."""

    def __init__(self, state_dir: str | Path, base_url: str, api_key: str, *, share: float = DEFAULT_SHARE,
                 clock: Clock | None = None, initial_quota: tuple[int, float] = (60, 60.0),
                 margin: float = 0.05, ticket_ttl: float = 120.0, poll: float = 0.05):
        if not 0 < share <= 1:
            raise ValueError(f"the quota share must be above 0 and at most 1, not {share}")
        self.tenant, self.share, self.clock = tenant_key(base_url, api_key), share, clock or SystemClock()
        self.initial, self.margin, self.ticket_ttl, self.poll = initial_quota, margin, ticket_ttl, poll
        self.member, self.host, self.pid = uuid.uuid4().hex, socket.gethostname(), os.getpid()
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")  # a lost ledger after a power cut only costs a relearn
            self.db.executescript(SCHEMA)
        except sqlite3.Error:
            self.db.close()
            raise
        self._turn = asyncio.Lock()  # one waiter per process polls the ledger; the rest queue here
        self._finished = asyncio.Event()  # one of this process's requests is over: the budget may have grown
        self._waiting = 0
        self.waited_for_others = 0.0
        self.last_refusal: Refusal | None = None

    def close(self) -> None:
        with self._tx() as now:
            self.db.execute("DELETE FROM members WHERE tenant=? AND member=?", (self.tenant, self.member))
        self.db.close()

    def __repr__(self) -> str:
        return f"SharedBudget({self.path}, share={self.share:g})"

    # -- the ledger
    @contextmanager
    def _tx(self) -> Iterator[float]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.clock.now()
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _load(self, now: float) -> TenantState:
        names = [f.name for f in fields(TenantState)]
        row = self.db.execute(f"SELECT {', '.join(names)} FROM tenants WHERE tenant=?", (self.tenant,)).fetchone()
        if row is None:
            state = TenantState(self.initial[0], float(self.initial[1]), 0, None, -1, 0, 0, 0, 0, 0, now)
            self.db.execute(f"INSERT INTO tenants (tenant, {', '.join(names)}) VALUES (?{', ?' * len(names)})",
                            (self.tenant, *(getattr(state, n) for n in names)))
            return state
        state = TenantState(*row)
        if now - state.seen_at > FORGET_AFTER and state.in_flight == 0:
            state.learned, state.reset_at, state.budget = 0, None, state.sent
            state.quota_limit, state.window = self.initial[0], float(self.initial[1])
        return state

    def _store(self, state: TenantState, now: float) -> None:
        state.seen_at = now
        names = [f.name for f in fields(TenantState)]
        self.db.execute(f"UPDATE tenants SET {', '.join(f'{n}=?' for n in names)} WHERE tenant=?",
                        (*(getattr(state, n) for n in names), self.tenant))

    def _touch(self, now: float, epoch: int, granted: int = 0) -> None:
        """Note this process as alive, how many of its requests wait, and its grants this window."""
        self.db.execute(
            "INSERT INTO members VALUES (?,?,?,?,?,?,?,0) ON CONFLICT(tenant, member) DO UPDATE SET "
            "seen_at=excluded.seen_at, waiting=excluded.waiting, total=total+?, "
            "granted=CASE WHEN epoch=excluded.epoch THEN granted+? ELSE ? END, epoch=excluded.epoch",
            (self.tenant, self.member, now, max(0, self._waiting - granted), epoch, granted, granted,
             granted, granted, granted))

    def _reap(self, state: TenantState, now: float) -> None:
        """Count the tickets of dead processes (or too old to be alive) as finished."""
        rows = self.db.execute("SELECT seq, host, pid, sent_at FROM tickets WHERE tenant=?", (self.tenant,)).fetchall()
        for seq, host, pid, sent_at in rows:
            if now - sent_at > self.ticket_ttl or (host == self.host and not _alive(pid)):
                self.db.execute("DELETE FROM tickets WHERE tenant=? AND seq=?", (self.tenant, seq))
                state.finish_one(now, self.margin)

    def _others(self, now: float, epoch: int) -> list[tuple[int, int, int, int]]:
        """(waiting, grants this window, total grants, demand) of the other live processes."""
        return self.db.execute(
            "SELECT waiting, CASE WHEN epoch=? THEN granted ELSE 0 END, total, demand FROM members "
            "WHERE tenant=? AND member<>? AND seen_at>=?", (epoch, self.tenant, self.member, now - LIVE)).fetchall()

    # -- granting
    def try_reserve(self) -> Grant | Refusal:
        """One transaction: a grant if the window has room and it is this process's turn."""
        with self._tx() as now:
            state = self._load(now)
            cap = cap_of(state.quota_limit, self.share)
            state.roll(now, cap, self.margin)
            if state.available() < 1 and state.in_flight:
                self._reap(state, now)
            others = self._others(now, state.epoch)
            why = WINDOW if state.available() < 1 else TURN if self._others_first(state, cap, others) else None
            if why:
                if why == WINDOW and state.reset_at is None and state.in_flight == 0:
                    # Spent, and no answer told when the window resets: it opened at the
                    # latest with the last request, so one whole window from now is safe.
                    state.reset_at = now + state.window
                self._store(state, now)
                self._touch(now, state.epoch)
                return Refusal(why, state.reset_at, len(others))
            state.sent += 1
            grant = Grant(state.sent, state.done, now)
            self.db.execute("INSERT INTO tickets VALUES (?,?,?,?,?,?)",
                            (self.tenant, grant.seq, self.member, self.host, self.pid, now))
            self._store(state, now)
            self._touch(now, state.epoch, granted=1)
            return grant

    def _others_first(self, state: TenantState, cap: int, others: list) -> bool:
        """Has this process had its fair share of the window while another waits with less?"""
        waiting = [granted for wait, granted, _, _ in others if wait]
        if not waiting:
            return False
        fair = math.ceil(cap / (len(waiting) + 1))
        mine = self.db.execute("SELECT CASE WHEN epoch=? THEN granted ELSE 0 END FROM members WHERE tenant=? "
                               "AND member=?", (state.epoch, self.tenant, self.member)).fetchone()
        return (mine[0] if mine else 0) >= fair and any(granted < fair for granted in waiting)

    def finish(self, grant: Grant, headers: tuple[int, int, int] | None = None) -> None:
        """The request is over; ``headers`` is (limit, remaining, reset ms) if its answer had them."""
        with self._tx() as now:
            state = self._load(now)
            if headers:
                state.observe(*headers, grant, self.share)
            gone = self.db.execute("DELETE FROM tickets WHERE tenant=? AND seq=?", (self.tenant, grant.seq))
            if gone.rowcount:  # not reaped meanwhile
                state.finish_one(now, self.margin)
            self._store(state, now)
        self._finished.set()

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429 without usable headers: nothing more for anyone until Retry-After."""
        with self._tx() as now:
            state = self._load(now)
            state.learned, state.budget = 1, min(state.budget, state.sent)
            if retry_after is not None:
                state.reset_at = max(state.reset_at or 0.0, now + retry_after)
            self._store(state, now)

    async def reserve(self, on_wait: Callable[[float], None] | None = None) -> Grant:
        """Wait for a grant. One request per process polls the ledger at a time, so
        :attr:`waited_for_others` adds up the time during which this process
        waited while another sn-importer run on the tenant drew from the budget.
        ``on_wait`` is told the seconds until the window resets before each wait
        for it (the pacer's hook: it may refuse a wait that is too long)."""
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
        """Sleep until the reset if known (polling now and then: answers may widen the budget)."""
        if refusal.why == WINDOW and refusal.until is not None:
            return max(0.0, min(POLL_MAX, refusal.until + self.margin - now))
        return self.poll

    # -- planning
    def expect(self, requests: int) -> None:
        """Tell the other runs how many requests this run still plans (for their estimates)."""
        with self._tx() as now:
            state = self._load(now)
            self._touch(now, state.epoch)
            self.db.execute("UPDATE members SET demand=total+? WHERE tenant=? AND member=?",
                            (max(0, requests), self.tenant, self.member))

    def others_active(self) -> int:
        """Other sn-importer runs drawing from this tenant's budget now."""
        return len(self._others(self.clock.now(), -1))

    def estimate_seconds(self, requests: int) -> float:
        """About how long ``requests`` take at the share in force, the other runs' plans included:
        the budget is shared fairly, so each other run takes up to as many meanwhile."""
        now = self.clock.now()
        with self._tx():
            state = self._load(now)
            others = self._others(now, state.epoch)
        cap = cap_of(state.quota_limit, self.share)
        total = requests + sum(min(max(0, demand - done), requests) for _, _, done, demand in others)
        available = max(0, state.available()) if state.learned else cap
        if total <= available:
            return 0.0
        windows = math.ceil((total - available) / cap)
        until_reset = state.window if state.reset_at is None else max(0.0, state.reset_at - now)
        return until_reset + (windows - 1) * state.window

    def quota(self) -> tuple[int, int, float]:
        """(limit, requests allowed per window at the share, window seconds) as known now."""
        with self._tx() as now:
            state = self._load(now)
        return state.quota_limit, cap_of(state.quota_limit, self.share), state.window


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_budget(state_dir: str | Path | None, base_url: str, api_key: str, *, share: float = DEFAULT_SHARE,
                clock: Clock | None = None, initial_quota: tuple[int, float] = (60, 60.0)) -> SharedBudget:
    """The tenant's shared budget in ``state_dir`` (default: the user's state directory).

    Raises OSError or sqlite3.Error when the directory cannot hold it; the
    caller then paces alone and says so.
    """
    from ..journal import default_state_dir

    return SharedBudget(state_dir or default_state_dir(), base_url, api_key, share=share, clock=clock,
                        initial_quota=initial_quota)
