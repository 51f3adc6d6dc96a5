"""Past runs as the journal recorded them: what a History page lists.

Front ends read the journal's history through :func:`read_history`, never
through its tables: the applies this computer ran (from the command line, a
drop folder or the web page), newest first, and for each run key a front end
kept, the journal's run of that key (so a run confirmed on the page but cut
off before its end can be found again), and each apply's undos (``sn-importer
undo``, from any front end).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .journal import Journal, PastRun


@dataclass(frozen=True)
class History:
    """``runs``: newest first, each with ``run_id``, ``input``, ``template``, ``base_url``,
    ``started_at``, ``finished_at`` and ``statuses``; ``by_key``: the journal's run of each key asked about."""

    runs: list[dict] = field(default_factory=list)
    by_key: dict[str, PastRun] = field(default_factory=dict)
    #: Apply run id → its undos, newest first (``run_id``, ``results``, ``started_at``, ``finished_at``, ``statuses``).
    undos: dict[str, list[dict]] = field(default_factory=dict)


def read_history(state_dir: str | Path | None = None, limit: int = 200, keys: Iterable[str] = ()) -> History:
    """The latest ``limit`` runs in the journal of ``state_dir``, and its run of each of ``keys``."""
    from .restore.journal import UndoJournal

    journal = Journal(Path(state_dir) if state_dir else None)
    try:
        found = {key: journal.past_run(key) for key in keys}
        runs, undo = journal.history(limit=limit), UndoJournal(journal)
        undos = {run["run_id"]: undone for run in runs if (undone := undo.runs_of(run["run_id"]))}
        return History(runs, {key: run for key, run in found.items() if run is not None}, undos)
    finally:
        journal.close()


__all__ = ["History", "read_history"]
