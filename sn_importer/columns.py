"""The result columns: the one table every writer of results reads.

Each run appends the same columns right of every read sheet's header: the
annotated workbook, the workbook rebuilt for .xls/.ods/CSV input, the CSV
report and the run's own frame all take their names, order, widths and kinds
from :data:`RESULT_COLUMNS`. Adding an output column is a row here plus the
code that computes its value into the rows frame (``source``).

This module imports nothing heavy: the command line's start-up reads it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResultColumn:
    """One appended column: its header ``name``, its ``width`` in a workbook
    (characters), the rows-frame column it is taken from (``source``) and its
    ``kind``: ``text`` (always written as text, never as a formula) or ``id``
    (a whole number, written as a number)."""

    name: str
    width: int
    source: str
    kind: str = "text"


RESULT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("status", 16, "status"),
    ResultColumn("message", 60, "message"),
    ResultColumn("serial_id", 12, "serial_id", "id"),
    ResultColumn("request", 46, "request"),
    ResultColumn("checked_at", 22, "checked_at"),
)

#: The names alone, in order (what a results file fed back in ends with).
RESULT_NAMES: tuple[str, ...] = tuple(c.name for c in RESULT_COLUMNS)

#: The column whose cells are coloured by outcome.
STATUS_COLUMN = "status"
#: The column whose text wraps in its width (a message can be longer than the column is wide).
MESSAGE_COLUMN = "message"

__all__ = ["MESSAGE_COLUMN", "RESULT_COLUMNS", "RESULT_NAMES", "STATUS_COLUMN", "ResultColumn"]
