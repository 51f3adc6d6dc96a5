"""Workbooks read into sheets: .xlsx/.xlsm/.xlsb by calamine (or cell by cell where the guard found a
sheet sparse), .xls/.ods whole by their own readers; numbers in a serial column read as the application shows them.

Which row is a sheet's header is found by :func:`sn_importer.header.locate`;
this module reads the rows under it.
"""

from __future__ import annotations

import zipfile
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from . import formats, guard
from .errors import InputError
from .guard import Limits
from .header import LEFT_OUT, LOOK_BELOW, locate
from .mapping import earlier_records
from .source import Sheet, SourceFile, hidden_rows_note, no_rows_note, sheet_under
from .template import Template
from .workbook_cells import WorkbookCells, cells_of, excel_problem, kind_problem


def read_excel(path: Path, template: Template, limits: Limits) -> SourceFile:
    """Every visible sheet with a header: by calamine, or cell by cell where the guard found it sparse."""
    cells = cells_of(path, limits)  # parsed ahead by the command line when it could (workbook_cells.py)
    facts = cells.facts
    sheets, skipped, said = [], [], []
    with _sparse_package(path, facts) as package:
        for meta in cells.sheets:
            reason = kind_problem(meta) or (None if template.wants_sheet(meta.name) else LEFT_OUT)
            if reason:
                skipped.append((meta.name, reason))
                continue
            sheet = _read_sheet(path, cells, package, meta.name, template)
            if isinstance(sheet, Sheet) and (earlier := earlier_records(sheet.header)):
                skipped.append((meta.name, earlier))
            elif isinstance(sheet, Sheet):
                _show_numbers(path, facts, sheet)
                _show_unseen_results(path, facts, sheet)
                _refuse_dates(sheet)
                sheets.append(sheet)
                scan = facts.scans.get(meta.name)
                said += _sheet_notes(sheet, scan.hidden_rows if scan else ())
                if sheet.unread:
                    skipped.append((meta.name, sheet.unread))
            else:
                skipped.append((meta.name, sheet))
    notes = list(facts.notes)
    if facts.format.parts == "xlsx":
        from .package import shared_content_notes

        notes += shared_content_notes(facts.external_links, facts.formulas)
    return SourceFile(path, "excel", sheets, skipped, notes=notes, package=facts, sheet_notes=said)


@contextmanager
def _sparse_package(path: Path, facts: guard.WorkbookFacts):
    """The open package when some sheet is to be read cell by cell, else None."""
    if not facts.sparse:
        yield None
        return
    from .xlsx import Package

    with zipfile.ZipFile(path) as archive:
        package = Package(archive, facts.parts, set(facts.sparse))
        yield package


def _read_sheet(path: Path, cells: WorkbookCells, package, name: str, template: Template) -> Sheet | str:
    if package is not None and name in package.sparse:
        from .xlsx import read_sparse

        try:
            rows = read_sparse(package, package.parts[name])
        except Exception as exc:  # defusedxml and ElementTree raise several types
            raise InputError(path, f"the sheet cannot be read ({type(exc).__name__}: {exc})", sheet=name) from None
        return _find_sparse_sheet(name, rows, template)
    return _find_sheet(name, cells.rows(name), template)


def read_office(path: Path, template: Template, limits: Limits) -> SourceFile:
    """An .xls or .ods read whole: every visible sheet with a header, numbers as the application showed them."""
    from .package import shared_content_notes

    facts = guard.inspect_workbook(path, formats.for_name(path), limits)
    try:
        if facts.format.key == "xls":
            from .xls import read_xls

            book = read_xls(path, limits.sheets)
        else:
            from .ods import read_ods

            book = read_ods(path)
    except InputError:
        raise
    except Exception as exc:  # xlrd and the XML parser raise several unrelated types
        raise InputError(path, excel_problem(path, exc)) from None
    sheets, skipped, said = [], [], []
    for office_sheet in book.sheets:
        reason = "hidden sheet" if not office_sheet.visible else \
            None if template.wants_sheet(office_sheet.name) else LEFT_OUT
        found = reason or _find_sheet(office_sheet.name, _padded(office_sheet.rows), template)
        if isinstance(found, Sheet) and (earlier := earlier_records(found.header)):
            skipped.append((office_sheet.name, earlier))
        elif isinstance(found, Sheet):
            _show_office_numbers(found, office_sheet)
            _refuse_dates(found)
            sheets.append(found)
            said += _sheet_notes(found, {r + 1 for r in office_sheet.hidden_rows})  # as sheet row numbers
            if found.unread:
                skipped.append((office_sheet.name, found.unread))
        else:
            skipped.append((office_sheet.name, found))
    notes = list(facts.notes) + shared_content_notes(0, book.formulas)
    return SourceFile(path, "excel", sheets, skipped, notes=notes, office=book, sheet_notes=said)


