"""Runs of ordinary data rows given their result cells in one step.

Nearly every data row of a sheet is written alike: ``<row r="N" spans="1:5">``
then cells whose references lie left of the result columns, the rows in the
patch's order. For a run of such rows the splice is the same for each (cells
appended, the ``spans`` hint widened), so it is done for the whole run with a
few passes over the buffer (a bytes split, pyarrow's kernels) instead of a
Python step per row (a 20,000-row sheet's rewrite: 0.187 s of CPU before, 0.072 s;
0.165 s and 0.080 s in a slower minute).

A row is taken here only when every fact the row-by-row path would read is
known to give "append": it starts with a tag ``<row r="N" …>`` that does not
close itself and has no ``>`` inside a quoted value (so the row-by-row path,
reading from there to the next ``</row>``, sees the same row), it has a cell
and every cell's reference is left of the results, any ``spans`` sits right
after the row number, and its number is the next one the patch names.
Everything else (the header, rows the patch does not name, a self-closing row,
cells where the results go, a results file fed back in) is
left to the row-by-row path, which stays the reference: a test writes random
sheets both ways and compares the bytes. So are runs shorter than 32 rows (a
run's fixed cost is about that of thirty rows one by one); when short runs
keep coming (a patch naming every other row) runs are looked for less and
less often; a buffer of fewer than 256 rows is not looked at, nor one whose
odd cells come thick (every cell spelled ``<c s=".." r="..">``). So the
worst shapes found cost up to 1.8 times the row-by-row path, where a run per
row cost up to 18 times and a rescan per row up to 94 times.
"""

from __future__ import annotations

import re

import numpy as np

from ..xlsx import column_letters

_WINDOW = 4096  # rows compared with the patch's numbers per call (a mismatch costs a call)
_SHORTEST = 32  # a run's fixed cost (a dozen kernel calls) is about that of this many rows one by one
_FEWEST = 256  # rows in a buffer below which looking for runs costs more than it can save
_PROBE = 64 * 1024  # bytes looked at for odd cells: one per kilobyte or more and the buffer goes row by row


