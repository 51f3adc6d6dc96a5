"""Undoing an apply: the removed records, a connection, the journal, the runner → an undo result.

:func:`run_undo` is what every front end calls (through :func:`undo` for a
results file, :func:`undo_result` for an apply's result in memory). It
connects as an apply does (:mod:`sn_importer.remote`: the sandbox or the
configured Katana, the tenant's shared quota), opens the journal locked for
these records and this Katana, resumes an unfinished undo of them or starts
a new one, says how many requests the undo needs and how long the quota
makes that take, runs :class:`~sn_importer.restore.runner.Undoer` and
leaves every record with a true status, even when the key is refused,
Katana goes away or the user presses Ctrl-C. A preview sends no POST and
writes nothing to the journal.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..clock import iso
from ..errors import StorageError, UsageError
from ..estimate import undo_estimate, wait_text
from ..interrupt import Interrupt
from ..journal import Journal
from ..katana.client import KatanaClient
from ..outcome import Progress
from ..remote import NO_KEY, connect, open_journal, run_sync, with_ledger
from ..resource_types import staff_resource
from ..settings import resolve_quota_share
from ..status import Status, StopKind
from .journal import UndoJournal
from .records import RemovedRecords, Wanted, from_frame, read_removed
from .result import UndoResult
from .rules import Answer, Earlier, Found
from .runner import Undoer, requests_needed

if TYPE_CHECKING:
    from ..result import RunResult

log = logging.getLogger(__name__)

#: Seconds a serial Katana said it put back (or whose POST got no answer) is listed again before
#: anything is concluded or sent again: a POST may land late.
RECHECK = 15.0
#: Serial strings per POST.
CHUNK = 100


@dataclass
class _Resume:
    """What the journal holds for this undo: an interrupted attempt's POSTs and settled records,
    and what the last finished undo of the same records put back."""

    undo: UndoJournal | None = None
    posts: dict[tuple[str, int], dict[str, Answer]] = field(default_factory=dict)
    done: dict[int, Found] = field(default_factory=dict)
    earlier: dict[int, Earlier] = field(default_factory=dict)


def undo(results: str | Path, **options) -> UndoResult:
    """Put back what an apply removed, from its results file (the workbook, or the removed-records
    CSV): an :class:`UndoResult`. ``preview=True`` sends no POST. The other options are
    :func:`run_undo`'s (``base_url``, ``api_key``, ``sandbox``, ``state_dir``, ...)."""
    return run_undo(read_removed(results), **options)


def undo_result(result: RunResult, base_url: str | None = None, sandbox: bool = False, **options) -> UndoResult:
    """Put back what the apply ``result`` removed. By default against the Katana it ran on."""
    from ..report.paths import default_output_path, undo_output_path

    if str(result.mode) != "apply":
        raise UsageError(f"only an apply removes serials; this is a {result.mode}'s result, with nothing to undo")
    if not base_url and not sandbox:
        if result.sandbox:
            raise UsageError("this apply ran on a built-in sandbox that ended with it; give base_url= (a sandbox that "
                             "is still running) or sandbox=True (a new one, holding its seed's serials)")
        base_url = result.base_url
    written = result.output or default_output_path(result.path, result.source.kind)
    removed = from_frame(result.removed, result.display_name, path=result.output, apply_run_id=result.run_id,
                         apply_input=result.display_name, kind=result.source.kind,
                         default_output=undo_output_path(written))
    return run_undo(removed, base_url=base_url, sandbox=sandbox, **options)


def run_undo(removed: RemovedRecords, *, preview: bool = False, base_url: str | None = None,
             api_key: str | None = None, sandbox: bool = False, sandbox_seed: str | Path | None = None,
             state_dir: str | Path | None = None, progress: Callable[[Progress], None] | None = None,
             announce: Callable[[str], None] | None = None, client_options: dict | None = None,
             interrupt: Interrupt | None = None, quota_share: float | str | None = None,
             env_file: str | Path | None = None, recheck: float = RECHECK, chunk: int = CHUNK,
             concurrency: int = 4) -> UndoResult:
    """Undo (or, with ``preview``, check) ``removed``: a new result. ``recheck`` is how long a serial
    that may still land is listed again before anything is concluded or sent again."""
    share = resolve_quota_share(quota_share, env_file=env_file)
    result = UndoResult.begin(removed, preview, (client_options or {}).get("clock"))
    groups, problems = removed.wanted()
    problems |= _not_removed(groups, removed.apply_run_id, state_dir)
    result.record({p: Found(Status.CANNOT_RESTORE, why) for p, why in problems.items()}, None, [])
    if not groups:
        return result
    with ExitStack() as stack:
        connection = connect(stack, sandbox=sandbox, sandbox_seed=sandbox_seed, base_url=base_url, api_key=api_key,
                             env_file=env_file)
        result.base_url, result.sandbox = connection.base_url, sandbox
        if not connection.api_key:
            result.halt(StopKind.NO_KEY, NO_KEY)
            return result
        resume = _Resume() if preview else _open(result, stack, state_dir, connection.base_url, connection.api_key)
        if result.stop:
            return result
        client = KatanaClient(connection.base_url, connection.api_key,
                              **with_ledger(result, stack, state_dir, connection, share, client_options))
        result.requests_needed = total = requests_needed(groups, chunk, preview)
        client.ledger.expect(total)
        result.estimate = f"{total} requests at most; {wait_text(client.ledger, total)}"
        if announce:
            announce(undo_estimate(client.ledger, total, len(groups), len(removed), preview))
        undoer = Undoer(groups, client, preview=preview, chunk=chunk, journal=resume.undo, run_id=result.run_id,
                        resumed=resume.posts, done=resume.done, earlier=resume.earlier, recheck=recheck,
                        interrupt=interrupt, progress=progress, concurrency=concurrency, requests_total=total)
        _run(result, undoer, client)
        result.notes.extend(getattr(client.ledger, "notes", []))
        _finish(result, resume)
    return result


