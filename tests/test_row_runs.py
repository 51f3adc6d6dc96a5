"""Runs of ordinary rows are spliced in one step; the bytes are those of the row-by-row path.

Random worksheets mix the rows the runs take (``<row r="N" spans="1:5">`` with
cells left of the results) with every kind they must leave alone: the header,
gaps in the numbering, rows the patch does not name, self-closing rows, rows
without a number or with ``spans`` elsewhere, cells right of or inside the
result columns, cells whose reference is not their first attribute, a
``spans="…"`` in a cell's text, pretty-printed XML, a namespace prefix, result
columns past Z, and buffers cut at random places.
"""

from __future__ import annotations

import random

import pytest

from sn_importer.report.rowruns import RowRuns, _columns_before
from sn_importer.report.sheetxml import SheetPatch, rewrite_sheet
from sn_importer.xlsx import column_letters, column_number


#: The cells a random row is made of: (up to which draw, the cell's XML); the first is the plain one.
_CELLS = (
    (0.6, '<{p}c r="{ref}" t="s"><{p}v>7</{p}v></{p}c>'),
    (0.7, '<{p}c r="${ref}"><{p}v>0.5</{p}v></{p}c>'),                        # an absolute reference
    (0.75, '<{p}c s="1" r="{ref}"><{p}v>1</{p}v></{p}c>'),                    # the reference not first
    (0.8, '<{p}c r="{ref}" s="2"/>'),
    (0.85, '<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t>a spans="1:2" b</{p}t></{p}is></{p}c>'),
    (0.88, '<{p}c  r="{ref}"><{p}v>2</{p}v></{p}c>'),                         # two spaces
    (0.9, "<{p}c><{p}v>3</{p}v></{p}c>"),                                     # no reference
    (1.0, '<{p}c r="{ref}"><{p}f>A1+1</{p}f><{p}v>4</{p}v></{p}c>'),          # a formula
)


def _cell(rng, p, column, number, mess):
    kind = rng.random() * (1 if mess > rng.random() else 0.6)
    template = next(xml for upto, xml in _CELLS if kind < upto)
    return template.format(p=p, ref=column_letters(column) + str(number))


def _sheet(rng, p, first, rows, mess, inside):
    """A worksheet part and the numbers of the rows it holds; ``mess``: how often a row is odd."""
    ns = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' if p else \
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    gap = "\n  " if rng.random() < 0.2 else ""
    parts, held = [], []
    for number in rows:
        odd = rng.random() / mess
        columns = sorted(rng.sample(range(1, first), min(first - 1, rng.randint(1, 4))))
        if odd < 0.03:
            columns.append(first + (rng.randrange(7) if inside else rng.randint(5, 9)))  # in or right of the results
        if odd > 1 / mess - 0.03:
            columns = []
        cells = "".join(_cell(rng, p, c, number, mess) for c in columns)
        shape = rng.random()
        if shape < 0.11 and rng.random() > mess:  # an odd shape only as often as the sheet is messy
            shape = rng.uniform(0.11, 1)
        if shape < 0.05:
            parts.append(f'<{p}row r="{number}"/>')
        elif shape < 0.08:
            parts.append(f"<{p}row>{cells}</{p}row>")
        elif shape < 0.09:
            parts.append(f'<{p}row spans="1:{len(columns)}" r="{number}">{cells}</{p}row>')
        elif shape < 0.1:
            parts.append(f'<{p}row r="{number}" ht="15" spans="1:{len(columns)}">{cells}</{p}row>')
        elif shape < 0.105:
            parts.append(f'<{p}row r="{number}" spans="1:2 4:{len(columns)}">{cells}</{p}row>')
        elif shape < 0.11:  # cells without references (reaching the results only where values may sit there)
            bare = f"<{p}c><{p}v>3</{p}v></{p}c>" * (first + 1 if inside else max(first - 1, 1))
            parts.append(f'<{p}row r="{number}">{bare}</{p}row>')
        elif shape < 0.5:
            parts.append(f'<{p}row r="{number}">{cells}</{p}row>')
        else:
            high = rng.choice([len(columns) or 1, first - 1, first + 6, 99])
            extra = ' ht="15" customHeight="1"' if rng.random() < 0.2 else ""
            parts.append(f'<{p}row r="{number}" spans="1:{high}"{extra}>{cells}</{p}row>')
        held.append(number)
    body = gap + gap.join(parts)
    return (f'<?xml version="1.0"?><{p}worksheet {ns}><{p}sheetData>{body}</{p}sheetData></{p}worksheet>'
            .encode()), held


