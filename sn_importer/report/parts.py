"""Edits of the package parts that say what the workbook holds: the workbook, its
relationships, the content types, the document properties and the tables.

Each takes a part's bytes and returns them with only the named change made:
sheets appended to ``<sheets>``, print titles added to ``<definedNames>``,
the Summary made the open tab, relationships and content types for the new
parts, the macros' parts unlisted when an .xlsm is written as .xlsx.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..xlsx import column_letters
from .xmledit import (attr, attribute, element, insert_before, prefix_of, quote_sheet, set_attribute,
                      split_ref, start_tag, tag_pattern, text)

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKSHEET_REL = f"{REL_NS}/worksheet"
CUSTOM_REL = f"{REL_NS}/custom-properties"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
BOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_BOOK_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_AFTER_NAMES = (b"calcPr", b"oleSize", b"customWorkbookViews", b"pivotCaches", b"smartTagPr", b"smartTagTypes",
                b"webPublishing", b"fileRecoveryPr", b"webPublishObjects", b"extLst")


@dataclass(frozen=True)
class NewSheet:
    name: str
    part: str      # xl/worksheets/sheetN.xml
    rel_id: str


def workbook(data: bytes, added: list[NewSheet], titles: dict[int, tuple[str, int]], active: int,
             filters: dict[int, tuple[str, bytes]] | None = None) -> bytes:
    """xl/workbook.xml with ``added`` sheets, print titles (sheet index → (name, header row)), the
    filters' ranges (sheet index → (name, range)) and the open tab."""
    p = prefix_of(data)
    ids = [int(v) for v in re.findall(rb"\ssheetId=\"(\d+)\"", data)]
    new = b"".join(b'<%ssheet xmlns:r="%s" name=%s sheetId="%d" r:id="%s"/>'
                   % (p, REL_NS.encode(), attr(s.name), max(ids, default=0) + n, s.rel_id.encode())
                   for n, s in enumerate(added, start=1))
    close = data.find(b"</" + p + b"sheets>")
    data = data[:close] + new + data[close:]
    data = _print_titles(data, p, titles)
    data = _filter_names(data, p, filters or {})
    return _active_tab(data, p, active)


def _print_titles(data: bytes, p: bytes, titles: dict[int, tuple[str, int]]) -> bytes:
    """``_xlnm.Print_Titles``: each result sheet's header row printed on every page (a sheet's own is kept)."""
    have = {int(m) for m in re.findall(rb'name="_xlnm\.Print_Titles"[^>]*localSheetId="(\d+)"', data)}
    have |= {int(m) for m in re.findall(rb'localSheetId="(\d+)"[^>]*name="_xlnm\.Print_Titles"', data)}
    names = b"".join(b'<%sdefinedName name="_xlnm.Print_Titles" localSheetId="%d">%s!$%d:$%d</%sdefinedName>'
                     % (p, index, text(quote_sheet(name)), row, row, p)
                     for index, (name, row) in sorted(titles.items()) if index not in have)
    return _add_names(data, p, names)


def _filter_names(data: bytes, p: bytes, filters: dict[int, tuple[str, bytes]]) -> bytes:
    """``_xlnm._FilterDatabase``: each sheet's filter range, as Excel writes it beside the filter
    (LibreOffice takes the filter from this name: without it a sheet opens there with no filter,
    and with the old range its filter stops short of the results)."""
    added = []
    for index, (name, ref) in sorted(filters.items()):
        value = text(quote_sheet(name)) + b"!" + b":".join(re.sub(rb"([A-Z]+)([0-9]+)", rb"$\1$\2", part)
                                                            for part in ref.split(b":"))
        own = re.compile(rb"(<" + re.escape(p) + rb"definedName\s(?=[^>]*name=\"_xlnm\._FilterDatabase\")"
                         rb"(?=[^>]*localSheetId=\"" + str(index).encode() + rb"\")[^>]*>)[^<]*(</)")
        data, replaced = own.subn(lambda found: found.group(1) + value + found.group(2), data, count=1)
        if not replaced:
            added.append(b'<%sdefinedName name="_xlnm._FilterDatabase" localSheetId="%d" hidden="1">%s'
                         b"</%sdefinedName>" % (p, index, value, p))
    return _add_names(data, p, b"".join(added))


