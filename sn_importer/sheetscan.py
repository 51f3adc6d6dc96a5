"""What a worksheet part holds, from one pass over its bytes: the input guard's scan.

calamine allocates a sheet as the rectangle from A1 to its farthest cell, so
before it reads a sheet the guard wants that reach, the number of cells and of
formulas, and the ``<dimension>`` the sheet declares, without parsing the XML
or allocating anything per cell (a million cells cost a few array operations).
:func:`scan_chunks` feeds the part through, chunk by chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .xlsx import column_letters, column_number

_REF = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]+)([0-9]+)\"")
#: A worksheet's ``<sheetData>`` start, with the namespace prefix its elements are written with (group 1).
SHEET_DATA = re.compile(rb"<(?:(\w+):)?sheetData[\s/>]")
#: A row hidden in the sheet (by a filter, by hand, or folded into a group), and its row number.
_HIDDEN_ROW = re.compile(rb"<(?:\w+:)?row\s[^>]*?\bhidden=\"(?:1|true)\"[^>]*>")
_ROW_NUMBER = re.compile(rb"\br=\"([0-9]+)\"")
#: A cell that shows an error (``t="e"``), and its reference.
_ERROR_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?\bt=\"e\"[^>]*)>")
_CELL_REF = re.compile(rb"\br=\"([A-Z]+[0-9]+)\"")
#: The sheet's own filter and its range (group 2), or the custom views that follow it (group 1), whose
#: filters are not the sheet's.
_FILTER = re.compile(rb"<(?:\w+:)?(?:(customSheetViews)|autoFilter)[\s/>](?:[^>]*?\bref=\"([^\"]*)\")?")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*?\bref=\"([A-Z]+)?([0-9]+)?(?::([A-Z]+)([0-9]+))?\"")


#: How many references of cells showing an error a scan keeps (a column of #N/A down a whole sheet
#: is not kept whole: past these, only rows lacking a needed value have their errors read).
ERROR_CELLS_KEPT = 100_000


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
    errors: bool = False   # a cell showing an error (t="e": #N/A, #DIV/0!, ...)
    prefix: bytes | None = None  # the prefix its elements are written with (b"x:" for <x:c>), once seen
    hidden_rows: list[int] = field(default_factory=list)  # row numbers of rows hidden (<row hidden="1">)
    error_cells: list[str] = field(default_factory=list)  # references of cells showing an error ("C7")
    filter_ref: bytes | None = None  # the range of the sheet's own filter (<autoFilter ref>); None: it has none
    filter_looked: bool = False      # its filter, or the custom views that follow where it would be, seen

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
        if scan.prefix is None and (head := SHEET_DATA.search(data)):
            scan.prefix = head.group(1) + b":" if head.group(1) else b""
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
        if b't="e"' in data:  # cells showing an error (#N/A): few, and worth naming where they are
            scan.errors = True
            if len(scan.error_cells) < ERROR_CELLS_KEPT:
                scan.error_cells += _error_cells(data)
        if not scan.filter_looked and (b"autoFilter" in data or b"customSheetViews" in data):
            _find_filter(data, scan)
        if b'hidden="' in data:  # rows a filter (or a person) hid: read like the others, but said first
            scan.hidden_rows += _hidden_rows(data)
        scan.referenced += found
        widest, scan.rows = max(widest, column), max(scan.rows, row)
    if widest:
        scan.columns = widest
        scan.far_cell = f"{column_letters(widest)}{scan.rows}"


def _find_filter(data: bytes, scan: SheetScan) -> None:
    """The range of the sheet's own filter (b"" for one without a range), unless the part's custom
    views come first: they follow where the sheet's filter would be, and hold filters of their own."""
    found = _FILTER.search(data)
    if found is not None:
        scan.filter_looked = True
        scan.filter_ref = None if found.group(1) else (found.group(2) or b"")


def _hidden_rows(data: bytes) -> list[int]:
    """The row numbers of the ``<row hidden="1">`` tags in ``data`` (a row without ``r`` is not counted)."""
    found = []
    for tag in _HIDDEN_ROW.finditer(data):
        number = _ROW_NUMBER.search(tag.group(0))
        if number:
            found.append(int(number.group(1)))
    return found


def _error_cells(data: bytes) -> list[str]:
    """The references of the cells showing an error in ``data`` (its opening tags are whole: a chunk
    ends after a ``>``)."""
    found = []
    for tag in _ERROR_CELL.finditer(data):
        ref = _CELL_REF.search(tag.group(1))
        if ref:
            found.append(ref.group(1).decode("ascii"))
    return found


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
