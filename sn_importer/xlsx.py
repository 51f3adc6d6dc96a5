"""The parts of an .xlsx/.xlsm package, read safely and only as far as needed.

calamine reads a workbook fast, but it allocates every sheet as the rectangle
from A1 to its farthest cell: one cell at XFD1048576 asks for 17 billion
cells. The input guard scans each worksheet's XML (:mod:`.sheetscan`) to see
what it really holds; a sheet whose rectangle is far larger than its cells is
read here instead, cell by cell (:func:`read_sparse`), keeping only the rows
that hold something. The number formats of cells (:func:`column_styles`,
:func:`number_formats`) let the reader show a number as Excel shows it.

Every XML part is parsed with defusedxml: a DTD, entity or external
reference is refused, never expanded or fetched.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from html import unescape

from defusedxml import ElementTree as SafeTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
STRICT = "{http://purl.oclc.org/ooxml/spreadsheetml/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

_CHUNK = 4 * 2**20


def column_number(letters: str | bytes) -> int:
    """'A' → 1, 'XFD' → 16384."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --------------------------------------------------------------------------- package facts


@dataclass(frozen=True)
class SheetEntry:
    """One sheet of the workbook, in workbook order: its name, its part (None: not a worksheet) and state."""

    name: str
    part: str | None
    state: str = "visible"  # visible, hidden or veryHidden

    @property
    def visible(self) -> bool:
        return self.state == "visible"


@dataclass
class Package:
    """The sheet names and parts of an open .xlsx/.xlsm archive (already checked by the guard)."""

    archive: zipfile.ZipFile
    parts: dict[str, str] = field(default_factory=dict)   # sheet name → part path
    sparse: set[str] = field(default_factory=set)         # sheets to read cell by cell
    _strings: list[str] | None = None
    _formats: list[str] | None = None

    def shared_strings(self) -> list[str]:
        if self._strings is None:
            self._strings = _shared_strings(self.archive)
        return self._strings

    def number_formats(self) -> list[str]:
        """The format code of each cell style (index = the cell's ``s``)."""
        if self._formats is None:
            self._formats = number_formats(self.archive)
        return self._formats


def _tag(element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → worksheet part, from xl/workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        return {}
    rels = archive.read("xl/_rels/workbook.xml.rels") if "xl/_rels/workbook.xml.rels" in names else None
    return {e.name: e.part for e in sheet_entries(archive.read("xl/workbook.xml"), rels, names) if e.part}


def sheet_entries(workbook: bytes, rels: bytes | None, names: set[str]) -> list[SheetEntry]:
    """Every sheet of xl/workbook.xml in order: name, worksheet part (None if absent) and state."""
    targets = {}
    for rel in SafeTree.fromstring(rels) if rels else ():
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        targets[rel.get("Id")] = path
    entries = []
    for element in SafeTree.fromstring(workbook).iter():
        if _tag(element) == "sheet":
            part = targets.get(element.get(f"{REL}id") or element.get("id"))
            entries.append(SheetEntry(element.get("name", ""), part if part in names else None,
                                      element.get("state", "visible")))
    return entries


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    name = "xl/sharedStrings.xml"
    if name not in archive.namelist():
        return []
    strings = []
    with archive.open(name) as part:
        for _, element in SafeTree.iterparse(part, events=("end",), forbid_dtd=True):
            if _tag(element) == "si":
                strings.append(_text_of(element))
                element.clear()
    return strings


def _text_of(element) -> str:
    """The text of a shared or inline string: its <t> runs, without phonetic hints (<rPh>)."""
    if _tag(element) == "t":
        return element.text or ""
    return "".join(_text_of(child) for child in element if _tag(child) in ("t", "r"))


#: Excel's built-in number formats that matter for reading serials (ECMA-376 18.8.30).
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 49: "@"}


def number_formats(archive: zipfile.ZipFile) -> list[str]:
    """The number format code of every cell style (cellXfs), in order."""
    if "xl/styles.xml" not in archive.namelist():
        return []
    return number_formats_of(archive.read("xl/styles.xml"))


def number_formats_of(styles: bytes | None) -> list[str]:
    """As :func:`number_formats`, from the bytes of xl/styles.xml."""
    if not styles:
        return []
    root = SafeTree.fromstring(styles, forbid_dtd=True)
    custom = {}
    for element in root.iter():
        if _tag(element) == "numFmt":
            custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "General")
    codes = []
    for element in root:
        if _tag(element) == "cellXfs":
            for xf in element:
                number = int(xf.get("numFmtId", "0"))
                codes.append(custom.get(number, BUILTIN_FORMATS.get(number, "General")))
    return codes


def column_styles(archive: zipfile.ZipFile, part: str, column: int) -> dict[int, int]:
    """Row number → style index of every cell in one column (a regex pass, no parse)."""
    letters = column_letters(column).encode()
    pattern = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"" + letters + rb"([0-9]+)\"[^>]*>")
    style = re.compile(rb"\bs=\"([0-9]+)\"")
    found: dict[int, int] = {}
    with archive.open(part) as stream:
        carry = b""
        while chunk := stream.read(_CHUNK):
            data = carry + chunk
            cut = data.rfind(b">") + 1
            data, carry = data[:cut], data[cut:]
            for match in pattern.finditer(data):
                s = style.search(match.group(0))
                if s:
                    found[int(match.group(1))] = int(s.group(1))
    return found


