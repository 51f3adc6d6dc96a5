"""What every run against Katana shares: where it connects, the tenant's quota, the locked journal.

An apply (:mod:`sn_importer.run`) and an undo (:mod:`sn_importer.restore`)
both connect to a built-in sandbox or the configured Katana
(:func:`connect`), pace themselves by the tenant's window shared through the
state directory (:func:`with_ledger`), hold the crash-safety journal locked
for their key with room proven (:func:`open_journal`), and run their async
work from sync code, inside Jupyter's running loop too (:func:`run_sync`).
Each takes the caller's result for what it must say (``notes``) or why it
must stop (``halt``), so neither depends on the other's result type.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Callable

from .errors import JournalError, LockUnavailable, RunInProgress, StorageError
from .journal import Journal
from .katana.ledger import Ledger
from .katana.quota import open_ledger
from .settings import Connection, resolve_connection
from .status import StopKind
from .storage import reserve, writing

#: Room the state folder must have before an apply sends anything (the journal grows by the run's records).
STATE_ROOM = 1 << 20

NO_KEY = ("no API key: set KATANA_API_KEY in the environment or in the env file (--env-file, else .env in "
          "the user's config folder), or try the built-in sandbox with --sandbox")


def run_sync(coro):
    """Run a coroutine from sync code, also inside Jupyter's running event loop.

    Inside a running loop the coroutine gets a loop of its own in a worker
    thread; Ctrl-C (KeyboardInterrupt in the caller's thread) cancels it there
    and waits for it to wind down, so the run is reported as interrupted
    rather than left running behind the user's back.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)

    def work():
        try:
            return loop.run_until_complete(task)
        finally:
            loop.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        try:
            while True:  # wake up now and then, so a pending Ctrl-C is raised here promptly
                try:
                    return future.result(timeout=0.2)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already finished and closed
                pass
            concurrent.futures.wait([future])
            raise


def connect(stack: ExitStack, *, sandbox: bool = False, sandbox_seed: str | Path | None = None,
            base_url: str | None = None, api_key: str | None = None, env_file: str | Path | None = None) -> Connection:
    """The Katana to talk to: a built-in sandbox that lives as long as ``stack``,
    or the configured one (whose key may be missing: the caller decides)."""
    if sandbox:
        from .sandbox import running_sandbox

        server = stack.enter_context(running_sandbox(seed_path=sandbox_seed))
        return Connection(server.base_url, "sandbox")
    return resolve_connection(base_url, api_key, env_file=env_file)


def with_ledger(result, stack: ExitStack, state_dir, connection: Connection, share: float,
                client_options: dict | None) -> dict:
    """The client's options plus the tenant's window, shared through the state directory; if that
    directory cannot hold it, the run paces itself alone (at the same share) and says so in the
    ``result``'s notes (a run's, or an undo's)."""
    options = dict(client_options or {})
    clock, initial = options.get("clock"), options.get("initial_quota", (60, 60.0))
    try:
        ledger = open_ledger(state_dir, connection.base_url, connection.api_key, share=share, clock=clock,
                             initial_quota=initial)
    except (OSError, sqlite3.Error) as exc:
        result.notes.append(f"The shared quota in {state_dir or 'the state directory'} cannot be used ({exc}); "
                            "this run paced itself alone, blind to other sn-importer runs on this tenant.")
        ledger = Ledger(share=share, clock=clock, initial_quota=initial)
    stack.callback(ledger.close)
    return options | {"ledger": ledger}


def open_journal(result, stack: ExitStack, state_dir, key: str, prepare: Callable[[Journal], None],
                 what: str = "apply of this file") -> Journal | None:
    """The journal, locked for ``key`` as long as ``stack`` lives, with room proven and ``prepare``
    done; None when it cannot be used, the ``result`` (a run's, or an undo's) then halted with the
    reason. ``what`` names the run in the words of "another … against this Katana is running"."""
    try:
        journal = stack.enter_context(closing(Journal(state_dir)))
        with writing(journal.where):
            stack.enter_context(journal.exclusive(key, what))
        reserve(journal.dir, STATE_ROOM, journal.where)
        prepare(journal)
    except StorageError as exc:
        result.halt(exc.stop_kind, str(exc))
        return None
    except (OSError, JournalError, LockUnavailable) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        result.halt(StopKind.JOURNAL, f"cannot use the journal in {state_dir or 'the state directory'}: "
                                      f"{reason}; choose another --state-dir")
        return None
    except RunInProgress as exc:
        result.halt(exc.stop_kind, str(exc))
        return None
    return journal


__all__ = ["NO_KEY", "STATE_ROOM", "connect", "open_journal", "run_sync", "with_ledger"]
