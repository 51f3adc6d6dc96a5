"""The annotated output: sheets, rows and columns as given, result columns, styling,
formula-safe text, output paths and atomic writing."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

import sn_importer as sn
from sn_importer import UsageError

from conftest import read_back, write_csv, write_xlsx

RESULTS = ["status", "message", "serial_id", "request", "checked_at"]
RISKY = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-A1+1", "@cmd", "\tTAB", "\rCR"]


def csv_rows(path):
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


@pytest.fixture
def workbook(tmp_path):
    return write_xlsx(tmp_path, {
        "Orders": [["Serials to detach — week 48", None, None, None, None], [],
                   ["Resource type", "Resource ID", "Serial ID", "Serial number", "Note"],
                   ["MO", 3001, 1001, None, "first"],
                   ["MO", "abc", 1002, None, "typo"],
                   [None, None, None, None, None],
                   ["MO", 3001, 1001, None, "again"],
                   ["MO", 3003, None, "000123", datetime(2026, 11, 20, 9, 30)]],
        "Sales": [["resource_type", "resource_id", "serial_id", "extra", "more"],
                  ["SO row", 5001, 2001, 1.5, True]],
    }, text_cells=[("Orders", "D8")])


def test_xlsx_output_sheets_rows_and_columns(workbook):
    job = sn.read(workbook)
    out_path = job.write()
    assert out_path == workbook.with_name("serials.results.xlsx")
    out = read_back(out_path)
    assert list(out) == ["Orders", "Sales", "Summary"]  # the input's sheets in order; no Removed outside apply
    orders = out["Orders"]
    assert orders[0][:5] == ["Serials to detach — week 48", None, None, None, None]
    assert orders[1] == [None] * 10
    assert orders[2] == ["Resource type", "Resource ID", "Serial ID", "Serial number", "Note", *RESULTS]
    assert orders[3] == ["MO", 3001, 1001, None, "first", "valid", None, 1001, "DELETE ManufacturingOrder 3001 (1/1)", None]
    assert orders[4] == ["MO", "abc", 1002, None, "typo", "invalid", "Resource ID 'abc' is not a whole number", None, None, None]
    assert orders[5] == [None] * 10
    assert orders[6] == ["MO", 3001, 1001, None, "again", "duplicate",
                         "the same serial on the same resource is already in row 4", 1001, None, None]
    assert orders[7] == ["MO", 3003, None, "000123", datetime(2026, 11, 20, 9, 30), "valid", None, None,
                         "DELETE ManufacturingOrder 3003 (1/1)", None]
    assert out["Sales"] == [["resource_type", "resource_id", "serial_id", "extra", "more", *RESULTS],
                            ["SO row", 5001, 2001, 1.5, True, "valid", None, 2001, "DELETE SalesOrderRow 5001 (1/1)", None]]


def test_summary_sheet_shows_counts_and_mapping(workbook):
    out = read_back(sn.read(workbook).write())
    summary = {r[0]: r[1] for r in out["Summary"] if r and r[0]}
    assert summary["Mode"] == "validate"
    assert summary["Base URL"] == "(not contacted)"
    assert (summary["valid"], summary["invalid"], summary["duplicate"]) == (3, 1, 1)
    mapping = [r[:3] for r in out["Summary"] if r and r[0] in ("Orders", "Sales")]
    assert ["Orders", "serial_number", "column 'Serial number'"] in mapping
    assert ["Sales", "resource_type", "column 'resource_type'"] in mapping


def test_xlsx_styling_fill_freeze_filter(workbook):
    book = load_workbook(sn.read(workbook).write())
    orders = book["Orders"]
    assert orders.freeze_panes == "A4"
    assert orders.auto_filter.ref == "A3:J8"
    assert orders["F4"].fill.fgColor.rgb == "FFC6EFCE"   # valid
    assert orders["F5"].fill.fgColor.rgb == "FFFFC7CE"   # invalid
    assert orders["F7"].fill.fgColor.rgb == "FFEDEDED"   # duplicate
    assert orders["F6"].fill.fill_type is None           # blank row: no status, no colour
    assert book["Sales"].freeze_panes == "A2"
    assert book["Sales"].auto_filter.ref == "A1:J2"


def test_messages_wrap_in_their_column(tmp_path, workbook):
    """A message is often longer than its column is wide: it wraps there, instead of being cut off
    by the serial id beside it; the other result cells are as they were (annotated and rebuilt alike)."""
    csv_input = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,abc,1\n")
    for out, sheet, row in ((sn.read(workbook).write(), "Orders", 5),
                            (sn.read(csv_input).write(tmp_path / "csv.xlsx"), "serials", 2)):
        ws = load_workbook(out)[sheet]
        status = next(c for c in ws[row] if c.value == "invalid")
        message = ws.cell(row, status.column + 1)
        assert "'abc' is not a whole number" in message.value
        assert message.alignment.wrap_text and not status.alignment.wrap_text
        assert status.fill.fgColor.rgb == "FFFFC7CE"


def test_the_removed_sheet_is_wide_enough_for_what_katana_gives_it(tmp_path):
    """Each Removed column holds its longest usual value whole (a neighbour is never empty to spill
    into): a resource type such as SalesOrderFulfillmentRow, a time with milliseconds."""
    import re

    import pandas as pd
    import xlsxwriter

    from sn_importer.report.newsheets import removed_sheet
    from sn_importer.report.rebuild import Styles, _write_removed
    from sn_importer.report.styles import AddedStyles

    record = {"id": 4201, "serial_number": "KNF000004201", "resource_type": "SalesOrderFulfillmentRow",
              "resource_id": 9501, "transaction_id": "tx-sa-9501", "transaction_date": "2026-11-20T09:30:00.000Z",
              "quantity_change": 1, "sheet_rows": "row 12 of sheet 'Sales and purchasing'"}
    widest = [max(len(name), len(str(value))) + 2 for name, value in record.items()]
    patched = [int(w) for w in re.findall(rb'<col [^>]*width="(\d+)"', removed_sheet(pd.DataFrame([record]),
                                                                                         AddedStyles()))]
    with xlsxwriter.Workbook(tmp_path / "rebuilt.xlsx") as book:
        _write_removed(book.add_worksheet("Removed"), pd.DataFrame([record]), Styles(book))
    dimensions = load_workbook(tmp_path / "rebuilt.xlsx")["Removed"].column_dimensions
    rebuilt = [dimensions[letter].width for letter in "ABCDEFGH"]
    assert all(w >= need for w, need in zip(patched, widest)) and len(patched) == len(widest)
    assert all(w >= need for w, need in zip(rebuilt, widest))


def test_the_request_column_holds_a_request_whole():
    """The request column is wide enough for a DELETE of the longest resource type's name with a
    seven-digit id (its neighbour, checked_at, is filled on those rows: nothing spills)."""
    from sn_importer.columns import RESULT_COLUMNS
    from sn_importer.resource_types import NAMES

    width = next(c.width for c in RESULT_COLUMNS if c.name == "request")
    assert max(len(f"DELETE {name} 1234567 (1/1)") for name in NAMES) < width


def test_a_long_summary_line_wraps_within_the_printed_columns(tmp_path):
    """The Summary prints fitted to its three columns: a sentence longer than they are wide (a sheet
    not read, with its whole header quoted) is given them all, wrapped, in a row as tall as its
    lines, instead of running on past the page's edge; a long legend wraps in its own column."""
    import xlsxwriter

    from sn_importer.report.rebuild import Styles, write_summary
    from sn_importer.report.summary import MEANINGS, Line
    from sn_importer.status import Status

    header = ["Resource type", "Order reference number", "Customer name", "Serial", "Returned on",
              "Reason for return", "Warehouse location"]
    path = write_xlsx(tmp_path, {"Data": [["Resource type", "Resource ID", "Serial ID"], ["MO", 3001, 1001]],
                                 "Returns": [header, ["MO", "MO-3001", "ACME", "KNF1", "x", "broken", "A1"]]})
    unread = next(str(r[0]) for r in read_back(sn.read(path).write())["Summary"]
                  if r[0] and "was not read" in str(r[0]))
    assert len(unread) > 30 + 44 + 80
    lines = [Line("text", (unread,)), Line("status", ("cannot_restore", 1, MEANINGS[Status.CANNOT_RESTORE]))]
    with xlsxwriter.Workbook(tmp_path / "rebuilt.xlsx") as book:
        write_summary(book.add_worksheet("Summary"), lines, Styles(book))
    patched = load_workbook(sn.read(path).write(tmp_path / "patched.xlsx"))["Summary"]
    row = next(c.row for c in patched["A"] if c.value == unread)
    rebuilt = load_workbook(tmp_path / "rebuilt.xlsx")["Summary"]
    for ws, first, legend in ((patched, row, None), (rebuilt, 1, 2)):
        assert f"A{first}:C{first}" in {str(r) for r in ws.merged_cells.ranges}
        assert ws.cell(first, 1).alignment.wrap_text and ws.row_dimensions[first].height >= 2 * 15
        if legend:
            assert ws.cell(legend, 3).alignment.wrap_text and ws.row_dimensions[legend].height >= 3 * 15


