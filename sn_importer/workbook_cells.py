"""A workbook's cells as calamine parses them, after the guard has looked: parsed once, and possibly ahead.

The first second of a command is mostly Python loading pandas and pandera,
which holds the interpreter's lock the whole time; inflating a workbook's
parts (zlib) and parsing its sheets (calamine, in Rust) mostly run without
it. So the command line calls :func:`read_ahead` for its file before it loads
the library, and a thread does this module's work on the second core while
the first loads; the workbook reader then asks :func:`cells_of`, which hands
over what was parsed ahead, or does the same work itself.

What was parsed ahead is only handed over when it is what the reader would
have made: the same file (same device, inode, size, modification and change
times as when the thread began, looked at again once it is done) read under
the same limits; only the sheets the command's template reads are parsed.
Anything that went wrong ahead is dropped without a word: the reader then
does the work again and reports the problem in its own words. One file is
read ahead at a time, and only a regular file (a pipe is read once, or not
at all).

Nothing here loads pandas: it is what runs while pandas loads.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import formats
from .errors import InputError

if TYPE_CHECKING:  # the guard's facts: loaded by the thread, not by the command line starting it
    from .package import WorkbookFacts

#: The readers whose files are parsed by calamine (what is worth reading ahead).
_CALAMINE = "workbook_reader:read_excel"


@dataclass
class WorkbookCells:
    """One workbook: the guard's facts, calamine's handle, and the sheets parsed so far.

    A parsed sheet is kept as calamine holds it (its own memory, in Rust) and
    made Python values only when the reader asks for its rows: parsing runs
    without the interpreter's lock, making millions of Python values cannot,
    and done in the thread it would stall the loading it is meant to run beside.
    """

    path: Path
    facts: WorkbookFacts
    workbook: object                                     # a python_calamine.CalamineWorkbook
    parsed: dict[str, object] = field(default_factory=dict)  # name → python_calamine.CalamineSheet

    @property
    def sheets(self) -> list:
        """Each sheet's metadata (name, visibility, type), in workbook order."""
        return self.workbook.sheets_metadata

    def rows(self, name: str) -> list[list]:
        """Sheet ``name``'s rectangle of cells as Python values (its parse is let go once handed over)."""
        try:
            sheet = self.parsed.pop(name, None)
            if sheet is None:
                sheet = self.workbook.get_sheet_by_name(name)
            return sheet.to_python(skip_empty_area=False)
        except Exception as exc:  # calamine raises several unrelated types
            raise InputError(self.path, excel_problem(self.path, exc), sheet=name) from None

    def parse_all(self, wanted=lambda name: True) -> None:
        """Parse every visible worksheet calamine is to read (``wanted`` by name; not those the guard
        marked sparse, which are read cell by cell)."""
        for meta in self.sheets:
            if kind_problem(meta) is None and meta.name not in self.facts.sparse and wanted(meta.name):
                self.parsed[meta.name] = self.workbook.get_sheet_by_name(meta.name)


def open_cells(path: Path, limits) -> WorkbookCells:
    """The guard's look at ``path`` (refusing what is over ``limits``), then calamine's handle on it."""
    import python_calamine as calamine

    from . import guard

    facts = guard.inspect_workbook(path, formats.for_name(path), limits)
    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several unrelated types
        raise InputError(path, excel_problem(path, exc)) from None
    return WorkbookCells(path, facts, workbook)


def cells_of(path: Path, limits) -> WorkbookCells:
    """``path``'s cells: those parsed ahead when they are still true of the file, else parsed now."""
    return _taken(path, limits) or open_cells(path, limits)


def kind_problem(meta) -> str | None:
    """Why a sheet is never read whatever the template says (hidden, or a chart sheet), or None."""
    if str(meta.visible).split(".")[-1].lower() != "visible":
        return "hidden sheet"
    if str(meta.typ).split(".")[-1].lower() not in {"worksheet", "work_sheet"}:
        return "not a worksheet"
    return None


