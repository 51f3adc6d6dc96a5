"""CSV in, CSV out: the annotated rows as text, and an apply's removed records beside them."""

from __future__ import annotations

import codecs
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import RESULT_COLUMNS, RESULT_NAMES
from ..mapping import REMOVED_COLUMNS
from ..reader import SourceFile
from ..textbytes import arrow_text, holding
from ..cell_text import cells_as_text
from .rows import defuse_formulas, id_text, sheet_slices

#: Rows per block of the CSV writer: bounds the memory of the text it builds.
_CSV_CHUNK = 100_000


def write_csv(path: Path, source: SourceFile, rows: pd.DataFrame) -> None:
    """The annotated rows as CSV: UTF-8 with BOM (so Excel reads accents), the
    input's delimiter, cells as the workbook showed them (3001, not 3001.0).

    Several sheets share one table: columns are aligned by header, the sheet
    name goes first and the result columns last. Their labels carry a NUL
    suffix so an input column that is also called ``serial_id`` or ``sheet``
    never collides with ours.
    """
    frames = []
    many = len(source.sheets) > 1
    ours = [f"{name}\x00result" for name in RESULT_NAMES]
    for sheet, part in sheet_slices(source, rows):
        data = sheet.data.set_axis(_unique(sheet.header), axis=1)  # copy-on-write: no copy made
        if many:
            data.insert(0, "sheet\x00result", sheet.name)
        results = part[[column.source for column in RESULT_COLUMNS]].set_axis(ours, axis=1)  # as values, for now
        frames.append(pd.concat([data.reset_index(drop=True), results.reset_index(drop=True)], axis=1))
    out = pd.concat(frames, ignore_index=True) if many else frames[0]
    if many:
        out = out[[c for c in out.columns if c not in ours] + ours]
    header = [n.split("\x00")[0] for n in out.columns]
    del frames
    delimiter = source.delimiter if source.kind == "csv" else ","
    with path.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        if not many:
            _write_preamble(handle, source.sheets[0].preamble, delimiter)
        handle.write(csv_lines([defuse_formulas(pd.Series([name], dtype="str")) for name in header], delimiter))
        for name, column in zip(ours, RESULT_COLUMNS):  # few distinct values: made text once, not per block
            out[name] = _result_text(out[name], column.kind)

        def text_of(start: int) -> memoryview:
            block = out.iloc[start : start + _CSV_CHUNK]
            return csv_lines([defuse_formulas(cells_as_text(block[name])) for name in block.columns], delimiter)

        for text in _two_at_a_time(text_of, range(0, len(out), _CSV_CHUNK)):
            handle.write(text)


def _two_at_a_time(make, items):
    """``make(item)`` for each item, in order, two being made at once: the CSV text of a block is
    Arrow's work, done outside the GIL, so two cores share it. At most three results are held."""
    items = list(items)
    with ThreadPoolExecutor(2) as makers:
        coming = deque(makers.submit(make, item) for item in items[:2])
        for item in items[2:]:
            done = coming.popleft().result()
            coming.append(makers.submit(make, item))
            yield done
        while coming:
            yield coming.popleft().result()


def _result_text(values: pd.Series, kind: str) -> pd.Series:
    """A result column as the text written: ids as their digits ("" where there is none)."""
    return id_text(values) if kind == "id" else cells_as_text(values)


def write_removed_csv(path: Path, removed: pd.DataFrame) -> None:
    frame = removed.reindex(columns=list(REMOVED_COLUMNS))
    columns = [defuse_formulas(cells_as_text(frame[c].astype(object))) for c in frame.columns]
    with path.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        handle.write(csv_lines([pd.Series([c], dtype="str") for c in frame.columns], ","))
        handle.write(csv_lines(columns, ","))


def _write_preamble(handle, preamble: list[list], delimiter: str) -> None:
    """Title rows above the header go back where they were, as text."""
    for cells in preamble:
        texts = [defuse_formulas(cells_as_text(pd.Series([c], dtype=object))) for c in cells] or \
            [pd.Series([""], dtype="str")]
        handle.write(csv_lines(texts, delimiter))


def csv_lines(columns: list[pd.Series], delimiter: str) -> memoryview:
    """CSV lines (CRLF-terminated, UTF-8) of equally long text columns, built
    column-wise with pyarrow instead of row by row.

    Quoting is Python's csv QUOTE_MINIMAL: a cell holding the delimiter, a
    quote, CR or LF is quoted and its quotes doubled.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def scalar(text: str):
        return pa.scalar(text, type=pa.large_string())

    quote, empty = scalar('"'), scalar("")
    cells = []
    for column in columns:
        text = arrow_text(column).fill_null(empty)
        needs_quotes = holding(text, f'{delimiter}"\r\n')
        if needs_quotes is not None:
            quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, empty)
            text = pc.if_else(pa.array(needs_quotes), quoted, text)
        cells.append(text)
    lines = pc.binary_join_element_wise(*cells, scalar(delimiter))
    lines = pc.binary_join_element_wise(lines, empty, scalar("\r\n"))  # each line + CRLF
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def _unique(header: list[str]) -> list[str]:
    """Column labels that keep the header text but may repeat safely (split on NUL)."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}\x00{seen[name]}")
    return out
