"""The input formats: the one table every part of sn-importer reads them from.

Which name endings are read, what their first bytes look like, how the guard
measures them, which reader takes them, how their results are written and
whether the web page accepts them: each format is one row here, and the
reader (:func:`Format.read`), the guard, the writer, the upload checks, the
page and the command's help all ask this table. :func:`for_name` picks a
file's format, :func:`sniff` says what its bytes really are, :func:`web_accept`
and :func:`describe` give the page's ``accept`` attribute and the help text.
Adding a format is a row here and, if no reader fits, its reader module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePath

#: The first bytes of each kind of container.
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Format:
    """One input format.

    ``container`` is what the bytes must be (``zip``, ``ole`` or ``text``);
    ``package`` the part a zip of this format must hold, and ``parts`` how the
    guard measures those parts (``xlsx``: every worksheet scanned; ``ods``:
    content.xml's tables; ``""``: sizes only); ``reader`` the function that
    reads it (``module:function`` in this package, called as
    ``(path, template, limits)``); ``output`` how its results are
    written (``patch``: its own package patched; ``office``: an .xlsx of its
    sheets, formats and formulas; ``rebuild``: an .xlsx of its values;
    ``csv``: CSV); ``web`` whether the page accepts an upload of it. An upload
    is stored under the format's first suffix.
    """

    key: str
    label: str
    suffixes: tuple[str, ...]
    container: str
    reader: str
    output: str
    package: str = ""
    parts: str = ""
    web: bool = True

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    @property
    def kind(self) -> str:
        """``csv`` for text, ``excel`` for workbooks (what the output's default name follows)."""
        return "csv" if self.container == "text" else "excel"

    def read(self, path, template, limits):
        """Read ``path`` with this format's reader (imported when first needed)."""
        module, _, function = self.reader.partition(":")
        return getattr(importlib.import_module(f"sn_importer.{module}"), function)(path, template, limits)


_XLSX = dict(reader="workbook_reader:read_excel", output="patch", package="xl/workbook.xml", parts="xlsx")

FORMATS: tuple[Format, ...] = (
    Format("xlsx", "Excel workbook", (".xlsx",), "zip", **_XLSX),
    Format("xlsm", "Excel macro-enabled workbook", (".xlsm",), "zip", **_XLSX),
    Format("xlsb", "Excel binary workbook", (".xlsb",), "zip", "workbook_reader:read_excel", "rebuild",
           package="xl/workbook.bin"),
    Format("xls", "Excel 97-2003 workbook", (".xls",), "ole", "workbook_reader:read_office", "office"),
    Format("ods", "OpenDocument spreadsheet", (".ods",), "zip", "workbook_reader:read_office", "office",
           package="content.xml", parts="ods"),
    Format("csv", "CSV or text file", (".csv", ".txt", ".tsv"), "text", "csv_reader:read_csv", "csv"),
)

#: Files without an ending are read as text (what a drop folder often gets from other systems).
NO_SUFFIX = FORMATS[-1]


def for_name(name: str | PurePath) -> Format | None:
    """The format a file name's ending says, or None when it is none of ours."""
    suffix = PurePath(str(name).replace("\\", "/")).suffix.lower()
    if not suffix:
        return NO_SUFFIX
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def sniff(head: bytes) -> str:
    """What the first bytes are: ``zip``, ``ole``, ``text`` or ``binary`` (``empty`` for nothing)."""
    if not head:
        return "empty"
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(TEXT_BOMS):
        return "text"
    sample = head[:4096]
    if b"\x00" in sample and not _utf16_without_bom(sample):
        return "binary"
    return "text"


def _utf16_without_bom(sample: bytes) -> bool:
    """Every other byte zero: UTF-16 text saved without its byte-order mark."""
    quarter = len(sample) // 4
    return sample[1::2].count(0) > quarter or sample[0::2].count(0) > quarter


def suffixes(web_only: bool = False) -> list[str]:
    """Every suffix read (or only those the page accepts), in table order."""
    return [s for f in FORMATS if f.web or not web_only for s in f.suffixes]


def web_accept() -> str:
    """The page's ``<input type=file accept=...>`` value."""
    return ",".join(suffixes(web_only=True))


def describe(web_only: bool = False) -> str:
    """The formats in words, for help text and refusals: "Excel workbook (.xlsx), ..."."""
    kinds = [f"{f.label} ({', '.join(f.suffixes)})" for f in FORMATS if f.web or not web_only]
    return ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else kinds[0]


def short_list(web_only: bool = False) -> str:
    """The suffixes as a short list: ".xlsx, .xlsm, .csv or .txt"."""
    names = suffixes(web_only)
    return ", ".join(names[:-1]) + " or " + names[-1]


__all__ = ["FORMATS", "Format", "describe", "for_name", "short_list", "sniff", "suffixes", "web_accept"]