def _patch(rng, first, held, clear=False, p=""):
    top = held[0] if held else 1
    share = rng.choice([1.0, 1.0, 0.99, 0.95, 0.6])  # of the rows held, how many the patch names
    data = sorted(set(rng.sample(held[1:], int(len(held[1:]) * share)))
                  | {top + rng.randrange(1, 400) for _ in range(rng.randrange(4))})
    x = p.encode()
    cells = [b"" if rng.random() < 0.05 else
             b'<%sc r="%s%d"><%sv>%d</%sv></%sc>' % (x, column_letters(first).encode(), n, x, n, x, x) for n in data]
    header = b'<%sc r="Z1" t="inlineStr"><%sis><%st>h</%st></%sis></%sc>' % (x, x, x, x, x, x)
    return SheetPatch(top, first, first - 1, lambda style: header, data, cells, clear=clear, p=x)


def _rewrite(part, patch, cuts, runs):
    sizes, at, out = iter(cuts), [0], []

    def read(_n):
        size = next(sizes, 1 << 20)
        chunk = part[at[0]:at[0] + size]
        at[0] += len(chunk)
        return chunk

    try:
        rewrite_sheet(read, out.append, patch, runs=runs)
    except ValueError as exc:
        return ("refused", str(exc))
    return b"".join(out)


def _plain(rows):
    return (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            + b"".join(rows) + b"</sheetData></worksheet>")


def _patch_of(numbers, first=4):
    letters = column_letters(first).encode()
    return SheetPatch(1, first, first - 1, lambda style: b'<c r="%s1"><v>0</v></c>' % letters, list(numbers),
                      [b'<c r="%s%d"><v>1</v></c>' % (letters, n) for n in numbers])