def _not_removed(groups: dict[tuple[str, int], list[Wanted]], apply_run_id: str | None,
                 state_dir) -> dict[int, str]:
    """Records the apply did not remove (a results file edited by hand: a serial typed over, a row
    added), when this computer's journal still knows what it removed; they leave ``groups``.
    Putting one back would create a serial that was never there."""
    removed = Journal.removed_by(state_dir, apply_run_id) if apply_run_id else None
    if removed is None:
        return {}
    problems: dict[int, str] = {}
    for res in list(groups):
        kept = [w for w in groups[res] if (w.old_id, w.serial) in removed.get(res, set())]
        for w in groups[res]:
            if w not in kept:
                problems[w.position] = (f"apply run {apply_run_id} did not remove record {w.old_id} ({w.serial!r}) "
                                        f"from {staff_resource(*res)}, as its journal on this computer shows; "
                                        "nothing was sent for it (was the results file edited?)")
        if kept:
            groups[res] = kept
        else:
            del groups[res]
    return problems


def _open(result: UndoResult, stack: ExitStack, state_dir, base_url: str, api_key: str) -> _Resume:
    """The journal, locked for these records and this Katana account; the interrupted attempt resumed
    or a new undo started. On failure the result is halted with the reason."""
    resume = _Resume()
    key = result.removed.key(base_url, api_key)

    def prepare(journal: Journal) -> None:
        undo_journal = resume.undo = UndoJournal(journal)
        latest = undo_journal.latest(key)
        if latest and not latest.finished_at:
            result.run_id = latest.run_id
            resume.posts, resume.done = undo_journal.posts(latest.run_id), undo_journal.outcomes(latest.run_id)
            result.notes.append(f"Resumed the unfinished undo {latest.run_id} started {latest.started_at}: what it "
                                "sent was listed again before anything more was sent.")
        else:
            undo_journal.start(key, result.run_id, result.display_name, result.apply_run_id, base_url,
                               result.started_at)
            if latest:
                result.notes.append(f"Undone before on {latest.finished_at} (run {latest.run_id}); Katana was checked "
                                    "again, so every record shows what is on its resource today.")
        resume.earlier = undo_journal.earlier(key, result.run_id)

    if open_journal(result, stack, state_dir, key, prepare, what="undo of these removed records") is None:
        return _Resume()
    return resume


def _run(result: UndoResult, undoer: Undoer, client: KatanaClient) -> None:
    """Run to the end, or to a stop that leaves every record with a true status."""
    async def go() -> None:
        async with client:
            await undoer.run()

    try:
        run_sync(go())
    except KeyboardInterrupt:
        undoer.stopped(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
    except StorageError as exc:
        undoer.stopped(exc.stop_kind, str(exc))
    except Exception as exc:  # a bug must not leave records with a false status
        undoer.stopped(StopKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        log.exception("undo stopped by an internal error")
    finally:
        undoer.finalise()
        result.requests = client.stats.as_dict()
        result.record(undoer.outcomes, undoer.stop, undoer.notes)
        result.finished_at = iso(client.clock.now())


def _finish(result: UndoResult, resume: _Resume) -> None:
    """An undo whose every record reached a final outcome is finished in the journal: the next one
    starts anew (and says what this one put back)."""
    if resume.undo is None or not result.complete:
        return
    try:
        resume.undo.finish(result.run_id, result.finished_at, result.counts())
    except StorageError as exc:  # every record is settled: the next undo checks them again
        result.halt(exc.stop_kind, str(exc))


__all__ = ["CHUNK", "RECHECK", "run_undo", "undo", "undo_result"]