def test_formula_like_text_is_text_in_xlsx(tmp_path):
    risky = [t for t in RISKY if not t.startswith("\r")]  # XML itself turns a bare CR into LF
    rows = [["resource_type", "resource_id", "serial_id", "note"]] + [["MO", 3001, n + 1, text] for n, text in enumerate(risky)]
    rows.append(["MO", 3001, 99, "-4"])
    job = sn.read(write_xlsx(tmp_path, {"S": rows}))
    ws = load_workbook(job.write())["S"]
    for r, text in enumerate(risky + ["-4"], start=2):
        cell = ws.cell(r, 4)
        assert (cell.value, cell.data_type) == (text, "s")


def test_formula_like_text_from_csv_is_text_in_xlsx_output(tmp_path):
    path = write_csv(tmp_path, 'resource_type,resource_id,serial_id,note\nMO,3001,1,"=1+1"\nMO,3001,2,@x\n')
    ws = load_workbook(sn.read(path).write(tmp_path / "out.xlsx"))["serials"]
    assert [(ws["D2"].value, ws["D2"].data_type), (ws["D3"].value, ws["D3"].data_type)] == [("=1+1", "s"), ("@x", "s")]


def test_formula_like_text_is_apostrophe_prefixed_in_csv(tmp_path):
    quoted = [t.replace('"', '""') for t in RISKY]
    body = "".join(f'MO,3001,{n + 1},"{t}"\r\n' for n, t in enumerate(quoted)) + "MO,3001,90,-4\r\nMO,3001,91,+7.5\r\nMO,3001,92,-\r\n"
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id,note\r\n" + body)
    job = sn.read(path)
    rows = csv_rows(job.write())
    notes = [r[3] for r in rows[1:]]
    assert notes == ["'" + t for t in RISKY] + ["-4", "+7.5", "'-"]


