"""Reading the input file into sheets of rows.

The first stage of the pipeline. It turns a CSV/TXT (delimiter and encoding
detected) or a workbook (every visible sheet with a recognisable header) into
:class:`Sheet` values: the original header, the column mapping and the data
rows exactly as they were, so the report can give every row back untouched.
Anything that keeps the file from being read raises :class:`InputError` with
a message that says what to do.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import formats, guard
from .errors import InputError
from .guard import LIMITS, Limits
from .header import HeaderRow, locate, no_header
from .mapping import ColumnMapping, is_removed_sheet
from .template import Template

DELIMITERS = (",", ";", "\t", "|")
_WIDER_ROWS = ("some rows have more cells than the header (a value with an unquoted delimiter?); "
               "quote such values or add a header for the extra column")


@dataclass
class Sheet:
    """One sheet (or the CSV file) with a recognised header."""

    name: str
    header: list[str]
    mapping: ColumnMapping
    data: pd.DataFrame  # positional columns 0..n-1, values as read
    header_row: int  # 1-based row number of the header in the sheet
    dropped_result_columns: int = 0
    preamble: list[list] = field(default_factory=list)  # title rows above the header, as read
    #: Sheet row number of each data row, when rows were skipped (a sparse sheet read cell by cell).
    row_numbers: list[int] | None = None
    #: Data row position → why the reader finds it unusable (a cell over Excel's size); the row is invalid.
    problems: dict[int, str] = field(default_factory=dict)
    #: Column position → {data row position: text}: numbers as Excel shows them (their number format applied).
    shown: dict[int, dict[int, str]] = field(default_factory=dict)
    #: Data row position → a note for the row's message that does not make it invalid.
    remarks: dict[int, str] = field(default_factory=dict)
    #: Why the sheet's rows are not imported though its header was found (a needed column is
    #: missing); "" when they are. Such a sheet's rows are reported ``skipped``, saying this.
    unread: str = ""

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    def numbers(self) -> range | list[int]:
        """The sheet row number of every data row."""
        if self.row_numbers is not None:
            return self.row_numbers
        return range(self.first_row, self.first_row + len(self.data))


@dataclass
class SourceFile:
    """The input as read: its sheets and what was passed over, and why."""

    path: Path
    kind: str  # "csv" or "excel"
    sheets: list[Sheet]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    delimiter: str = ","
    encoding: str = "utf-8"
    #: What the reader noticed and the person should know (a sheet declaring far more than it holds).
    notes: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(s.data) for s in self.sheets)


def read_file(path: str | Path, template: Template, limits: Limits = LIMITS) -> SourceFile:
    """Read ``path`` with ``template``; raise InputError if it cannot be imported.

    The input guard looks at the file first (size, signature, a workbook's
    zip and sheets, CSV line lengths), so nothing over a limit is parsed.
    """
    path = Path(path)
    _check_path(path)
    kind = formats.for_name(path)
    if kind is None:
        raise InputError(path, f"unsupported file type {path.suffix.lower()!r}; use {formats.short_list()}")
    guard.check_file(path, kind, limits)
    if kind.reader == "excel":
        source = _read_excel(path, template, guard.inspect_workbook(path, kind, limits))
    else:
        source = _read_csv(path, template, limits)
    if all(sheet.unread for sheet in source.sheets):
        raise no_header(path, template, source.skipped)
    return source


def _check_path(path: Path) -> None:
    """Refuse what cannot be read, in plain words.

    ``stat`` itself raises PermissionError when a folder on the way cannot be
    entered, so even the existence checks are guarded.
    """
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except PermissionError:
        raise InputError(path, "permission denied: the file or its folder cannot be read") from None
    if not exists:
        raise InputError(path, "file not found")
    if is_dir:
        raise InputError(path, "is a directory, not a file")
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
    except PermissionError:
        raise InputError(path, "permission denied: the file cannot be read") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror}") from None
    if not first:
        raise InputError(path, "the file is empty")


# --- CSV ---------------------------------------------------------------------


def _read_csv(path: Path, template: Template, limits: Limits = LIMITS) -> SourceFile:
    raw = path.read_bytes()
    longest = guard.check_text(path, raw, limits)
    encoding = detect_encoding(path, raw)
    text = raw.decode(encoding)
    del raw
    try:
        delimiter = detect_delimiter(text)
        head = list(csv.reader(io.StringIO(_head(text, template.search_rows), newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(path, f"cannot be read as CSV ({exc})") from None
    for cells in head:
        guard.check_columns(path, len(cells), limits)
    found = locate(head, template)
    if isinstance(found, str):
        return SourceFile(path, "csv", [], [(path.name, found)], delimiter, encoding)
    data = _parse_csv_body(path, text, delimiter, found.index, found.width + found.dropped)
    if found.dropped:
        data = data.iloc[:, : found.width]
    sheet = _sheet(path.stem, found, data, head, clip=False)
    if longest > limits.cell_chars:  # no line that long, no cell that long: skip the pass
        sheet.problems = oversized_cells(sheet, limits.cell_chars)
    skipped = [(path.name, sheet.unread)] if sheet.unread else []
    return SourceFile(path, "csv", [sheet], skipped, delimiter, encoding)


def _sheet(name: str, found: HeaderRow, data: pd.DataFrame, rows: list[list], clip: bool = True) -> Sheet:
    """The sheet whose header ``found`` is, with ``data`` the rows under it; the title rows above
    it kept (a workbook's within the table's width, a CSV's whole)."""
    preamble = [list(r[: found.width] if clip else r) for r in rows[: found.index]]
    return Sheet(name, list(found.cells), found.mapping, data, found.index + 1, found.dropped, preamble,
                 unread=found.unread)


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
        raise InputError(path, f"rows do not fit the header: {exc}") from None
    wider = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    if wider and _cells_past(text, delimiter, header_index + 1, width):
        raise InputError(path, _WIDER_ROWS)
    return data.fillna("")


def _cells_past(text: str, delimiter: str, skip: int, width: int) -> bool:
    """Whether any row below the header has a non-empty cell beyond ``width`` (rare: a slow pass)."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return any(any(c.strip() for c in row[width:]) for n, row in enumerate(rows) if n >= skip)
    except csv.Error:
        return True


#: The guard bounds every line, so no field is longer than a line limit; the csv module's own
#: default (131,072) would otherwise stop a long note with a traceback.
csv.field_size_limit(max(csv.field_size_limit(), 4 * LIMITS.line_bytes))


# --- Excel -------------------------------------------------------------------


def _read_excel(path: Path, template: Template, facts: guard.WorkbookFacts) -> SourceFile:
    """Every visible sheet with a header: by calamine, or cell by cell where the guard found it sparse."""
    import python_calamine as calamine

    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several unrelated types
        raise InputError(path, _excel_problem(path, exc)) from None
    sheets, skipped = [], []
    with _sparse_package(path, facts) as package:
        for meta in workbook.sheets_metadata:
            reason = _sheet_unwanted(meta, template)
            if reason:
                skipped.append((meta.name, reason))
                continue
            sheet = _read_sheet(path, workbook, package, meta.name, template)
            if isinstance(sheet, Sheet) and is_removed_sheet(sheet.header):
                skipped.append((meta.name, "the Removed sheet of a results file (serials already detached)"))
            elif isinstance(sheet, Sheet):
                _show_numbers(path, facts, sheet)
                sheets.append(sheet)
                if sheet.unread:
                    skipped.append((meta.name, sheet.unread))
            else:
                skipped.append((meta.name, sheet))
    return SourceFile(path, "excel", sheets, skipped, notes=list(facts.notes))


@contextmanager
def _sparse_package(path: Path, facts: guard.WorkbookFacts):
    """The open package when some sheet is to be read cell by cell, else None."""
    if not facts.sparse:
        yield None
        return
    from .xlsx import Package

    with zipfile.ZipFile(path) as archive:
        package = Package.open(archive)
        package.sparse = set(facts.sparse)
        yield package


def _read_sheet(path: Path, workbook, package, name: str, template: Template) -> Sheet | str:
    if package is not None and name in package.sparse:
        from .xlsx import read_sparse

        try:
            rows = read_sparse(package, package.parts[name])
        except Exception as exc:  # defusedxml and ElementTree raise several types
            raise InputError(path, f"the sheet cannot be read ({type(exc).__name__}: {exc})", sheet=name) from None
        return _find_sparse_sheet(name, rows, template)
    try:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise InputError(path, _excel_problem(path, exc), sheet=name) from None
    return _find_sheet(name, rows, template)


def _show_numbers(path: Path, facts: guard.WorkbookFacts, sheet: Sheet) -> None:
    """Serials stored as numbers, read as Excel shows them (``00000`` → ``00042``), each with a note.

    Only .xlsx/.xlsm carry the formats we read, and only a serial column
    holding numbers costs a pass over its sheet's XML.
    """
    position = sheet.mapping.columns.get("serial_number")
    if position is None or facts.format.key not in ("xlsx", "xlsm"):
        return
    column = sheet.data[position]
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return
    numeric = {i: v for i, v in zip(range(len(column)), column.to_numpy())
               if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
    if not numeric:
        return
    from .numfmt import excel_text, general_text
    from .xlsx import column_styles, number_formats, sheet_parts

    with zipfile.ZipFile(path) as archive:
        part = sheet_parts(archive).get(sheet.name)
        codes = number_formats(archive)
        styles = column_styles(archive, part, position + 1) if part else {}
    numbers = sheet.numbers()
    shown = {}
    for i, value in numeric.items():
        style = styles.get(numbers[i], 0)
        code = codes[style] if style < len(codes) else "General"
        text = excel_text(float(value), code) or general_text(float(value))
        shown[i] = text
        sheet.remarks[i] = (f"{sheet.header[position] or 'serial_number'}: stored in the workbook as a number, "
                            f"read as Excel shows it ('{text}'); format the column as Text to keep serials exact")
    sheet.shown[position] = shown


def _excel_problem(path: Path, exc: Exception) -> str:
    name = type(exc).__name__
    if "Password" in name:
        return "is password-protected (encrypted); save a copy without a password and import that"
    if path.suffix.lower() == ".xls":
        return f"this old Excel 97-2003 .xls file cannot be read ({exc}); open it in Excel and save it as .xlsx"
    return f"is not a readable workbook (corrupt or not really {path.suffix}): {exc}"


def _sheet_unwanted(meta, template: Template) -> str | None:
    if str(meta.visible).split(".")[-1].lower() != "visible":
        return "hidden sheet"
    if str(meta.typ).split(".")[-1].lower() not in {"worksheet", "work_sheet"}:
        return "not a worksheet"
    if not template.wants_sheet(meta.name):
        return "left out by the template"
    return None


def _find_sheet(name: str, rows: list[list], template: Template) -> Sheet | str:
    """The sheet under the header the template recognises, or why there is none."""
    found = locate(rows[: template.search_rows], template)
    if isinstance(found, str):
        return found
    body = [row[: found.width] for row in rows[found.index + 1 :]]
    data = pd.DataFrame(body, columns=range(found.width), dtype=object) if body else _empty(found.width)
    return _sheet(name, found, data, rows)


def _find_sparse_sheet(name: str, rows: list[tuple[int, dict]], template: Template) -> Sheet | str:
    """As :func:`_find_sheet`, for the rows that hold something, each with its sheet row number.

    Only rows holding a value within the header's width are kept: the rest of
    the rectangle (a stray cell at XFD1048576) costs nothing.
    """
    head = [(number, _as_list(cells)) for number, cells in rows[: template.search_rows]]
    found = locate([cells for _, cells in head], template)
    if isinstance(found, str):
        return found
    width = found.width + found.dropped
    body, numbers = [], []
    for number, cells in rows[found.index + 1:]:
        kept = [cells.get(c) for c in range(1, width + 1)]
        if any(c not in (None, "") for c in kept):
            body.append(kept[: found.width])
            numbers.append(number)
    data = pd.DataFrame(body, columns=range(found.width), dtype=object) if body else _empty(found.width)
    sheet = _sheet(name, found, data, [cells for _, cells in head])
    sheet.header_row = head[found.index][0]
    sheet.row_numbers = numbers
    return sheet


def _as_list(cells: dict) -> list:
    return [cells.get(c) for c in range(1, max(cells) + 1)] if cells else []


def _empty(width: int) -> pd.DataFrame:
    return pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})
