"""A workbook package, read once: what the guard learnt, the reader uses and the writer needs.

The guard unpacks every part of an .xlsx/.xlsm once (to measure it); on that
pass it keeps the few small parts that the rest of the work needs whole (the
workbook, its relationships, the content types, the styles, the document
properties, each sheet's relationships and its tables) and the facts of each
worksheet (how far its cells reach, how many formulas). The reader takes the
sheet list, their visibility and the number formats from here; the writer
patches the kept parts and streams only the data sheets again. Nothing here
holds the file open, so a job can live for hours and travel between processes.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .formats import Format
from .sheetscan import SheetScan
from .xlsx import SheetEntry

#: Parts kept whole from the guard's pass (each at most :data:`KEPT_BYTES`; larger ones are read again).
KEPT = re.compile(r"\[Content_Types\]\.xml|_rels/\.rels|xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/styles\.xml"
                  r"|docProps/custom\.xml|xl/worksheets/_rels/[^/]+\.rels|xl/tables/[^/]+\.xml")
KEPT_BYTES = 16 * 2**20
_EXTERNAL_LINK = re.compile(r"xl/externalLinks/externalLink\d+\.xml")


@dataclass
class WorkbookFacts:
    """What is known of one workbook package after the guard's pass."""

    format: Format
    path: Path | None = None
    stamp: tuple[int, int] | None = None                         # size and mtime when read
    members: list[str] = field(default_factory=list)            # part names, in the zip's order
    kept: dict[str, bytes] = field(default_factory=dict)        # small parts, whole
    sheets: list[SheetEntry] = field(default_factory=list)
    scans: dict[str, SheetScan] = field(default_factory=dict)   # sheet name → scan (xlsx/xlsm)
    sparse: set[str] = field(default_factory=set)               # sheets to read cell by cell
    notes: list[str] = field(default_factory=list)
    _codes: list[str] | None = None

    @classmethod
    def of(cls, path: Path, fmt: Format) -> "WorkbookFacts":
        stat = path.stat()
        return cls(fmt, path, (stat.st_size, stat.st_mtime_ns))

    @property
    def parts(self) -> dict[str, str]:
        """Sheet name → worksheet part."""
        return {s.name: s.part for s in self.sheets if s.part}

    def part(self, name: str) -> bytes | None:
        """A part's bytes: kept from the guard's pass, else read from the file (None when absent)."""
        if name in self.kept:
            return self.kept[name]
        if name not in self.members or self.path is None:
            return None
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(name)

    def number_formats(self) -> list[str]:
        """The number format code of every cell style (index = a cell's ``s``)."""
        if self._codes is None:
            from .xlsx import number_formats_of

            self._codes = number_formats_of(self.part("xl/styles.xml"))
        return self._codes

    def changed(self) -> bool:
        """Whether the file on disk is no longer the one that was read."""
        try:
            stat = os.stat(self.path)
        except (OSError, TypeError):
            return True
        return (stat.st_size, stat.st_mtime_ns) != self.stamp

    @property
    def external_links(self) -> int:
        return sum(1 for m in self.members if _EXTERNAL_LINK.fullmatch(m))

    @property
    def formulas(self) -> int:
        return sum(scan.formulas for scan in self.scans.values())

    def rels_of(self, part: str) -> bytes | None:
        """The relationships part of ``part`` (``xl/worksheets/_rels/sheet1.xml.rels``)."""
        folder, _, name = part.rpartition("/")
        return self.part(f"{folder}/_rels/{name}.rels")


def shared_content_notes(links: int, formulas: int) -> list[str]:
    """What the results carry over from the upload that whoever opens them should know."""
    notes = []
    if links:
        files = "another file" if links == 1 else f"{links} other files"
        notes.append(f"The workbook links to {files} (external links). The links are kept in the results: "
                     "whoever opens them may be asked to update them from those files.")
    if formulas:
        what = "1 formula" if formulas == 1 else f"{formulas:,} formulas"
        notes.append(f"The workbook holds {what}, kept in the results as they are: check them before sharing "
                     "the results with others.")
    return notes


__all__ = ["KEPT", "KEPT_BYTES", "SheetEntry", "WorkbookFacts", "shared_content_notes"]