def test_csv_output_keeps_columns_and_quotes_minimally(tmp_path):
    path = write_csv(tmp_path, 'resource_type;resource_id;serial_number;note\r\nMO;3001;000123;"a;b"\r\nMO;3001;X;say "hi"\r\n;;;\r\n')
    out = sn.read(path).write()
    text = out.read_bytes().decode("utf-8")
    assert text == ("\ufeffresource_type;resource_id;serial_number;note;status;message;serial_id;request;checked_at\r\n"
                    'MO;3001;000123;"a;b";valid;;;DELETE ManufacturingOrder 3001 (1/1);\r\n'
                    'MO;3001;X;"say ""hi""";valid;;;DELETE ManufacturingOrder 3001 (1/1);\r\n'
                    ";;;;;;;;\r\n")


def test_xlsx_input_to_csv_output_writes_cells_as_shown(tmp_path, workbook):
    out = sn.read(workbook).write(tmp_path / "results.csv")
    rows = csv_rows(out)
    assert rows[0] == ["sheet", "Resource type", "Resource ID", "Serial ID", "Serial number", "Note",
                       "resource_type", "resource_id", "serial_id", "extra", "more", *RESULTS]
    assert rows[1] == ["Orders", "MO", "3001", "1001", "", "first", "", "", "", "", "",
                       "valid", "", "1001", "DELETE ManufacturingOrder 3001 (1/1)", ""]  # 3001, not 3001.0
    assert rows[3] == ["Orders"] + [""] * 15  # the blank row, kept in place
    assert rows[5][:6] == ["Orders", "MO", "3003", "", "000123", "2026-11-20 09:30:00"]
    assert rows[6] == ["Sales", "", "", "", "", "", "SO row", "5001", "2001", "1.5", "TRUE",
                       "valid", "", "2001", "DELETE SalesOrderRow 5001 (1/1)", ""]


