"""Opening a SQLite file that several processes may create at the same moment.

The journal and the shared quota ledger live in the state folder, and two
commands started together (cron and a person, two drops of ``watch``) open
them together. SQLite's busy timeout does not cover everything such a first
open does: switching a new file to WAL can answer "database is locked" at
once, and two processes that both see a column missing both try to add it.
So the switch is retried until the timeout, and the schema and its migration
run in one ``BEGIN IMMEDIATE`` transaction: the second process waits for the
first and then finds everything in place.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path


def open_shared(path: Path, *, timeout: float, schema: str, synchronous: str = "FULL",
                migrate: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """A connection in autocommit mode (``isolation_level=None``) to ``path`` in WAL mode, its
    ``schema`` (``CREATE … IF NOT EXISTS`` statements) and ``migrate`` applied in one transaction.

    Raises :class:`sqlite3.Error` (the connection closed) when the file is not usable or stays
    locked for ``timeout`` seconds.
    """
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        _retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"), timeout)
        db.execute(f"PRAGMA synchronous={synchronous}")
        # the script opens the transaction and leaves it open: BEGIN IMMEDIATE waits (busy timeout)
        # for a process doing the same, and the migration joins it
        db.executescript(f"BEGIN IMMEDIATE;\n{schema}")
        try:
            if migrate:
                migrate(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except BaseException:
        db.close()
        raise
    return db


def _retry_locked(step: Callable[[], object], timeout: float, pause: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
