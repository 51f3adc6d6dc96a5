"""OpenDocument spreadsheets (.ods): how far their tables reach, and their cells as the application showed them.

``content.xml`` is streamed (never held whole) with defusedxml; a repeated row
or cell is counted by its repeat attribute, not expanded, so a file claiming a
million empty rows costs nothing to measure (:func:`scan_ods`, the guard's).
The reader (:func:`read_ods`) takes from the same part each cell's value and
the text the application showed for it (LibreOffice writes a number as shown,
``000123``, beside its value), formulas (OpenFormula turned into Excel's
spelling), merges, column widths and hidden tables, and from the data styles
each number format in Excel's spelling. Repeats of cells holding something are
expanded (the guard has bounded them); repeats of nothing are only counted.
"""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

from defusedxml import ElementTree as SafeTree

from .office import OfficeBook, OfficeSheet


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def scan_ods(stream) -> dict[str, tuple[int, int, int]]:
    """{table: (rows reached, columns reached, cells holding something)} of content.xml, streamed.

    Repeats count: a row repeated 1,000,000 times holding one value is a million cells,
    which is what calamine allocates for it.
    """
    found: dict[str, tuple[int, int, int]] = {}
    name, row, reach_row, reach_col, cells = "", 0, 0, 0, 0
    col = row_cells = row_reach = 0
    for event, element in SafeTree.iterparse(stream, events=("start", "end"), forbid_dtd=True):
        tag = element.tag
        if event == "start":
            if tag == _ODS_TABLE + "table":
                name, row, reach_row, reach_col, cells = element.get(_ODS_TABLE + "name", ""), 0, 0, 0, 0
            elif tag == _ODS_TABLE + "table-row":
                col = row_cells = row_reach = 0
            continue
        if tag in (_ODS_TABLE + "table-cell", _ODS_TABLE + "covered-table-cell"):
            repeat = int(element.get(_ODS_TABLE + "number-columns-repeated", "1"))
            if element.get(_ODS_OFFICE + "value-type") or len(element):
                row_cells, row_reach = row_cells + repeat, col + repeat
            col += repeat
            element.clear()
        elif tag == _ODS_TABLE + "table-row":
            repeat = int(element.get(_ODS_TABLE + "number-rows-repeated", "1"))
            if row_cells:
                cells += row_cells * repeat
                reach_row, reach_col = row + repeat, max(reach_col, row_reach)
            row += repeat
            element.clear()
        elif tag == _ODS_TABLE + "table":
            found[name] = (reach_row, reach_col, cells)
            element.clear()
    return found


# --------------------------------------------------------------------------- reading


_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "number": "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0",
}
_REFS = re.compile(r"\[(\$?'(?:[^']|'')+'|\$?[^\[\].]*)?\.(\$?[A-Z]+\$?[0-9]+)(?::(\$?'(?:[^']|'')+'|\$?[^\[\].:]*)?"
                   r"\.?(\$?[A-Z]+\$?[0-9]+))?\]")
_WIDTH_UNITS = {"cm": 1 / 0.265, "mm": 1 / 2.65, "in": 2.54 / 0.265, "pt": 2.54 / 72 / 0.265}  # one '0' ≈ 0.265 cm


def q(prefix: str, name: str) -> str:
    return "{" + _NS[prefix] + "}" + name


def read_ods(path: Path) -> OfficeBook:
    """Every table of an .ods: values, the text shown, Excel number formats, formulas, merges, widths, visibility."""
    with zipfile.ZipFile(path) as archive:
        styles = _Styles()
        if "styles.xml" in archive.namelist():
            with archive.open("styles.xml") as part:
                styles.read(part, body=False)
        with archive.open("content.xml") as part:
            return styles.read(part, body=True)