def _add_names(data: bytes, p: bytes, names: bytes) -> bytes:
    if not names:
        return data
    span = element(data, p, b"definedNames")
    if span is None:
        return insert_before(data, p, b"<%sdefinedNames>%s</%sdefinedNames>" % (p, names, p), _AFTER_NAMES,
                             b"workbook")
    block = data[span[0]:span[1]]
    if block.endswith(b"/>"):
        block = block[:-2].rstrip() + b">" + names + b"</" + p + b"definedNames>"
    else:
        block = block[:block.rfind(b"</")] + names + block[block.rfind(b"</"):]
    return data[:span[0]] + block + data[span[1]:]


def _active_tab(data: bytes, p: bytes, active: int) -> bytes:
    view = start_tag(data, p, b"workbookView")
    if view is None:
        views = b'<%sbookViews><%sworkbookView activeTab="%d"/></%sbookViews>' % (p, p, active, p)
        at = start_tag(data, p, b"sheets").start()
        return data[:at] + views + data[at:]
    tag = set_attribute(view.group(0), b"activeTab", str(active).encode())
    first = attribute(tag, b"firstSheet")
    if first and first.isdigit() and int(first) > active:
        tag = set_attribute(tag, b"firstSheet", str(active).encode())
    return data[:view.start()] + tag + data[view.end():]


def relationships(data: bytes, added: list[tuple[str, str, str]], dropped_types: tuple[str, ...] = ()) -> bytes:
    """A .rels part with (id, type, target) relationships added and those of ``dropped_types`` taken out."""
    p = prefix_of(data)
    if dropped_types:
        kinds = {kind.encode() for kind in dropped_types}
        data = _without(data, p, b"Relationship", lambda tag: attribute(tag, b"Type") in kinds)
    new = b"".join(b"<%sRelationship Id=%s Type=%s Target=%s/>" % (p, attr(i), attr(t), attr(g))
                   for i, t, g in added)
    close = data.rfind(b"</" + p + b"Relationships>")
    return data[:close] + new + data[close:]


def _without(data: bytes, p: bytes, tag: bytes, drop) -> bytes:
    """``data`` without the ``tag`` elements (childless, self-closing or with their end tag) that ``drop``
    says go, given their start tag."""
    element = re.compile(rb"(" + tag_pattern(p, tag) + rb")(?:\s*</" + re.escape(p + tag) + rb">)?")
    return element.sub(lambda found: b"" if drop(found.group(1)) else found.group(0), data)


def free_id(data: bytes | None, stem: str = "rIdSn") -> callable:
    """A maker of relationship ids that none of the part's ids collide with."""
    used = set(re.findall(rb'\sId="([^"]+)"', data or b""))
    counter = iter(range(1, 1_000_000))

    def make() -> str:
        while True:
            candidate = f"{stem}{next(counter)}"
            if candidate.encode() not in used:
                used.add(candidate.encode())
                return candidate
    return make


def content_types(data: bytes, added: dict[str, str], dropped: set[str], book_type: str | None) -> bytes:
    """[Content_Types].xml with overrides for the added parts, none for dropped ones, the workbook's type set."""
    p = prefix_of(data)

    def part_name(tag: bytes) -> bytes:  # part names are the same whatever their case (OPC)
        return (attribute(tag, b"PartName") or b"").lower()

    if dropped:
        gone = {b"/" + name.encode().lower() for name in dropped}
        data = _without(data, p, b"Override", lambda tag: part_name(tag) in gone)
    if book_type:
        data = re.sub(tag_pattern(p, b"Override"), lambda found: set_attribute(found.group(0), b"ContentType",
                                                                             book_type.encode())
                      if part_name(found.group(0)) == b"/xl/workbook.xml" else found.group(0), data)
    new = b"".join(b'<%sOverride PartName=%s ContentType=%s/>' % (p, attr("/" + name), attr(kind))
                   for name, kind in added.items())
    close = data.rfind(b"</" + p + b"Types>")
    return data[:close] + new + data[close:]


