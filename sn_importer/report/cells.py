"""The result cells of a sheet as SpreadsheetML, built column-wise.

A 100,000-row sheet has half a million result cells; their XML is built with
pyarrow's string kernels a column at a time (escape, prefix, join), not a cell
at a time in Python. Text goes in as inline strings, so the workbook's shared
strings part stays as it was; text is always text, never a formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import RESULT_COLUMNS, STATUS_COLUMN
from ..xlsx import column_letters
from .xmledit import text

_ILLEGAL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"
_ESCAPED = "[&<>\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"  # what the escaping below changes


def header_cells(row: int, first: int, style: int | None, names=None) -> bytes:
    """The result columns' header cells on ``row``, in the header's own style."""
    s = b' s="%d"' % style if style else b""
    names = names or [c.name for c in RESULT_COLUMNS]
    return b"".join(b'<c r="%s%d"%s t="inlineStr"><is><t>%s</t></is></c>'
                    % (column_letters(first + i).encode(), row, s, text(name)) for i, name in enumerate(names))


def result_cells(frame: pd.DataFrame, numbers, first: int, status_styles: dict[str, int]) -> list[bytes]:
    """Each row's result cells (b"" where it has none), from :func:`.rows.result_frame`'s frame."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(frame):
        return []
    rows = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.large_string())
    empty = pa.scalar("", pa.large_string())
    parts = []
    for offset, column in enumerate(RESULT_COLUMNS):
        values = pa.array(frame[column.name].to_numpy(dtype=object), type=pa.large_string(),
                          from_pandas=True).fill_null(empty)
        start = pc.binary_join_element_wise(_scalar(f'<c r="{column_letters(first + offset)}'), rows, empty)
        if column.kind == "id":
            cell = _join(pc, start, '"><v>', values, "</v></c>")
        else:
            style = _styles(values, status_styles) if column.name == STATUS_COLUMN else _scalar("")
            cell = _join(pc, start, '"', style, ' t="inlineStr"><is><t xml:space="preserve">', _escaped(pc, values),
                         "</t></is></c>")
        parts.append(pc.if_else(pc.equal(values, empty), empty, cell))
    joined = pc.binary_join_element_wise(*parts, empty).cast(pa.large_binary())
    return joined.to_pylist()


def _scalar(value: str):
    import pyarrow as pa

    return pa.scalar(value, pa.large_string())


def _join(pc, *pieces):
    return pc.binary_join_element_wise(*[_scalar(p) if isinstance(p, str) else p for p in pieces], _scalar(""))


def _escaped(pc, values):
    if not pc.any(pc.match_substring_regex(values, _ESCAPED)).as_py():  # most columns: nothing to escape
        return values
    values = pc.replace_substring_regex(values, _ILLEGAL, "")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, raw, entity)
    return values


def _styles(values, status_styles: dict[str, int]):
    """` s="N"` per status cell (its colour), taken by code from the few distinct statuses."""
    import pyarrow as pa

    codes, uniques = pd.factorize(np.asarray(values.to_numpy(zero_copy_only=False), dtype=object))
    texts = np.asarray([f' s="{status_styles[u]}"' if u in status_styles else "" for u in uniques] + [""],
                       dtype=object)
    return pa.array(texts[codes], type=pa.large_string())
