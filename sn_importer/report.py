"""The annotated output: the user's own sheets with a status on every row.

Last stage of the pipeline. Every input sheet is written back under its own
name, every row in its original order and every original column as it was,
followed by ``status``, ``message``, ``serial_id``, ``request`` and
``checked_at``; a ``Summary`` sheet and a ``Removed`` sheet (the records of
every detached serial, as they were before) go beside them. Text that a
spreadsheet would run as a formula is written as text. The file is written to
a temporary name and renamed, so a crash never leaves half a report.
"""

from __future__ import annotations

import codecs
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UsageError
from .mapping import REMOVED_COLUMNS, RESULT_COLUMNS
from .reader import SourceFile
from .status import COLOURS
from .validate import cells_as_text

#: Rows per block of the CSV writer: bounds the memory of the text it builds.
_CSV_CHUNK = 200_000

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"


@dataclass
class ReportFacts:
    """What the Summary sheet tells besides the counts."""

    facts: list[tuple[str, object]]  # label → value, in order
    mapping: list[tuple[str, str, str]]  # sheet, field, source
    skipped_sheets: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def default_output_path(input_path: Path, kind: str) -> Path:
    suffix = ".results.csv" if kind == "csv" else ".results.xlsx"
    return input_path.with_name(input_path.stem + suffix)


def write_report(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                 removed: pd.DataFrame | None = None) -> Path:
    """Write the annotated copy to ``path`` (.xlsx or .csv by extension), atomically.

    ``removed`` is given for an apply: the records of the detached serials
    (the ``Removed`` sheet, or ``<stem>.removed.csv`` beside a CSV report).
    """
    path = Path(path)
    if path.resolve() == source.path.resolve():
        raise UsageError(f"the output {path} would overwrite the input; choose another --output")
    if path.suffix.lower() in {".csv", ".txt", ".tsv"}:
        with atomic_path(path) as tmp:
            _write_csv(tmp, source, rows)
        if removed is not None:  # an apply: its audit trail goes beside it, even when empty
            with atomic_path(removed_path(path)) as tmp:
                _write_removed_csv(tmp, removed)
    elif path.suffix.lower() in {".xlsx", ".xlsm"}:
        with atomic_path(path) as tmp:
            _write_xlsx(tmp, source, rows, facts, removed)
    else:
        raise UsageError(f"cannot write {path.suffix!r} output; use .xlsx or .csv")
    return path


def removed_path(path: Path) -> Path:
    """Where a CSV report keeps its Removed records: ``<stem>.removed.csv`` beside it."""
    return path.with_name(f"{path.stem}.removed.csv")


def keep_earlier_apply_report(path: Path) -> Path | None:
    """Move an earlier apply's report at ``path`` aside, so a later run never
    erases its Removed records (the audit trail); return where it went."""
    if not path.is_file() or not _is_apply_report(path):
        return None
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    kept, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}"), 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
    os.replace(path, kept)
    if removed_path(path).is_file():
        os.replace(removed_path(path), removed_path(kept))
    return kept


def _is_apply_report(path: Path) -> bool:
    if path.suffix.lower() not in {".xlsx", ".xlsm"}:
        return removed_path(path).is_file()
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
    except Exception:  # not a workbook we can read: not ours to keep
        return False
    try:
        for sheet in book.worksheets:
            if sheet.title.startswith("Summary"):
                for label, value in sheet.iter_rows(max_row=15, max_col=2, values_only=True):
                    if label == "Mode":
                        return value == "apply"
        return False
    finally:
        book.close()


def _write_removed_csv(path: Path, removed: pd.DataFrame) -> None:
    frame = removed.reindex(columns=list(REMOVED_COLUMNS))
    columns = [defuse_formulas(cells_as_text(frame[c].astype(object))) for c in frame.columns]
    with path.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        handle.write(csv_lines([pd.Series([c], dtype="str") for c in frame.columns], ","))
        handle.write(csv_lines(columns, ","))


