"""The results workbook is the user's package patched: every part compared with the input's.

The fixtures in ``tests/fixtures`` (made by ``make_workbooks.py``) hold a
chart, an image, a comment, conditional formatting, a drop-down, a defined
name, merged cells, a hidden sheet and formulas with cached values; one is
as LibreOffice Calc saves it, one an .xlsm with a VBA part.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

import sn_importer as sn

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS = ["status", "message", "serial_id", "request", "checked_at"]
#: The parts a patched workbook may change: the data sheet, the styles, the workbook's lists, the properties.
CHANGED = {"xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
           "[Content_Types].xml", "docProps/custom.xml"}


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def patched(tmp_path: Path, name: str, output: str | None = None) -> tuple[Path, Path]:
    source = tmp_path / name
    shutil.copy(FIXTURES / name, source)
    out = sn.read(source).write(tmp_path / output if output else None)
    return source, out


def serials_book(path: Path, rows=(("MO", 3001, "SN-1"), ("MO", "abc", "SN-2")), title: str = "Serials") -> Path:
    """A small workbook as openpyxl saves it: a header in staff words over ``rows``."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = title
    ws.append(["Resource type", "Resource ID", "Serial number"])
    for row in rows:
        ws.append(list(row))
    book.save(path)
    return path


def repackaged(source: Path, target: Path, edit) -> Path:
    """``source``'s package written to ``target`` part by part, each part's bytes through ``edit(name, data)``
    (how another writer would have saved the same workbook)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, edit(item.filename, src.read(item)))
    return target


@pytest.mark.parametrize("name, output", [("rich.xlsx", None), ("rich-libreoffice.xlsx", None),
                                          ("macros.xlsm", "macros.results.xlsm")])
def test_only_the_named_parts_differ_and_every_other_is_byte_identical(tmp_path, name, output):
    source, out = patched(tmp_path, name, output)
    before, after = parts(source), parts(out)
    changed = CHANGED | ({"_rels/.rels"} if "docProps/custom.xml" not in before else set())
    assert set(before) <= set(after), "no part of the input is dropped"
    added = set(after) - set(before)
    assert added - {"docProps/custom.xml"} == {"xl/worksheets/sheet4.xml"}, "only the Summary sheet is added"
    differing = {n for n in before if before[n] != after[n]}
    assert differing <= changed, differing - changed
    assert {"xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml"} <= differing
    kept = [n for n in before if n not in changed]
    assert any(n.startswith("xl/charts/") for n in kept) and any(n.startswith("xl/media/") for n in kept)
    assert any("comments" in n for n in kept) and "xl/sharedStrings.xml" in kept


def test_cached_values_and_formulas_read_back_the_same(tmp_path):
    source, out = patched(tmp_path, "rich-libreoffice.xlsx")
    for data_only in (True, False):
        old, new = load_workbook(source, data_only=data_only), load_workbook(out, data_only=data_only)
        for ws in old.worksheets:
            width = ws.max_column
            mine = [r[:width] for r in new[ws.title].iter_rows(max_row=ws.max_row, values_only=True)]
            assert mine == [r for r in ws.iter_rows(values_only=True)], ws.title
    values = load_workbook(out, data_only=True)["Serials"]
    assert [values.cell(r, 4).value for r in range(4, 8)] == ["ok", "ok", "check", "ok"]  # cached text results
    assert load_workbook(out)["Serials"]["D4"].value == '=IF(ISNUMBER(B4),"ok","check")'


def test_the_results_and_the_summary_are_where_staff_look(tmp_path):
    _, out = patched(tmp_path, "rich.xlsx")
    book = load_workbook(out)
    assert book.sheetnames == ["Serials", "Old", "Notes", "Summary"] and book.active.title == "Summary"
    assert book["Old"].sheet_state == "hidden"
    ws = book["Serials"]
    assert [c.value for c in ws[3]] == ["Resource type", "Resource ID", "Serial number", "Check", *RESULTS]
    assert [ws.cell(r, 5).value for r in range(4, 8)] == ["valid", "valid", "invalid", "valid"]
    assert ws["E3"].fill.fgColor.rgb == "FF305496"  # the header's own style continues
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:D1"] and ws.conditional_formatting
    assert ws.data_validations.dataValidation[0].formula1 == '"MO,SO row,PO row"'
    assert "Serials_list" in book.defined_names
    assert [bool(ws.sheet_view.tabSelected) for ws in book.worksheets] == [False, False, False, True]


def test_print_settings_fit_the_width_and_repeat_the_header(tmp_path):
    _, out = patched(tmp_path, "rich.xlsx")
    book = load_workbook(out)
    for name, header in (("Serials", "$3:$3"), ("Summary", None)):
        ws = book[name]
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), name
        assert ws.print_title_rows == header, name


def test_the_removed_sheet_of_an_apply_prints_its_header_on_every_page(tmp_path):
    import pandas as pd

    from sn_importer.mapping import REMOVED_COLUMNS
    from sn_importer.report import write_report

    source = tmp_path / "rich.xlsx"
    shutil.copy(FIXTURES / "rich.xlsx", source)
    job = sn.read(source)
    result = job.validation()
    removed = pd.DataFrame([[1, "SN-1", "ManufacturingOrder", 3001, 7, "2026-11-20", -1, "4"]],
                           columns=list(REMOVED_COLUMNS))
    out = write_report(tmp_path / "out.xlsx", job.source, result.rows, result.report_facts(), removed)
    book = load_workbook(out)
    assert book.sheetnames[-2:] == ["Summary", "Removed"]
    assert book["Removed"].print_title_rows == "$1:$1" and book["Removed"]["B2"].value == "SN-1"


def test_an_xlsm_keeps_its_macros_only_as_an_xlsm(tmp_path):
    source, out = patched(tmp_path, "macros.xlsm", "macros.results.xlsm")
    assert parts(out)["xl/vbaProject.bin"] == parts(source)["xl/vbaProject.bin"]
    assert b"macroEnabled.main+xml" in parts(out)["[Content_Types].xml"]
    plain = sn.read(source).write(tmp_path / "plain.xlsx")
    kept = parts(plain)
    assert "xl/vbaProject.bin" not in kept and b"vbaProject" not in kept["xl/_rels/workbook.xml.rels"]
    assert b"macroEnabled" not in kept["[Content_Types].xml"]
    summary = [r[0] for r in load_workbook(plain)["Summary"].iter_rows(values_only=True) if r[0]]
    assert any("macros are not in this .xlsx copy" in str(t) for t in summary)


def test_the_summary_warns_of_formulas_and_external_links_kept(tmp_path):
    _, out = patched(tmp_path, "rich.xlsx")
    notes = [r[0] for r in load_workbook(out)["Summary"].iter_rows(values_only=True) if r[0]]
    assert "The workbook holds 5 formulas, kept in the results as they are: check them before sharing the " \
           "results with others." in notes
    linked = tmp_path / "linked.xlsx"
    with zipfile.ZipFile(FIXTURES / "rich.xlsx") as src, zipfile.ZipFile(linked, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/externalLinks/externalLink1.xml", "<externalLink xmlns='http://schemas.openxmlformats."
                                                          "org/spreadsheetml/2006/main'/>")
    job = sn.read(linked)
    assert any("links to another file (external links)" in n for n in job.notes)


def filter_names(path: Path) -> list[str]:
    """The ``_xlnm._FilterDatabase`` names of a workbook: (sheet index, range)."""
    import re

    with zipfile.ZipFile(path) as archive:
        data = archive.read("xl/workbook.xml").decode()
    return re.findall(r'<definedName name="_xlnm\._FilterDatabase" localSheetId="(\d+)"[^>]*>([^<]*)<', data)


def test_the_filter_is_named_as_excel_names_it_so_libreoffice_shows_it(tmp_path):
    """LibreOffice takes a sheet's filter from its ``_xlnm._FilterDatabase`` name: a filter added
    gets one, and a filter the sheet had has its name widened over the results with it."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "O'Brien's"
    for ws in (book.active, book.create_sheet("Filtered")):
        ws.append(["Resource type", "Resource ID", "Serial number", "Note"])
        ws.append(["MO", 3001, "SN-1", "a"])
        ws.append(["MO", 3001, "SN-2", "b"])
    book["Filtered"].auto_filter.ref = "A1:D3"  # openpyxl names it, as Excel does
    book.save(tmp_path / "filters.xlsx")
    assert filter_names(tmp_path / "filters.xlsx") == [("1", "'Filtered'!$A$1:$D$3")]
    out = sn.read(tmp_path / "filters.xlsx").write()
    assert sorted(filter_names(out)) == [("0", "'O''Brien''s'!$A$1:$I$3"), ("1", "'Filtered'!$A$1:$I$3")]
    assert [load_workbook(out)[name].auto_filter.ref for name in ("O'Brien's", "Filtered")] == ["A1:I3"] * 2


