"""The parts of an .xlsx/.xlsm package, read safely and only as far as needed.

calamine reads a workbook fast, but it allocates every sheet as the rectangle
from A1 to its farthest cell: one cell at XFD1048576 asks for 17 billion
cells. The input guard scans each worksheet's XML (:func:`scan_sheet`) to see
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

import numpy as np
from defusedxml import ElementTree as SafeTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
STRICT = "{http://purl.oclc.org/ooxml/spreadsheetml/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

_REF = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]+)([0-9]+)\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*?\bref=\"([A-Z]+)?([0-9]+)?(?::([A-Z]+)([0-9]+))?\"")
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


@dataclass
class SheetScan:
    """What a worksheet part holds, from one pass over its bytes (nothing allocated per cell)."""

    rows: int = 0          # the highest row number of a row or cell
    columns: int = 0       # the highest column number of a cell
    cells: int = 0         # <c> elements
    referenced: int = 0    # <c> elements with an r="A1" reference
    declared: tuple[int, int] | None = None   # rows, columns of its <dimension>
    far_cell: str = ""     # the reference of the farthest cell seen (for messages)
    formulas: int = 0      # <f> elements (formulas kept in the results)

    @property
    def rectangle(self) -> int:
        return self.rows * self.columns


def scan_chunks(chunks, scan: SheetScan) -> None:
    """Feed a worksheet part's bytes, chunk by chunk, into ``scan``.

    A chunk is cut after its last ``>`` so a tag is never split between two
    regex passes. The common spelling (``<c r="A1"`` first, no prefix) is
    matched by a literal-led pattern, fast; a chunk where that misses cells
    is matched again by the general one. Rows come from the cells' own
    references, as calamine places them. Column letters compare as
    (length, letters), which orders them like column numbers. Counting runs
    on the positions of ``<`` and ``:`` in numpy, which lets go of the
    interpreter's lock: the scan runs beside the command's loading (see
    :mod:`.workbook_cells`), and ``bytes.count``, which holds the lock,
    stalled that loading for as long as it took.
    """
    carry, widest = b"", 0
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b">") + 1
        data, carry = data[:cut], data[cut:]
        if scan.declared is None and b"dimension" in data:
            scan.declared = _declared(data)
        raw = np.frombuffer(data, dtype=np.uint8)
        opening, colon = np.flatnonzero(raw == 60), np.flatnonzero(raw == 58)  # each "<", each ":"
        cells = _followed(raw, opening, b"c", (b" ", b">", b"/>")) + _followed(raw, colon, b"c", (b" ",))
        found, column, row = _fast_reach(raw, opening)
        if found < cells:  # another attribute order, or a namespace prefix: the general pattern
            refs = _REF.findall(data)
            found = len(refs)
            if refs:
                letters, rows = zip(*refs)
                column = max(column, column_number(max(set(letters), key=_column_key)))
                row = max(row, max(map(int, rows)))
        scan.cells += cells
        scan.formulas += _followed(raw, opening, b"f", (b">", b" ")) + _followed(raw, colon, b"f", (b">", b" "))
        scan.referenced += found
        widest, scan.rows = max(widest, column), max(scan.rows, row)
    if widest:
        scan.columns = widest
        scan.far_cell = f"{column_letters(widest)}{scan.rows}"


_WINDOW = np.arange(13)


def _followed(raw: np.ndarray, marks: np.ndarray, name: bytes, endings: tuple[bytes, ...]) -> int:
    """How many of ``marks`` (positions in ``raw``) are followed by ``name`` and then one of ``endings``:
    ``bytes.count`` of each spelling, summed (none of them can overlap itself)."""
    marks = marks[marks < len(raw) - 1]
    marks = marks[raw[marks + 1] == name[0]]
    total = 0
    for ending in endings:
        at = marks[marks < len(raw) - 1 - len(ending)]
        for offset, byte in enumerate(ending, start=2):
            at = at[raw[at + offset] == byte]
        total += len(at)
    return total


def _fast_reach(raw: np.ndarray, opening: np.ndarray) -> tuple[int, int, int]:
    """(cells, highest column, highest row) of the references spelled ``<c r="AB12"``, vectorised.

    Each ``<`` (``opening``: their positions in ``raw``) is a candidate; those followed by ``c r="``
    are cell starts; the 13 bytes after each are classified at once (letters, then digits, then the
    closing quote). Only the highest column and row are wanted, so only the longest spellings are
    made numbers (a longer spelling is a larger number, as no letter is a zero and, where no row has
    a leading zero, no digit run starts with one). No Python object per cell: a million cells cost a
    few array operations.
    """
    starts = opening[opening < len(raw) - 19]
    for offset, byte in enumerate(b'c r="', start=1):
        starts = starts[raw[starts + offset] == byte]
    if not len(starts):
        return 0, 0, 0
    window = np.lib.stride_tricks.sliding_window_view(raw, len(_WINDOW))[starts + 6]  # rows of a view: no index matrix
    letters = np.argmin((window >= 65) & (window <= 90), axis=1)
    is_digit = (window >= 48) & (window <= 57)
    end = np.argmax(~is_digit & (_WINDOW >= letters[:, None]), axis=1)
    good = (letters >= 1) & (letters <= 4) & (end > letters) & (window[np.arange(len(end)), end] == 34)
    window, letters, end = window[good], letters[good], end[good]
    if not len(window):
        return 0, 0, 0
    if (window[np.arange(len(letters)), letters] == 48).any():  # a row spelled with a leading zero
        return len(window), *_horner(window, letters, end)
    most = int(letters.max())
    column = (window[letters == most, :most].astype(np.int64) - 64) @ (26 ** np.arange(most - 1, -1, -1))
    digits = end - letters
    longest, row = int(digits.max()), 0
    for count in np.unique(letters[digits == longest]):  # where the digits start: after 1 to 4 letters
        picked = window[(digits == longest) & (letters == count), count:count + longest].astype(np.int64) - 48
        row = max(row, int((picked @ (10 ** np.arange(longest - 1, -1, -1))).max()))
    return len(window), int(column.max()), row


def _horner(window: np.ndarray, letters: np.ndarray, end: np.ndarray) -> tuple[int, int]:
    """(highest column, highest row) with every reference made a number (Horner's rule, a byte
    position at a time): for rows spelled with leading zeros, where the longest is not the largest."""
    window = window.astype(np.int64)
    column = np.zeros(len(window), dtype=np.int64)
    row = np.zeros(len(window), dtype=np.int64)
    for k in range(len(_WINDOW)):
        if k < 4:
            column = np.where(k < letters, column * 26 + window[:, k] - 64, column)
        row = np.where((k >= letters) & (k < end), row * 10 + window[:, k] - 48, row)
    return int(column.max()), int(row.max())


def _column_key(letters: bytes) -> tuple[int, bytes]:
    return len(letters), letters


def _declared(data: bytes) -> tuple[int, int] | None:
    found = _DIMENSION.search(data)
    if not found:
        return (0, 0)
    first_col, first_row, last_col, last_row = found.groups()
    col, row = (last_col, last_row) if last_col else (first_col, first_row)
    return (int(row or 0), column_number(col) if col else 0)


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