@contextmanager
def atomic_path(path: Path):
    """A temporary name beside ``path``, renamed onto it when the block succeeds.

    The writer creates the file itself (not ``mkstemp``, which makes it
    owner-only), so the umask decides who may read the results in a shared
    folder; a crash leaves the old file, never half a new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sheet_slices(source: SourceFile, rows: pd.DataFrame):
    """Yield (sheet, that sheet's slice of the rows frame) in input order."""
    start = 0
    for sheet in source.sheets:
        yield sheet, rows.iloc[start : start + len(sheet.data)]
        start += len(sheet.data)


def result_frame(part: pd.DataFrame) -> pd.DataFrame:
    """The five appended columns of one sheet's rows, as written.

    Kept as object columns: these are few distinct strings, and building text
    arrays of a million of them here would be wasted work for both writers.
    """
    return pd.DataFrame({
        "status": part["status"].to_numpy(dtype=object),
        "message": part["message"].to_numpy(dtype=object),
        "serial_id": part["serial_id"].astype("Int64").astype("string").fillna("").to_numpy(dtype=object),
        "request": part["request"].to_numpy(dtype=object),
        "checked_at": part["checked_at"].to_numpy(dtype=object),
    }, dtype=object)


# --- CSV ---------------------------------------------------------------------


def _write_csv(path: Path, source: SourceFile, rows: pd.DataFrame) -> None:
    """The annotated rows as CSV: UTF-8 with BOM (so Excel reads accents), the
    input's delimiter, cells as the workbook showed them (3001, not 3001.0).

    Several sheets share one table: columns are aligned by header, the sheet
    name goes first and the result columns last. Their labels carry a NUL
    suffix so an input column that is also called ``serial_id`` or ``sheet``
    never collides with ours.
    """
    frames = []
    many = len(source.sheets) > 1
    ours = [f"{name}\x00result" for name in RESULT_COLUMNS]
    for sheet, part in sheet_slices(source, rows):
        data = sheet.data.copy()
        data.columns = _unique(sheet.header)
        if many:
            data.insert(0, "sheet\x00result", sheet.name)
        results = result_frame(part)
        results.columns = ours
        frames.append(pd.concat([data.reset_index(drop=True), results], axis=1))
    out = pd.concat(frames, ignore_index=True) if many else frames[0]
    if many:
        out = out[[c for c in out.columns if c not in ours] + ours]
    header = [n.split("\x00")[0] for n in out.columns]
    columns = [defuse_formulas(cells_as_text(out.iloc[:, position])) for position in range(out.shape[1])]
    del out, frames
    delimiter = source.delimiter if source.kind == "csv" else ","
    with path.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        if not many:
            _write_preamble(handle, source.sheets[0].preamble, delimiter)
        handle.write(csv_lines([defuse_formulas(pd.Series([name], dtype="str")) for name in header], delimiter))
        for start in range(0, len(columns[0]), _CSV_CHUNK):
            handle.write(csv_lines([c.iloc[start : start + _CSV_CHUNK] for c in columns], delimiter))


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

    special = "[" + re.escape(delimiter) + '"\r\n]'
    quote, empty = scalar('"'), scalar("")
    cells = []
    for column in columns:
        text = pa.array(column, type=pa.large_string(), from_pandas=True)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        text = text.fill_null(empty)
        needs_quotes = pc.match_substring_regex(text, special)
        if pc.any(needs_quotes).as_py():
            quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote, empty)
            text = pc.if_else(needs_quotes, quoted, text)
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


def defuse_formulas(column: pd.Series) -> pd.Series:
    """Prefix text a spreadsheet would run as a formula with an apostrophe."""
    if column.dtype == object:
        text = column.map(lambda v: v if isinstance(v, str) else None)
    elif pd.api.types.is_string_dtype(column.dtype):
        text = column
    else:
        return column
    risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
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


# --- XLSX --------------------------------------------------------------------


def _write_xlsx(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                removed: pd.DataFrame | None) -> None:
    import xlsxwriter

    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"}
    with xlsxwriter.Workbook(str(path), options) as book:
        styles = _Styles(book)
        names = _SheetNames([s.name for s in source.sheets])
        summary = book.add_worksheet(names.take("Summary"))
        for sheet, part in sheet_slices(source, rows):
            _write_data_sheet(book.add_worksheet(names.own(sheet.name)), sheet, part, styles)
        _write_removed(book.add_worksheet(names.take("Removed")), removed, styles)
        _write_summary(summary, rows, facts, styles)


class _SheetNames:
    """Excel sheet names: at most 31 characters, unique, no []:*?/\\."""

    def __init__(self, inputs: list[str]):
        self.used: set[str] = set()
        self.inputs = {n.casefold() for n in inputs}

    def own(self, name: str) -> str:
        return self._free("".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet")

    def take(self, name: str) -> str:
        return self._free(name if name.casefold() not in self.inputs else f"{name} (sn-importer)")

    def _free(self, name: str) -> str:
        candidate, n = name, 1
        while candidate.casefold() in self.used:
            n += 1
            candidate = f"{name[:27]} ({n})"
        self.used.add(candidate.casefold())
        return candidate


class _Styles:
    def __init__(self, book):
        self.header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.result_header = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        self.status = {s.value: book.add_format({"bg_color": f"#{c}"}) for s, c in COLOURS.items()}
        self.date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})


