"""The input guard: every limit on what a file may cost, checked before it is parsed.

Every front end (``validate``, ``preview``, ``apply``, ``watch``, the notebook
and the web page) reads through :func:`sn_importer.reader.read_file`, which
asks this module first. It looks at a file without parsing it: the size on
disk, what its first bytes are, a workbook's zip directory, the true inflated
size of each part (streamed, never held), DTDs and entities in its XML, and
how far each sheet's cells really reach. What is over a limit is refused with
one sentence naming the file and the limit (an :class:`InputError`, exit 2);
what is merely odd (a sheet declaring a million rows and holding three)
becomes a note, and a sheet whose rectangle is far larger than its cells is
marked to be read cell by cell instead of by calamine's rectangle.

All limits live in :class:`Limits`; :data:`LIMITS` holds the defaults, sized
for million-row sheets.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import formats
from .errors import InputError
from .formats import Format
from .package import KEPT, KEPT_BYTES, SheetEntry, WorkbookFacts
from .sheetscan import SheetScan, scan_chunks
from .xlsx import column_letters, sheet_entries

MB = 1_000_000  # sizes in messages are decimal, as file managers show them


@dataclass(frozen=True)
class Limits:
    """What one input may cost. The defaults read a 1,048,576-row sheet; nothing larger."""

    file_bytes: int = 250 * MB            # the file as stored
    inflated_bytes: int = 500 * MB        # all parts of a workbook, unpacked
    inflation_ratio: int = 200            # unpacked / packed, for any part over 1 MB unpacked
    parts: int = 10_000                   # members of a workbook's zip
    sheets: int = 1_000                   # sheets of a workbook
    rows: int = 1_048_576                 # Excel's own row limit
    columns: int = 16_384                 # Excel's own column limit (XFD)
    cells: int = 20_000_000               # cells of one workbook
    rectangle_cells: int = 4_000_000      # a sheet larger than this as a rectangle, and sparse, is read cell by cell
    line_bytes: int = 4 * MB              # one line of a CSV file
    cell_chars: int = 32_767              # Excel's own limit for one cell; a longer CSV cell makes its row invalid
    # The web page reads each upload in a worker process (web/parse_worker.py) limited to:
    worker_memory_bytes: int = 1_500 * MB  # address space beyond what the worker holds when it starts
    worker_cpu_seconds: int = 60          # processor time
    worker_wall_seconds: int = 90         # time in all


LIMITS = Limits()


def size(n: int) -> str:
    """Bytes in words: "1.1 GB", "500 MB", "4.2 MB", "140 KB"."""
    if n >= 1000 * MB:
        return f"{n / 1000 / MB:.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB" if n % MB == 0 or n >= 10 * MB else f"{n / MB:.1f} MB"
    return f"{max(1, round(n / 1000))} KB"


# --------------------------------------------------------------------------- every file


def check_file(path: Path, fmt: Format, limits: Limits = LIMITS) -> None:
    """The file's size, and whether its bytes are what its name says."""
    stored = path.stat().st_size
    if stored > limits.file_bytes:
        raise InputError(path, f"the file is {size(stored)} (limit {size(limits.file_bytes)}); split it into "
                               "smaller files")
    with path.open("rb") as handle:
        head = handle.read(4096)
    kind = formats.sniff(head)
    if fmt.container == "text" or kind == fmt.container:
        return
    if kind == "ole" and fmt.container == "zip":
        raise InputError(path, _ole_problem(path))
    if kind == "zip" and fmt.container == "ole":
        raise InputError(path, f"is a newer Excel workbook, not an old {fmt.suffix} one; give it its .xlsx name")
    raise InputError(path, f"is not a readable workbook: it is named like an {fmt.label}, but its content is "
                           "not one; open it in Excel and save it again")


def _ole_problem(path: Path) -> str:
    if _is_encrypted_ole(path):
        return ("is password-protected (encrypted); save a copy without a password "
                "(File > Info > Protect Workbook) and import that")
    return ("is an old-style .xls workbook (Excel 97-2003) or a password-protected one; save it as .xlsx "
            "without a password and import that")


