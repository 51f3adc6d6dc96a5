"""The hostile corpus: files built to cost too much or to break a reader.

Each maker writes one file quickly (tens of milliseconds, a few MB at most on
disk) that is representative of the real thing: a zip bomb is a real deflate
stream inflating to 1.1 GB (the repeated block trick: after a full flush the
compressor emits the same bytes for the same block, so the stream is built by
repetition, not by compressing a gigabyte). Used by the tests and by
``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

HEADER = ("resource_type", "resource_id", "serial_number")
ROWS = (("ManufacturingOrder", 3001, "SN-1"), ("ManufacturingOrder", 3001, "SN-2"), ("SalesOrderRow", 5001, "SN-3"))

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'styles" Target="styles.xml"/></Relationships>')
#: Style 0 General; style 1 the custom format 00000 (numFmt 164); style 2 Text ("@").
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="00000"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def col(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell(ref: str, value, style: int | None = None) -> str:
    s = f' s="{style}"' if style is not None else ""
    if isinstance(value, str):
        return f'<c r="{ref}"{s} t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


def rows_xml(rows, first: int = 1) -> str:
    out = []
    for r, values in enumerate(rows, start=first):
        out.append(f'<row r="{r}">' + "".join(cell(f"{col(c)}{r}", v) for c, v in enumerate(values, 1)) + "</row>")
    return "".join(out)


def sheet_xml(body: str, dimension: str = "A1:C4", prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{prolog}<worksheet {NS}>'
            f'<dimension ref="{dimension}"/><sheetData>{body}</sheetData></worksheet>')


def write_book(path: Path, sheet: str, **replace) -> Path:
    """An .xlsx with one sheet 'Orders' whose XML is ``sheet`` (other parts replaceable by name)."""
    parts = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS, "xl/workbook.xml": WORKBOOK,
             "xl/_rels/workbook.xml.rels": WORKBOOK_RELS, "xl/styles.xml": STYLES,
             "xl/worksheets/sheet1.xml": sheet, **replace}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def plain(path: Path) -> Path:
    """A well-formed small workbook: header and three rows."""
    return write_book(path, sheet_xml(rows_xml([HEADER, *ROWS])))


def far_cell(path: Path, ref: str = "XFD1048576") -> Path:
    """The header, the rows, and one cell far away (calamine would allocate the whole rectangle)."""
    row = int(ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    body = rows_xml([HEADER, *ROWS]) + f'<row r="{row}">{cell(ref, "stray")}</row>'
    return write_book(path, sheet_xml(body, f"A1:{ref}"))


def dimension_lie(path: Path) -> Path:
    """A sheet declaring A1:XFD1048576 and holding four rows."""
    return write_book(path, sheet_xml(rows_xml([HEADER, *ROWS]), "A1:XFD1048576"))


def wide_book(path: Path, columns: int = 20_000) -> Path:
    """A header of ``columns`` cells: beyond Excel's 16,384."""
    header = list(HEADER) + [f"extra {n}" for n in range(len(HEADER) + 1, columns + 1)]
    return write_book(path, sheet_xml(rows_xml([header, *ROWS]), f"A1:{col(columns)}4"))


def billion_laughs(path: Path) -> Path:
    """The classic entity bomb in the sheet's prolog (a billion 'lol's if expanded)."""
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10))
    prolog = f"<!DOCTYPE worksheet [{entities}]>"
    body = rows_xml([HEADER]) + '<row r="2">' + cell("A2", "ManufacturingOrder") + cell("B2", 3001) + \
        '<c r="C2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    return write_book(path, sheet_xml(body, prolog=prolog))


def external_entity(path: Path) -> Path:
    """An entity that would read a local file into a cell."""
    prolog = '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    body = rows_xml([HEADER]) + '<row r="2">' + cell("A2", "ManufacturingOrder") + cell("B2", 3001) + \
        '<c r="C2" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
    return write_book(path, sheet_xml(body, prolog=prolog))


