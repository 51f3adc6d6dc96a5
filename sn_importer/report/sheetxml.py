"""One worksheet part rewritten as a stream: the result cells appended to its rows.

The part is read in chunks and written as it goes; only three places change:
the head (page setup, the used range, a frozen header, the result columns'
widths), each row that gets results (its cells appended, or placed in column
order when the row holds cells further right), and the tail (the filter and
the print settings). Every other byte, cells, formulas with their cached
values, styles, merged cells, conditional formats, drop-downs, is copied as
it was. Memory is a chunk and the sheet's tail, whatever the sheet's size.
Runs of ordinary data rows are spliced a run at a time (:mod:`.rowruns`); the
row-by-row path here takes every other row and is the reference for both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..columns import RESULT_COLUMNS
from ..sheetscan import SHEET_DATA
from ..xlsx import column_letters, column_number
from .rowruns import RowRuns
from .xmledit import (ATTRIBUTES, attribute, drop_attribute, element, insert_before, set_attribute, split_ref,
                      start_tag, tag_pattern)

_CHUNK = 1 << 20
_AFTER_FILTER = (b"sortState", b"dataConsolidate", b"customSheetViews", b"mergeCells", b"phoneticPr",
                 b"conditionalFormatting", b"dataValidations", b"hyperlinks", b"printOptions", b"pageMargins",
                 b"pageSetup", b"headerFooter", b"rowBreaks", b"colBreaks", b"customProperties", b"cellWatches",
                 b"ignoredErrors", b"smartTags", b"drawing", b"legacyDrawing", b"legacyDrawingHF", b"picture",
                 b"oleObjects", b"controls", b"webPublishItems", b"tableParts", b"extLst")
_AFTER_SETUP = _AFTER_FILTER[_AFTER_FILTER.index(b"headerFooter"):]
_AFTER_VIEWS = (b"sheetFormatPr", b"cols", b"sheetData")
_ROW_NUMBER = re.compile(rb'\sr="([0-9]+)"')
_SPANS = re.compile(rb'\sspans="[0-9]+:([0-9]+)"')
_CELL_COLUMN = re.compile(rb'\s+r="\$?([A-Z]+)')  # a cell's first attribute, as every writer puts it


@dataclass
class SheetPatch:
    """What one data sheet gets: header cells on row ``top``, and each data row's result cells."""

    top: int
    first: int                       # the first result column
    width: int                       # the header's columns
    header: Callable[[int | None], bytes]  # the result header cells, given the header's style
    numbers: list[int]               # sheet row numbers of the data rows, increasing
    cells: list[bytes]               # each data row's result cells (b"" for a blank row)
    clear: bool = False              # a results file fed back in: old result cells in the range go
    filter: bool = True              # grow or add the sheet's filter (False: the sheet has tables)
    p: bytes = b""                   # the namespace prefix the cells were made with (b"x:" for <x:c>)

    @property
    def last(self) -> int:
        return self.first + len(RESULT_COLUMNS) - 1

    @property
    def last_row(self) -> int:
        return self.numbers[-1] if self.numbers else self.top + 1


def rewrite_sheet(read, write, patch: SheetPatch, *, runs: bool = True) -> None:
    """Copy a worksheet part from ``read(n)`` to ``write(bytes)`` with ``patch`` applied.

    ``runs=False`` takes every row one by one (the reference the runs are tested against).
    """
    buf, p = _head(read)
    if p != patch.p:  # cells outside the sheet's namespace would not be cells at all
        raise ValueError(f"the sheet's elements are prefixed {p!r}, its result cells {patch.p!r}")
    opening = start_tag(buf, p, b"sheetData")
    head = _edit_head(buf[:opening.start()], p, patch)
    rows = _Rows(p, patch, write, runs=runs)
    if opening.group(0).endswith(b"/>"):
        write(head + opening.group(0)[:-2].rstrip() + b">")
        rows.finish()
        tail = b"</" + p + b"sheetData>" + buf[opening.end():]
    else:
        write(head + opening.group(0))
        tail = rows.stream(buf[opening.end():], read)
    while chunk := read(_CHUNK):
        tail += chunk
    write(_edit_tail(tail, p, patch))


def _head(read) -> tuple[bytes, bytes]:
    """The part up to its ``<sheetData>`` start tag (and what was read after it), and its prefix."""
    buf = b""
    while True:
        found = SHEET_DATA.search(buf)
        if found and buf.find(b">", found.start()) >= 0:
            return buf, (found.group(1) + b":") if found.group(1) else b""
        chunk = read(_CHUNK)
        if not chunk:
            raise ValueError("the worksheet has no sheetData")
        buf += chunk


