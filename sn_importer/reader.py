"""Reading the input file into sheets of rows.

The first stage of the pipeline. It turns a CSV/TXT (delimiter and encoding
detected) or a workbook (every visible sheet with a recognisable header) into
:class:`Sheet` values: the original header, the column mapping and the data
rows exactly as they were, so the report can give every row back untouched.
Anything that keeps the file from being read raises :class:`InputError` with
a message that says what to do.

The formats have readers of their own (``csv_reader.py``,
``workbook_reader.py`` with ``xlsx.py``, ``xls.py``, ``ods.py``), named by
the table of formats; the header row is found by ``header.py``. This module
checks the path, asks the guard and dispatches.
"""

from __future__ import annotations

from pathlib import Path

from . import formats, guard
from .errors import InputError
from .guard import LIMITS, Limits
from .header import no_header
from .mapping import LABELS, quoted
from .resource_types import normalise_key, staff_label
from .source import Sheet, SourceFile
from .template import Template


def read_file(path: str | Path, template: Template, limits: Limits = LIMITS) -> SourceFile:
    """Read ``path`` with ``template``; raise InputError if it cannot be imported.

    The input guard looks at the file first (size, signature, a workbook's
    zip and sheets, CSV line lengths), so nothing over a limit is parsed.
    """
    path = Path(path)
    _check_path(path)
    kind = formats.for_name(path)
    if kind is None:
        raise InputError(path, f"unsupported file type {path.suffix.lower()!r}; use {formats.short_list()}")
    guard.check_file(path, kind, limits)
    source = kind.read(path, template, limits)
    if all(sheet.unread for sheet in source.sheets):
        raise no_header(path, template, source.skipped)
    source.sheet_notes += fixed_column_notes(source.sheets, template)
    return source


def fixed_column_notes(sheets: list[Sheet], template: Template) -> list[str]:
    """A column that the template's fixed value stands in for is not read: said first, so that a
    sheet of several resource types read with a template whose every row is a manufacturing order
    (its 'Resource type' column passed over) is seen before anything is sent."""
    notes = []
    for name, value in template.fixed_fields.items():
        keys = set(template.fields[name].header_keys) | {normalise_key(LABELS.get(name, name))}
        for sheet in sheets:
            found = next((text for text in sheet.header if text and normalise_key(text) in keys), None)
            if found is not None and not sheet.unread:
                notes.append(f"Sheet {quoted(sheet.name)}: its column {quoted(found)} is not read: the template "
                             f"{template.name!r} {_fixed_words(template, name, value)}.")
    return notes


def _fixed_words(template: Template, name: str, value) -> str:
    if name == "resource_type":
        return f"makes every row a {staff_label(template.resolve_resource_type(str(value)) or str(value)).lower()}"
    return f"gives every row the {LABELS.get(name, name).lower()} {value}"


def _check_path(path: Path) -> None:
    """Refuse what cannot be read, in plain words.

    ``stat`` itself raises PermissionError when a folder on the way cannot be
    entered, so even the existence checks are guarded.
    """
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except PermissionError:
        raise InputError(path, "permission denied: the file or its folder cannot be read") from None
    if not exists:
        raise InputError(path, "file not found")
    if is_dir:
        raise InputError(path, "is a directory, not a file")
    if not path.is_file():  # opening a pipe would wait for a writer for ever; a device never ends
        raise InputError(path, "is not a regular file (a pipe, a socket or a device); save the sheet as a file "
                               "and import that")
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
    except PermissionError:
        raise InputError(path, "permission denied: the file cannot be read") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror}") from None
    if not first:
        raise InputError(path, "the file is empty")



# --- CSV ---------------------------------------------------------------------


__all__ = ["Sheet", "SourceFile", "read_file"]
