"""New .xlsx workbooks written with XlsxWriter: rebuilt from the values read, or an .xls/.ods carried over.

:func:`write_rebuilt` serves CSV input written as .xlsx, .xlsb, and an .xlsx
whose package cannot be patched (see ``patch.py``): XlsxWriter in
constant-memory mode streams each read sheet row by row, so a million rows
cost neither much time nor much memory; the input's own formatting is not
carried over, which the Summary says. :func:`write_office` writes an .xls or
.ods as the .xlsx it would be: every sheet in order with its hidden state,
merged cells, column widths, number formats and formulas (with the values the
file cached), the result columns added to the data sheets.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from ..columns import MESSAGE_COLUMN, RESULT_COLUMNS
from ..header import SUMMARY_REASON
from ..mapping import REMOVED_COLUMNS, REMOVED_REASON
from ..reader import SourceFile
from ..status import COLOURS
from ..storage import zip_target
from .newsheets import REMOVED_WIDTHS, ROW_HEIGHT, SUMMARY_WIDTHS, long_cell
from .rows import result_frame, sheet_slices
from .summary import Line, ReportFacts, SheetNames, summary_lines


def write_rebuilt(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                  removed: pd.DataFrame | None, file_notes: list[str], properties: dict[str, str]) -> None:
    import xlsxwriter

    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"}
    with zip_target(path) as target, xlsxwriter.Workbook(target, options) as book:
        styles = _Styles(book)
        names = SheetNames([s.name for s in source.sheets])
        for sheet, part in sheet_slices(source, rows):
            _write_data_sheet(book.add_worksheet(names.own(sheet.name)), sheet, part, styles)
        summary = book.add_worksheet(names.take("Summary"))
        write_summary(summary, summary_lines(rows, facts, file_notes), styles)
        summary.activate()
        summary.fit_to_pages(1, 0)
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
        self.wrapped = book.add_format({"text_wrap": True})  # a message longer than its column is wide


#: The styles of a workbook written here (the undo report uses them too).
Styles = _Styles


def _write_data_sheet(ws, sheet, part: pd.DataFrame, styles: _Styles) -> None:
    header = list(sheet.header)
    top = len(sheet.preamble)
    for r, cells in enumerate(sheet.preamble):
        for c, value in enumerate(cells):
            write_cell(ws, r, c, value, styles)
    for col, name in enumerate(header):
        ws.write_string(top, col, name, styles.header)
    for offset, column in enumerate(RESULT_COLUMNS):
        ws.write_string(top, len(header) + offset, column.name, styles.result_header)
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
    for offset, column in enumerate(RESULT_COLUMNS):
        ws.set_column(width + offset, width + offset, column.width)
    print_fitted(ws, top)


def print_fitted(ws, header_row: int | None) -> None:
    """Printed, the sheet fits the page's width, in landscape, its header row on every page."""
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row)


def _write_results(ws, row: int, width: int, values, styles: _Styles) -> None:
    for offset, (column, value) in enumerate(zip(RESULT_COLUMNS, values)):
        if not value:
            continue
        if column.kind == "id":
            ws.write_number(row, width + offset, int(value))
        else:
            style = styles.status.get(value) if offset == 0 else styles.wrapped if column.name == MESSAGE_COLUMN \
                else None
            ws.write_string(row, width + offset, value, style)


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


def write_office(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                 removed: pd.DataFrame | None, file_notes: list[str], properties: dict[str, str]) -> None:
    import xlsxwriter

    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    data = {sheet.name: (sheet, part) for sheet, part in sheet_slices(source, rows)}
    with zip_target(path) as target, xlsxwriter.Workbook(target, options) as book:
        styles, formats = _Styles(book), {}
        names = SheetNames([s.name for s in source.office.sheets])
        earlier = _earlier_sheets(facts, removed is not None)
        facts = replace(facts, skipped_sheets=[(n, f"{why}, replaced by this one" if earlier.get(why) == n else why)
                                               for n, why in facts.skipped_sheets])
        for office_sheet in source.office.sheets:
            ws = book.add_worksheet(names.own(office_sheet.name))
            if office_sheet.name in earlier.values():  # an earlier run's Summary or Removed: this run's instead
                _write_new_sheet(ws, SUMMARY_REASON if earlier.get(SUMMARY_REASON) == office_sheet.name else None,
                                 rows, facts, removed, file_notes, styles)
                continue
            read = data.get(office_sheet.name)
            first = _office_first_column(office_sheet, read[0]) if read else None
            _office_cells(ws, office_sheet, formats, book, read[0] if read else None, first)
            if read:
                _office_results(ws, *read, first, styles)
            if not office_sheet.visible:
                ws.hide()
        if SUMMARY_REASON not in earlier:
            _write_new_sheet(book.add_worksheet(names.take("Summary")), SUMMARY_REASON, rows, facts, removed,
                             file_notes, styles)
        if removed is not None and REMOVED_REASON not in earlier:
            _write_removed(book.add_worksheet(names.take("Removed")), removed, styles)
        for name, value in properties.items():
            book.set_custom_property(name, value)


