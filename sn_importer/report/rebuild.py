"""The fast workbook writer: a new .xlsx rebuilt from the values that were read.

Used for CSV input written as .xlsx, for formats openpyxl cannot open (.xls,
.xlsb, .ods), and for workbooks too large to annotate in place quickly
(see ``annotate.py``). XlsxWriter in constant-memory mode streams each sheet
row by row, so a million rows cost neither much time nor much memory; the
price is that the input's own formatting is not carried over, which the
Summary says.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from ..mapping import REMOVED_COLUMNS, RESULT_COLUMNS
from ..reader import SourceFile
from ..status import COLOURS
from .rows import result_frame, sheet_slices
from .summary import Line, ReportFacts, SheetNames, summary_lines

#: Widths of the appended result columns (status, message, serial_id, request, checked_at).
RESULT_WIDTHS = (16, 60, 12, 38, 22)


def write_rebuilt(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                  removed: pd.DataFrame | None, file_notes: list[str], properties: dict[str, str]) -> None:
    import xlsxwriter

    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"}
    with xlsxwriter.Workbook(str(path), options) as book:
        styles = _Styles(book)
        names = SheetNames([s.name for s in source.sheets])
        for sheet, part in sheet_slices(source, rows):
            _write_data_sheet(book.add_worksheet(names.own(sheet.name)), sheet, part, styles)
        summary = book.add_worksheet(names.take("Summary"))
        write_summary(summary, summary_lines(rows, facts, file_notes), styles)
        summary.activate()
        if removed is not None:
            _write_removed(book.add_worksheet(names.take("Removed")), removed, styles)
        for name, value in properties.items():
            book.set_custom_property(name, value)


class _Styles:
    def __init__(self, book):
        self.header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
        self.result_header = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        self.status = {s.value: book.add_format({"bg_color": f"#{c}"}) for s, c in COLOURS.items()}
        self.date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.heading = book.add_format({"bold": True, "font_size": 12})
        self.bold = book.add_format({"bold": True})


def _write_data_sheet(ws, sheet, part: pd.DataFrame, styles: _Styles) -> None:
    header = list(sheet.header)
    top = len(sheet.preamble)
    for r, cells in enumerate(sheet.preamble):
        for c, value in enumerate(cells):
            write_cell(ws, r, c, value, styles)
    for col, name in enumerate(header):
        ws.write_string(top, col, name, styles.header)
    for offset, name in enumerate(RESULT_COLUMNS):
        ws.write_string(top, len(header) + offset, name, styles.result_header)
    values = sheet.data.to_numpy(dtype=object)
    result_values = result_frame(part).to_numpy(dtype=object)
    width = len(header)
    for r in range(len(values)):
        row = top + r + 1
        for c, value in enumerate(values[r]):
            write_cell(ws, row, c, value, styles)
        _write_results(ws, row, width, result_values[r], styles)
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, top + max(1, len(values)), width + len(RESULT_COLUMNS) - 1)
    for offset, size in enumerate(RESULT_WIDTHS):
        ws.set_column(width + offset, width + offset, size)


def _write_results(ws, row: int, width: int, values, styles: _Styles) -> None:
    status, message, serial_id, request, checked_at = values
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


def write_cell(ws, row: int, col: int, value, styles: _Styles) -> None:
    """One value as read, written with its type; text is always text, never a formula."""
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


def _write_removed(ws, removed: pd.DataFrame, styles: _Styles) -> None:
    for col, name in enumerate(REMOVED_COLUMNS):
        ws.write_string(0, col, name, styles.header)
    for r, record in enumerate(removed.to_dict("records"), start=1):
        for c, name in enumerate(REMOVED_COLUMNS):
            write_cell(ws, r, c, record.get(name), styles)
    ws.freeze_panes(1, 0)
    ws.set_column(0, len(REMOVED_COLUMNS) - 1, 20)


def write_summary(ws, lines: list[Line], styles: _Styles) -> None:
    ws.set_column(0, 0, 30)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 2, 80)
    style_of = {"title": styles.title, "heading": styles.heading, "header": styles.header}
    for r, line in enumerate(lines):
        for c, value in enumerate(line.cells):
            style = style_of.get(line.kind)
            if line.kind == "status" and c == 0:
                style = styles.status.get(value)
            elif line.kind == "fact" and c == 0:
                style = styles.bold
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, style)
            elif value is not None and value != "":
                ws.write_string(r, c, str(value), style)