def test_a_custom_views_filter_is_not_taken_for_the_sheets_own(tmp_path):
    """A custom view holds a filter of its own after the sheet's place for one: the sheet, with none,
    still gets its filter over the results, and its name."""
    view = (b'<customSheetViews><customSheetView guid="{0A5E8D9B-7777-4C2B-9D7E-1A2B3C4D5E6F}">'
            b'<autoFilter ref="B1:B3"/></customSheetView></customSheetViews>')
    serials_book(tmp_path / "made.xlsx")
    repackaged(tmp_path / "made.xlsx", tmp_path / "views.xlsx",
               lambda name, data: data.replace(b"</sheetData>", b"</sheetData>" + view)
               if name == "xl/worksheets/sheet1.xml" else data)
    out = sn.read(tmp_path / "views.xlsx").write()
    tail = parts(out)["xl/worksheets/sheet1.xml"].partition(b"</sheetData>")[2]
    assert tail.startswith(b'<autoFilter ref="A1:H3"/>' + view)  # the view's own filter as it was
    assert filter_names(out) == [("0", "'Serials'!$A$1:$H$3")]


def test_a_table_on_the_header_is_widened_over_the_results(tmp_path):
    from openpyxl import Workbook
    from openpyxl.worksheet.table import Table

    book = Workbook()
    ws = book.active
    ws.append(["resource_type", "resource_id", "serial_number"])
    ws.append(["MO", 3001, "A"])
    ws.append(["MO", 3002, "B"])
    ws.add_table(Table(displayName="Serials", ref="A1:C3"))
    book.save(tmp_path / "table.xlsx")
    written = sn.read(tmp_path / "table.xlsx").write()
    out = load_workbook(written)["Sheet"]
    [table] = out.tables.values()
    assert table.ref == "A1:H3" and [c.name for c in table.tableColumns][3:] == RESULTS
    assert [c.id for c in table.tableColumns] == list(range(1, 9))  # Excel repairs away a table with repeats
    assert columns_counted(written) == 8
    assert out.auto_filter.ref is None  # the table's own filter serves