def custom_properties(data: bytes | None, values: dict[str, str]) -> bytes:
    """docProps/custom.xml with ``values`` set (other properties kept)."""
    fmtid = b"{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
    if not data:
        data = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.'
                b'openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats'
                b'.org/officeDocument/2006/docPropsVTypes"></Properties>')
    p = prefix_of(data)
    for name in values:
        data = re.sub(rb"<" + re.escape(p) + rb"property\s[^>]*name=" + re.escape(attr(name)) + rb".*?</"
                      + re.escape(p) + rb"property>", b"", data, flags=re.S)
    vt = re.search(rb'xmlns:(\w+)="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"', data)
    v = vt.group(1) if vt else b"vt"
    declare = b"" if vt else b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"'
    pid = max([int(x) for x in re.findall(rb'\spid="(\d+)"', data)], default=1)
    new = b"".join(b'<%sproperty fmtid="%s" pid="%d" name=%s%s><%s:lpwstr>%s</%s:lpwstr></%sproperty>'
                   % (p, fmtid, pid + n, attr(name), declare, v, text(value), v, p)
                   for n, (name, value) in enumerate(values.items(), start=1))
    close = data.rfind(b"</" + p + b"Properties>")
    if close < 0:  # <Properties/>
        at = data.rfind(b"/>")
        return data[:at] + b">" + new + b"</" + p + b"Properties>" + data[at + 2:]
    return data[:close] + new + data[close:]


def targets(rels: bytes | None, folder: str, kind_suffix: str) -> list[str]:
    """The parts a .rels lists with a type ending in ``kind_suffix``, as paths in the package."""
    found = []
    for tag in re.findall(rb"<(?:\w+:)?Relationship\s[^>]*>", rels or b""):
        kind, target = attribute(tag, b"Type") or b"", attribute(tag, b"Target") or b""
        if kind.decode().endswith(kind_suffix) and attribute(tag, b"TargetMode") != b"External":
            target = target.decode()
            found.append(target.lstrip("/") if target.startswith("/") else
                         posixpath.normpath(posixpath.join(folder, target)))
    return found


def widen_table(data: bytes, top: int, first: int, names: list[str]) -> bytes | None:
    """A table whose header is the sheet's header row and which ends just left of the results,
    widened over them (its filter and columns too); None when the table is not that one."""
    p = prefix_of(data)
    table = start_tag(data, p, b"table")
    ref = attribute(table.group(0), b"ref") if table else None
    if not ref or b":" not in ref or attribute(table.group(0), b"headerRowCount") == b"0":
        return None
    low, high = ref.split(b":", 1)
    (_, row), (col, end_row) = split_ref(low), split_ref(high)
    columns = [found.group(0) for found in re.finditer(tag_pattern(p, b"tableColumn"), data)]
    existing = {name.lower() for tag in columns if (name := attribute(tag, b"name")) is not None}
    if row != top or col != first - 1 or any(n.encode().lower() in existing for n in names):
        return None
    new_ref = low + b":" + f"{column_letters(first + len(names) - 1)}{end_row}".encode()
    data = data[:table.start()] + set_attribute(table.group(0), b"ref", new_ref) + data[table.end():]
    data = _widen_filter(data, p, low, col, first + len(names) - 1)
    ids = [int(found) for tag in columns if (found := attribute(tag, b"id")) is not None and found.isdigit()]
    added = b"".join(b'<%stableColumn id="%d" name=%s/>' % (p, max(ids, default=0) + n, attr(name))
                     for n, name in enumerate(names, start=1))
    span = element(data, p, b"tableColumns")
    block = data[span[0]:span[1]]
    opening = start_tag(block, p, b"tableColumns").group(0)
    block = set_attribute(opening, b"count", str(len(columns) + len(names)).encode()) + block[len(opening):]
    block = block[:block.rfind(b"</")] + added + block[block.rfind(b"</"):]
    return data[:span[0]] + block + data[span[1]:]


def _widen_filter(data: bytes, p: bytes, low: bytes, col: int, last: int) -> bytes:
    """The table's filter over the result columns too, down to the row it ended on: above a totals
    row, where Excel ends it, a table's filter ends a row short of the table (a filter narrower than
    its table is repaired away by Excel, and the results would have no filter buttons)."""
    found = start_tag(data, p, b"autoFilter")
    ref = attribute(found.group(0), b"ref") if found else None
    if not ref or b":" not in ref:
        return data
    start, end = ref.split(b":", 1)
    end_col, end_row = split_ref(end)
    if start != low or end_col != col:
        return data
    tag = set_attribute(found.group(0), b"ref", start + b":" + f"{column_letters(last)}{end_row}".encode())
    return data[:found.start()] + tag + data[found.end():]