def _is_encrypted_ole(path: Path) -> bool:
    """An Office file encrypted with a password is an OLE file with an EncryptedPackage stream."""
    marker = "EncryptedPackage".encode("utf-16-le")
    with path.open("rb") as handle:
        carry = b""
        while chunk := handle.read(MB):
            if marker in carry + chunk:
                return True
            carry = chunk[-len(marker):]
    return False


# --------------------------------------------------------------------------- workbooks


def inspect_workbook(path: Path, fmt: Format, limits: Limits = LIMITS) -> WorkbookFacts:
    """Check a workbook's zip and scan its sheets; refuse (InputError) what is over a limit."""
    facts = WorkbookFacts.of(path, fmt)
    if fmt.container != "zip":
        return facts  # .xls: at most 65,536 × 256 cells by its own format, bounded by the file size
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            facts.members = [m.filename for m in members]
            _check_directory(path, fmt, archive, members, limits)
            facts.sheets = _sheets(path, fmt, archive)
            check_sheet_count(path, len(facts.sheets), limits)
            worksheets = {entry.part: entry.name for entry in facts.sheets if entry.part}
            scans = _inflate_all(path, archive, members, set(worksheets), limits, facts.kept)
    except zipfile.BadZipFile as exc:
        raise InputError(path, _damaged(exc)) from None
    except (zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise InputError(path, f"is damaged and cannot be opened ({exc}); open it in Excel and save it "
                               "again") from None
    facts.scans = {worksheets[part]: scan for part, scan in scans.items()}
    _judge_sheets(path, facts, limits)
    if fmt.parts == "ods":
        _judge_ods(path, limits)
    return facts


def _damaged(exc: zipfile.BadZipFile) -> str:
    if "not a zip file" in str(exc):
        return ("is damaged or incomplete: the end of the workbook is missing (a download or copy cut "
                "short?); open the original in Excel and save it again")
    return f"is damaged ({exc}); open it in Excel and save it again"


def _check_directory(path: Path, fmt: Format, archive: zipfile.ZipFile, members: list, limits: Limits) -> None:
    """Judge the zip by its directory before unpacking a byte."""
    if len(members) > limits.parts:
        raise InputError(path, f"the workbook has {len(members):,} parts (limit {limits.parts:,}); "
                               "a spreadsheet has far fewer")
    check_sheet_count(path, sum(1 for m in members if _SHEET_PART.fullmatch(m.filename)), limits)
    if any(m.flag_bits & 0x1 for m in members):
        raise InputError(path, "is encrypted; save a copy without a password and import that")
    declared = sum(m.file_size for m in members)
    if declared > limits.inflated_bytes:
        raise InputError(path, f"the workbook inflates to {size(declared)} (limit {size(limits.inflated_bytes)}); "
                               "save it again in Excel or split it")
    for member in members:
        _check_ratio(path, member, member.file_size, limits)


def _check_ratio(path: Path, member: zipfile.ZipInfo, inflated: int, limits: Limits) -> None:
    ratio = inflated // max(1, member.compress_size)
    if inflated > MB and ratio > limits.inflation_ratio:
        raise InputError(path, f"the workbook part {member.filename} is compressed {ratio:,} times over "
                               f"(limit {limits.inflation_ratio}), which no spreadsheet is: it looks like a "
                               "zip bomb")


def check_sheet_count(path: Path, count: int, limits: Limits = LIMITS) -> None:
    if count > limits.sheets:
        raise InputError(path, f"the workbook has {count:,} sheets (limit {limits.sheets:,}); keep the sheets to "
                               "import in a workbook of their own")


_SHEET_PART = re.compile(r"xl/(?:worksheets|chartsheets|dialogsheets|macrosheets)/[^/]+\.(?:xml|bin)")


def _sheets(path: Path, fmt: Format, archive: zipfile.ZipFile) -> list[SheetEntry]:
    """The sheets in order (.xlsx/.xlsm); refuses a zip that is not the format it is named."""
    names = set(archive.namelist())
    needed = fmt.package
    if needed not in names:
        raise InputError(path, f"is a zip archive but not an {fmt.label} (it has no {needed})")
    if fmt.parts != "xlsx":
        return []
    _refuse_dtd(path, "xl/workbook.xml", archive.read("xl/workbook.xml")[:65536])
    rels = "xl/_rels/workbook.xml.rels"
    try:
        return sheet_entries(archive.read("xl/workbook.xml"), archive.read(rels) if rels in names else None, names)
    except Exception as exc:  # defusedxml and ElementTree raise several types
        raise InputError(path, f"is not a readable workbook: its list of sheets cannot be read "
                               f"({type(exc).__name__})") from None


def _inflate_all(path: Path, archive: zipfile.ZipFile, members: list, worksheets: set[str],
                 limits: Limits, kept: dict[str, bytes]) -> dict[str, SheetScan]:
    """Unpack every part once, in chunks, counting the true size; scan the worksheets on the way,
    and keep the small parts the reader and the writer need whole."""
    budget, scans = limits.inflated_bytes, {}
    for member in members:
        scan = SheetScan() if member.filename in worksheets else None
        keep = [] if KEPT.fullmatch(member.filename) and member.file_size <= KEPT_BYTES else None
        inflated = 0
        with archive.open(member) as part:
            def chunks():
                nonlocal inflated
                while chunk := part.read(4 * MB):
                    if inflated == 0 and member.filename.endswith((".xml", ".rels")):
                        _refuse_dtd(path, member.filename, chunk[:65536])
                    inflated += len(chunk)
                    if keep is not None:
                        keep.append(chunk)
                    if inflated > budget:
                        raise InputError(path, f"the workbook inflates to more than its limit of "
                                               f"{size(limits.inflated_bytes)}; save it again in Excel or split it")
                    yield chunk
            if scan is not None:
                scan_chunks(chunks(), scan)
                scans[member.filename] = scan
            else:
                for _ in chunks():
                    pass
            _refuse_overrun(path, member, part)
        if keep is not None and inflated <= KEPT_BYTES:
            kept[member.filename] = b"".join(keep)
        budget -= inflated
        _check_ratio(path, member, inflated, limits)
    return scans


def _refuse_overrun(path: Path, member: zipfile.ZipInfo, part) -> None:
    """A deflate stream that goes on past the size the directory gives is a zip bomb in disguise."""
    decompressor = getattr(part, "_decompressor", None)
    if member.compress_type == zipfile.ZIP_DEFLATED and decompressor is not None and not decompressor.eof:
        raise InputError(path, f"the workbook part {member.filename} inflates to more than its directory says "
                               "(it looks like a zip bomb)")


def _refuse_dtd(path: Path, part: str, head: bytes) -> None:
    """No spreadsheet part has a DTD: entity expansion and external references are refused outright."""
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        if marker in head or marker.decode().encode("utf-16-le") in head:
            raise InputError(path, f"the workbook part {part} declares XML entities (a DTD), which no "
                                   "spreadsheet does; refused (entity expansion or an external reference)")


def _judge_sheets(path: Path, facts: WorkbookFacts, limits: Limits) -> None:
    """Excel's limits, the workbook's cell budget, and which sheets calamine may read whole."""
    total = 0
    for name, scan in facts.scans.items():
        if scan.rows > limits.rows or scan.columns > limits.columns:
            raise InputError(path, f"sheet {name!r} has a cell at {scan.far_cell}, beyond Excel's own limit of "
                                   f"{limits.rows:,} rows × {limits.columns:,} columns")
        total += scan.cells
        if total > limits.cells:
            raise InputError(path, f"the workbook holds more than {limits.cells:,} cells (limit); split it")
        dense = scan.rectangle <= max(limits.rectangle_cells, 2 * scan.cells)
        if not dense or scan.referenced < scan.cells:
            facts.sparse.add(name)
        note = _dimension_note(name, scan)
        if note:
            facts.notes.append(note)
        elif not dense:
            facts.notes.append(f"Sheet {name!r} reaches {scan.far_cell} but holds only {scan.cells:,} cells; "
                               "reading the rows that hold something.")


def _judge_ods(path: Path, limits: Limits) -> None:
    """An .ods sheet is read whole by calamine (no cell-by-cell reader for it): refuse one whose
    rectangle would cost far more than its cells, or that holds more cells than the limit."""
    from .ods import scan_ods

    try:
        with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
            tables = scan_ods(content)
    except Exception as exc:  # defusedxml and ElementTree raise several types
        raise InputError(path, f"is not a readable workbook: its content cannot be read ({type(exc).__name__})") \
            from None
    check_sheet_count(path, len(tables), limits)
    total = 0
    for name, (rows, columns, cells) in tables.items():
        total += cells
        rectangle = rows * columns
        if rows > limits.rows or columns > limits.columns:
            raise InputError(path, f"sheet {name!r} reaches row {rows:,}, column {columns:,}, beyond Excel's own "
                                   f"limit of {limits.rows:,} rows × {limits.columns:,} columns")
        if total > limits.cells:
            raise InputError(path, f"the workbook holds more than {limits.cells:,} cells (limit); split it")
        if rectangle > max(limits.rectangle_cells, 2 * cells):
            raise InputError(path, f"sheet {name!r} reaches row {rows:,}, column {columns:,} but holds only "
                                   f"{cells:,} cells, and an .ods sheet is read whole; save it as .xlsx and "
                                   "import that")


def _dimension_note(name: str, scan: SheetScan) -> str | None:
    """A sheet whose declared size is far beyond its cells (saved by a tool that lies, or formatted to the end)."""
    if not scan.declared:
        return None
    rows, columns = scan.declared
    if rows <= 2 * scan.rows + 1000 and columns <= 2 * scan.columns + 100:
        return None
    reach = f"{column_letters(scan.columns) or 'A'}{scan.rows}" if scan.rows else "nothing"
    return (f"Sheet {name!r} declares {rows:,} rows × {columns:,} columns but its cells reach only {reach}; "
            "reading those.")


# --------------------------------------------------------------------------- text


def check_text(path: Path, raw: bytes, limits: Limits = LIMITS) -> int:
    """Refuse a CSV line over the limit; return the longest line's length in bytes.

    One vectorised pass over the bytes: line breaks located with numpy, the
    longest gap between them measured. A file of old Mac CR-only line breaks
    is measured by those.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    longest, where = _longest_gap(data, data == 10)
    if longest > limits.line_bytes:
        longest, where = _longest_gap(data, (data == 10) | (data == 13))
    if longest > limits.line_bytes:
        line = int(np.count_nonzero(data[:where] == 10)) + 1
        raise InputError(path, f"line {line:,} is {size(longest)} long (limit {size(limits.line_bytes)} per line); "
                               "is it a CSV file with one row per line?")
    return longest


def _longest_gap(data: np.ndarray, breaks: np.ndarray) -> tuple[int, int]:
    """(length, start) of the longest run between line breaks."""
    ends = np.flatnonzero(breaks)
    if not len(ends):
        return len(data), 0
    edges = np.concatenate(([-1], ends, [len(data)]))
    gaps = np.diff(edges) - 1
    at = int(np.argmax(gaps))
    return int(gaps[at]), int(edges[at] + 1)


def check_columns(path: Path, count: int, limits: Limits = LIMITS, sheet: str | None = None) -> None:
    if count > limits.columns:
        raise InputError(path, f"the header has {count:,} columns (limit {limits.columns:,}, Excel's own)", sheet)


__all__ = ["LIMITS", "Limits", "WorkbookFacts", "check_columns", "check_file", "check_sheet_count", "check_text",
           "inspect_workbook"]