def test_a_table_with_a_totals_row_has_its_filter_widened_too(tmp_path):
    """Excel ends a table's filter above its totals row: the filter still grows over the results."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(tmp_path / "totals.xlsx"))
    ws = book.add_worksheet("Serials")
    ws.add_table(0, 0, 3, 2, {"name": "Serials", "total_row": True, "data": [["MO", 3001, "A"], ["MO", 3002, "B"]],
                              "columns": [{"header": "resource_type", "total_string": "Total"},
                                          {"header": "resource_id"},
                                          {"header": "serial_number", "total_function": "count"}]})
    book.close()
    [table] = load_workbook(sn.read(tmp_path / "totals.xlsx").write())["Serials"].tables.values()
    assert table.ref == "A1:H4" and table.totalsRowCount == 1
    assert table.autoFilter.ref == "A1:H3"  # the totals row stays out of it, the results are in

def columns_counted(path: Path) -> int:
    """The ``count`` a workbook's table gives its columns (Excel checks it against the columns listed)."""
    import re

    with zipfile.ZipFile(path) as archive:
        return int(re.search(rb'<tableColumns count="(\d+)"', archive.read("xl/tables/table1.xml")).group(1))


#: A table part as Excel writes one: ``id`` first, revision ids, a query column's ``uniqueName``, and a
#: calculated column with its formula inside.
EXCEL_TABLE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<table xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'mc:Ignorable="xr xr3" xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" '
    'xmlns:xr3="http://schemas.microsoft.com/office/spreadsheetml/2016/revision3" id="1" '
    'xr:uid="{0A5E8D9B-1111-4C2B-9D7E-1A2B3C4D5E6F}" name="Serials" displayName="Serials" ref="A1:D3" '
    'totalsRowShown="0"><autoFilter ref="A1:D3" xr:uid="{0A5E8D9B-2222-4C2B-9D7E-1A2B3C4D5E6F}"/>'
    '<tableColumns count="4"><tableColumn id="1" xr3:uid="{0A5E8D9B-3333-4C2B-9D7E-1A2B3C4D5E6F}" '
    'uniqueName="1" name="resource_type" queryTableFieldId="1"/><tableColumn id="2" '
    'xr3:uid="{0A5E8D9B-4444-4C2B-9D7E-1A2B3C4D5E6F}" name="resource_id"/><tableColumn id="5" '
    'xr3:uid="{0A5E8D9B-5555-4C2B-9D7E-1A2B3C4D5E6F}" name="serial_number"/><tableColumn id="7" '
    'xr3:uid="{0A5E8D9B-6666-4C2B-9D7E-1A2B3C4D5E6F}" name="Check" dataDxfId="0">'
    '<calculatedColumnFormula>LEN(Serials[[#This Row],[serial_number]])</calculatedColumnFormula>'
    '</tableColumn></tableColumns><tableStyleInfo name="TableStyleMedium2" showFirstColumn="0" '
    'showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>')