def _sheet_notes(sheet: Sheet, hidden) -> list[str]:
    """What is said first about a sheet that is read: that nothing is under its header, or rows it
    hides (``hidden``: sheet row numbers)."""
    if sheet.unread:  # its rows are skipped, which is said first already
        return []
    note = no_rows_note(sheet) or hidden_rows_note(sheet, hidden)
    return [note] if note else []


def _padded(rows: list[list]) -> list[list]:
    width = max((len(r) for r in rows), default=0)
    return [r + [None] * (width - len(r)) if len(r) < width else r for r in rows]


def _show_office_numbers(sheet: Sheet, office_sheet) -> None:
    """Serials stored as numbers in an .xls/.ods, as the application showed them."""
    from .numfmt import excel_text, general_text

    def shown(row: int, col: int, value: float) -> str:
        text = office_sheet.shown.get((row, col))
        if text:
            return text
        code = office_sheet.codes.get((row, col))
        return (excel_text(value, code) if code else None) or general_text(value)
    _remark_numbers(sheet, lambda i, position, value: shown(sheet.header_row + i, position, value))


#: The fields a row cannot do without, in groups: one of each group is needed.
_NEEDED = (("resource_type",), ("resource_id", "order_no"), ("serial_id", "serial_number"))


def _show_unseen_results(path: Path, facts: guard.WorkbookFacts, sheet: Sheet) -> None:
    """Cells the reader gives as empty that the application does not show empty: an error a formula
    shows (#N/A) in a column read as a field is read as shown, as the .xls reader reads it, so the
    row's message names the error; a formula saved without its result (by a program that does not
    calculate), where a row lacks a value it needs, makes the row invalid, saying so, instead of "is
    blank". Only a sheet with formulas or error cells, and rows lacking such a value or fields
    showing an error, cost a pass over its XML."""
    scan = facts.scans.get(sheet.name)
    part = facts.parts.get(sheet.name)
    if scan is None or part is None or not (scan.formulas or scan.errors) or not len(sheet.data):
        return
    from .xlsx import unseen_results

    lacking = _lacking_cells(sheet)
    wanted = {**_field_errors(sheet, scan.error_cells), **lacking}
    if not wanted:
        return
    with zipfile.ZipFile(path) as archive:
        found = unseen_results(archive, part, set(wanted))
    columns = sheet.mapping.columns
    for ref, (kind, text) in found.items():
        i, position = wanted[ref]
        if kind == "error":
            sheet.shown.setdefault(position, {})[i] = text
        elif ref in lacking:
            name = sheet.header[position] or next(f for f, p in columns.items() if p == position)
            what = f"={text}" if text else "a copy of a shared formula"
            said = (f"{name}: holds a formula saved without its result ({what}); open the file in Excel or "
                    f"LibreOffice and save it, so its results are saved with it")
            _add_problem(sheet, i, said)


def _lacking_cells(sheet: Sheet) -> dict[str, tuple[int, int]]:
    """Reference → (data row position, column position) of the key cells of each row that lacks a
    value it needs (a row left blank whole is not such a row)."""
    from .xlsx import column_letters

    data, columns = sheet.data, sheet.mapping.columns
    groups = [[columns[name] for name in group if name in columns] for group in _NEEDED]
    empty = {p: _empty_cells(data[p]) for group in groups for p in group}  # the key columns only
    lacking = [(group, pd.concat([empty[p] for p in group], axis=1).all(axis=1)) for group in groups if group]
    candidates = sorted({int(i) for _, rows in lacking for i in rows.to_numpy().nonzero()[0]})
    if not candidates:
        return {}
    # a row left blank whole is not a row lacking a value: only the candidates' other cells are looked at
    filled = ~pd.concat([_empty_cells(data[p].iloc[candidates]) for p in data.columns], axis=1).all(axis=1)
    kept = {candidates[k] for k in filled.to_numpy().nonzero()[0]}
    wanted: dict[str, tuple[int, int]] = {}
    numbers = sheet.numbers()
    for group, rows in lacking:
        for i in rows.to_numpy().nonzero()[0]:
            if int(i) in kept:
                for position in group:
                    wanted[f"{column_letters(position + 1)}{numbers[i]}"] = (int(i), position)
    return wanted


def _field_errors(sheet: Sheet, refs: list[str]) -> dict[str, tuple[int, int]]:
    """Of the cells showing an error (``refs``, from the guard's scan), those in a data row and a
    column read as a field: reference → (data row position, column position)."""
    from .xlsx import column_number

    positions = set(sheet.mapping.columns.values())
    numbers = sheet.numbers()
    row_of = (lambda n: n - numbers.start if n in numbers else None) if isinstance(numbers, range) else \
        {n: i for i, n in enumerate(numbers)}.get
    found = {}
    for ref in refs:
        letters = ref.rstrip("0123456789")
        position, i = column_number(letters) - 1, row_of(int(ref[len(letters):]))
        if position in positions and i is not None:
            found[ref] = (i, position)
    return found