def test_numeric_serial_from_xlsx_round_trips_through_csv(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_number"], ["MO", 3001, 123456]]})
    out = sn.read(path).write(tmp_path / "out.csv")
    assert csv_rows(out)[1][:4] == ["MO", "3001", "123456", "valid"]
    assert sn.read(out).rows["status"].tolist() == ["valid"]  # fed back in, not "damaged by Excel"


def test_default_output_paths(tmp_path, workbook):
    assert sn.read(workbook).write() == tmp_path / "serials.results.xlsx"
    path = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,1,2\n", name="list.txt")
    assert sn.read(path).write() == tmp_path / "list.txt.results.csv"


def test_refuses_to_write_over_the_input(tmp_path, workbook):
    before = workbook.read_bytes()
    with pytest.raises(UsageError, match="would overwrite the input"):
        sn.read(workbook).write(workbook)
    assert workbook.read_bytes() == before


def test_unknown_output_suffix(tmp_path, workbook):
    with pytest.raises(UsageError, match="has the extension '.pdf'; name it .xlsx"):
        sn.read(workbook).write(tmp_path / "out.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serials.xlsx"]


def test_atomic_write_leaves_no_temp_files(tmp_path, workbook, monkeypatch):
    job = sn.read(workbook)
    job.write(tmp_path / "a.xlsx")
    job.write(tmp_path / "b.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.csv", "serials.xlsx"]
    # a crash while writing leaves neither a half file nor a temp file behind, and keeps the old output
    from sn_importer import report

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    old = (tmp_path / "a.xlsx").read_bytes()
    monkeypatch.setattr(report, "write_workbook", boom)
    with pytest.raises(RuntimeError):
        job.write(tmp_path / "a.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.csv", "serials.xlsx"]
    assert (tmp_path / "a.xlsx").read_bytes() == old


def test_result_cells_escape_markup_and_drop_control_characters():
    """A message with ``&``, ``<``, ``>``, a control character or a non-character (U+FFFE, U+FFFF) is
    still well-formed XML, as the other sheets' text is; plain columns beside it come through as they are."""
    import xml.etree.ElementTree as ET

    import pandas as pd

    from sn_importer.columns import RESULT_COLUMNS
    from sn_importer.report.cells import result_cells

    values = {c.name: ["", ""] for c in RESULT_COLUMNS}
    values["status"] = ["invalid", "deleted"]
    values["message"] = ["id <0> & \x01 'x' > y", "plain \ufffe\uffffend"]
    cells = result_cells(pd.DataFrame(values), [2, 3], 4, {})
    texts = [[t.text for t in ET.fromstring(b"<row>" + c + b"</row>").iter("t")] for c in cells]
    assert texts == [["invalid", "id <0> &  'x' > y"], ["deleted", "plain end"]]
    assert b"&lt;0&gt; &amp;" in cells[0]


def test_result_cells_match_a_cell_by_cell_reference():
    """Built a distinct value at a time, the cells are those a row-by-row writer would make: rows
    with no result between rows with some keep their place (an empty row, a null, a column empty
    throughout), ids are numbers, statuses carry their style, text is escaped."""
    import random
    from xml.sax.saxutils import escape

    import pandas as pd

    from sn_importer.columns import RESULT_COLUMNS, STATUS_COLUMN
    from sn_importer.report.cells import result_cells
    from sn_importer.xlsx import column_letters

    rng = random.Random(3)
    choices = {"text": ["", "", None, "deleted", "a & b", "<x>", "DELETE MO 3000 (1/2)"], "id": ["", "", "17", "9"]}
    styles = {"deleted": 7, "invalid": 8}
    for size in (1, 5, 40):
        values = {c.name: [rng.choice(choices["id" if c.kind == "id" else "text"]) for _ in range(size)]
                  for c in RESULT_COLUMNS}
        values[RESULT_COLUMNS[-1].name] = [""] * size  # a column with nothing in it
        for column in values.values():  # a row with no result at all, between rows with some
            column[size // 2] = None if size > 5 else ""
        numbers = sorted(rng.sample(range(2, 500), size))
        first = rng.choice([2, 6, 27])
        expected = []
        for i, number in enumerate(numbers):
            row = b""
            for offset, column in enumerate(RESULT_COLUMNS):
                value = values[column.name][i]
                if not value:
                    continue
                ref = f"{column_letters(first + offset)}{number}"
                if column.kind == "id":
                    row += f'<c r="{ref}"><v>{value}</v></c>'.encode()
                else:
                    style = f' s="{styles[value]}"' if column.name == STATUS_COLUMN and value in styles else ""
                    row += (f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{escape(value)}'
                            f"</t></is></c>").encode()
            expected.append(row)
        assert result_cells(pd.DataFrame(values, dtype=object), numbers, first, styles) == expected


def test_write_behind_writes_in_order_and_hands_errors_back():
    """The rewritten sheet is deflated on a thread of its own: every chunk lands, in order, before the
    ``with`` ends; the writer's error reaches the caller, and nothing is written after it; an error of
    the caller's own is not masked by one of the writer's."""
    import threading

    from sn_importer.report.behind import WriteBehind

    written = []
    with WriteBehind(written.append, depth=2) as write:
        for i in range(50):
            write(b"%d," % i)
    assert b"".join(written) == b"".join(b"%d," % i for i in range(50))

    class Full:  # refuses the fourth chunk once, as a disk that filled up and then had room again
        def __init__(self):
            self.chunks, self.refused = [], False

        def __call__(self, chunk):
            if len(self.chunks) == 3 and not self.refused:
                self.refused = True
                raise OSError(28, "No space left on device")
            self.chunks.append(chunk)

    full = Full()
    with pytest.raises(OSError, match="No space"):
        with WriteBehind(full, depth=1) as write:
            for i in range(100):
                write(b"x%d" % i)
    assert full.chunks == [b"x0", b"x1", b"x2"]

    full = Full()
    full.chunks = [b"a", b"b"]  # the writer fails on the second chunk handed over below
    with pytest.raises(KeyError):
        with WriteBehind(full) as write:
            write(b"y")
            write(b"z")  # handed over before it is written: no error can be seen yet
            raise KeyError("the caller's")
    assert full.chunks == [b"a", b"b", b"y"]
    assert not [t for t in threading.enumerate() if t.name == "write behind"]


def test_xml_text_and_attributes_escape_as_the_standard_library_does():
    """The writer's own escaping (kept off ``xml.sax``, whose import is slow) makes the bytes
    ``xml.sax.saxutils`` would, quotes, line breaks and markup included."""
    import random
    from xml.sax.saxutils import escape, quoteattr

    from sn_importer.report.xmledit import attr, text

    rng = random.Random(11)
    alphabet = "ab &<>\"'\n\r\t\x01é"
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        clean = value.replace("\x01", "")
        assert text(value) == escape(clean).encode() and attr(value) == quoteattr(clean).encode(), repr(value)


def test_an_element_is_found_whole_when_a_value_holds_a_closing_sign():
    """The shared tag reading (rows, cells and every element a sheet's head and tail edits find) takes
    each quoted value whole: ``/>`` or ``>`` inside a value neither closes nor ends the tag."""
    from sn_importer.report.xmledit import element, start_tag

    part = b'<worksheet><sheetPr codeName="a/>b" x=\'c>d\'><tabColor rgb="FF0000"/></sheetPr><sheetData/></worksheet>'
    found = element(part, b"", b"sheetPr")
    assert part[found[0]:found[1]] == b'<sheetPr codeName="a/>b" x=\'c>d\'><tabColor rgb="FF0000"/></sheetPr>'
    assert start_tag(part, b"", b"sheetData").group(0) == b"<sheetData/>"
