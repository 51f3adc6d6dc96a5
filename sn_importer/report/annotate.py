"""The user's own workbook, annotated in place with openpyxl.

Staff open the results in Excel and expect *their* workbook with a status
beside each row: so the input .xlsx/.xlsm is loaded whole and only added to.
Every sheet keeps its order, visibility, styles, merged cells, widths,
heights, panes, filters, drop-downs, comments, number formats and formulas;
the five result columns go right of each read sheet's header, in that
header's style, status cells coloured by outcome; ``Summary`` (and for an
apply ``Removed``) are added at the end. openpyxl holds every cell in memory,
so above :data:`ANNOTATE_MAX_CELLS` the workbook is rebuilt from its values
instead (``rebuild.py``), and the Summary says so.
"""

from __future__ import annotations

import re
import zipfile
from copy import copy
from pathlib import Path

import pandas as pd

from ..mapping import REMOVED_COLUMNS, RESULT_COLUMNS
from ..reader import Sheet, SourceFile
from ..status import COLOURS
from .rebuild import RESULT_WIDTHS
from .rows import result_frame, sheet_slices
from .summary import Line, ReportFacts, SheetNames, summary_lines

#: Above this many cells (every sheet counted) the workbook is rebuilt from its
#: values instead: openpyxl keeps each cell as a Python object (about 1 KB with
#: its style), and its load and save time grows with them. The line is measured
#: in ``benchmarks/bench_annotate.py`` (see docs/benchmarks.md).
ANNOTATE_MAX_CELLS = 1_000_000

#: Input suffixes openpyxl opens; other workbooks (.xls, .xlsb, .ods) are rebuilt.
ANNOTATABLE = {".xlsx", ".xlsm"}

_SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
_DRAWING_PART = re.compile(r"xl/drawings/drawing\d+\.xml")


def cell_count(path: Path) -> int:
    """About how many cells the workbook's sheets hold, without loading it:
    the ``<c`` elements of every sheet part, counted while it is decompressed."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not _SHEET_PART.fullmatch(name):
                continue
            tail = b""
            with archive.open(name) as part:
                while chunk := part.read(1 << 20):
                    block = tail + chunk
                    total += block.count(b"<c ") + block.count(b"<c>")
                    tail = block[-2:]
                    total -= tail.count(b"<c")  # counted again at the start of the next block
            total += tail.count(b"<c")
    return total


def has_drawings(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return any(_DRAWING_PART.fullmatch(n) for n in archive.namelist())


def write_annotated(path: Path, target: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                    removed: pd.DataFrame | None, file_notes: list[str], properties: dict[str, str]) -> None:
    """Load the input workbook, add the results to it and save it as ``path``.

    ``target`` is the final name (``path`` is its temporary twin): its suffix
    says whether the macros of an .xlsm can be kept.
    """
    from openpyxl import load_workbook

    keep_vba = target.suffix.lower() == ".xlsm" and source.path.suffix.lower() == ".xlsm"
    book = load_workbook(source.path, keep_vba=keep_vba, rich_text=True, keep_links=True)
    styles = _Styles()
    for sheet, part in sheet_slices(source, rows):
        annotate_sheet(book[sheet.name], sheet, part, styles)
    names = SheetNames(book.sheetnames)
    for name in book.sheetnames:
        names.keep(name)
    summary = book.create_sheet(names.take("Summary"))
    write_summary(summary, summary_lines(rows, facts, file_notes), styles)
    if removed is not None:
        _write_removed(book.create_sheet(names.take("Removed")), removed, styles)
    _open_on(book, summary)
    _set_properties(book, properties)
    book.save(path)


class _Styles:
    """The few styles the report adds, made once as openpyxl style objects."""

    def __init__(self):
        from openpyxl.styles import Border, Font, PatternFill, Side

        self.fill = {s.value: PatternFill("solid", fgColor=f"FF{c}") for s, c in COLOURS.items()}
        self.header_fill = PatternFill("solid", fgColor="FFD9E1F2")
        thin = Side(style="thin")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.bold = Font(bold=True)
        self.title = Font(bold=True, size=14)
        self.heading = Font(bold=True, size=12)


def annotate_sheet(ws, sheet: Sheet, part: pd.DataFrame, styles: _Styles) -> None:
    """Append the result columns right of ``sheet``'s header; rows stay where they are."""
    top, width = sheet.header_row, len(sheet.header)
    first = width + 1 if sheet.dropped_result_columns else _first_free_column(ws, top, width)
    if first + len(RESULT_COLUMNS) - 1 > 16_384:  # a stray cell far right: no room in Excel's grid
        raise ValueError(f"no room for the result columns right of column {first - 1:,} (Excel ends at 16,384)")
    header_style = _header_style(ws, top, width)
    for offset, name in enumerate(RESULT_COLUMNS):
        cell = ws.cell(top, first + offset)
        _set_text(cell, name)
        cell._style = copy(header_style)
    status_styles = _status_styles(ws, styles)
    values = result_frame(part).to_numpy(dtype=object)
    clear = sheet.dropped_result_columns > 0  # a results file fed back in: its old results go
    numbers = sheet.numbers()  # a sparse sheet read cell by cell skips its empty rows
    put = _CellPutter(ws, clear)
    for index, (status, message, serial_id, request, checked_at) in enumerate(values):
        if not status and not clear:
            continue  # a blank row stays blank
        row = numbers[index]
        put(row, first, status, status_styles.get(status))
        put(row, first + 1, message)
        put(row, first + 2, int(serial_id) if serial_id else None)
        put(row, first + 3, request)
        put(row, first + 4, checked_at)
    _columns(ws, first)
    if ws.freeze_panes is None:
        ws.freeze_panes = ws.cell(top + 1, 1).coordinate
    _filter(ws, top, first + len(RESULT_COLUMNS) - 1, numbers[-1] if len(values) else top + 1)


