"""The sheets the results add to a workbook, as SpreadsheetML: ``Summary`` and ``Removed``.

Written directly (inline strings, the styles of :mod:`.styles`), so adding
them to the user's package needs no workbook library. Both print fitted to
the page's width; the Summary is the sheet the workbook opens on.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

import pandas as pd

from ..mapping import REMOVED_COLUMNS
from .styles import AddedStyles
from .summary import Line
from ..xlsx import column_letters
from .xmledit import text

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SUMMARY_WIDTHS = (30, 44, 80)
ROW_HEIGHT = 15  # points: a line of the default 11-point font
#: The Removed sheet's widths, column by column: each wide enough for what Katana gives it (a resource
#: type such as SalesOrderFulfillmentRow, a time with milliseconds, their bold headers) beside a neighbour
#: that is never empty.
REMOVED_WIDTHS = dict(zip(REMOVED_COLUMNS, (12, 22, 28, 14, 22, 28, 18, 40)))
_MARGINS = b'<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'


def summary_sheet(lines: list[Line], styles: AddedStyles) -> bytes:
    rows, merged = [], []
    for r, line in enumerate(lines, start=1):
        long = long_cell(line)
        cells = [cell(r, c, value, styles.wrapped if long and c == long[0] + 1 else
                      _summary_style(line.kind, c, value, styles))
                 for c, value in enumerate(line.cells, start=1)]
        height = b""
        if long:
            height = b' ht="%d" customHeight="1"' % (ROW_HEIGHT * long[1])
            if long[0] + 1 < len(SUMMARY_WIDTHS):
                merged.append(f"{column_letters(long[0] + 1)}{r}:{column_letters(len(SUMMARY_WIDTHS))}{r}")
        rows.append(b'<row r="%d"%s>%s</row>' % (r, height, b"".join(cells)))
    return _sheet(rows, SUMMARY_WIDTHS, selected=True, frozen=False, last=f"C{max(1, len(lines))}", merged=merged)


def long_cell(line: Line) -> tuple[int, int] | None:
    """(column from 0, lines) of a Summary line's last cell when its text is longer than the columns
    from there to the last one hold: it is given them all (merged), wrapped, and a row that tall
    (past the last column, it would be cut off in print, and a merged cell's row does not grow by itself)."""
    if line.kind in ("title", "heading", "header"):
        return None
    filled = [c for c, value in enumerate(line.cells) if value is not None and value != ""]
    if not filled:
        return None
    at = filled[-1]
    text, room = str(line.cells[at]), sum(SUMMARY_WIDTHS[at:]) - 4
    return (at, math.ceil(len(text) / room)) if len(text) > room else None


def removed_sheet(removed: pd.DataFrame, styles: AddedStyles) -> bytes:
    header = b"".join(cell(1, c, name, styles.header) for c, name in enumerate(REMOVED_COLUMNS, start=1))
    rows = [b'<row r="1">%s</row>' % header]
    frame = removed.reindex(columns=list(REMOVED_COLUMNS))
    for r, record in enumerate(frame.itertuples(index=False, name=None), start=2):
        rows.append(b'<row r="%d">%s</row>' % (r, b"".join(cell(r, c, v) for c, v in enumerate(record, start=1))))
    far = f"{column_letters(len(REMOVED_COLUMNS))}{max(1, len(rows))}"
    return _sheet(rows, [REMOVED_WIDTHS.get(name, 20) for name in REMOVED_COLUMNS], selected=False, frozen=True, last=far)


def cell(row: int, col: int, value, style: int | None = None) -> bytes:
    """One cell with its type: numbers as numbers, booleans as booleans, everything else as text."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)) or value == "":
        return b""
    ref = f"{column_letters(col)}{row}".encode()
    s = b' s="%d"' % style if style else b""
    if isinstance(value, bool):
        return b'<c r="%s"%s t="b"><v>%d</v></c>' % (ref, s, value)
    if isinstance(value, (int, float)):
        return b'<c r="%s"%s><v>%s</v></c>' % (ref, s, repr(value).encode())
    if isinstance(value, (datetime, date, time)):
        value = value.isoformat()
    return b'<c r="%s"%s t="inlineStr"><is><t xml:space="preserve">%s</t></is></c>' % (ref, s, text(str(value)))


def _summary_style(kind: str, col: int, value, styles: AddedStyles) -> int | None:
    if kind == "title":
        return styles.title
    if kind == "heading":
        return styles.heading
    if kind == "header":
        return styles.header
    if kind == "status" and col == 1:
        return styles.status.get(value)
    if kind == "fact" and col == 1:
        return styles.bold
    return None


def _sheet(rows: list[bytes], widths, selected: bool, frozen: bool, last: str, merged=()) -> bytes:
    cols = b"".join(b'<col min="%d" max="%d" width="%d" customWidth="1"/>' % (i, i, w)
                    for i, w in enumerate(widths, start=1))
    merges = b'<mergeCells count="%d">%s</mergeCells>' % (len(merged), b"".join(
        b'<mergeCell ref="%s"/>' % ref.encode() for ref in merged)) if merged else b""
    view = b'<sheetView%s workbookViewId="0"' % (b' tabSelected="1"' if selected else b"")
    view += b'><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>' if frozen \
        else b"/>"
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="%s" xmlns:r="%s"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            b'<dimension ref="A1:%s"/><sheetViews>%s</sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            b"<cols>%s</cols><sheetData>%s</sheetData>%s%s"
            b'<pageSetup orientation="portrait" fitToWidth="1" fitToHeight="0"/></worksheet>'
            % (MAIN_NS.encode(), REL_NS.encode(), last.encode(), view, cols, b"".join(rows), merges, _MARGINS))
