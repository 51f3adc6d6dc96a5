"""CSV and text files read into one sheet: encoding and delimiter detected, cells kept as text.

The guard bounds every line first (:func:`sn_importer.guard.check_text`); then
pandas' C parser reads the rows under the header as text, one positional
column per header cell, so the report can give every row back untouched.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import pandas as pd

from . import formats, guard
from .errors import InputError
from .guard import LIMITS, Limits
from .header import LOOK_BELOW, locate
from .mapping import earlier_records
from .source import Sheet, SourceFile, row_spans, sheet_under
from .template import Template

DELIMITERS = (",", ";", "\t", "|")
_WIDER_ROW = ("line {line} has {cells} cells where the header has {width} (a value with an unquoted "
              "delimiter?); quote such values or add a header for the extra column")
_UNCLOSED = ("line {line} opens a quote (\") that is never closed, so every line after it would be read as "
             "one cell; close the quote or remove it")


def read_csv(path: Path, template: Template, limits: Limits = LIMITS) -> SourceFile:
    """The file's one sheet: the first of its first lines that the template recognises is the header."""
    raw = path.read_bytes()
    longest = guard.check_text(path, raw, limits)
    raw, encoding, legacy = by_line(raw, detect_encoding(path, raw))
    text = _head_text(raw, encoding, template.search_rows + LOOK_BELOW)
    try:
        delimiter = detect_delimiter(text)
        head = list(csv.reader(io.StringIO(_head(text, template.search_rows + LOOK_BELOW), newline=""),
                               delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(path, f"cannot be read as CSV ({exc})") from None
    for cells in head:
        guard.check_columns(path, len(cells), limits)
    found = locate(head, template)
    if not isinstance(found, str) and (earlier := earlier_records(found.cells)):  # removed records, an undo's report
        found = earlier
    if isinstance(found, str):
        said = [legacy_note(path, legacy)] if legacy else []
        return SourceFile(path, "csv", [], [(path.name, found)], delimiter, encoding, sheet_notes=said)
    data = _arrow_body(raw, encoding, delimiter, found.index + 1, found.width + found.dropped)
    if data is None:  # blank lines, ragged rows, wider rows, a cell over several lines: pandas' parser
        data = _parse_csv_body(path, raw.decode(encoding), delimiter, found.index, found.width + found.dropped)
    if legacy and _lines(raw) > found.index + 1 + len(data):  # a cell over several lines: lines are not rows
        legacy = rows_of_lines(raw.decode(encoding), delimiter, legacy)
    said = [legacy_note(path, legacy)] if legacy else []
    del raw
    if found.dropped:
        data = data.iloc[:, : found.width]
    sheet = sheet_under(path.stem, found, data, head, clip=False)
    if longest > limits.cell_chars:  # no line that long, no cell that long: skip the pass
        sheet.problems = oversized_cells(sheet, limits.cell_chars)
    skipped = [(path.name, sheet.unread)] if sheet.unread else []
    return SourceFile(path, "csv", [sheet], skipped, delimiter, encoding, sheet_notes=said)


def oversized_cells(sheet: Sheet, limit: int) -> dict[int, str]:
    """Rows holding a cell longer than Excel allows: position → message (the row becomes invalid)."""
    found: dict[int, list[str]] = {}
    for position, name in enumerate(sheet.header):
        lengths = sheet.data[position].str.len()
        for row, length in lengths[lengths > limit].items():
            found.setdefault(row, []).append(
                f"{name or 'a column'}: {int(length):,} characters, more than Excel's {limit:,} per cell; shorten it")
    return {row: "; ".join(messages) for row, messages in found.items()}


def _head(text: str, lines: int) -> str:
    end = 0
    for _ in range(lines):
        end = text.find("\n", end) + 1
        if end == 0:
            return text
    return text[:end]


def detect_encoding(path: Path, raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), else cp1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = raw[:4096]
    if formats.sniff(head) in ("zip", "ole"):
        raise InputError(path, "is an Excel workbook, not text; give it its .xlsx (or .xls) name")
    if b"\x00" in head:
        if head[1::2].count(0) > len(head) // 4:
            return "utf-16-le"
        if head[0::2].count(0) > len(head) // 4:
            return "utf-16-be"
        raise InputError(path, "is not a text file (binary content); expected CSV text or an .xlsx workbook")
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


#: A byte that is not UTF-8, as ``surrogateescape`` keeps it in the text.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
#: A character beyond ASCII that UTF-8 spelled (not a byte it refused).
_UTF8_LETTER = re.compile("[^\x00-\x7f\udc80-\udcff]")


def by_line(raw: bytes, encoding: str) -> tuple[bytes, str, list[int]]:
    """A file that is UTF-8 but for some lines (a row typed in on another computer, pasted from an
    older file): ``raw`` made UTF-8 throughout, each line that is not UTF-8 read as Windows-1252,
    with those lines' numbers; else ``raw`` and ``encoding`` as they are, and no lines.

    Reading the whole file as Windows-1252 because one byte is not UTF-8 would turn every UTF-8
    letter of it into two or three (Müller into MÃ¼ller), in the serials and in the columns passed
    through. A file whose only letters beyond ASCII are on lines that are not UTF-8 is a
    Windows-1252 file, read whole as one. Only a file that UTF-8 refuses takes this pass: one
    decoding in C that keeps the bytes it refuses, then a look at each line holding one.
    """
    if encoding not in ("utf-8-sig", "cp1252", "latin-1"):
        return raw, encoding, []
    body = raw[3:] if encoding == "utf-8-sig" else raw
    if encoding == "utf-8-sig":
        try:
            body.decode("utf-8")
            return raw, encoding, []
        except UnicodeDecodeError:
            pass
    text = body.decode("utf-8", "surrogateescape")
    if _UTF8_LETTER.search(text) is None:  # no letter beyond ASCII is UTF-8: a Windows-1252 file
        return raw, encoding, []
    pieces, legacy, start, line, utf8 = [], [], 0, 1, False
    for found in _NOT_UTF8.finditer(text):
        if found.start() < start:  # the rest of a line already read
            continue
        begin = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        end = len(text) if end < 0 else end
        good = text[start:begin]
        utf8 = utf8 or not good.isascii()
        line += good.count("\n")
        pieces += [good, _windows(text[begin:end].encode("utf-8", "surrogateescape"))]
        legacy.append(line)
        start = end
    rest = text[start:]
    if not (utf8 or not rest.isascii()) and encoding != "utf-8-sig":
        return raw, encoding, []
    return "".join([*pieces, rest]).encode("utf-8"), "utf-8", legacy


def _windows(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return line.decode("latin-1")


def legacy_note(path: Path, rows: list[int]) -> str:
    """The sentence that says which rows of a UTF-8 file were read as Windows-1252."""
    those = "that row" if len(set(rows)) == 1 else "those rows"
    return (f"{path.name}: some lines are not UTF-8 and were read as Windows-1252 ({row_spans(rows)}); "
            f"the rest as UTF-8. Check the accented letters of {those}.")


def rows_of_lines(text: str, delimiter: str, lines: list[int]) -> list[int]:
    """The rows (records, as a spreadsheet numbers them) that hold the file's ``lines``: where a cell
    runs over several lines, a line's number is not its row's."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    wanted, rows, first = sorted(lines), set(), 1
    try:
        for record, _ in enumerate(reader, start=1):
            while wanted and wanted[0] <= reader.line_num:
                if wanted.pop(0) >= first:
                    rows.add(record)
            if not wanted:
                break
            first = reader.line_num + 1
    except csv.Error:
        return lines
    return sorted(rows)


def detect_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the most of the first lines the same way."""
    sample = _head(text, 50)
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        # newline="": the csv module's own rule, else a CR inside a quoted cell raises csv.Error
        counts = [len(r) for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r]
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        mode = max(set(multi), key=multi.count)
        score = (multi.count(mode), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _head_text(raw: bytes, encoding: str, lines: int) -> str:
    """The first ``lines`` lines as text (the whole file's encoding was checked already)."""
    sample = 64 * 1024
    while True:
        text = raw[:sample].decode(encoding, errors="ignore")
        if sample >= len(raw) or text.count("\n") > lines:
            return text
        sample *= 4


def _arrow_body(raw: bytes, encoding: str, delimiter: str, skip: int, width: int) -> pd.DataFrame | None:
    """The rows under the header as text with pyarrow's CSV reader (a multiple of pandas' speed), or None
    when the file is not a plain rectangle (a blank line, a short or long row), for :func:`_parse_csv_body`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if encoding == "utf-8-sig":
        raw = raw[3:]
    elif encoding != "utf-8":
        raw = raw.decode(encoding).encode("utf-8")
    names = [str(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(raw),
            read_options=pacsv.ReadOptions(skip_rows=skip, column_names=names, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if skip + table.num_rows < _lines(raw):
        # A cell holds a line break. Arrow reads a quote left open as running to the end of the
        # file (every later row swallowed into one cell); pandas' parser refuses it, with its line.
        return None
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    data = table.to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)
    data.columns = range(width)
    return data


def _parse_csv_body(path: Path, text: str, delimiter: str, header_index: int, width: int) -> pd.DataFrame:
    """The rows under the header as text, one positional column per header cell.

    ``index_col=False``: without it pandas silently turns the first column of
    a file whose first data row has one cell too many into the index, shifting
    every value one column left. Empty cells past the header's width (rows
    ending in a delimiter) are dropped; a row with a value there is refused.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            data = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                header=None,
                skiprows=header_index + 1,
                names=list(range(width)),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except pd.errors.EmptyDataError:
        return pd.DataFrame({i: pd.Series([], dtype=str) for i in range(width)})
    except pd.errors.ParserError as exc:
        raise InputError(path, _parser_problem(str(exc), text, delimiter, header_index + 1, width)) from None
    wider = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    if wider:
        found = _first_wider(text, delimiter, header_index + 1, width)
        if found:
            raise InputError(path, _WIDER_ROW.format(line=found[0], cells=found[1], width=width))
    return data.fillna("")


def _parser_problem(error: str, text: str, delimiter: str, skip: int, width: int) -> str:
    """pandas' refusal in the sheet's terms, with the line a person finds in an editor."""
    if "EOF inside string" in error:
        return _UNCLOSED.format(line=_last_record_line(text, delimiter))
    found = _first_wider(text, delimiter, skip, width)
    if found:
        return _WIDER_ROW.format(line=found[0], cells=found[1], width=width)
    return f"rows do not fit the header: {error}"


def _first_wider(text: str, delimiter: str, skip: int, width: int) -> tuple[int, int] | None:
    """The first row below the header with a non-empty cell beyond ``width``: (its first line in the
    file, its number of cells up to its last non-empty one), or None (rare: a slow pass)."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for n, row in enumerate(rows):
            if n >= skip and any(c.strip() for c in row[width:]):
                cells = max(i for i, c in enumerate(row) if c.strip()) + 1
                return line, cells
            line = rows.line_num + 1
    except csv.Error:
        return None
    return None


def _last_record_line(text: str, delimiter: str) -> int:
    """The line on which the file's last row starts (where a quote left open begins)."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = start = 1
    try:
        for _ in rows:
            start, line = line, rows.line_num + 1
    except csv.Error:
        pass
    return start


def _lines(raw: bytes) -> int:
    """How many lines ``raw`` holds (LF, CRLF or CR endings; a last line without one counts)."""
    breaks = raw.count(b"\n") or raw.count(b"\r")
    return breaks + (1 if raw and not raw.endswith((b"\n", b"\r")) else 0)


#: The guard bounds every line, so no field is longer than a line limit; the csv module's own
#: default (131,072) would otherwise stop a long note with a traceback.
csv.field_size_limit(max(csv.field_size_limit(), 4 * LIMITS.line_bytes))



__all__ = ["DELIMITERS", "by_line", "detect_delimiter", "detect_encoding", "legacy_note", "oversized_cells",
           "read_csv"]