def truncated(path: Path) -> Path:
    """A good workbook cut in half (an interrupted download)."""
    plain(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def encrypted(path: Path, password: str = "secret") -> Path:
    """A real password-protected workbook (Office's Agile encryption, as Excel writes it)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    source = plain(path.with_name(path.stem + ".plain.xlsx"))
    with source.open("rb") as clear, path.open("wb") as out:
        OOXMLFile(clear).encrypt(password, out)
    source.unlink()
    return path


def zip_bomb(path: Path, inflated: int = 1_100_000_000, honest: bool = True) -> Path:
    """A workbook whose sheet inflates to ``inflated`` bytes from a few MB.

    ``honest``: the directory gives the true size (refused from the directory
    alone); otherwise it claims a small size, and only unpacking shows the lie.
    """
    head = sheet_xml(rows_xml([HEADER, *ROWS]), "A1:C4").split("</sheetData>")[0].encode()
    block = b'<row><c t="inlineStr"><is><t>bomb</t></is></c></row>' * 20_000
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = max(1, (inflated - len(head)) // len(block))
    end = compressor.compress(b"</sheetData></worksheet>") + compressor.flush()
    size = len(head) + count * len(block) + len(b"</sheetData></worksheet>")
    crc = _crc_repeated(head, block, count) if honest else zlib.crc32((head + block)[:4096])
    plain(path)
    with zipfile.ZipFile(path) as archive:
        others = [(i.filename, archive.read(i)) for i in archive.infolist() if i.filename != "xl/worksheets/sheet1.xml"]
    with path.open("wb") as out:
        entries = [_stored_deflated(out, name, zlib.compress(data)[2:-4], zlib.crc32(data), len(data))
                   for name, data in others]
        entries.append(_raw_member(out, "xl/worksheets/sheet1.xml", [start, *[repeated] * count, end], crc,
                                   size if honest else 4096))
        _central_directory(out, entries)
    return path


def _crc_repeated(head: bytes, block: bytes, count: int) -> int:
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(b"</sheetData></worksheet>", crc)


def _stored_deflated(out, name: str, deflated: bytes, crc: int, size: int) -> tuple:
    return _raw_member(out, name, [deflated], crc, size)


def _raw_member(out, name: str, pieces: list[bytes], crc: int, size: int) -> tuple:
    """Write one deflated member from ready-made deflate bytes; return what the directory needs."""
    offset = out.tell()
    packed = sum(len(p) for p in pieces)
    encoded = name.encode()
    out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, packed, size, len(encoded), 0))
    out.write(encoded)
    for piece in pieces:
        out.write(piece)
    return encoded, crc, packed, size, offset


def _central_directory(out, entries: list[tuple]) -> None:
    start = out.tell()
    for encoded, crc, packed, size, offset in entries:
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, packed, size,
                              len(encoded), 0, 0, 0, 0, 0, offset))
        out.write(encoded)
    length = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), length, start, 0))


# --------------------------------------------------------------------------- CSV


def csv_header() -> str:
    return ",".join(HEADER) + "\n"


def long_line_csv(path: Path, megabytes: int = 50) -> Path:
    """A header, then one line of ``megabytes`` MB."""
    with path.open("wb") as out:
        out.write(csv_header().encode())
        out.write(b"ManufacturingOrder,3001,")
        out.write(b"x" * (megabytes * 2**20))
        out.write(b"\n")
    return path


def long_cell_csv(path: Path, chars: int = 140_000) -> Path:
    """A good row, a row with a 140 KB note, another good row."""
    text = "resource_type,resource_id,serial_number,note\n" \
           "ManufacturingOrder,3001,SN-1,short\n" \
           f"ManufacturingOrder,3001,SN-2,{'n' * chars}\n" \
           "SalesOrderRow,5001,SN-3,short\n"
    path.write_text(text, encoding="utf-8")
    return path


def wide_csv(path: Path, columns: int = 20_000) -> Path:
    header = list(HEADER) + [f"extra{n}" for n in range(len(HEADER) + 1, columns + 1)]
    path.write_text(",".join(header) + "\n" + "ManufacturingOrder,3001,SN-1\n", encoding="utf-8")
    return path


ODS_CELL = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'


def ods(path: Path, extra: str = "") -> Path:
    """An OpenDocument spreadsheet: the header, one row, then ``extra`` table rows."""
    rows = "".join("<table:table-row>" + "".join(ODS_CELL.format(v) for v in row) + "</table:table-row>"
                   for row in [HEADER, ("ManufacturingOrder", "3001", "SN-1")])
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="Orders">{rows}{extra}</table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
                'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def far_cell_ods(path: Path) -> Path:
    """A far cell in an .ods: a million repeated empty rows, then a value in column XFD."""
    return ods(path, '<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
                     'table:number-columns-repeated="16384"/></table:table-row><table:table-row>'
                     '<table:table-cell table:number-columns-repeated="16383"/>' + ODS_CELL.format("stray") +
                     "</table:table-row>")


def repeated_ods(path: Path) -> Path:
    """A value repeated over 16,384 columns of a million rows: 17 billion cells in 1 KB."""
    return ods(path, '<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
                     'office:value-type="string" table:number-columns-repeated="16384"><text:p>x</text:p>'
                     "</table:table-cell></table:table-row>")


#: name → (maker, file name, what must happen: "refused" or "read")
CORPUS = {
    "zip bomb": (zip_bomb, "bomb.xlsx", "refused"),
    "zip bomb, lying directory": (lambda p: zip_bomb(p, honest=False), "bomb-lying.xlsx", "refused"),
    "far sparse cell XFD1048576": (far_cell, "far.xlsx", "read"),
    "far sparse cell Z1048576": (lambda p: far_cell(p, "Z1048576"), "far-z.xlsx", "read"),
    "dimension lie": (dimension_lie, "dimension.xlsx", "read"),
    "50 MB line": (long_line_csv, "long-line.csv", "refused"),
    "140 KB cell": (long_cell_csv, "long-cell.csv", "read"),
    "20,000 columns (CSV)": (wide_csv, "wide.csv", "refused"),
    "20,000 columns (xlsx)": (wide_book, "wide.xlsx", "refused"),
    "billion laughs": (billion_laughs, "laughs.xlsx", "refused"),
    "external entity": (external_entity, "xxe.xlsx", "refused"),
    "encrypted workbook": (encrypted, "locked.xlsx", "refused"),
    "truncated zip": (truncated, "cut.xlsx", "refused"),
    "far cell in an .ods": (far_cell_ods, "far.ods", "refused"),
    "repeated cells in an .ods": (repeated_ods, "repeated.ods", "refused"),
    "plain .ods": (ods, "plain.ods", "read"),
}
