"""The rows as the writers need them: each sheet's slice, the five result
columns, and text made safe from spreadsheets that would run it as a formula."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import RESULT_COLUMNS
from ..reader import SourceFile

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
    if kind == "id":
        values = values.astype("Int64").astype("string").fillna("")
    return values.to_numpy(dtype=object)


def defuse_formulas(column: pd.Series) -> pd.Series:
    """Prefix text a spreadsheet would run as a formula with an apostrophe (CSV output)."""
    if column.dtype == object:
        text = column.map(lambda v: v if isinstance(v, str) else None)
        risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
    elif pd.api.types.is_string_dtype(column.dtype):
        text = column
        risky = pd.Series(_starting_with(column, "".join(_FORMULA_START)), index=column.index)
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


def _starting_with(text: pd.Series, firsts: str) -> np.ndarray:
    """Which cells of a text column begin with one of the ASCII characters ``firsts`` (a missing
    cell does not). The first byte of every cell is read from the column's Arrow buffers and looked
    up: one pass over a million cells, where a prefix search per prefix is six."""
    import pyarrow as pa

    array = pa.array(text, type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    found = np.zeros(len(array), dtype=bool)
    data = array.buffers()[2]
    if data is None or not len(array):
        return found
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    filled = offsets[1:] > offsets[:-1]
    wanted = np.zeros(256, dtype=bool)
    wanted[list(firsts.encode())] = True
    found[filled] = wanted[np.frombuffer(data, dtype=np.uint8)[offsets[:-1][filled]]]
    if array.null_count:
        found &= array.is_valid().to_numpy(zero_copy_only=False)
    return found