def excel_problem(path: Path, exc: Exception) -> str:
    """A workbook calamine could not open or parse, in words that say what to do."""
    name = type(exc).__name__
    if "Password" in name:
        return "is password-protected (encrypted); save a copy without a password and import that"
    if path.suffix.lower() == ".xls":
        return f"this old Excel 97-2003 .xls file cannot be read ({exc}); open it in Excel and save it as .xlsx"
    unknown = re.search(r"Unrecognized sheet:type: (\S+)", str(exc))
    if unknown:  # a sound workbook with a sheet the reader does not know: not "corrupt"
        part = unknown.group(1)
        kind = next((words for folder, words in _SHEET_KINDS.items() if f"/{folder}/" in part), "a kind of sheet")
        return (f"holds {kind} ({part}), which cannot be read; copy the sheets with the serials into a new "
                "workbook and import that")
    return f"is not a readable workbook (corrupt or not really {path.suffix}): {exc}"


#: Sheets a workbook may hold that the reader does not read, by the folder of their part.
_SHEET_KINDS = {"macrosheets": "an Excel 4.0 macro sheet", "dialogsheets": "an Excel 5.0 dialog sheet"}


# --------------------------------------------------------------------------- reading ahead


@dataclass
class _Ahead:
    key: str
    stamp: tuple
    limits: object                            # None: the guard's defaults (the guard is the thread's to load)
    template: object                          # what the command will read with: its sheets are parsed
    thread: threading.Thread | None = None
    done: list = field(default_factory=list)  # the WorkbookCells, once parsed without a problem


_slot: _Ahead | None = None
_slot_lock = threading.Lock()
#: How many reads took cells parsed ahead (in this process): what shows the read ahead is used.
handed_over = 0


def read_ahead(path: str | Path, template=None, limits=None) -> threading.Thread | None:
    """Start parsing ``path`` in a thread when calamine is what reads it; the thread, or None.

    ``template`` (a name, a path or None, as the command was given it) says which sheets are read:
    a sheet it leaves out is not parsed ahead."""
    global _slot
    path = Path(path)
    fmt = formats.for_name(path)
    if fmt is None or fmt.reader != _CALAMINE:
        return None
    try:
        key, facts = _key(path), os.stat(path)
    except (OSError, RuntimeError, ValueError):  # missing, unreadable, a loop of links: the reader will say
        return None
    if not stat.S_ISREG(facts.st_mode):  # a pipe or a device is read once, by the reader, or not at all
        return None
    stamp = _stamp(facts)
    ahead = _Ahead(key, stamp, limits, template)
    ahead.thread = threading.Thread(target=_parse, args=(path, ahead), name="read ahead", daemon=True)
    with _slot_lock:
        _slot = ahead
    ahead.thread.start()
    return ahead.thread


def _parse(path: Path, ahead: _Ahead) -> None:
    try:
        from . import guard  # numpy with it: loaded here, beside pandas loading on the other core
        from .template import load_template

        limits = ahead.limits or guard.LIMITS
        wanted = load_template(ahead.template).wants_sheet
        guard.check_file(path, formats.for_name(path), limits)
        cells = open_cells(path, limits)
        cells.parse_all(wanted)
    except Exception:  # noqa: BLE001 - the reader does it again and reports it in its own words
        return
    ahead.done.append(cells)


def _taken(path: Path, limits) -> WorkbookCells | None:
    """What was parsed ahead for ``path``, if it is still true of the file; the slot is emptied either way."""
    global _slot, handed_over
    with _slot_lock:
        ahead, _slot = _slot, None
    if ahead is None:
        return None
    from .guard import LIMITS

    try:
        if ahead.key != _key(path) or (ahead.limits or LIMITS) != limits:
            return None
        ahead.thread.join()
        unchanged = ahead.stamp == _stamp(os.stat(path))  # after the parse: a change made while it ran shows
    except (OSError, RuntimeError, ValueError):
        return None
    if not (unchanged and ahead.done):
        return None
    handed_over += 1
    return ahead.done[0]


def _key(path: Path) -> str:
    return str(path.resolve())


def _stamp(facts: os.stat_result) -> tuple:
    """What changes when the file does: its device, inode, size, and modification and change times."""
    return facts.st_dev, facts.st_ino, facts.st_size, facts.st_mtime_ns, facts.st_ctime_ns


__all__ = ["WorkbookCells", "cells_of", "excel_problem", "kind_problem", "open_cells", "read_ahead"]