_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_CELL_REF = re.compile(rb"\br=\"([A-Z]+[0-9]+)\"")
_CELL_TYPE = re.compile(rb"\bt=\"(\w+)\"")
_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)


def unseen_results(archive: zipfile.ZipFile, part: str, refs: set[str]) -> dict[str, tuple[str, str]]:
    """Of the cells ``refs`` (``"C3"``: cells the reader gave as empty), those that are not empty in
    the application: ``("error", "#N/A")`` for a cell showing an error, ``("formula", "A1*2")`` for a
    formula saved without its result (as programs that do not calculate write them; the text is ""
    for a copy of a shared formula). One regex pass over the sheet, a run of whole rows at a time."""
    wanted = {ref.encode() for ref in refs}
    found: dict[str, tuple[str, str]] = {}

    def look(data: bytes) -> None:
        for cell in _CELL.finditer(data):
            ref = _CELL_REF.search(cell.group(1))
            if ref is None or ref.group(1) not in wanted:
                continue
            kind, inner = _CELL_TYPE.search(cell.group(1)), cell.group(2) or b""
            value = _VALUE.search(inner)
            value = unescape(value.group(1).decode("utf-8", "replace")) if value else ""
            formula = _FORMULA.search(inner)
            if kind is not None and kind.group(1) == b"e" and value:
                found[ref.group(1).decode()] = ("error", value)
            elif formula is not None and not value and (kind is None or kind.group(1) != b"inlineStr"):
                text = (formula.group(1) or b"").decode("utf-8", "replace")
                found[ref.group(1).decode()] = ("formula", unescape(text))

    with archive.open(part) as stream:
        carry = b""
        while chunk := stream.read(_CHUNK):
            data = carry + chunk
            cut = data.rfind(b"row>") + 4  # after a row's end: no cell is split between two passes
            if cut < 4:
                carry = data
                continue
            look(data[:cut])
            carry = data[cut:]
        look(carry)
    return found


# --------------------------------------------------------------------------- the sparse reader


def read_sparse(package: Package, part: str) -> list[tuple[int, dict[int, object]]]:
    """The rows of a worksheet that hold a value, as (row number, {column number: value}).

    Costs what the cells cost, whatever the sheet's rectangle. Values are typed
    as calamine gives them: str, float, bool (dates as the serial number,
    formula results as cached).
    """
    strings = package.shared_strings()
    rows: list[tuple[int, dict[int, object]]] = []
    with package.archive.open(part) as stream:
        parser = SafeTree.iterparse(stream, events=("start", "end"), forbid_dtd=True)
        holder, number, cells, next_row, last_col = None, 0, {}, 1, 0
        for event, element in parser:
            tag = _tag(element)
            if event == "start":
                if tag == "sheetData":
                    holder = element
                elif tag == "row":
                    number = int(element.get("r") or next_row)
                    cells, last_col = {}, 0
                continue
            if tag == "c":
                col = last_col = _cell_column(element.get("r"), last_col + 1)
                value = _cell_value(element, strings)
                if value not in (None, ""):
                    cells[col] = value
                element.clear()
            elif tag == "row":
                if cells:
                    rows.append((number, cells))
                next_row = number + 1
                if holder is not None:
                    holder.clear()
    return rows


def content_reach(stream, top: int) -> int:
    """The highest column of a cell holding something (a value, formula or text) from row ``top`` down."""
    reach, number, next_row, last_col = 0, 0, 1, 0
    for event, element in SafeTree.iterparse(stream, events=("start", "end"), forbid_dtd=True):
        tag = _tag(element)
        if event == "start":
            if tag == "row":
                number = int(element.get("r") or next_row)
                last_col = 0
            continue
        if tag == "c":
            last_col = _cell_column(element.get("r"), last_col + 1)
            if number >= top and any(_tag(child) in ("v", "f", "is") for child in element):
                reach = max(reach, last_col)
            element.clear()
        elif tag == "row":
            next_row = number + 1
            element.clear()
    return reach


def _cell_column(ref: str | None, default: int) -> int:
    if not ref:
        return default
    return column_number(ref.rstrip("0123456789"))


def _cell_value(element, strings: list[str]):
    kind = element.get("t", "n")
    if kind == "inlineStr":
        inline = next((c for c in element if _tag(c) == "is"), None)
        return _text_of(inline) if inline is not None else ""
    raw = next((c.text for c in element if _tag(c) == "v"), None)
    if raw is None:
        return None
    if kind == "s":
        index = int(raw)
        return strings[index] if 0 <= index < len(strings) else ""
    if kind in ("str", "e"):
        return raw
    if kind == "b":
        return raw.strip() == "1"
    try:
        return float(raw)
    except ValueError:
        return raw