@pytest.mark.parametrize("seed", range(60))
def test_runs_write_the_bytes_of_the_row_by_row_path(seed):
    rng = random.Random(seed)
    p = "x:" if seed % 5 == 0 else ""
    first = rng.choice([2, 3, 6, 9, 26, 27, 28, 53, 703])
    mess = rng.choice([0.001, 0.02, 0.1, 0.3, 1.0])
    part, held = _sheet(rng, p, first, sorted(rng.sample(range(1, 4000), rng.randint(1, 2500))), mess,
                        inside=seed % 7 == 0)
    patch = _patch(rng, first, held, clear=seed % 11 == 0, p=p)
    reach = rng.choice([3000, 100000, 400000])  # buffers of a few rows, or of hundreds
    cuts = [rng.randint(1, reach) for _ in range(len(part) // 500 + 2)]
    by_row = _rewrite(part, patch, cuts, runs=False)
    assert _rewrite(part, patch, cuts, runs=True) == by_row


def test_a_plain_sheet_is_taken_in_runs():
    """Most rows of a plain sheet go through the runs (else the test above proves nothing)."""
    part = _plain([b'<row r="%d" spans="1:3"><c r="A%d"><v>%d</v></c><c r="C%d" t="s"><v>0</v></c></row>'
                   % (n, n, n, n) for n in range(1, 501)])
    cells = [b'<c r="D%d"><v>1</v></c>' % n for n in range(2, 501)]
    runs = RowRuns(b"", 4, 8, [1, *range(2, 501)], cells)
    data_start = part.index(b"<sheetData>") + len(b"<sheetData>")
    second_row = part.index(b"<row", data_start + 1)
    after, at, number, spliced = runs.take(part, second_row, part.index(b"</sheetData>"), 1)
    assert (at, number) == (500, 500) and after == part.index(b"</sheetData>")
    assert spliced.startswith(b'<row r="2" spans="1:8"><c r="A2"><v>2</v></c><c r="C2" t="s"><v>0</v></c>'
                              b'<c r="D2"><v>1</v></c></row>')


@pytest.mark.parametrize("first", [2, 5, 26, 27, 28, 52, 53, 702, 703, 704, 16384])
def test_the_columns_before_pattern_matches_exactly_the_columns_before(first):
    import re

    pattern = re.compile(rb"(?:" + _columns_before(first) + rb")(?![A-Z])")
    for column in {1, 2, 3, 25, 26, 27, 28, 51, 52, 53, 54, 701, 702, 703, 704, 705, 16384, first - 1, first,
                   first + 1}:
        letters = column_letters(column).encode()
        assert bool(pattern.fullmatch(letters)) == (column < first), (first, letters)
        assert column_number(letters) == column


def test_rows_named_in_ones_and_twos_go_row_by_row(monkeypatch):
    """When the patch names every other row, no run is worth its fixed cost: none is made (a run per
    row or two cost many times the row-by-row path), and the bytes are the same."""
    part = _plain([b'<row r="%d" spans="1:3"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 2001)])
    patch = _patch_of([n for n in range(2, 2001) if n % 2 or n % 3 == 0])
    made = []
    spliced = RowRuns._spliced
    monkeypatch.setattr(RowRuns, "_spliced", lambda self, *a: made.append(a) or spliced(self, *a))
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)
    assert made == []


@pytest.mark.parametrize("odd", [
    "<c><v>3</v></c>" * 5,                              # cells without references, reaching the results
    '<c r="A50"><v>1</v></c><c r="D50"><v>2</v></c>',   # a value where the results go
    '<c r="A50"><v>1</v></c><c r="H50"><v>2</v></c>',   # a cell right of the results
    '<c s="1" r="A50"><v>1</v></c>',                    # the reference not the first attribute
])
def test_an_odd_row_in_a_long_run_is_left_to_the_row_by_row_path(odd):
    rows = [b'<row r="%d" spans="1:2"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 601)]
    rows[49] = b'<row r="50" spans="1:2">%s</row>' % odd.encode()
    part, patch = _plain(rows), _patch_of(range(2, 601))
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)



def test_a_tag_the_row_by_row_path_reads_as_closed_is_not_taken():
    """``x="a/>b"`` is a legal attribute value; the row-by-row path reads the tag to its first ``>`` and
    takes the row as self-closing. The runs must write what it writes."""
    rows = [b'<row r="%d" spans="1:2"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 401)]
    rows[1] = b'<row r="2" x="a/>b"><c r="A2"><v>2</v></c></row>'
    part, patch = _plain(rows), _patch_of(range(2, 401))
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)


def test_a_self_closing_row_and_a_row_end_in_a_comment_do_not_shift_the_rows():
    """A ``</row>`` inside a comment and a self-closing row in the same buffer: the counts of rows and
    row ends agree, so the shapes of the pieces must be checked one by one."""
    rows = [b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 401)]
    rows[99] = b'<row r="100"/>'  # ending a run of 98 rows, long enough to be taken
    part, patch = _plain(rows + [b"<!--</row>-->"]), _patch_of(range(2, 401))
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)


def test_a_buffer_is_looked_at_once(monkeypatch):
    """Thousands of formatted empty rows (self-closing, as Excel writes them) after the data: the runs
    look at each buffer once, not once per row after its last complete one."""
    data = [b'<row r="%d" spans="1:3"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 2001)]
    empty = [b'<row r="%d" spans="1:3" s="2" customFormat="1"/>' % n for n in range(2001, 12001)]
    part, patch = _plain(data + empty), _patch_of(range(2, 2001))
    looks = []
    find = RowRuns._find
    monkeypatch.setattr(RowRuns, "_find", lambda self, *a: looks.append(a[1]) or find(self, *a))
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)
    assert 1 <= len(looks) <= 2


def test_a_sheet_of_odd_cells_is_not_searched_cell_by_cell(monkeypatch):
    """Every cell spelled ``<c s=".." r="..">``: the buffer goes row by row after a look at its first
    64 KB, without a search for the rows one by one."""
    rows = [b'<row r="%d">' % n + b"".join(b'<c s="1" r="%s%d"><v>1</v></c>' % (column_letters(c).encode(), n)
                                           for c in range(1, 30)) + b"</row>" for n in range(1, 2001)]
    part, patch = _plain(rows), _patch_of(range(2, 2001), first=31)
    judged = []
    dense = RowRuns._dense
    monkeypatch.setattr(RowRuns, "_dense", lambda self, *a: judged.append(dense(self, *a)) or judged[-1])
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)
    assert judged and all(judged)  # each buffer judged dense at its first look


