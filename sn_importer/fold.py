"""The one writer of a result's rows: what every stage found, folded into the frame once.

Validation makes the frame (one row per input row, its status and message);
every later stage only says what it found, as values: the plan each row's
request label, the lookups which resource an order number named (or why
none), the engine one :class:`~sn_importer.outcome.Outcome` per row, a stop
why the rest were not reached. :func:`fold` writes them into a copy of the
frame, in that order, and nothing else writes a result's ``status``,
``message``, ``serial_id``, ``request`` or ``checked_at``.

Messages keep what earlier stages said: a resolved row's message begins with
the resource its order number named ("MO-3001 is ManufacturingOrder 8301"),
and a valid row's note (a serial that was stored as a number) follows the
outcome's own words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .outcome import BY_EARLIER_RUN, Outcomes, Stop
from .status import NEVER_SENT, OPEN, Status
from .cell_text import text_by_code

if TYPE_CHECKING:
    from .references import Resolution


def fold(base: pd.DataFrame, *, requests: pd.Series | None = None, resolution: "Resolution | None" = None,
         outcomes: Outcomes | None = None, stop: Stop | None = None) -> pd.DataFrame:
    """A new rows frame: ``base`` with the plan's request labels, the lookups' answers, the
    engine's outcomes and a stop written in, in that order."""
    rows = base.copy(deep=False)  # copy-on-write: only the columns written below are copied
    if requests is not None and len(requests):
        rows["request"] = _with_requests(rows["request"], requests)
    if resolution is not None:
        _resolution(rows, resolution)
    if outcomes:
        _outcomes(rows, outcomes)
    if stop is not None:  # rows no stage settled: not reached
        open_rows = rows["status"].isin([s.value for s in OPEN]) & ~rows.index.isin(list(outcomes or ()))
        rows.loc[open_rows, "status"] = Status.SKIPPED.value
        rows.loc[open_rows, "message"] = f"not reached: {stop.reason}"
        rows.loc[open_rows, "request"] = ""
    if resolution is not None and resolution.notes:
        _prefix(rows, resolution.notes)
    return rows


def _with_requests(column: pd.Series, requests: pd.Series) -> pd.Series:
    """``column`` with each planned row's request label (``requests``, by row label).

    The plan's labels are few (one per request) and rows hold them by code: they are
    taken by code into text, never turned into a Python string per row and back."""
    requests = requests.astype("category")
    codes = np.full(len(column), -1, dtype=np.int64)
    at = column.index.get_indexer(requests.index)
    if (at < 0).any():
        raise KeyError("a request label for a row the frame does not hold")
    codes[at] = requests.cat.codes.to_numpy()
    written = pd.Series(text_by_code(requests.cat.categories, codes), index=column.index)
    return written.fillna(column) if written.isna().any() else written


def _resolution(rows: pd.DataFrame, resolution: "Resolution") -> None:
    """Resolved ids filled in; rows whose order number or SKU named nothing (or too much) marked."""
    if resolution.ids:
        rows.loc[list(resolution.ids), "resource_id"] = pd.array(list(resolution.ids.values()), dtype="Int64")
    if resolution.problems:
        labels = list(resolution.problems)
        rows.loc[labels, "status"] = [p[0] for p in resolution.problems.values()]
        rows.loc[labels, "message"] = [p[1] for p in resolution.problems.values()]
        rows.loc[labels, "request"] = ""


def _outcomes(rows: pd.DataFrame, outcomes: Outcomes) -> None:
    positions = list(outcomes)
    values = list(outcomes.values())
    earlier = rows.loc[positions, ["status", "message"]].to_numpy()
    notes = [m if s == Status.VALID.value else "" for s, m in earlier]  # a valid row's message is a note
    rows.loc[positions, "status"] = [v.status.value for v in values]
    rows.loc[positions, "message"] = ["; ".join(t for t in (v.message, n) if t) for v, n in zip(values, notes)]
    given = rows.loc[positions, "serial_id"].to_numpy(dtype=object)  # an outcome without an id keeps the sheet's
    rows.loc[positions, "serial_id"] = pd.array([g if v.serial_id is None else v.serial_id
                                                 for v, g in zip(values, given)], dtype="Int64")
    rows.loc[positions, "checked_at"] = [v.checked_at for v in values]
    # the request column names what this run sent: nothing for these (an earlier run's DELETE is its message's)
    unsent = [p for p, v in zip(positions, values)
              if v.status in NEVER_SENT or v.status == Status.SKIPPED or v.cause in BY_EARLIER_RUN]
    if unsent:
        rows.loc[unsent, "request"] = ""


def _prefix(rows: pd.DataFrame, notes: dict) -> None:
    """"MO-3001 is ManufacturingOrder 8301" before each resolved row's message."""
    labels = list(notes)
    given = pd.Series(notes).to_numpy(dtype=object)
    current = rows.loc[labels, "message"].astype(str).to_numpy()
    rows.loc[labels, "message"] = np.where(current == "", given, given + "; " + current)


__all__ = ["fold"]