def test_a_table_as_excel_writes_it_gets_new_column_ids_and_its_count(tmp_path):
    from openpyxl import Workbook
    from openpyxl.worksheet.table import Table

    book = Workbook()
    ws = book.active
    ws.append(["resource_type", "resource_id", "serial_number", "Check"])
    ws.append(["MO", 3001, "A", "=LEN(C2)"])
    ws.append(["MO", 3002, "B", "=LEN(C3)"])
    ws.add_table(Table(displayName="Serials", ref="A1:D3"))
    book.save(tmp_path / "made.xlsx")
    repackaged(tmp_path / "made.xlsx", tmp_path / "excel.xlsx",
               lambda name, data: EXCEL_TABLE.encode() if name == "xl/tables/table1.xml" else data)
    out = sn.read(tmp_path / "excel.xlsx").write()
    [table] = load_workbook(out)["Sheet"].tables.values()
    assert table.ref == "A1:I3" and columns_counted(out) == 9
    assert [(c.id, c.name) for c in table.tableColumns] == [
        (1, "resource_type"), (2, "resource_id"), (5, "serial_number"), (7, "Check"),
        (8, "status"), (9, "message"), (10, "serial_id"), (11, "request"), (12, "checked_at")]
    assert table.tableColumns[3].calculatedColumnFormula.attr_text == "LEN(Serials[[#This Row],[serial_number]])"


def test_a_changed_input_is_rebuilt_from_what_was_read_and_says_so(tmp_path):
    source = tmp_path / "rich.xlsx"
    shutil.copy(FIXTURES / "rich.xlsx", source)
    job = sn.read(source)
    source.write_bytes(source.read_bytes() + b"\0")  # changed after reading
    book = load_workbook(job.write())
    assert book.sheetnames == ["Serials", "Summary"]
    notes = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r[0]]
    assert any("changed after it was read" in str(t) for t in notes)


