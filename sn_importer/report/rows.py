"""The rows as the writers need them: each sheet's slice, the five result
columns, and text made safe from spreadsheets that would run it as a formula."""

from __future__ import annotations

import pandas as pd

from ..columns import RESULT_COLUMNS
from ..reader import SourceFile
from ..textbytes import arrow_text, starting_with

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"


def sheet_slices(source: SourceFile, rows: pd.DataFrame):
    """Yield (sheet, that sheet's slice of the rows frame) in input order."""
    start = 0
    for sheet in source.sheets:
        yield sheet, rows.iloc[start : start + len(sheet.data)]
        start += len(sheet.data)


def result_frame(part: pd.DataFrame) -> pd.DataFrame:
    """The appended columns of one sheet's rows, as written (see :mod:`sn_importer.columns`).

    Kept as object columns: these are few distinct strings, and building text
    arrays of a million of them here would be wasted work for the writers.
    Ids become their digits ("" where there is none).
    """
    return pd.DataFrame({column.name: result_values(part[column.source], column.kind) for column in RESULT_COLUMNS},
                        dtype=object)


def result_values(values: pd.Series, kind: str):
    """One result column's values as written: ids as their digits ("" where there is none)."""
    return (id_text(values) if kind == "id" else values).to_numpy(dtype=object)


def id_text(values: pd.Series) -> pd.Series:
    """Ids as their digits, "" where there is none (a text column, not a Python string each)."""
    return values.astype("Int64").astype("str").fillna("")


def defuse_formulas(column: pd.Series) -> pd.Series:
    """Prefix text a spreadsheet would run as a formula with an apostrophe (CSV output)."""
    if column.dtype == object:
        text = column.map(lambda v: v if isinstance(v, str) else None)
        risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
    elif pd.api.types.is_string_dtype(column.dtype):
        text = column
        risky = pd.Series(starting_with(arrow_text(column), "".join(_FORMULA_START)), index=column.index)
    else:
        return column
    if not risky.any():
        return column
    # a plain number such as "-4" is data, not a formula; the regex runs on the few candidates only
    risky[risky] = ~text[risky].str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    if not risky.any():
        return column
    if column.dtype != object:  # text dtype: stay vectorised and keep the dtype
        return column.where(~risky, "'" + column)
    column = column.astype(object).copy()
    column[risky.to_numpy()] = "'" + text[risky].astype(str)
    return column
