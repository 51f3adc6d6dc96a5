"""Excel 97-2003 workbooks (.xls) with xlrd: values, number formats, formulas, merges, widths, visibility.

xlrd reads the BIFF records with formatting information (each cell's XF, so
its number format; merged ranges; column widths; sheet visibility) but keeps
only the cached result of a formula. The formulas themselves are decompiled
here from each sheet's FORMULA records (and the SHRFMLA records that shared
formulas point to) with xlrd's own decompiler, so the results workbook holds
the formula, not only a cached value that some applications save as 0.
"""

from __future__ import annotations

import struct
from pathlib import Path

from .errors import InputError
from .office import OfficeBook, OfficeSheet

_FORMULA, _SHRFMLA, _EOF, _BOF = 0x0006, 0x04BC, 0x000A, 0x0809
_STATES = {0: "visible", 1: "hidden", 2: "veryHidden"}


def read_xls(path: Path, max_sheets: int) -> OfficeBook:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except xlrd.XLRDError as exc:
        raise ValueError(str(exc)) from None
    try:
        if book.nsheets > max_sheets:
            raise InputError(path, f"the workbook has {book.nsheets:,} sheets (limit {max_sheets:,}); keep the "
                                   "sheets to import in a workbook of their own")
        formats = _format_codes(book)
        sheets = []
        for index in range(book.nsheets):
            sheet = _sheet(book, book.sheet_by_index(index), formats)
            sheet.formulas = _formulas(book, index)
            sheets.append(sheet)
        return OfficeBook(sheets)
    finally:
        book.release_resources()


def _format_codes(book) -> list[str | None]:
    """The number format code of each XF (None for General)."""
    codes = []
    for xf in book.xf_list:
        found = book.format_map.get(xf.format_key)
        code = found.format_str if found else "General"
        codes.append(None if code in ("General", "") else code)
    return codes


def _sheet(book, sh, formats: list[str | None]) -> OfficeSheet:
    import xlrd

    sheet = OfficeSheet(sh.name, _STATES.get(sh.visibility, "hidden"))
    for r in range(sh.nrows):
        types, values = sh.row_types(r), sh.row_values(r)
        row = []
        for c, (kind, value) in enumerate(zip(types, values)):
            code = formats[sh.cell_xf_index(r, c)] if kind in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE) else None
            if code:
                sheet.codes[(r, c)] = code
            row.append(_value(book, kind, value))
        sheet.rows.append(row)
    sheet.merges = [(r1, c1, r2 - 1, c2 - 1) for r1, r2, c1, c2 in sh.merged_cells]
    sheet.widths = {c: info.width / 256 for c, info in sh.colinfo_map.items() if not info.hidden}
    sheet.hidden_rows = {r for r, info in sh.rowinfo_map.items() if info.hidden and r < sh.nrows}
    return sheet


def _value(book, kind: int, value):
    import xlrd

    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return value
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#N/A")
    return value


def _formulas(book, index: int) -> dict[tuple[int, int], str]:
    """(row, col) → "=formula" for each FORMULA record of the sheet that decompiles cleanly."""
    from xlrd.formula import FMLA_TYPE_CELL, FMLA_TYPE_SHARED, decompile_formula

    mem, pos = book.mem, book._sh_abs_posn[index]
    cells, shared, depth = [], {}, 0
    while pos + 4 <= len(mem):
        code, length = struct.unpack("<HH", mem[pos:pos + 4])
        data = mem[pos + 4:pos + 4 + length]
        pos += 4 + length
        if code == _BOF:
            depth += 1
        elif code == _EOF:
            depth -= 1
            if depth <= 0:
                break
        elif code == _FORMULA and length >= 22:
            row, col = struct.unpack("<HH", data[:4])
            size = struct.unpack("<H", data[20:22])[0]
            cells.append((row, col, data[22:22 + size]))
        elif code == _SHRFMLA and length >= 10:
            first_row, _, first_col, _, _, size = struct.unpack("<HHBBxBH", data[:10])
            shared[(first_row, first_col)] = data[10:10 + size]
    found = {}
    for row, col, tokens in cells:
        try:
            if tokens[:1] == b"\x01" and len(tokens) >= 5:  # tExp: a shared formula anchored elsewhere
                anchor = struct.unpack("<HH", tokens[1:5])
                if anchor not in shared:
                    continue
                text = decompile_formula(book, shared[anchor], len(shared[anchor]), FMLA_TYPE_SHARED,
                                         browx=row, bcolx=col)
            else:
                text = decompile_formula(book, tokens, len(tokens), FMLA_TYPE_CELL, browx=row, bcolx=col)
        except Exception:  # xlrd's decompiler raises several types on tokens it does not know
            continue
        if text and _usable(text):
            found[(row, col)] = "=" + text
    return found


def _usable(text: str) -> bool:
    """A decompiled formula Excel would take (xlrd marks what it could not decompile)."""
    return "<<" not in text and "SHARED FMLA" not in text and "?" not in text and "#REF" not in text.upper()


__all__ = ["read_xls"]