class _Rows:
    """The rows of sheetData, streamed, with the patch's cells spliced in."""

    def __init__(self, p: bytes, patch: SheetPatch, write, runs: bool = True):
        self.p, self.patch, self.write = p, patch, write
        self.row = re.compile(tag_pattern(p, b"row"))
        self.row_end, self.data_end = b"</" + p + b"row>", b"</" + p + b"sheetData>"
        # a whole cell; group 1 its opening tag to the ``>`` or ``/>`` (group 2: "/" when it closes itself)
        self.cell = re.compile(rb"(<" + re.escape(p) + rb"c(?=[\s/>])" + ATTRIBUTES
                               + rb"(?:(/)>|>))(?(2)|.*?</" + re.escape(p) + rb"c>)", re.S)
        self.last_cell = b"<" + p + b"c "
        self.wanted = [patch.top, *patch.numbers]
        self.given = [None, *patch.cells]
        self.at, self.number, self.out = 0, 0, []
        self.clear, self.last = patch.clear, patch.last  # asked of every row: kept at hand
        self.last_text = str(patch.last).encode()
        self._left_of_results: dict[bytes, bool] = {}  # a row's last column (its letters) → left of ours?
        plain = p.isascii() and patch.first > 1 and max(self.wanted) < 1 << 31  # what the runs' patterns read
        runs = runs and plain and not patch.clear
        self.runs = RowRuns(p, patch.first, patch.last, self.wanted, patch.cells) if runs else None

    def stream(self, buf: bytes, read) -> bytes:
        """Write every row; return the rest of the part from ``</sheetData>`` on."""
        search, row_end, out, runs = self.row.search, self.row_end, self.out, self.runs
        pos, end = 0, buf.find(self.data_end)  # where sheetData ends, if in this buffer: found once per buffer
        while True:
            if runs is not None and (run := runs.take(buf, pos, end, self.at)) is not None:
                pos, self.at, self.number, spliced = run
                out.append(spliced)
                self._flush()
                continue
            found = search(buf, pos)
            if found is not None and (end < 0 or found.start() < end):
                start, opened = found.span()
                tag = found.group(0)
                if tag.endswith(b"/>"):
                    body, after = None, opened
                else:
                    close = buf.find(row_end, opened)
                    body, after = (buf[opened:close], close + len(row_end)) if close >= 0 else (b"", -1)
                if after >= 0:
                    if start > pos:
                        out.append(buf[pos:start])
                    self._row(tag, body)
                    pos = after
                    if len(out) > 4096:
                        self._flush()
                    continue
            elif end >= 0:
                out.append(buf[pos:end])
                self.finish()
                return buf[end:]
            chunk = read(_CHUNK)
            if not chunk:
                raise ValueError("the worksheet ends inside its sheetData")
            buf, pos = buf[pos:] + chunk, 0
            end = buf.find(self.data_end)

    def finish(self) -> None:
        """Rows of the patch that the part did not hold, then everything written."""
        while self.at < len(self.wanted):
            self._new_row(self.wanted[self.at], self.given[self.at])
            self.at += 1
        self._flush()

    def _flush(self) -> None:
        self.write(b"".join(self.out))
        self.out.clear()  # the same list: ``stream`` holds it

    def _row(self, tag: bytes, body: bytes | None) -> None:
        number = _ROW_NUMBER.search(tag)
        self.number = int(number.group(1)) if number else self.number + 1
        wanted = self.wanted
        while self.at < len(wanted) and wanted[self.at] < self.number:
            self._new_row(wanted[self.at], self.given[self.at])
            self.at += 1
        at = self.at
        if at < len(wanted) and wanted[at] == self.number:
            cells = self.given[at]
            if cells is None:  # the header row: the result headers take its style
                cells = self.patch.header(self._header_style(body or b""))
            self.at = at + 1
        elif self.clear and self.number >= self.patch.top:
            cells = b""
        else:
            self.out.append(tag + body + self.row_end if body is not None else tag)
            return
        self._splice(tag, body, cells)

    def _header_style(self, body: bytes) -> int | None:
        """The style of the header's last filled cell: the result columns continue it."""
        style, column = None, 0
        for found in self.cell.finditer(body):
            opening = found.group(1)
            ref = attribute(opening, b"r")
            column = split_ref(ref)[0] if ref else column + 1
            if column <= self.patch.width and not found.group(2):
                value = attribute(opening, b"s")
                style = int(value) if value else None
        return style

    def _new_row(self, number: int, cells: bytes | None) -> None:
        if cells is None:
            cells = self.patch.header(None)
        if cells:
            self.out.append(b'<%srow r="%d">%s%s' % (self.p, number, cells, self.row_end))

    def _splice(self, tag: bytes, body: bytes | None, cells: bytes) -> None:
        closed = body is None  # ``<row .../>``
        if not cells and not self.clear:
            self.out.append(tag if closed else tag + body + self.row_end)
            return
        body = body or b""
        if closed:
            tag = tag[:-2].rstrip() + b">"
        spans = _SPANS.search(tag) if cells and b"spans" in tag else None
        if spans and int(spans.group(1)) < self.last:  # the row's hint of its cells' reach
            tag = tag[:spans.start(1)] + self.last_text + tag[spans.end(1):]
        if self.clear or not self._ends_left_of_results(body):
            body, cells = self._placed(body, cells), b""
        self.out += (tag, body, cells, self.row_end)

    def _ends_left_of_results(self, body: bytes) -> bool:
        """Whether the row's last cell (by its reference) lies left of the result columns: the common case."""
        at = body.rfind(self.last_cell)
        if at < 0:
            return not body.strip()
        ref = _CELL_COLUMN.match(body, at + len(self.last_cell) - 1)
        if ref is None:
            return False
        left = self._left_of_results.get(ref.group(1))
        if left is None:  # rows mostly end in the same column: worked out once per column
            left = self._left_of_results[ref.group(1)] = column_number(ref.group(1)) < self.patch.first
        return left

    def _placed(self, body: bytes, cells: bytes) -> bytes:
        """The row's cells in column order with ours placed among them; old cells in our range dropped."""
        left, right, column = [], [], 0
        for found in self.cell.finditer(body):
            text = found.group(0)
            ref = attribute(found.group(1), b"r")
            column = split_ref(ref)[0] if ref else column + 1
            if column < self.patch.first:
                left.append(text)
            elif column > self.last:
                right.append(text)
            elif not self.clear and (b"<" + self.p + b"v" in text or b"<" + self.p + b"f" in text
                                     or b"<" + self.p + b"is" in text):
                raise ValueError(f"row {self.number} holds a value where the results go")
        return b"".join(left) + cells + b"".join(right)


