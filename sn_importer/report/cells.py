"""The result cells of a sheet as SpreadsheetML, built column-wise.

A 100,000-row sheet has half a million result cells; their XML is built with
pyarrow's string kernels a column at a time (escape, prefix, join), not a cell
at a time in Python. Text goes in as inline strings, so the workbook's shared
strings part stays as it was; text is always text, never a formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import MESSAGE_COLUMN, RESULT_COLUMNS, STATUS_COLUMN
from ..xlsx import column_letters
from .xmledit import ILLEGAL_XML, text

_ESCAPED = "[&<>" + ILLEGAL_XML[1:]  # what the escaping below changes: markup, or a character XML forbids


def header_cells(row: int, first: int, style: int | None, names=None, p: bytes = b"") -> bytes:
    """The result columns' header cells on ``row``, in the header's own style; ``p`` is the sheet's
    namespace prefix (``b"x:"`` where its elements are written ``<x:c>``)."""
    s = b' s="%d"' % style if style else b""
    names = names or [c.name for c in RESULT_COLUMNS]
    return b"".join(b'<%sc r="%s%d"%s t="inlineStr"><%sis><%st>%s</%st></%sis></%sc>'
                    % (p, column_letters(first + i).encode(), row, s, p, p, text(name), p, p, p)
                    for i, name in enumerate(names))


def result_cells(frame: pd.DataFrame, numbers, first: int, status_styles: dict[str, int],
                 p: bytes = b"", wrapped: int | None = None) -> list[bytes]:
    """Each row's result cells (b"" where it has none), from :func:`.rows.result_frame`'s frame, with
    the sheet's namespace prefix ``p`` on every element (a sheet written ``<x:row><x:c>``, as the
    Open XML SDK writes them, holds no element outside that namespace).

    A result column holds few distinct values (a status, a message, a request's label), so each
    distinct value's XML after the reference is made once and taken by code; a column with
    nothing in it is skipped whole (a check's serial ids, messages and times). The message column's
    cells take the style ``wrapped`` (text wrapped in the column's width: a message longer than the
    column would otherwise be cut off by the serial id beside it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(frame):
        return []
    rows = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.large_string())
    parts = []
    for offset, column in enumerate(RESULT_COLUMNS):
        values = pa.array(frame[column.name].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
        encoded = values.dictionary_encode()
        wrap = wrapped if column.name == MESSAGE_COLUMN else None
        tails = _tails(pc, encoded.dictionary, column, status_styles, p.decode("ascii"), wrap)  # null for "": no cell
        if tails.null_count == len(tails):
            continue
        start = _scalar(f'<{p.decode("ascii")}c r="{column_letters(first + offset)}')
        parts.append(pc.binary_join_element_wise(start, rows, tails.take(encoded.indices), _scalar("")))
    if not parts:
        return [b""] * len(frame)
    # "replace", not "skip": pyarrow 26's "skip" drops a row whose inputs are all null
    joined = pc.binary_join_element_wise(*parts, _scalar(""), null_handling="replace", null_replacement="")
    return joined.cast(pa.large_binary()).to_pylist()


def _tails(pc, words, column, status_styles: dict[str, int], p: str, style: int | None = None):
    """Each distinct value's cell from the end of its reference on; null for "" (no cell)."""
    if column.kind == "id":
        tails = _join(pc, f'"><{p}v>', words, f"</{p}v></{p}c>")
    else:
        style = _styles(words, status_styles) if column.name == STATUS_COLUMN else \
            _scalar(f' s="{style}"' if style else "")
        tails = _join(pc, '"', style, f' t="inlineStr"><{p}is><{p}t xml:space="preserve">', _escaped(pc, words),
                      f"</{p}t></{p}is></{p}c>")
    return pc.if_else(pc.equal(words, _scalar("")), _scalar(None), tails)


def _scalar(value: str):
    import pyarrow as pa

    return pa.scalar(value, pa.large_string())


def _join(pc, *pieces):
    return pc.binary_join_element_wise(*[_scalar(p) if isinstance(p, str) else p for p in pieces], _scalar(""))


def _escaped(pc, values):
    if not pc.any(pc.match_substring_regex(values, _ESCAPED)).as_py():  # most columns: nothing to escape
        return values
    values = pc.replace_substring_regex(values, ILLEGAL_XML, "")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, raw, entity)
    return values


def _styles(words, status_styles: dict[str, int]):
    """` s="N"` for each distinct status (its colour)."""
    import pyarrow as pa

    return pa.array([f' s="{status_styles[w]}"' if w in status_styles else "" for w in words.to_pylist()],
                    type=pa.large_string())