class _Styles:
    """The number, cell, column and table styles, and (in content.xml) the tables themselves."""

    def __init__(self):
        self.numbers: dict[str, str] = {}       # data style → Excel format code
        self.cells: dict[str, str] = {}         # cell style → data style
        self.columns: dict[str, float] = {}     # column style → width in characters
        self.hidden: set[str] = set()           # table styles that hide their table
        self.book = OfficeBook()

    def read(self, stream, body: bool) -> OfficeBook:
        table = None
        for event, element in SafeTree.iterparse(stream, events=("start", "end"), forbid_dtd=True):
            tag = element.tag
            if event == "start":
                if tag == q("table", "table") and body:
                    table = _Table(self, element)
                continue
            if table is not None and tag in (q("table", "table-cell"), q("table", "covered-table-cell")):
                table.cell(element)
            elif table is not None and tag == q("table", "table-row"):
                table.end_row(element)
                element.clear()
            elif table is not None and tag == q("table", "table-column"):
                table.column(element)
            elif tag == q("table", "table"):
                if table is not None:
                    self.book.sheets.append(table.finish())
                table = None
                element.clear()
            elif tag in _DATA_STYLES:
                self.numbers[element.get(q("style", "name"), "")] = _code(element)
            elif tag == q("style", "style"):
                self._style(element)
        return self.book

    def _style(self, element) -> None:
        name, family = element.get(q("style", "name"), ""), element.get(q("style", "family"))
        if family == "table-cell" and element.get(q("style", "data-style-name")):
            self.cells[name] = element.get(q("style", "data-style-name"))
        elif family == "table-column":
            props = element.find(q("style", "table-column-properties"))
            width = _width(props.get(q("style", "column-width")) if props is not None else None)
            if width:
                self.columns[name] = width
        elif family == "table":
            props = element.find(q("style", "table-properties"))
            if props is not None and props.get(q("table", "display")) == "false":
                self.hidden.add(name)

    def code(self, cell_style: str | None) -> str | None:
        code = self.numbers.get(self.cells.get(cell_style or "", ""), "")
        return code if code and code != "General" else None


class _Table:
    """One table being read: rows expanded where they hold something, repeats of nothing only counted."""

    def __init__(self, styles: _Styles, element):
        hidden = element.get(q("table", "style-name")) in styles.hidden
        self.styles = styles
        self.sheet = OfficeSheet(element.get(q("table", "name"), ""), "hidden" if hidden else "visible")
        self.row, self.cells, self.col, self.next_column = 0, [], 0, 0
        self.column_styles: list[tuple[int, int, str | None]] = []   # first, count, default cell style

    def column(self, element) -> None:
        repeat = int(element.get(q("table", "number-columns-repeated"), "1"))
        width = self.styles.columns.get(element.get(q("table", "style-name"), ""))
        if width and self.next_column < 1024:
            for c in range(self.next_column, min(self.next_column + repeat, 1024)):
                self.sheet.widths[c] = width
        self.column_styles.append((self.next_column, repeat, element.get(q("table", "default-cell-style-name"))))
        self.next_column += repeat

    def cell(self, element) -> None:
        repeat = int(element.get(q("table", "number-columns-repeated"), "1"))
        kind = element.get(q("office", "value-type"))
        formula = element.get(q("table", "formula"))
        if kind is None and formula is None and not len(element):
            self.col += repeat
            element.clear()
            return
        value, shown = _cell_value(element, kind)
        style = element.get(q("table", "style-name")) or self._column_style(self.col)
        code = self.styles.code(style) if kind in ("float", "percentage", "currency", "date") else None
        spans = (int(element.get(q("table", "number-rows-spanned"), "1")),
                 int(element.get(q("table", "number-columns-spanned"), "1")))
        for c in range(self.col, self.col + repeat):
            self.cells.append((c, value))
            if code:
                self.sheet.codes[(self.row, c)] = code
            if shown is not None:
                self.sheet.shown[(self.row, c)] = shown
            if formula:
                excel = excel_formula(formula)
                if excel:
                    self.sheet.formulas[(self.row, c)] = excel
        if spans != (1, 1):
            self.sheet.merges.append((self.row, self.col, self.row + spans[0] - 1, self.col + spans[1] - 1))
        self.col += repeat
        element.clear()

    def _column_style(self, col: int) -> str | None:
        return next((s for first, count, s in self.column_styles if first <= col < first + count), None)

    def end_row(self, element) -> None:
        repeat = int(element.get(q("table", "number-rows-repeated"), "1"))
        if self.cells and element.get(q("table", "visibility"), "visible") != "visible":  # filtered or collapsed
            self.sheet.hidden_rows.update(range(self.row, self.row + repeat))
        if self.cells:
            width = self.cells[-1][0] + 1
            values = [None] * width
            for c, value in self.cells:
                values[c] = value
            while len(self.sheet.rows) < self.row:
                self.sheet.rows.append([])
            for k in range(repeat):
                self.sheet.rows.append(list(values))
                if k:
                    self._copy_row_facts(self.row, self.row + k)
        self.row += repeat
        self.cells, self.col = [], 0

    def _copy_row_facts(self, source: int, target: int) -> None:
        for facts in (self.sheet.codes, self.sheet.shown, self.sheet.formulas):
            for (r, c), v in list(facts.items()):
                if r == source:
                    facts[(target, c)] = v

    def finish(self) -> OfficeSheet:
        return self.sheet


