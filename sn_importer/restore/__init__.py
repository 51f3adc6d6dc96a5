"""Undo: put back what an apply removed, verified the way the apply was.

A pipeline of its own, in the file list's order:

    records.py   read an apply's results: its Removed sheet or removed-records CSV
    rules.py     the truth rules: already there, cannot be put back, restored only when listed after
    runner.py    the I/O: list, POST (journalled before it is sent), list again until believed
    journal.py   the undo's tables in the crash-safety journal
    run.py       connection, journal, quota, runner → an UndoResult
    result.py    the undo's result: rows, counts, exit code, --json, write
    report.py    the report: one row per removed record and a Summary (.xlsx or CSV)
    show.py      the result in Jupyter

    import sn_importer as sn
    undone = sn.undo("serials.results.xlsx", base_url=..., preview=True)   # or result.undo() on an apply
"""

from __future__ import annotations

from .result import UndoResult
from .run import run_undo, undo, undo_result

__all__ = ["UndoResult", "run_undo", "undo", "undo_result"]