def test_libreoffice_opens_the_output(tmp_path):
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: the output was not opened in it")
    _, out = patched(tmp_path, "rich.xlsx")
    again = tmp_path / "again"
    profile = (tmp_path / "profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(again), str(out)], check=True, capture_output=True, timeout=110)
    book = load_workbook(again / out.name, data_only=True)
    assert [book["Serials"].cell(r, 5).value for r in range(4, 8)] == ["valid", "valid", "invalid", "valid"]
    assert book["Serials"]["D4"].value == "ok" and "Summary" in book.sheetnames


def stored_bytes(path: Path, name: str) -> tuple[int, bytes]:
    """A member's compression method and its bytes as stored in the zip (after its local header)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = path.read_bytes()
    start = info.header_offset
    name_length, extra_length = int.from_bytes(data[start + 26:start + 28], "little"), \
        int.from_bytes(data[start + 28:start + 30], "little")
    begin = start + 30 + name_length + extra_length
    return info.compress_type, data[begin:begin + info.compress_size]


def test_untouched_parts_keep_their_stored_bytes_and_a_selected_tab_only_loses_its_mark(tmp_path):
    """Every part the results do not touch goes into the output compressed as it came (deflated at level 1
    here, as some writers do: deflating it again would change its bytes); a part compressed in a way Excel
    cannot read is deflated; the non-data sheet that was the selected tab keeps everything but that mark."""
    source = tmp_path / "rich.xlsx"
    with zipfile.ZipFile(FIXTURES / "rich.xlsx") as src, \
            zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b' tabSelected="1"', b"")
            elif item.filename == "xl/worksheets/sheet3.xml":
                data = data.replace(b"<sheetView ", b'<sheetView tabSelected="1" ')
            kind = zipfile.ZIP_BZIP2 if item.filename == "xl/media/image1.png" else zipfile.ZIP_DEFLATED
            dst.writestr(item.filename, data, compress_type=kind)
    out = sn.read(source).write(tmp_path / "out.xlsx")
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
    before, after = parts(source), parts(out)
    assert before["xl/media/image1.png"] == after["xl/media/image1.png"]
    assert stored_bytes(out, "xl/media/image1.png")[0] == zipfile.ZIP_DEFLATED
    assert after["xl/worksheets/sheet3.xml"] == before["xl/worksheets/sheet3.xml"].replace(b' tabSelected="1"', b"")
    kept = set(before) - CHANGED - {"_rels/.rels", "xl/worksheets/sheet3.xml", "xl/media/image1.png"}
    assert {"xl/worksheets/sheet2.xml", "xl/charts/chart1.xml", "xl/sharedStrings.xml"} <= kept
    for name in sorted(kept):
        assert stored_bytes(out, name) == stored_bytes(source, name), name
    book = load_workbook(out)
    assert [bool(ws.sheet_view.tabSelected) for ws in book.worksheets] == [False, False, False, True]
    assert book["Serials"]["E4"].value == "valid"


def test_a_part_with_bytes_past_its_deflate_stream_is_written_clean(tmp_path):
    """A part whose stored bytes go on after its deflate stream ends (readers skip them; a streaming
    reader meets them as the next part) is not copied as stored: it is deflated again, without them."""
    import struct
    import zlib

    smuggled = b"PK\x03\x04 bytes no reader of the input inflated " * 20
    source = tmp_path / "padded.xlsx"
    with zipfile.ZipFile(FIXTURES / "rich.xlsx") as src, zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/theme/theme1.xml":
                theme = data
                packer = zlib.compressobj(6, zlib.DEFLATED, -15)
                data = packer.compress(data) + packer.flush() + smuggled
                dst.writestr(item.filename, data, compress_type=zipfile.ZIP_STORED)
            else:
                dst.writestr(item.filename, data)
    raw = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        at = archive.getinfo("xl/theme/theme1.xml").header_offset
    name = b"xl/theme/theme1.xml"
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46:central + 46 + len(name)] != name:
        central = raw.index(b"PK\x01\x02", central + 4)
    fields = struct.pack("<H", 8), struct.pack("<L", zlib.crc32(theme)), struct.pack("<L", len(theme))
    for method, crc, usize in ((at + 8, at + 14, at + 22), (central + 10, central + 16, central + 24)):
        raw[method:method + 2], raw[crc:crc + 4], raw[usize:usize + 4] = fields  # deflated, as the directory says
    source.write_bytes(bytes(raw))
    with zipfile.ZipFile(source) as archive:
        assert archive.read("xl/theme/theme1.xml") == theme  # what every reader of the input gets
    out = sn.read(source).write(tmp_path / "out.xlsx")
    assert smuggled[:20] not in out.read_bytes()
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None and archive.read("xl/theme/theme1.xml") == theme
    assert load_workbook(out)["Serials"]["E4"].value == "valid"


def sdk_style(name: str, data: bytes) -> bytes:
    """A sheet written as the Open XML SDK writes one: every element ``x:``-prefixed."""
    import re

    if name != "xl/worksheets/sheet1.xml":
        return data
    data = re.sub(rb"<(/?)([A-Za-z]\w*)(?=[\s/>])", rb"<\1x:\2", data)
    data = data.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                        b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    assert b"<x:sheetData" in data and b"<c " not in data
    return data


@pytest.mark.parametrize("rows", [6, 400])  # row by row; and long enough for rows to be spliced a run at a time
def test_a_sheet_with_prefixed_elements_gets_result_cells_in_its_namespace(tmp_path, rows):
    plain = serials_book(tmp_path / "plain.xlsx", [("MO", "abc" if n == 3 else 3000 + n, f"SN-{n}")
                                                    for n in range(1, rows)], title="Report")
    out = sn.read(repackaged(plain, tmp_path / "sdk.xlsx", sdk_style)).write(tmp_path / "out.xlsx")
    with zipfile.ZipFile(out) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert b"<c " not in sheet and b"<is>" not in sheet and b"<v>" not in sheet  # nothing outside the namespace
    back = load_workbook(out)["Report"]
    assert [c.value for c in back[1]] == ["Resource type", "Resource ID", "Serial number", *RESULTS]
    statuses = [back.cell(r, 4).value for r in range(2, rows + 1)]
    assert statuses == ["invalid" if r == 4 else "valid" for r in range(2, rows + 1)]
    assert back["E4"].value == "Resource ID 'abc' is not a whole number"


def test_a_strict_open_xml_workbook_is_rebuilt_and_the_summary_says_why(tmp_path):
    """Saved as "Strict Open XML Spreadsheet", a workbook names its parts in other namespaces: its results
    are rebuilt from its values, with a sentence that says so (not an error's text)."""
    names = {b"http://schemas.openxmlformats.org/spreadsheetml/2006/main": b"http://purl.oclc.org/ooxml/spreadsheetml/main",
             b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
                 b"http://purl.oclc.org/ooxml/officeDocument/relationships"}

    def strict(name: str, data: bytes) -> bytes:
        for old, new in names.items():
            data = data.replace(old, new)
        return data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1) if name == "xl/workbook.xml" else data

    source = repackaged(serials_book(tmp_path / "plain.xlsx"), tmp_path / "strict.xlsx", strict)
    out = sn.read(source).write(tmp_path / "out.xlsx")
    back = load_workbook(out)
    assert [c.value for c in back["Serials"][1]][3:] == RESULTS
    assert [back["Serials"].cell(r, 4).value for r in (2, 3)] == ["valid", "invalid"]
    summary = [str(r[0]) for r in back["Summary"].iter_rows(values_only=True) if r[0]]
    assert any(line.startswith("The input is saved as Strict Open XML, which cannot be annotated in place")
               for line in summary), summary
    assert not any("Error" in line for line in summary)


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.mark.parametrize("styles", [
    pytest.param(f'<styleSheet xmlns="{MAIN}"/>', id="empty, self-closing"),
    pytest.param(f'<x:styleSheet xmlns:x="{MAIN}"></x:styleSheet>', id="empty, prefixed"),
    pytest.param(f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="0.0"/></numFmts>'
                 '<dxfs count="1"><dxf><font><b/></font></dxf></dxfs></styleSheet>', id="formats and dxfs only"),
])
def test_a_styles_part_missing_its_lists_gets_them_and_the_workbook_is_still_patched(tmp_path, styles):
    """Some writers leave the styles part (nearly) empty; the lists the results' styles go in are added
    in the schema's order, what was there is kept, and the workbook is annotated in place."""
    import xml.etree.ElementTree as ET

    def bare(name: str, data: bytes) -> bytes:
        if name == "xl/styles.xml":
            return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + styles).encode()
        return data.replace(b' s="1"', b"") if name.startswith("xl/worksheets/") else data  # no style it lacks

    source = repackaged(serials_book(tmp_path / "made.xlsx"), tmp_path / "bare.xlsx", bare)
    out = sn.read(source).write(tmp_path / "out.xlsx")
    with zipfile.ZipFile(out) as archive:
        root = ET.fromstring(archive.read("xl/styles.xml"))
    children = [child.tag.split("}")[1] for child in root]
    order = ["numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs"]
    assert children == [c for c in order if c in children]
    assert {"fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles"} <= set(children)
    for child in root:
        if child.get("count") is not None:
            assert int(child.get("count")) == len(child), child.tag
    if "dxfs" in styles:
        assert children[0] == "numFmts" and children[-1] == "dxfs"
    back = load_workbook(out)
    summary = [str(r[0]) for r in back["Summary"].iter_rows(values_only=True) if r[0]]
    assert not any("could not be annotated in place" in line for line in summary), summary
    assert [back["Serials"].cell(r, 4).value for r in (2, 3)] == ["valid", "invalid"]
    assert back["Serials"]["D2"].fill.fgColor.rgb.endswith("C6EFCE")  # the status colours came