class RowRuns:
    """The simple rows of a sheet's ``sheetData``, found a buffer at a time and handed out run by run."""

    def __init__(self, p: bytes, first: int, last: int, wanted: list[int], cells: list[bytes]):
        self.p, self.last = p, last
        self.row_end = b"</" + p + b"row>"
        self.wanted = np.asarray(wanted, dtype=np.int64)  # [header row, data rows…]
        self.cells = cells                                # each data row's result cells
        prefix = re.escape(p.decode("ascii"))
        self.head = (rf'^[ \t\r\n]*<{prefix}row r="(?P<r>[0-9]{{1,9}})"'
                     rf'(?: spans="(?P<s>[0-9]{{1,9}}:(?P<h>[0-9]{{1,9}}))")?(?:[^>"\'/]|"[^">]*"|\'[^\'>]*\')*>')
        self.spans_end = rf'^([ \t\r\n]*<{prefix}row r="[0-9]+" spans="[0-9]+:)[0-9]+"'
        self.has_cell = f"<{p.decode('ascii')}c "
        self.spans_in_tag = rf"^[ \t\r\n]*<{prefix}row[^>]*spans"
        left = _columns_before(first)
        self.bad_cell = re.compile(rb"<" + re.escape(p) + rb"c (?!r=\"\$?(?:" + left + rb")(?![A-Z]))")
        self.good_cell = rf'<{prefix}c r="\$?(?:{left.decode("ascii")})[^A-Z]'  # the same, counted in RE2
        self._cells = None  # the cells as an Arrow array, made on first use
        self._buf = None
        self._resume = 0
        self._misses = 0  # runs too short to take, one after another

    def take(self, buf: bytes, pos: int, end: int, at: int) -> tuple[int, int, int, bytes] | None:
        """The run of simple rows starting at ``pos``, as ``(after, at, number, bytes)``; None: not here.

        ``end`` is where ``sheetData`` ends in ``buf`` (-1: not in it); ``at`` the index in the
        patch's numbers of the next row it names.
        """
        if buf is not self._buf:
            self._find(buf, pos, end)
        if pos < self._resume or pos >= self._cut:
            return None
        k = int(np.searchsorted(self._starts, pos))
        if k >= self._n or self._starts[k] != pos:
            return None
        if not self._simple[k]:  # the row-by-row path takes it, and the rows up to the next simple one
            self._resume = int(self._starts[self._next_simple[k]])
            return None
        m = min(self._n - k, len(self.wanted) - at, _WINDOW)
        if at == 0 or m <= 0:  # the header row, or rows past the patch's last
            self._resume = int(self._starts[k + 1])
            return None
        count = 0
        if self._nums[k] == self.wanted[at]:
            ok = self._simple[k:k + m] & (self._nums[k:k + m] == self.wanted[at:at + m])
            count = m if ok.all() else int(np.argmin(ok))
        if count < _SHORTEST:  # a few rows between odd ones: cheaper row by row than as a run
            self._misses += 1  # and when that keeps happening, asked again less and less often
            skip = (1 << min(self._misses, 12)) - 2
            self._resume = int(self._starts[min(k + max(count, 1) + skip, self._n)])
            return None
        self._misses = 0
        return (int(self._starts[k + count]), at + count, int(self._nums[k + count - 1]),
                self._spliced(k, count, at - 1))

    def _find(self, buf: bytes, pos: int, end: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self._buf, self._resume = buf, 0
        cut = buf.rfind(self.row_end, pos, end if end >= 0 else len(buf))
        self._cut = cut = cut + len(self.row_end) if cut >= 0 else pos
        segment = buf[pos:cut]
        odd = self.bad_cell.search(segment)  # a cell the runs cannot judge (mostly: none in the whole buffer)
        if segment.count(self.row_end) < _FEWEST or (odd and self._dense(segment, odd.start())):
            self._cut, self._n = pos, 0  # too few rows to be worth a look, or too many odd ones: row by row
            return
        pieces = segment.split(self.row_end)[:-1]  # each: a row's tag and its cells (and what precedes it)
        n = self._n = len(pieces)
        self._pieces = arr = pa.array(pieces, pa.binary())
        lengths = pc.binary_length(arr).to_numpy(zero_copy_only=False).astype(np.int64) + len(self.row_end)
        self._starts = np.concatenate(([pos], pos + np.cumsum(lengths)))
        head = pc.extract_regex(arr, self.head)
        simple = np.asarray(head.is_valid(), dtype=bool)
        if not simple.any():
            self._simple, self._nums, self._next_simple = simple, np.zeros(n, dtype=np.int64), np.full(n, n)
            return
        self._nums = _numbers(head.field("r"))
        self._spans, self._high = head.field("s"), _numbers(head.field("h"), empty=self.last)
        simple &= np.asarray(pc.match_substring(arr, self.has_cell).fill_null(False), dtype=bool)
        named = int(pc.sum(pc.greater(pc.binary_length(self._spans), 0)).as_py() or 0)
        if segment.count(b"spans=") != named:  # a spans elsewhere in a tag (or in a cell's text)
            elsewhere = pc.and_(pc.match_substring_regex(arr, self.spans_in_tag),
                                pc.equal(pc.binary_length(self._spans), 0))
            simple &= ~np.asarray(elsewhere.fill_null(True), dtype=bool)
        if odd:  # which rows have a cell the runs cannot judge: by counts
            cells = pc.count_substring(arr, self.has_cell)
            simple &= np.asarray(pc.equal(cells, pc.count_substring_regex(arr, self.good_cell)), dtype=bool)
        self._simple = simple
        self._next_simple = _next_true(simple)

    def _dense(self, segment: bytes, at: int) -> bool:
        """Whether odd cells come thick from ``at`` on (a sheet whose every cell is spelled otherwise, or
        that has cells right of the results in every row): finding each row's would cost more than runs save."""
        return len(self.bad_cell.findall(segment, at, at + _PROBE)) >= _PROBE // 1024

    def _spliced(self, k: int, count: int, first_cell: int) -> bytes:
        """Rows ``k …`` of the buffer with their cells appended and their spans widened."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._cells is None:
            self._cells = pa.array(self.cells, pa.binary())
            self._has_cells = np.asarray(pc.greater(pc.binary_length(self._cells), 0), dtype=bool)
        rows = self._pieces.slice(k, count)
        spans = self._spans.slice(k, count)
        widen = self._has_cells[first_cell:first_cell + count] & (self._high[k:k + count] < self.last)
        if widen.any():
            mask = pa.array(widen)
            values = pc.unique(pc.filter(spans, mask)).to_pylist()
            if len(values) <= 4:  # mostly one, e.g. 1:5: a plain replace per kind
                for value in values:
                    low = value.split(b":")[0].decode("ascii")
                    wider = pc.replace_substring(rows, f' spans="{value.decode("ascii")}"',
                                                 f' spans="{low}:{self.last}"', max_replacements=1)
                    rows = pc.if_else(pc.and_(mask, pc.equal(spans, value)), wider, rows)
            else:  # spans of many kinds: one pattern for all
                wider = pc.replace_substring_regex(rows, self.spans_end, "\\1%d\"" % self.last, max_replacements=1)
                rows = pc.if_else(mask, wider, rows)
        joined = pc.binary_join_element_wise(rows, self._cells.slice(first_cell, count),
                                             pa.scalar(self.row_end), pa.scalar(b""))
        offsets, data = joined.buffers()[1], joined.buffers()[2]
        at = np.frombuffer(offsets, dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4)
        return data.slice(int(at[0]), int(at[-1] - at[0])).to_pybytes() if data is not None else b""


def _next_true(flags: np.ndarray) -> np.ndarray:
    """For each position, the first position at or after it that is True (``len(flags)``: none)."""
    n = len(flags)
    at = np.where(flags, np.arange(n), n)
    return np.minimum.accumulate(at[::-1])[::-1]


def _numbers(digits, empty: int = 0) -> np.ndarray:
    """A column of ASCII digits (at most nine) as integers; an empty cell is ``empty``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    filled = pc.if_else(pc.equal(pc.binary_length(digits), 0), pa.scalar(str(empty).encode()), digits)
    return pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False)


def _columns_before(first: int) -> bytes:
    """A pattern matching the letters of every column before ``first`` (and nothing else, whole).

    ``first`` is at least 2: results in column A leave no column before them, and no runs are made."""
    letters = column_letters(first)
    n = len(letters)
    options = [rb"[A-Z]{%d}" % size for size in range(1, n)]
    for i, letter in enumerate(letters):
        if letter > "A":
            options.append(letters[:i].encode() + b"[A-%s]" % chr(ord(letter) - 1).encode()
                           + (rb"[A-Z]{%d}" % (n - i - 1) if n - i - 1 else b""))
    return b"|".join(options)