def _edit_head(head: bytes, p: bytes, patch: SheetPatch) -> bytes:
    head = _fit_to_page(head, p)
    head = _dimension(head, p, patch)
    head = _views(head, p, patch)
    return _widths(head, p, patch)


def _fit_to_page(head: bytes, p: bytes) -> bytes:
    span = element(head, p, b"sheetPr")
    setup = b'<%spageSetUpPr fitToPage="1"/>' % p
    if span is None:
        root = re.search(rb"<" + re.escape(p) + rb"worksheet[\s>][^>]*>", head)
        return head[:root.end()] + b"<%ssheetPr>%s</%ssheetPr>" % (p, setup, p) + head[root.end():]
    block = head[span[0]:span[1]]
    inner = start_tag(block, p, b"pageSetUpPr")
    if inner is not None:
        block = block[:inner.start()] + set_attribute(inner.group(0), b"fitToPage", b"1") + block[inner.end():]
    elif block.endswith(b"/>"):
        block = block[:-2].rstrip() + b">" + setup + b"</" + p + b"sheetPr>"
    else:
        block = block[:block.rfind(b"</")] + setup + block[block.rfind(b"</"):]
    return head[:span[0]] + block + head[span[1]:]


def _dimension(head: bytes, p: bytes, patch: SheetPatch) -> bytes:
    found = start_tag(head, p, b"dimension")
    if found is None:
        return head
    ref = attribute(found.group(0), b"ref") or b"A1"
    low, _, high = ref.partition(b":")
    col, row = split_ref(high or low)
    far = (column_letters(max(col, patch.last)) + str(max(row, patch.last_row))).encode()
    tag = set_attribute(found.group(0), b"ref", (low or b"A1") + b":" + far)
    return head[:found.start()] + tag + head[found.end():]


