"""Rows that close a table rather than belong to it: totals, subtotals and notes.

People end a list with a ``Total`` row (a label, a ``=COUNTA`` of the
serials, the key cells blank) or a line of notes under it. Read as data such
a row would be ``invalid``, ask for a fix that nobody should make and turn
the exit code to 1. :func:`ignored_rows` finds them so they become
``ignored``, with a message saying what they were taken for.

It stays careful: only a row that failed validation can be ignored, and only
when it sits in the block of such rows at the bottom of the sheet (a label,
a formula written as text, or no key cell filled) or its first filled cell
is a total's label ("Subtotal" between two groups). An incomplete data row
in the middle of the table stays ``invalid``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .mapping import ColumnMapping

_TOTAL = r"grand\s*total|sub[\s\-_]*totals?|totals?|sum|count"
_NOTE = r"notes?|comments?|remarks?|n\.\s*b\."
_LABEL = re.compile(rf"\s*(?:(?P<total>{_TOTAL})|(?P<note>{_NOTE}))(?![^\W\d_])", re.IGNORECASE)
_FORMULA = re.compile(r"\s*=\s*[A-Za-z][A-Za-z0-9._]*\s*\(")
#: Fields whose cells may hold anything (a serial "SUM-001"): never read as a label.
_VALUE_FIELDS = ("serial_id", "serial_number", "order_no", "sku")
_SHOWN = 40
#: At most this many rows below a table are totals and notes; a longer block is part of the sheet.
MOST_BELOW = 50
_KEYS_BLANK = "a note below the table"


def ignored_rows(data: pd.DataFrame, mapping: ColumnMapping, fields: pd.DataFrame,
                 invalid: np.ndarray, blank: np.ndarray) -> dict[int, str]:
    """Positions of the sheet's rows that are totals or notes, each with its message.

    ``data`` is the sheet's cells as read, ``fields`` the mapped fields as
    stripped text (same positions), ``invalid`` and ``blank`` what validation
    found of each row.
    """
    if not invalid.any():
        return {}
    keys_blank = np.ones(len(fields), dtype=bool)
    for name in mapping.columns:
        keys_blank &= (fields[name] == "").to_numpy()
    labelled = [p for p in range(data.shape[1]) if p not in _value_columns(mapping)]
    found = _below_table(data, labelled, invalid, blank, keys_blank)
    found.update({p: m for p, m in _totals_within(data, labelled, invalid).items() if p not in found})
    return found


def _value_columns(mapping: ColumnMapping) -> set[int]:
    return {mapping.columns[n] for n in _VALUE_FIELDS if n in mapping.columns}


def _below_table(data: pd.DataFrame, labelled: list[int], invalid: np.ndarray, blank: np.ndarray,
                 keys_blank: np.ndarray) -> dict[int, str]:
    """The block at the bottom: from the last row up, while each row is a total, a note or a formula.

    A block of more than :data:`MOST_BELOW` rows is no footer, and a row whose only sign is its
    blank key cells counts only under a table: a sheet of such rows alone is a sheet whose
    columns are not where its header says, and its rows stay ``invalid``.
    """
    found: dict[int, str] = {}
    table = False
    for position in range(len(data) - 1, -1, -1):
        if blank[position]:
            continue
        message = _what(data.iloc[position], labelled, keys_blank[position]) if invalid[position] else None
        if message is None:
            table = True
            break
        if len(found) == MOST_BELOW:
            return {}
        found[position] = message
    return found if table else {p: m for p, m in found.items() if not m.startswith(_KEYS_BLANK)}


def _what(cells: pd.Series, labelled: list[int], keys_blank: bool) -> str | None:
    """The message of a row below the table, or None when it looks like an incomplete data row."""
    texts = [(p, v.strip()) for p, v in cells.items() if isinstance(v, str) and v.strip()]
    for position, text in texts:
        if position in labelled:
            label = _LABEL.match(text)
            if label:
                kind = "total" if label.group("total") else "note"
                return f"a {kind} row below the table ({_quoted(text)}), not a serial to import"
    formula = next((text for _, text in texts if _FORMULA.match(text)), None)
    if formula:
        return f"a formula row below the table ({_quoted(formula)}), not a serial to import"
    if keys_blank:
        shown = f" ({_quoted(texts[0][1])})" if texts else ""
        return f"{_KEYS_BLANK}{shown}, not a serial to import: its key cells are blank"
    return None


def _totals_within(data: pd.DataFrame, labelled: list[int], invalid: np.ndarray) -> dict[int, str]:
    """Invalid rows whose first filled cell is a total's label ("Subtotal" between two groups)."""
    positions = np.flatnonzero(invalid)
    rows = data.iloc[positions]
    candidates = np.zeros(len(rows), dtype=bool)
    for position in labelled:
        column = rows.iloc[:, position]
        if pd.api.types.infer_dtype(column, skipna=True) in ("string", "mixed", "mixed-integer"):
            candidates |= column.str.match(_LABEL).fillna(False).astype(bool).to_numpy()
    found = {}
    for offset in np.flatnonzero(candidates):
        cells = rows.iloc[offset]
        first = next(((p, v) for p, v in enumerate(cells) if _filled(v)), None)
        if first and first[0] in labelled and isinstance(first[1], str):
            match = _LABEL.match(first[1])
            if match and match.group("total"):
                found[int(positions[offset])] = f"a total row ({_quoted(first[1].strip())}), not a serial to import"
    return found


def _filled(value) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


__all__ = ["ignored_rows"]