def _cell_value(element, kind: str | None):
    """The cell's value and, for a number, the text the application showed."""
    shown = "\n".join(_paragraph(p) for p in element.findall(q("text", "p")))
    if kind in ("float", "percentage", "currency"):
        return float(element.get(q("office", "value"), "0")), shown
    if kind == "date":
        raw = element.get(q("office", "date-value"), "")
        try:
            return datetime.fromisoformat(raw), None
        except ValueError:
            return shown or raw, None
    if kind == "boolean":
        return element.get(q("office", "boolean-value")) == "true", None
    if kind == "time":
        return shown, None
    if element.get(q("calcext", "value-type")) == "error":  # a formula's error (#N/A): read as shown, as in .xls
        return shown, None
    return element.get(q("office", "string-value"), shown), None


def _paragraph(element) -> str:
    """A text:p's text, with its spaces (text:s), tabs and line breaks."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == q("text", "s"):
            parts.append(" " * int(child.get(q("text", "c"), "1")))
        elif child.tag == q("text", "tab"):
            parts.append("\t")
        elif child.tag == q("text", "line-break"):
            parts.append("\n")
        else:
            parts.append(_paragraph(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _width(text: str | None) -> float | None:
    found = re.fullmatch(r"([0-9.]+)(cm|mm|in|pt)", text or "")
    return round(float(found.group(1)) * _WIDTH_UNITS[found.group(2)], 2) if found else None


def excel_formula(formula: str) -> str | None:
    """An OpenFormula (``of:=IF([.B2]>0;"ok";"no")``) in Excel's words (``=IF(B2>0,"ok","no")``), or None."""
    if not formula.startswith(("of:=", "=")):
        return None
    body = formula.split("=", 1)[1]
    out = []
    for piece in re.split(r'("(?:[^"]|"")*")', body):
        if piece.startswith('"'):
            out.append(piece)
            continue
        piece = _REFS.sub(_ref, piece).replace(";", ",")
        if "[" in piece or "]" in piece:
            return None
        out.append(piece)
    return "=" + "".join(out)


def _ref(found) -> str:
    sheet, first, sheet2, last = found.groups()

    def named(name: str | None) -> str:
        if not name:
            return ""
        name = name.lstrip("$")
        if name.startswith("'"):
            return name + "!"
        return (f"'{name}'" if not re.fullmatch(r"\w+", name) else name) + "!"
    text = named(sheet) + first
    if last:
        text += ":" + (named(sheet2) if sheet2 and sheet2 != sheet else "") + last
    return text


_DATA_STYLES = {q("number", n) for n in ("number-style", "date-style", "percentage-style", "currency-style",
                                         "time-style", "text-style")}


def _code(style) -> str:
    """An ODF data style as an Excel number format code (what serial, id and date columns use)."""
    parts = []
    for child in style:
        name = child.tag.rsplit("}", 1)[-1]
        long = child.get(q("number", "style")) == "long"
        if name == "number":
            parts.append(_digits(child))
        elif name == "scientific-number":
            parts.append(_digits(child) + "E+" + "0" * int(child.get(q("number", "min-exponent-digits"), "2")))
        elif name == "text":
            literal = child.text or ""
            parts.append(f'"{literal}"' if literal.strip() else literal)
        elif name in ("year", "month", "day", "hours", "minutes", "seconds"):
            parts.append(_date_part(name, long, child.get(q("number", "textual")) == "true"))
        elif name == "text-content":
            parts.append("@")
    if style.tag == q("number", "percentage-style"):
        parts = [p.replace('"%"', "%") for p in parts]
    code = "".join(parts)
    return code or "General"


def _digits(element) -> str:
    integers = int(element.get(q("number", "min-integer-digits"), "1"))
    decimals = int(element.get(q("number", "decimal-places"), "0"))
    whole = "0" * max(1, integers)
    if element.get(q("number", "grouping")) == "true":
        whole = "#,##" + whole[-1:] if len(whole) < 4 else whole
    return whole + ("." + "0" * decimals if decimals else "")


def _date_part(name: str, long: bool, textual: bool) -> str:
    if name == "month" and textual:
        return "mmmm" if long else "mmm"
    letter = {"year": "y", "month": "m", "day": "d", "hours": "h", "minutes": "m", "seconds": "s"}[name]
    if name == "year":
        return "yyyy" if long else "yy"
    return letter * 2 if long else letter