def _views(head: bytes, p: bytes, patch: SheetPatch) -> bytes:
    """No sheet marked selected (the results open on the Summary); the header frozen unless the sheet has panes."""
    head = re.sub(rb"<" + re.escape(p) + rb"sheetView(?=[\s/>])[^>]*>",
                  lambda m: drop_attribute(m.group(0), b"tabSelected"), head)
    pane = b'<%spane ySplit="%d" topLeftCell="A%d" activePane="bottomLeft" state="frozen"/>' % (
        p, patch.top, patch.top + 1)
    view = start_tag(head, p, b"sheetView")
    if view is None:
        views = b'<%ssheetViews><%ssheetView workbookViewId="0">%s</%ssheetView></%ssheetViews>' % (p, p, pane, p, p)
        places = [m.start() for tag in _AFTER_VIEWS if (m := start_tag(head, p, tag)) is not None]
        at = min(places) if places else len(head)
        return head[:at] + views + head[at:]
    span = element(head, p, b"sheetView")
    block = head[span[0]:span[1]]
    if start_tag(block, p, b"pane") is not None:
        return head
    tag = view.group(0)
    if tag.endswith(b"/>"):
        block = tag[:-2].rstrip() + b">" + pane + b"</" + p + b"sheetView>"
    else:
        block = tag + pane + block[len(tag):]
    return head[:span[0]] + block + head[span[1]:]


def _widths(head: bytes, p: bytes, patch: SheetPatch) -> bytes:
    ours = [b'<%scol min="%d" max="%d" width="%d" customWidth="1"/>' % (p, patch.first + i, patch.first + i, c.width)
            for i, c in enumerate(RESULT_COLUMNS)]
    span = element(head, p, b"cols")
    if span is None:
        return head + b"<%scols>%s</%scols>" % (p, b"".join(ours), p)
    block = head[span[0]:span[1]]
    kept: list[tuple[int, bytes]] = []
    for found in re.finditer(rb"<" + re.escape(p) + rb"col(?=[\s/>])[^>]*/>", block):
        tag = found.group(0)
        low, high = int(attribute(tag, b"min") or 0), int(attribute(tag, b"max") or 0)
        if high < patch.first or low > patch.last:
            kept.append((low, tag))
            continue
        if low < patch.first:
            kept.append((low, set_attribute(tag, b"max", str(patch.first - 1).encode())))
        if high > patch.last:
            kept.append((patch.last + 1, set_attribute(tag, b"min", str(patch.last + 1).encode())))
    kept += [(patch.first + i, tag) for i, tag in enumerate(ours)]
    opening = start_tag(block, p, b"cols").group(0)
    opening = opening[:-2].rstrip() + b">" if opening.endswith(b"/>") else opening
    block = opening + b"".join(tag for _, tag in sorted(kept, key=lambda k: k[0])) + b"</" + p + b"cols>"
    return head[:span[0]] + block + head[span[1]:]


def _edit_tail(tail: bytes, p: bytes, patch: SheetPatch) -> bytes:
    if patch.filter:
        tail = _filter(tail, p, patch)
    return _page_setup(tail, p)


def _filter(tail: bytes, p: bytes, patch: SheetPatch) -> bytes:
    """The sheet's filter on the header row grows over the results; one elsewhere stays; none: one is added."""
    found = start_tag(tail, p, b"autoFilter")
    views = start_tag(tail, p, b"customSheetViews")
    if found is not None and views is not None and views.start() < found.start():
        found = None  # a custom view's filter, not the sheet's (the sheet's comes before its views)
    ref = filter_range(patch, None if found is None else attribute(found.group(0), b"ref") or b"")
    if ref is None:
        return tail
    if found is None:
        return insert_before(tail, p, b'<%sautoFilter ref="%s"/>' % (p, ref), _AFTER_FILTER, b"worksheet")
    return tail[:found.start()] + set_attribute(found.group(0), b"ref", ref) + tail[found.end():]


def filter_range(patch: SheetPatch, ref: bytes | None) -> bytes | None:
    """The range of the sheet's filter with the results, given its own (``ref``; None: it has none);
    None where its own stays as it is (a filter on another row than the header)."""
    far = f"{column_letters(patch.last)}{patch.last_row}".encode()
    if ref is None:
        return b"A%d:%s" % (patch.top, far)
    low, _, high = ref.partition(b":")
    col, row = split_ref(low) if low else (0, 0)
    if row != patch.top:
        return None
    end_col, end_row = split_ref(high) if high else (col, row)
    return low + b":" + f"{column_letters(max(end_col, patch.last))}{max(end_row, patch.last_row)}".encode()


def _page_setup(tail: bytes, p: bytes) -> bytes:
    """Printed, the sheet fits the page's width (its rows run on over as many pages as they need)."""
    found = start_tag(tail, p, b"pageSetup")
    if found is None:
        new = b'<%spageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>' % p
        return insert_before(tail, p, new, _AFTER_SETUP, b"worksheet")
    tag = set_attribute(set_attribute(found.group(0), b"fitToWidth", b"1"), b"fitToHeight", b"0")
    if attribute(tag, b"orientation") is None:
        tag = set_attribute(tag, b"orientation", b"landscape")
    return tail[:found.start()] + tag + tail[found.end():]
