"""Cells as the text a spreadsheet shows: whole numbers without a spurious '.0', TRUE and FALSE, blanks "".

Reading, validation, the rows frame and the reports all turn cells into text
the same way, so a serial reads the same in the checks, the output and the
page. Columns are converted a column at a time (by numpy, or Arrow by code
for the few distinct values of a results column); only a column that mixes
numbers with text or dates goes cell by cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_text(column: pd.Series) -> pd.Series:
    """Cells as stripped text; numbers from Excel without a spurious '.0'."""
    return cells_as_text(column).str.strip()


def as_id_text(column: pd.Series) -> pd.Series:
    """As :func:`as_text`, but a whole number of any size in its digits ("9223372036854775808", not
    Excel's "9.22337E+18"): what an id's checks judge, so one too large to be an id is called that,
    not "not a whole number". Only a column holding numbers of 16 digits or more costs more."""
    text = as_text(column)
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind == "floating":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            big = np.flatnonzero(np.isfinite(values) & (np.abs(values) >= 1e15) & (values == np.floor(values)))
    elif kind in ("mixed", "mixed-integer-float"):
        big = [i for i, v in enumerate(column.to_numpy()) if isinstance(v, float) and abs(v) >= 1e15
               and v.is_integer()]
    else:
        return text
    if len(big):
        text = text.copy()
        text.iloc[big] = [str(int(v)) for v in column.iloc[big]]
    return text


def cells_as_text(column: pd.Series) -> pd.Series:
    """Cells as the text a spreadsheet shows (not stripped); blanks are "".

    Only a column that mixes in numbers, dates or booleans (a workbook's) goes
    cell by cell through :func:`cell_text`; text is converted in one vectorised
    step, and numbers a distinct value at a time, so a million rows stay fast.
    """
    kind = pd.api.types.infer_dtype(column, skipna=True) if column.dtype == object else "typed"
    if kind in ("typed", "string", "empty"):  # one type, or text already: into Arrow as it is
        return column.astype("str").fillna("")
    if kind == "floating":  # a workbook's numbers: calamine gives every one as a float
        return _floats_as_text(column)
    if kind != "integer":
        column = column.map(cell_text, na_action=None)
    # text per distinct value, then taken by code: cheap for the few-valued columns of results
    codes, uniques = pd.factorize(column)
    return pd.Series(text_by_code(uniques, codes), index=column.index).fillna("")


def text_by_code(values, codes: np.ndarray):
    """Text column of ``values[code]`` for each code (-1: missing): the few distinct values are made
    text once and taken by code in Arrow, never a Python string per row converted one by one."""
    return pd.array(np.asarray(values, dtype=object).astype(str), dtype="str").take(codes, allow_fill=True)


def _floats_as_text(column: pd.Series) -> pd.Series:
    """:func:`cell_text` of a column of floats (and blanks): each distinct value made text once (the whole
    ones at once), then taken by code (an id column of 20,000 rows has a thousand distinct values)."""
    codes, values = pd.factorize(column.to_numpy(dtype=float, na_value=np.nan))  # NaN: code -1
    whole = (np.abs(values) < 1e15) & (values == np.floor(values))  # infinities are not
    text = np.full(len(values), "", dtype=object)
    text[whole] = values[whole].astype(np.int64).astype(str)
    rest = np.flatnonzero(~whole)
    text[rest] = [cell_text(float(value)) for value in values[rest]]
    return pd.Series(text_by_code(text, codes), index=column.index).fillna("")


def cell_text(cell) -> str:
    """One cell as a spreadsheet shows it: TRUE/FALSE, whole numbers without '.0', blanks empty."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell).upper()
    if isinstance(cell, float):
        if cell != cell:
            return ""
        if cell.is_integer() and abs(cell) < 1e15:
            return str(int(cell))
        return f"{cell:.6G}" if abs(cell) >= 1e15 else repr(cell)
    return str(cell)


__all__ = ["as_id_text", "as_text", "cell_text", "cells_as_text", "text_by_code"]