def _earlier_sheets(facts: ReportFacts, applied: bool) -> dict[str, str]:
    """Reason → name of the first sheet an earlier run wrote that this run's takes the place of: its
    Summary, and for an apply, its Removed sheet (so the file tells of one run, the one an undo undoes)."""
    reasons = (SUMMARY_REASON, REMOVED_REASON) if applied else (SUMMARY_REASON,)
    found: dict[str, str] = {}
    for name, why in facts.skipped_sheets:
        if why in reasons:
            found.setdefault(why, name)
    return found


def _write_new_sheet(ws, reason: str | None, rows, facts, removed, file_notes, styles) -> None:
    """The Summary (``reason`` is the Summary's) or the Removed sheet, written into ``ws``."""
    if reason != SUMMARY_REASON:
        _write_removed(ws, removed, styles)
        return
    write_summary(ws, summary_lines(rows, facts, file_notes), styles)
    ws.activate()
    ws.fit_to_pages(1, 0)


def _office_first_column(office_sheet, sheet) -> int:
    """The first result column (from 0): after the header, and after any cell filled right of it below."""
    width = len(sheet.header)
    if sheet.dropped_result_columns:
        return width
    reach = max((max((c for c, v in enumerate(row) if v not in (None, "")), default=-1)
                 for row in office_sheet.rows[sheet.header_row - 1:]), default=-1)
    reach = max([reach, *(c for (r, c) in office_sheet.formulas if r >= sheet.header_row - 1),
                 *(c2 for _, _, r2, c2 in office_sheet.merges if r2 >= sheet.header_row - 1)])
    return max(width, reach + 1)


def _office_cells(ws, office_sheet, formats: dict, book, sheet, first: int | None) -> None:
    """Every cell as the file held it: merges, widths, values with their number formats, formulas."""
    def style(code: str | None):
        if code not in formats:
            formats[code] = book.add_format({"num_format": code}) if code else None
        return formats[code]
    for column, width in office_sheet.widths.items():
        ws.set_column(column, column, width)
    for r1, c1, r2, c2 in office_sheet.merges:
        if (r1, c1) != (r2, c2):
            ws.merge_range(r1, c1, r2, c2, None)
    old = range(first, first + len(RESULT_COLUMNS)) if sheet is not None and sheet.dropped_result_columns else ()
    top = sheet.header_row - 1 if sheet is not None else 0
    for r, row in enumerate(office_sheet.rows):
        for c, value in enumerate(row):
            if old and r >= top and c in old:
                continue  # a previous run's results: replaced by this run's
            code = office_sheet.codes.get((r, c))
            formula = office_sheet.formulas.get((r, c))
            if formula:
                cached = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
                ws.write_formula(r, c, formula, style(code), cached)
            elif isinstance(value, (datetime, date)):
                ws.write_datetime(r, c, value, style(code or "yyyy-mm-dd"))
            elif code and isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, style(code))
            elif value is not None:
                write_cell(ws, r, c, value, None)


def _office_results(ws, sheet, part: pd.DataFrame, first: int, styles: _Styles) -> None:
    top = sheet.header_row - 1
    for offset, column in enumerate(RESULT_COLUMNS):
        ws.write_string(top, first + offset, column.name, styles.result_header)
        ws.set_column(first + offset, first + offset, column.width)
    values = result_frame(part).to_numpy(dtype=object)
    numbers = sheet.numbers()
    for index, row_values in enumerate(values):
        _write_results(ws, numbers[index] - 1, first, row_values, styles)
    last = (numbers[-1] - 1) if len(values) else top + 1
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, last, first + len(RESULT_COLUMNS) - 1)
    print_fitted(ws, top)


def _write_removed(ws, removed: pd.DataFrame, styles: _Styles) -> None:
    for col, name in enumerate(REMOVED_COLUMNS):
        ws.write_string(0, col, name, styles.header)
    for r, record in enumerate(removed.to_dict("records"), start=1):
        for c, name in enumerate(REMOVED_COLUMNS):
            write_cell(ws, r, c, record.get(name), styles)
    ws.freeze_panes(1, 0)
    for col, name in enumerate(REMOVED_COLUMNS):
        ws.set_column(col, col, REMOVED_WIDTHS.get(name, 20))
    print_fitted(ws, 0)


def write_summary(ws, lines: list[Line], styles: _Styles) -> None:
    for c, width in enumerate(SUMMARY_WIDTHS):
        ws.set_column(c, c, width)
    style_of = {"title": styles.title, "heading": styles.heading, "header": styles.header}
    for r, line in enumerate(lines):
        long = long_cell(line)
        if long:  # given the columns to the last, wrapped, its row as tall as its lines
            ws.set_row(r, ROW_HEIGHT * long[1])
        for c, value in enumerate(line.cells):
            style = style_of.get(line.kind)
            if line.kind == "status" and c == 0:
                style = styles.status.get(value)
            elif line.kind == "fact" and c == 0:
                style = styles.bold
            if long and c == long[0]:
                style = styles.wrapped
                if c < len(SUMMARY_WIDTHS) - 1:
                    ws.merge_range(r, c, r, len(SUMMARY_WIDTHS) - 1, str(value), style)
                    continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, style)
            elif value is not None and value != "":
                ws.write_string(r, c, str(value), style)