def _add_problem(sheet: Sheet, position: int, said: str) -> None:
    """One more reason the row at ``position`` cannot be used (after any the reader found before)."""
    sheet.problems[position] = f"{sheet.problems[position]}; {said}" if position in sheet.problems else said


def _empty_cells(column: pd.Series) -> pd.Series:
    return column.isna() | (column.astype(str).str.strip() == "")


#: Fields written as text that a spreadsheet turns into dates as they are typed (1-2, 3/4, MAR1).
_TEXT_FIELDS = ("serial_number", "order_no", "sku")


def _refuse_dates(sheet: Sheet) -> None:
    """A date where a serial, order number or SKU belongs makes its row invalid, saying so.

    The application turned what was typed into a date (1-2 becomes 2 January), and a date does not
    say what was typed: reading it as shown would send "2-Jan" as a serial, and reading its value
    "2026-01-02". The .xlsx, .xls and .ods readers all give such a cell as a date.
    """
    for field in _TEXT_FIELDS:
        position = sheet.mapping.columns.get(field)
        if position is None:
            continue
        column = sheet.data[position]
        if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
            continue
        name = sheet.header[position] or field
        for i, value in enumerate(column.to_numpy()):
            if isinstance(value, (date, time)):
                when = value.date() if isinstance(value, datetime) and value.time() == time() else value
                text = when.isoformat(sep=" ") if isinstance(when, datetime) else when.isoformat()
                said = (f"{name}: the workbook holds a date or time here ({text}), not the text that was typed "
                        f"(a spreadsheet turns entries like 1-2 into dates); format the column as Text and "
                        f"type it again")
                _add_problem(sheet, i, said)
                sheet.shown.setdefault(position, {})[i] = text  # the date, not its reader's spelling of it


def _remark_numbers(sheet: Sheet, text_of) -> None:
    """Each serial stored as a number: its text as shown (``text_of(row position, column, value)``), with a note."""
    position = sheet.mapping.columns.get("serial_number")
    if position is None:
        return
    column = sheet.data[position]
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return
    numeric = {i: v for i, v in zip(range(len(column)), column.to_numpy())
               if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
    shown = {}
    for i, value in numeric.items():
        text = text_of(i, position, float(value))
        shown[i] = text
        sheet.remarks[i] = (f"{sheet.header[position] or 'serial_number'}: stored in the workbook as a number, "
                            f"read as Excel shows it ('{text}'); format the column as Text to keep serials exact")
    if shown:
        sheet.shown[position] = shown


def _show_numbers(path: Path, facts: guard.WorkbookFacts, sheet: Sheet) -> None:
    """Serials stored as numbers, read as Excel shows them (``00000`` → ``00042``), each with a note.

    Only .xlsx/.xlsm carry the formats we read, and only a serial column
    holding numbers costs a pass over its sheet's XML.
    """
    position = sheet.mapping.columns.get("serial_number")
    if position is None or facts.format.parts != "xlsx":
        return
    column = sheet.data[position]
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return
    from .numfmt import excel_text, general_text
    from .xlsx import column_styles

    part = facts.parts.get(sheet.name)
    codes = facts.number_formats()
    styles: dict[int, int] | None = None
    numbers = sheet.numbers()

    def shown(i: int, _position: int, value: float) -> str:
        nonlocal styles
        if styles is None:  # one pass over the sheet's XML, only when a serial is a number
            with zipfile.ZipFile(path) as archive:
                styles = column_styles(archive, part, position + 1) if part else {}
        style = styles.get(numbers[i], 0)
        code = codes[style] if style < len(codes) else "General"
        return excel_text(value, code) or general_text(value)
    _remark_numbers(sheet, shown)


def _find_sheet(name: str, rows: list[list], template: Template) -> Sheet | str:
    """The sheet under the header the template recognises, or why there is none."""
    found = locate(rows[: template.search_rows + LOOK_BELOW], template)
    if isinstance(found, str):
        return found
    width = found.width
    body = [row[:width] for row in rows[found.index + 1 :]]
    data = pd.DataFrame(body, columns=range(width), dtype=object) if body else _empty(width)
    return sheet_under(name, found, data, rows)


def _find_sparse_sheet(name: str, rows: list[tuple[int, dict]], template: Template) -> Sheet | str:
    """As :func:`_find_sheet`, for the rows that hold something, each with its sheet row number.

    Only rows holding a value within the header's width are kept: the rest of
    the rectangle (a stray cell at XFD1048576) costs nothing.
    """
    head = [(number, _as_list(cells)) for number, cells in rows[: template.search_rows + LOOK_BELOW]]
    found = locate([cells for _, cells in head], template, [number for number, _ in head])
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
    sheet = sheet_under(name, found, data, [cells for _, cells in head])
    sheet.header_row = head[found.index][0]
    sheet.row_numbers = numbers
    return sheet


def _as_list(cells: dict) -> list:
    return [cells.get(c) for c in range(1, max(cells) + 1)] if cells else []


def _empty(width: int) -> pd.DataFrame:
    return pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})


__all__ = ["read_excel", "read_office"]
