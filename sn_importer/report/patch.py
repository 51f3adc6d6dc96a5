"""The user's own .xlsx/.xlsm back with the results: the package patched, not rebuilt.

The output is the input's zip copied part by part. Only these parts differ:
the data sheets (streamed with their result cells appended, see
:mod:`.sheetxml`), ``styles.xml`` (a few styles appended), the workbook, its
relationships and the content types (the ``Summary`` and ``Removed`` sheets
added, the Summary the open tab, each result sheet's header printed on every
page, each data sheet's filter named as Excel names it), the document properties (which input and mode made the file), a
table that sits on a data sheet's header (widened over the result columns, so
sorting it keeps each status with its row), and a non-data sheet that was the
selected tab (unselected). Charts, drawings, images, comments, VBA, pivot
caches, defined names, external links, custom XML and the cached values of
formulas are copied byte for byte, as they are stored: compressed bytes and
all, never deflated again (:mod:`.zipcopy`). No workbook is loaded into memory; a
data sheet costs a stream over its XML, whatever its size.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..columns import RESULT_COLUMNS
from ..header import SUMMARY_REASON
from ..mapping import REMOVED_REASON
from ..package import WorkbookFacts
from ..reader import Sheet, SourceFile
from ..storage import zip_target
from . import parts
from .behind import WriteBehind
from .cells import header_cells, result_cells
from .newsheets import removed_sheet, summary_sheet
from .rows import result_frame, sheet_slices
from .sheetxml import SheetPatch, filter_range, rewrite_sheet
from .styles import AddedStyles, add_styles
from .summary import ReportFacts, SheetNames, summary_lines
from .xmledit import ATTRIBUTES, attribute, drop_attribute
from .zipcopy import copy_stored

_VBA = re.compile(r"xl/vbaProject.*|xl/_rels/vbaProject.*")
_VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
_CHUNK = 1 << 20


def write_patched(path: Path, target: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                  removed: pd.DataFrame | None, file_notes: list[str], properties: dict[str, str]) -> None:
    """Write ``source``'s workbook with the results to ``path`` (``target`` is its final name)."""
    package = source.package
    styles, added = add_styles(package.part("xl/styles.xml"))
    patches = {package.parts[sheet.name]: _patch(package, sheet, part, added)
               for sheet, part in sheet_slices(source, rows)}
    replaced = {"xl/styles.xml": styles}
    replaced.update(_tables(package, patches))
    new_parts = _new_sheets(package, rows, facts, removed, file_notes, added)
    dropped = _package_parts(package, target, patches, new_parts, replaced, properties)
    kept = {entry.part for entry in package.sheets}
    replaced.update({part: xml for part, (_, xml) in new_parts.items() if part in kept})  # an earlier run's, anew
    _write_zip(package, path, patches, replaced, {p: s for p, s in new_parts.items() if p not in kept}, dropped)


def _patch(package: WorkbookFacts, sheet: Sheet, part: pd.DataFrame, added: AddedStyles) -> SheetPatch:
    xml_part = package.parts[sheet.name]
    top, width = sheet.header_row, len(sheet.header)
    clear = sheet.dropped_result_columns > 0
    first = width + 1 if clear else _first_free_column(package, xml_part, top, width)
    if first + len(RESULT_COLUMNS) - 1 > 16_384:  # a stray cell far right: no room in Excel's grid
        raise ValueError(f"no room for the result columns right of column {first - 1:,} (Excel ends at 16,384)")
    numbers = list(sheet.numbers())
    scan = package.scans.get(sheet.name)
    p = (scan.prefix if scan is not None else None) or b""  # as the guard's pass over the part saw it
    cells = result_cells(result_frame(part), numbers, first, added.status, p, added.wrapped)
    has_tables = bool(parts.targets(package.rels_of(xml_part), xml_part.rpartition("/")[0], "/table"))
    return SheetPatch(top, first, width, lambda style: header_cells(top, first, style, p=p), numbers, cells,
                      clear=clear, filter=not has_tables, p=p)


def _first_free_column(package: WorkbookFacts, part: str, top: int, width: int) -> int:
    """The column after the header and after any cell holding something right of it, from the header down
    (a formula without a cached value, say, that the reader did not see)."""
    scan = package.scans.get(next(n for n, p in package.parts.items() if p == part))
    if scan is None or scan.columns <= width:
        return width + 1
    from ..xlsx import content_reach

    with zipfile.ZipFile(package.path) as archive, archive.open(part) as stream:
        return max(width, content_reach(stream, top)) + 1