def test_a_chart_sheet_that_was_the_selected_tab_is_unselected(tmp_path):
    """The Summary is the one selected tab of the results, whatever kind of sheet was selected before."""
    from openpyxl.chart import BarChart, Reference

    book = load_workbook(serials_book(tmp_path / "plain.xlsx", [("MO", 3001, "SN-1")]))
    chart = BarChart()
    chart.add_data(Reference(book["Serials"], min_col=2, min_row=1, max_row=2), titles_from_data=True)
    book.create_chartsheet("Chart").add_chart(chart)
    book.save(tmp_path / "made.xlsx")
    source = repackaged(tmp_path / "made.xlsx", tmp_path / "charted.xlsx", lambda name, data: data.replace(
        b"<sheetView ", b'<sheetView tabSelected="1" ') if name == "xl/chartsheets/sheet1.xml" else data)
    out = sn.read(source).write(tmp_path / "out.xlsx")
    with zipfile.ZipFile(out) as archive:
        chart_sheet = archive.read("xl/chartsheets/sheet1.xml")
        selected = [name for name in archive.namelist() if name.endswith(".xml") and "sheets/" in name
                    and b'tabSelected="1"' in archive.read(name)]
    assert b"tabSelected" not in chart_sheet and b'zoomToFit="1"' in chart_sheet
    assert len(selected) == 1 and load_workbook(out).active.title == "Summary"