class _CellPutter:
    """Writes result cells straight into the sheet's cell table.

    openpyxl's ``ws.cell(...).value = v`` guesses each value's type on every
    call; a 100k-row sheet has half a million result cells, so they are made
    here with their type known: text is always text (a message starting with
    ``=`` is never a formula), ids are numbers. With ``clear``, empty results
    still replace whatever a previous run left in those cells.
    """

    def __init__(self, ws, clear: bool):
        from openpyxl.cell.cell import Cell

        self.ws, self.cells, self.clear, self.make = ws, ws._cells, clear, Cell

    def __call__(self, row: int, col: int, value, style=None) -> None:
        if value is None or value == "":
            if self.clear:  # what a previous run wrote there goes
                self.cells.pop((row, col), None)
            return
        cell = self.make(self.ws, row=row, column=col)
        cell._value = value
        cell.data_type = "n" if isinstance(value, int) else "s"
        if style is not None:
            cell._style = copy(style)
        self.cells[(row, col)] = cell


def _first_free_column(ws, top: int, width: int) -> int:
    """The column after the header and after any cell with content right of it
    (a formula without a cached value, say, that the reader did not see)."""
    last = width
    for (row, col), cell in ws._cells.items():
        if col > last and row >= top and cell._value is not None:
            last = col
    return last + 1


def _set_text(cell, value) -> None:
    """Text is text: a message starting with = or @ is never a live formula."""
    cell.value = value
    if value is not None:
        cell.data_type = "s"


def _header_style(ws, top: int, width: int):
    """The style of the header's last filled cell: the result columns continue it."""
    for col in range(width, 0, -1):
        cell = ws.cell(top, col)
        if cell.value not in (None, ""):
            return cell._style
    return ws.cell(top, 1)._style


def _status_styles(ws, styles: _Styles) -> dict:
    """One style array per status (its fill), made once on a detached cell and copied to each row."""
    from openpyxl.cell import Cell

    found = {}
    for status, fill in styles.fill.items():
        scratch = Cell(ws)
        scratch.fill = fill
        found[status] = copy(scratch._style)
    return found