def _tables(package: WorkbookFacts, patches: dict[str, SheetPatch]) -> dict[str, bytes]:
    """Tables on a data sheet's header, ending where the results start, widened over them."""
    widened = {}
    for part, patch in patches.items():
        if patch.clear:
            continue
        for table in parts.targets(package.rels_of(part), part.rpartition("/")[0], "/table"):
            data = package.part(table)
            new = parts.widen_table(data, patch.top, patch.first, [c.name for c in RESULT_COLUMNS]) if data else None
            if new is not None:
                widened[table] = new
    return widened


def _new_sheets(package, rows, facts, removed, file_notes, added) -> dict[str, tuple[str, bytes]]:
    """Part name → (sheet name, XML) of the Summary and, for an apply, the Removed sheet.

    A results workbook run again holds an earlier run's Summary (and an apply's, its Removed sheet):
    this run's takes its part, name and place, so the file tells of one run (the one an undo of it
    undoes), and sheets do not pile up as ``Summary (sn-importer) (2)`` run after run."""
    names = SheetNames([s.name for s in package.sheets])
    for entry in package.sheets:
        names.keep(entry.name)
    made = {}
    numbers = [int(n) for n in re.findall(r"xl/worksheets/sheet(\d+)\.xml", " ".join(package.members))]
    free = iter(range(max(numbers, default=0) + 1, 1_000_000))
    earlier = _earlier_sheet(package, facts, SUMMARY_REASON)
    earlier_removed = _earlier_sheet(package, facts, REMOVED_REASON) if removed is not None else None
    taken = {entry.name for entry in (earlier, earlier_removed) if entry is not None}
    facts = replace(facts, skipped_sheets=[(n, f"{why}, replaced by this one" if n in taken else why)
                                           for n, why in facts.skipped_sheets])
    place = earlier.part if earlier else f"xl/worksheets/sheet{next(free)}.xml"
    made[place] = (earlier.name if earlier else names.take("Summary"),
                   summary_sheet(summary_lines(rows, facts, file_notes), added))
    if removed is not None:
        place = earlier_removed.part if earlier_removed else f"xl/worksheets/sheet{next(free)}.xml"
        made[place] = (earlier_removed.name if earlier_removed else names.take("Removed"),
                       removed_sheet(removed, added))
    return made


def _earlier_sheet(package, facts, reason: str):
    """The first sheet an earlier run of sn-importer wrote that was not read for ``reason``, or None."""
    unread = {name for name, why in facts.skipped_sheets if why == reason}
    return next((entry for entry in package.sheets if entry.name in unread and entry.part), None)


def _package_parts(package, target: Path, patches, new_parts, replaced, properties) -> set[str]:
    """The workbook, relationships, content types and properties edited into ``replaced``; the parts dropped."""
    macros_kept = target.suffix.lower() == ".xlsm"
    dropped = {m for m in package.members if _VBA.fullmatch(m)} if not macros_kept else set()
    rels = package.part("xl/_rels/workbook.xml.rels")
    make_id = parts.free_id(rels)
    kept = {entry.part for entry in package.sheets}
    added = [parts.NewSheet(name, part, make_id()) for part, (name, _) in new_parts.items() if part not in kept]
    index = {entry.name: i for i, entry in enumerate(package.sheets)}
    index.update({sheet.name: len(package.sheets) + n for n, sheet in enumerate(added)})
    titles = {index[e.name]: (e.name, patches[e.part].top) for e in package.sheets if e.part in patches}
    (summary, _), *removed = new_parts.values()
    if removed:
        titles[index[removed[0][0]]] = (removed[0][0], 1)
    replaced["xl/workbook.xml"] = parts.workbook(package.part("xl/workbook.xml"), added, titles, index[summary],
                                                 _filters(package, patches, index))
    replaced["xl/_rels/workbook.xml.rels"] = parts.relationships(
        rels, [(s.rel_id, parts.WORKSHEET_REL, s.part.removeprefix("xl/")) for s in added],
        (_VBA_REL,) if dropped else ())
    types = {s.part: parts.WORKSHEET_TYPE for s in added}
    root_rels = package.part("_rels/.rels")
    if "docProps/custom.xml" not in package.members:
        types["docProps/custom.xml"] = parts.CUSTOM_TYPE
        replaced["_rels/.rels"] = parts.relationships(
            root_rels, [(parts.free_id(root_rels)(), parts.CUSTOM_REL, "docProps/custom.xml")])
    replaced["docProps/custom.xml"] = parts.custom_properties(package.part("docProps/custom.xml"), properties)
    book_type = parts.MACRO_BOOK_TYPE if macros_kept else (parts.BOOK_TYPE if package.format.key == "xlsm" else None)
    replaced["[Content_Types].xml"] = parts.content_types(package.part("[Content_Types].xml"), types, dropped,
                                                          book_type)
    return dropped


