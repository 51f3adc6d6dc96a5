"""One rate-limit budget per tenant per host, shared by every sn-importer process.

Katana counts requests per tenant, and every integration of the tenant draws
from that one window. A ledger in memory sees only its own process's
requests, so two or three processes on one server (a cron ``watch``, the web
page, a notebook) would each believe the whole window is theirs and together
meet 429s. Here they draw from one budget instead, kept in ``quota.sqlite3``
in the state directory and keyed by the tenant: the base URL and a SHA-256 of
the key (the key itself is never stored).

:class:`SharedLedger` is a :class:`~sn_importer.katana.ledger.Ledger` whose
:class:`~sn_importer.katana.window.Window` row lives in SQLite: each grant is
numbered host-wide and notes how many requests had finished host-wide when it
was granted, so an answer's ``X-Ratelimit-Remaining`` yields a budget that
holds for all the processes together. The learnt limit and window are shared
too: a second process never starts from the assumed 60/60, and the web page
estimates from what the last run learnt.

Fairness: when processes compete, each may take ``ceil(cap / runs waiting)``
grants of a window before one that has had fewer; what one of them leaves
unused goes to whoever asks. Every step is one short ``BEGIN IMMEDIATE``
transaction; the grants of a process that died are reaped (dead pid on this
host, or older than ``ticket_ttl``), so a crash never shrinks the budget.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Iterator

from ..clock import Clock
from ..errors import StorageError
from ..storage import storage_problem
from .ledger import Ledger
from .window import DEFAULT_SHARE, INITIAL_QUOTA, Grant, Window
from ..filesafety import private_dir, private_file
from ..sqlitefile import open_shared

FILE_NAME = "quota.sqlite3"
#: A waiting process not heard from for this long is gone (it would have polled).
LIVE = 3.0
_COLUMNS = [f.name for f in fields(Window)]

SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    tenant TEXT PRIMARY KEY,
    quota_limit INTEGER NOT NULL, window REAL NOT NULL, learned INTEGER NOT NULL,
    reset_at REAL, newest_reset_ms INTEGER NOT NULL, newest_seq INTEGER NOT NULL,
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


def _bookkeeping(method):
    """A hook that writes the members' and grants' tables: a no-op once the file refuses writes,
    and a refusal (a full disk) turns the ledger to memory instead of failing the request."""

    def guarded(self, *args, **kwargs):
        if self.degraded:
            return getattr(Ledger, method.__name__)(self, *args, **kwargs)
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            self._degrade(exc)
            return getattr(Ledger, method.__name__)(self, *args, **kwargs)

    guarded.__doc__ = method.__doc__
    return guarded


class SharedLedger(Ledger):
    """The tenant's window in ``state_dir/quota.sqlite3``, shared by every process of the host."""

    shared = True

    def __init__(self, state_dir: str | Path, base_url: str, api_key: str, *, share: float = DEFAULT_SHARE,
                 clock: Clock | None = None, initial_quota: tuple[int, float] = INITIAL_QUOTA,
                 margin: float = 0.05, ticket_ttl: float = 120.0, poll: float = 0.05):
        super().__init__(share=share, clock=clock, initial_quota=initial_quota, margin=margin, poll=poll)
        self.tenant, self.ticket_ttl = tenant_key(base_url, api_key), ticket_ttl
        #: Why the shared file stopped taking writes (None while it takes them).
        self.degraded: str | None = None
        self.notes: list[str] = []
        self.member, self.host, self.pid = uuid.uuid4().hex, socket.gethostname(), os.getpid()
        directory = Path(state_dir)
        private_dir(directory)
        self.path = private_file(directory / FILE_NAME)
        # a lost ledger after a power cut only costs a relearn: no fsync per request
        self.db = open_shared(self.path, timeout=10, schema=SCHEMA, synchronous="OFF")

    def close(self) -> None:
        try:
            with self._tx():
                self.db.execute("DELETE FROM members WHERE tenant=? AND member=?", (self.tenant, self.member))
        except (sqlite3.Error, StorageError):
            pass  # a full disk at the end of a run must not cost its report
        finally:
            self.db.close()

    def __repr__(self) -> str:
        return f"SharedLedger({self.path}, share={self.share:g})"

    # -- the window row
    @contextmanager
    def _tx(self) -> Iterator[tuple[Window, float]]:
        """The shared window, in one ``BEGIN IMMEDIATE`` transaction. Once the state folder refuses
        writes (a full disk), the window as last known is kept in memory instead: the run paces itself
        alone rather than stop (the journal decides whether it may go on), and says so in :attr:`notes`."""
        if self.degraded:
            with super()._tx() as state:
                yield state
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            now = self.clock.now()
            window = self._load(now)
        except sqlite3.Error as exc:
            self._degrade(exc)
            with super()._tx() as state:
                yield state
            return
        try:
            yield window, now
        except BaseException:
            self._rollback()
            raise
        try:
            window.seen_at = now
            self.db.execute(f"UPDATE windows SET {', '.join(f'{n}=?' for n in _COLUMNS)} WHERE tenant=?",
                            (*(getattr(window, n) for n in _COLUMNS), self.tenant))
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            self._degrade(exc)
        self._window = replace(window)  # what this step learnt is kept, in memory too

    def _degrade(self, exc: sqlite3.Error) -> None:
        reason = storage_problem(exc)
        if reason is None:
            raise exc
        self.degraded = reason
        self.notes.append(f"The shared quota in {self.path.parent} could not be written ({reason}); from then on "
                          "this run paced itself alone, blind to other sn-importer runs on this tenant.")

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _load(self, now: float) -> Window:
        row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM windows WHERE tenant=?", (self.tenant,)).fetchone()
        if row is not None:
            return Window(*row)
        window = Window.fresh(now, self.initial)
        self.db.execute(f"INSERT INTO windows (tenant, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)})",
                        (self.tenant, *(getattr(window, n) for n in _COLUMNS)))
        return window

    # -- the hooks
    @_bookkeeping
    def _note(self, window: Window, now: float, grant: Grant | None = None) -> None:
        """Note this process as alive, how many of its requests wait, and its grant this window."""
        granted = 1 if grant else 0
        self.db.execute(
            "INSERT INTO members VALUES (?,?,?,?,?,?,?,0) ON CONFLICT(tenant, member) DO UPDATE SET "
            "seen_at=excluded.seen_at, waiting=excluded.waiting, total=total+?, "
            "granted=CASE WHEN epoch=excluded.epoch THEN granted+? ELSE ? END, epoch=excluded.epoch",
            (self.tenant, self.member, now, max(0, self._waiting - granted), window.epoch, granted, granted,
             granted, granted, granted))
        if grant:
            self.db.execute("INSERT INTO tickets VALUES (?,?,?,?,?,?)",
                            (self.tenant, grant.seq, self.member, self.host, self.pid, now))

    @_bookkeeping
    def _forget_grant(self, grant: Grant) -> bool:
        gone = self.db.execute("DELETE FROM tickets WHERE tenant=? AND seq=?", (self.tenant, grant.seq))
        return bool(gone.rowcount)  # not reaped meanwhile

    @_bookkeeping
    def _reap(self, window: Window, now: float) -> None:
        rows = self.db.execute("SELECT seq, host, pid, sent_at FROM tickets WHERE tenant=?", (self.tenant,)).fetchall()
        for seq, host, pid, sent_at in rows:
            if now - sent_at > self.ticket_ttl or (host == self.host and not _alive(pid)):
                self.db.execute("DELETE FROM tickets WHERE tenant=? AND seq=?", (self.tenant, seq))
                window.finish_one(now, self.margin)

    @_bookkeeping
    def _others(self, window: Window, now: float) -> list[tuple[int, int, int, int]]:
        return self.db.execute(
            "SELECT waiting, CASE WHEN epoch=? THEN granted ELSE 0 END, total, demand FROM members "
            "WHERE tenant=? AND member<>? AND seen_at>=?",
            (window.epoch, self.tenant, self.member, now - LIVE)).fetchall()

    @_bookkeeping
    def _mine(self, window: Window) -> int:
        row = self.db.execute("SELECT CASE WHEN epoch=? THEN granted ELSE 0 END FROM members WHERE tenant=? "
                              "AND member=?", (window.epoch, self.tenant, self.member)).fetchone()
        return row[0] if row else 0

    def expect(self, requests: int) -> None:
        with self._tx() as (window, now):
            self._note(window, now)
            if self.degraded:
                return
            self.db.execute("UPDATE members SET demand=total+? WHERE tenant=? AND member=?",
                            (max(0, requests), self.tenant, self.member))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_ledger(state_dir: str | Path | None, base_url: str, api_key: str, *, share: float = DEFAULT_SHARE,
                clock: Clock | None = None, initial_quota: tuple[int, float] = INITIAL_QUOTA) -> SharedLedger:
    """The tenant's shared ledger in ``state_dir`` (default: the user's state directory).

    Raises OSError or sqlite3.Error when the directory cannot hold it; the
    caller then paces alone (an in-memory :class:`Ledger`) and says so.
    """
    from ..settings import default_state_dir

    return SharedLedger(state_dir or default_state_dir(), base_url, api_key, share=share, clock=clock,
                        initial_quota=initial_quota)


__all__ = ["FILE_NAME", "SharedLedger", "open_ledger", "tenant_key"]