def _columns(ws, first: int) -> None:
    """Widths for the result columns; a column range the input defined across them is split."""
    from openpyxl.utils import get_column_letter

    last = first + len(RESULT_COLUMNS) - 1
    dims = ws.column_dimensions
    for key, dim in list(dims.items()):
        if dim.min is None or dim.max is None or dim.max < first or dim.min > last:
            continue
        if dim.max > last:  # the part right of ours keeps its definition
            rest = copy(dim)
            rest.index, rest.min = get_column_letter(last + 1), last + 1
            dims[rest.index] = rest
        if dim.min < first:
            dim.max = first - 1
        else:
            del dims[key]
    for offset, size in enumerate(RESULT_WIDTHS):
        letter = get_column_letter(first + offset)
        dims[letter].width = size
        dims[letter].min = dims[letter].max = first + offset


def _filter(ws, top: int, last_col: int, last_row: int) -> None:
    """A filter over the header and rows: an input filter on the header row grows
    to cover the result columns; one elsewhere, or a table, is left alone."""
    from openpyxl.utils import get_column_letter, range_boundaries

    if ws.auto_filter.ref:
        min_col, min_row, max_col, max_row = range_boundaries(ws.auto_filter.ref)
        if min_row == top:
            ws.auto_filter.ref = f"{get_column_letter(min_col)}{top}:{get_column_letter(max(max_col, last_col))}" \
                                 f"{max(max_row or top, last_row)}"
        return
    if ws.tables:
        return
    ws.auto_filter.ref = f"A{top}:{get_column_letter(last_col)}{last_row}"


def _write_removed(ws, removed: pd.DataFrame, styles: _Styles) -> None:
    ws.append(list(REMOVED_COLUMNS))
    for cell in ws[1]:
        cell.font, cell.fill, cell.border = styles.bold, styles.header_fill, styles.border
    for record in removed.reindex(columns=list(REMOVED_COLUMNS)).itertuples(index=False):
        ws.append([_plain(v) for v in record])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
    ws.freeze_panes = "A2"
    from openpyxl.utils import get_column_letter

    for col in range(1, len(REMOVED_COLUMNS) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 20


def _plain(value):
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_summary(ws, lines: list[Line], styles: _Styles) -> None:
    from openpyxl.utils import get_column_letter

    for col, size in ((1, 30), (2, 44), (3, 80)):
        ws.column_dimensions[get_column_letter(col)].width = size
    for r, line in enumerate(lines, start=1):
        for c, value in enumerate(line.cells, start=1):
            if value is None or value == "":
                continue
            cell = ws.cell(r, c)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.value = value
            else:
                _set_text(cell, str(value))
            _style_summary_cell(cell, line.kind, c, value, styles)


def _style_summary_cell(cell, kind: str, col: int, value, styles: _Styles) -> None:
    if kind == "title":
        cell.font = styles.title
    elif kind == "heading":
        cell.font = styles.heading
    elif kind == "header":
        cell.font, cell.fill, cell.border = styles.bold, styles.header_fill, styles.border
    elif kind == "status" and col == 1 and value in styles.fill:
        cell.fill = styles.fill[value]
    elif kind == "fact" and col == 1:
        cell.font = styles.bold


def _open_on(book, sheet) -> None:
    """Open the results on the Summary: what happened first, then the rows."""
    for ws in book.worksheets:
        ws.sheet_view.tabSelected = False
    book.active = book.index(sheet)
    sheet.sheet_view.tabSelected = True


def _set_properties(book, properties: dict[str, str]) -> None:
    from openpyxl.packaging.custom import StringProperty

    for name, value in properties.items():
        if name in book.custom_doc_props.names:
            del book.custom_doc_props[name]
        book.custom_doc_props.append(StringProperty(name=name, value=value))