def _filters(package: WorkbookFacts, patches, index: dict[str, int]) -> dict[int, tuple[str, bytes]]:
    """Sheet index → (name, range) of each data sheet's filter as its rewrite leaves it (from the
    guard's scan of the sheet: its own filter's range, or none)."""
    filters = {}
    for entry in package.sheets:
        patch, scan = patches.get(entry.part), package.scans.get(entry.name)
        if patch is not None and patch.filter and scan is not None:
            ref = filter_range(patch, scan.filter_ref)
            if ref is not None:
                filters[index[entry.name]] = (entry.name, ref)
    return filters


def _write_zip(package: WorkbookFacts, path: Path, patches, replaced, new_parts, dropped) -> None:
    written = set()
    with open(package.path, "rb") as stored, zipfile.ZipFile(stored) as source, zip_target(path) as target, \
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            name = info.filename
            if name in dropped or name in written:
                continue
            written.add(name)
            copy = _like(info)
            if name in patches:
                copy._compresslevel = 1  # the rewritten sheet: fast deflate (the largest part, written once)
                with source.open(info) as read, out.open(copy, "w") as write, WriteBehind(write.write) as behind:
                    rewrite_sheet(read.read, behind, patches[name])
            elif name in replaced:
                out.writestr(copy, replaced[name])
            elif name.startswith(_SHEET_FOLDERS) and name.endswith(".xml") and _selected(source, info):
                with source.open(info) as read, out.open(copy, "w") as write:
                    _copy_unselected(read, write)
            elif not copy_stored(stored, info, out, copy):  # not exactly as its entry says: as zipfile reads it
                with source.open(info) as read, out.open(copy, "w") as write:
                    shutil.copyfileobj(read, write, _CHUNK)
        for name, data in replaced.items():
            if name not in written:
                out.writestr(name, data)
        for name, (_, data) in new_parts.items():
            out.writestr(name, data)


def _like(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    copy.compress_type = info.compress_type if info.compress_type in (zipfile.ZIP_STORED,
                                                                      zipfile.ZIP_DEFLATED) else zipfile.ZIP_DEFLATED
    copy.external_attr = info.external_attr
    return copy


#: Where the parts of sheets that can be the selected tab live: worksheets and chart sheets.
_SHEET_FOLDERS = ("xl/worksheets/", "xl/chartsheets/")
_SHEET_VIEW = re.compile(rb"<(?:\w+:)?sheetView(?=[\s/>])" + ATTRIBUTES + rb"/?>")


def _selected_view(head: bytes) -> re.Match | None:
    """The sheet view marked as the selected tab, in the head of a sheet's XML."""
    return next((found for found in _SHEET_VIEW.finditer(head)
                 if attribute(found.group(0), b"tabSelected") in (b"1", b"true")), None)


def _selected(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a sheet that is not a data sheet (a worksheet or a chart sheet) was the selected tab (the
    Summary is, in the output): its view is in the sheet's first megabyte, after its properties."""
    with source.open(info) as read:
        return _selected_view(read.read(_CHUNK)) is not None


def _copy_unselected(read, write) -> None:
    """A sheet that was the selected tab, copied without that mark (two selected tabs open in Excel as
    a group, where typing in one sheet types in both)."""
    head = read.read(_CHUNK)
    found = _selected_view(head)
    if found is not None:
        head = head[:found.start()] + drop_attribute(found.group(0), b"tabSelected") + head[found.end():]
    write.write(head)
    shutil.copyfileobj(read, write, _CHUNK)