def test_macros_leave_an_xlsx_whole_when_its_lists_close_each_entry_with_an_end_tag(tmp_path):
    """Some writers close every relationship and content-type entry with an end tag (``<Relationship …>
    </Relationship>``). Written as .xlsx, such an .xlsm loses its VBA part, the relationship to it and its
    content-type entry, and the workbook's type is the ordinary one: nothing points at a missing part."""
    import re

    def closed(name: str, data: bytes) -> bytes:
        if name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
            data = re.sub(rb"<(Relationship|Override)(\s[^>]*?)\s*/>", rb"<\1\2></\1>", data)
            assert b"></Relationship>" in data or b"></Override>" in data
        if name == "[Content_Types].xml":  # part names may differ in case from the zip's
            data = data.replace(b'PartName="/xl/vbaProject.bin"', b'PartName="/xl/VBAProject.bin"')
        return data

    source = repackaged(FIXTURES / "macros.xlsm", tmp_path / "closed.xlsm", closed)
    out = parts(sn.read(source).write(tmp_path / "plain.xlsx"))
    assert "xl/vbaProject.bin" not in out
    assert b"vbaProject" not in out["xl/_rels/workbook.xml.rels"]
    assert b"VBAProject" not in out["[Content_Types].xml"] and b"macroEnabled" not in out["[Content_Types].xml"]
    assert b"spreadsheetml.sheet.main+xml" in out["[Content_Types].xml"]
    load_workbook(tmp_path / "plain.xlsx")