def _write_data_sheet(ws, sheet, part: pd.DataFrame, styles: _Styles) -> None:
    header = list(sheet.header)
    top = len(sheet.preamble)
    for r, cells in enumerate(sheet.preamble):
        for c, value in enumerate(cells):
            _write_cell(ws, r, c, value, styles)
    for col, name in enumerate(header):
        ws.write_string(top, col, name, styles.header)
    for offset, name in enumerate(RESULT_COLUMNS):
        ws.write_string(top, len(header) + offset, name, styles.result_header)
    results = result_frame(part)
    values = sheet.data.to_numpy(dtype=object)
    result_values = results.to_numpy(dtype=object)
    width = len(header)
    for r in range(len(values)):
        row = top + r + 1
        for c, value in enumerate(values[r]):
            _write_cell(ws, row, c, value, styles)
        status, message, serial_id, request, checked_at = result_values[r]
        if status:
            ws.write_string(row, width, status, styles.status.get(status))
        if message:
            ws.write_string(row, width + 1, message)
        if serial_id:
            ws.write_number(row, width + 2, int(serial_id))
        if request:
            ws.write_string(row, width + 3, request)
        if checked_at:
            ws.write_string(row, width + 4, checked_at)
    last_col = width + len(RESULT_COLUMNS) - 1
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, top + max(1, len(values)), last_col)
    ws.set_column(width, width, 16)
    ws.set_column(width + 1, width + 1, 60)
    ws.set_column(width + 3, width + 3, 38)
    ws.set_column(width + 4, width + 4, 22)


def _write_cell(ws, row: int, col: int, value, styles: _Styles) -> None:
    if value is None or (isinstance(value, float) and value != value):
        return
    if isinstance(value, str):
        if value:
            ws.write_string(row, col, value)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value)
    elif isinstance(value, (datetime, date)):
        ws.write_datetime(row, col, value, styles.date)
    elif isinstance(value, time):
        ws.write_string(row, col, value.isoformat())
    else:
        ws.write_string(row, col, str(value))


def _write_removed(ws, removed: pd.DataFrame | None, styles: _Styles) -> None:
    for col, name in enumerate(REMOVED_COLUMNS):
        ws.write_string(0, col, name, styles.header)
    if removed is not None:
        for r, record in enumerate(removed.to_dict("records"), start=1):
            for c, name in enumerate(REMOVED_COLUMNS):
                _write_cell(ws, r, c, record.get(name), styles)
    ws.freeze_panes(1, 0)
    ws.set_column(0, len(REMOVED_COLUMNS) - 1, 20)


def _write_summary(ws, rows: pd.DataFrame, facts: ReportFacts, styles: _Styles) -> None:
    ws.set_column(0, 0, 28)
    ws.set_column(1, 2, 48)
    ws.write_string(0, 0, "sn-importer results", styles.title)
    r = 2
    for label, value in facts.facts:
        ws.write_string(r, 0, label, styles.bold)
        _write_cell(ws, r, 1, value if not isinstance(value, (list, dict)) else str(value), styles)
        r += 1
    r += 1
    ws.write_string(r, 0, "Status", styles.header)
    ws.write_string(r, 1, "Rows", styles.header)
    counts = rows.loc[rows["status"] != "", "status"].value_counts()
    for status, count in counts.items():
        r += 1
        ws.write_string(r, 0, status, styles.status.get(status))
        ws.write_number(r, 1, int(count))
    r += 2
    for col, name in enumerate(("Sheet", "Field", "Read from")):
        ws.write_string(r, col, name, styles.header)
    for sheet, name, where in facts.mapping:
        r += 1
        ws.write_string(r, 0, sheet)
        ws.write_string(r, 1, name)
        ws.write_string(r, 2, where)
    if facts.skipped_sheets:
        r += 2
        ws.write_string(r, 0, "Sheet not read", styles.header)
        ws.write_string(r, 1, "Why", styles.header)
        for name, why in facts.skipped_sheets:
            r += 1
            ws.write_string(r, 0, name)
            ws.write_string(r, 1, why)
    for note in facts.notes:
        r += 2
        ws.write_string(r, 0, "Note", styles.bold)
        ws.write_string(r, 1, note)