def test_a_spans_away_from_the_row_number_is_left_to_the_row_by_row_path():
    """``spans`` after another attribute: the runs read it only right after ``r``, so the row-by-row path
    (which widens it wherever it sits in the tag) takes that row."""
    rows = [b'<row r="%d" spans="1:2"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(1, 601)]
    rows[49] = b'<row r="50" ht="15" spans="1:2"><c r="A50"><v>50</v></c></row>'
    part, patch = _plain(rows), _patch_of(range(2, 601))
    assert b'<row r="50" ht="15" spans="1:8">' in _rewrite(part, patch, [], runs=False)
    assert _rewrite(part, patch, [], runs=True) == _rewrite(part, patch, [], runs=False)


@pytest.mark.parametrize("runs", [False, True])
def test_a_greater_than_sign_inside_an_attribute_value_is_read_as_part_of_the_value(runs):
    """XML lets ``>`` (and so ``/>``) stand unescaped in an attribute's value: a row or cell tag holding
    one is read whole, not to its first ``>``, so its row still gets its results and the part stays
    well-formed, whether the row sits among a run or alone."""
    import xml.etree.ElementTree as ET

    odd_rows = {40: b'<row r="40" x="a/>b" spans="1:3"><c r="A40"><v>1</v></c></row>',
                41: b'<row r="41" spans="1:3" y="c>d"><c r="A41" z="e/>f"><v>1</v></c><c r="B41"><v>2</v></c></row>',
                42: b'<row r="42" y="c>d" spans="1:3"><c r="A42"><v>1</v></c></row>',  # spans after the ">"
                43: b'<row r="43"><c r="A43"><v>1</v></c><c z="e/>f" r="J43"><v>9</v></c></row>',  # right of ours
                300: b"<row r='300' x='g>h'><c r=\"A300\"><v>1</v></c></row>"}
    rows = [odd_rows.get(n, b'<row r="%d" spans="1:3"><c r="A%d"><v>1</v></c></row>' % (n, n))
            for n in range(1, 400)]
    out = _rewrite(_plain(rows), _patch_of(range(2, 400)), [], runs=runs)
    assert out == _rewrite(_plain(rows), _patch_of(range(2, 400)), [], runs=not runs)
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    sheet = ET.fromstring(out)  # well-formed
    for row in sheet.iter(main + "row"):
        number = int(row.get("r"))
        if number in odd_rows and number != 43:
            assert [c.get("r") for c in row.iter(main + "c")][-1] == f"D{number}", row.attrib
    placed = sheet.find(f".//{main}row[@r='43']")
    assert [(c.get("r"), c.findtext(main + "v")) for c in placed.iter(main + "c")] == \
        [("A43", "1"), ("D43", "1"), ("J43", "9")]
    assert sheet.find(f".//{main}row[@r='40']").get("x") == "a/>b"
    for number in (41, 42):  # widened over the five result columns
        assert sheet.find(f".//{main}row[@r='{number}']").get("spans") == "1:8"
