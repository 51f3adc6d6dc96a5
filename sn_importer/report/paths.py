"""Where results go, and how they are written without ever losing a file.

The default name sits beside the input and never collides: ``base.xlsx``,
``base.xls`` and ``base.ods`` each get results of their own, as do ``x.csv``
and ``x.txt``. A results workbook records which input and which mode made it
(document properties), so a later run can tell an apply's report, whose
``Removed`` sheet is an audit trail, or the results of another input, and
move it aside instead of replacing it. Files are written to a temporary name
and renamed, so a crash never leaves half a report.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zipfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

from ..status import Mode

#: The document properties a results workbook carries (read back by :func:`recorded`).
PROPERTY_MODE = "sn-importer mode"
PROPERTY_INPUT = "sn-importer input"
#: Which file on this computer that was: a digest of its full path, so two inputs of one name in two
#: folders are told apart without the workbook carrying the folder's name to whoever it is sent to.
PROPERTY_INPUT_ID = "sn-importer input id"
#: An apply's results workbook: the apply's run id and its input's content digest, so the results
#: fixed and applied again are known for what that apply did (the journal is asked on this account
#: and template only: :meth:`~sn_importer.journal.Journal.detached_by_run`).
PROPERTY_RUN = "sn-importer run id"
PROPERTY_INPUT_DIGEST = "sn-importer input digest"
#: The mode an undo report records (``sn-importer undo``; not a run mode of a sheet: see :mod:`sn_importer.restore`).
UNDO_MODE = "undo"
#: What an undo report records besides the mode: "yes" when it was a preview (nothing sent).
PROPERTY_PREVIEW = "sn-importer preview"

#: The suffix whose results drop it from the name: ``x.csv`` → ``x.results.csv``.
_NATURAL = {"csv": ".csv", "excel": ".xlsx"}
_CUSTOM_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"


def default_output_path(input_path: Path, kind: str) -> Path:
    """``<stem>.results.xlsx`` (workbooks) or ``<stem>.results.csv`` (CSV text) beside the input.

    Only the format's own suffix (``.xlsx``, ``.csv``) is dropped from the
    name; any other keeps its place, so ``base.xls`` gives
    ``base.xls.results.xlsx`` and ``x.txt`` gives ``x.txt.results.csv``, and
    the results of two inputs never replace each other. A file without a
    suffix gets ``<name>.noext.results.csv``, clear of ``<name>.csv``'s.
    """
    input_path = Path(input_path)
    natural = _NATURAL["csv" if kind == "csv" else "excel"]
    suffix = input_path.suffix
    if suffix == natural:
        stem = input_path.stem
    elif suffix:
        stem = input_path.name
    else:
        stem = f"{input_path.name}.noext"
    return input_path.with_name(f"{stem}.results{natural}")


def undo_output_path(path: Path) -> Path:
    """An undo report's default name beside what it undoes: ``.undo`` before the extension
    (``x.results.xlsx`` → ``x.results.undo.xlsx``, ``x.results.removed.csv`` → ``x.results.removed.undo.csv``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.undo{path.suffix}")


def is_undo_report(path: Path) -> bool:
    """An undo's report: named ``*.undo.*``, or a workbook whose document properties record the undo mode."""
    path = Path(path)
    if ".undo." in path.name.lower():
        return True
    return path.suffix.lower() in {".xlsx", ".xlsm"} and recorded(path).get(PROPERTY_MODE) == UNDO_MODE


def removed_path(path: Path) -> Path:
    """Where a CSV report keeps its Removed records: ``<stem>.removed.csv`` beside it."""
    return path.with_name(f"{path.stem}.removed.csv")


@contextmanager
def atomic_path(path: Path):
    """A temporary name beside ``path``, renamed onto it when the block succeeds.

    The writer creates the file itself (not ``mkstemp``, which makes it
    owner-only), so the umask decides who may read the results in a shared
    folder; a crash leaves the old file, never half a new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def keep_earlier_apply_report(path: Path) -> Path | None:
    """Move an earlier apply's report at ``path`` aside, so a later run never
    erases its Removed records (the audit trail); return where it went."""
    if not path.is_file() or not _is_apply_report(path):
        return None
    return keep_aside(path)


def input_id(input_path: Path) -> str:
    """The value of :data:`PROPERTY_INPUT_ID` for ``input_path``."""
    return hashlib.sha256(os.fsencode(Path(input_path).resolve())).hexdigest()[:20]


def keep_other_input_results(path: Path, input_path: Path) -> Path | None:
    """Move aside what is at ``path`` unless it is this input's results; return where it went.

    A workbook says which input made it (document properties: the input's
    path, or only its name for workbooks written before that was recorded).
    A CSV report cannot say: one at the input's own default name is taken as
    its results and replaced, anything else at the chosen path is kept.
    A workbook that records no input is not results (a user's own file
    chosen as ``--output``), and is kept too.
    """
    path = Path(path)
    if not path.is_file() or path.resolve() == Path(input_path).resolve():
        return None
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        made = recorded(path)
        if PROPERTY_INPUT_ID in made:
            same = made[PROPERTY_INPUT_ID] == input_id(input_path)
        else:
            same = made.get(PROPERTY_INPUT) == Path(input_path).name
    else:
        same = path.resolve() == default_output_path(input_path, "csv").resolve()
    return None if same else keep_aside(path)


def keep_aside(path: Path) -> Path:
    """Rename ``path`` to ``<stem>.<its time>[-n]<suffix>`` (a CSV report's removed file goes along)."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    kept, n = path.with_name(f"{path.stem}.{stamp}{path.suffix}"), 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
    os.replace(path, kept)
    if removed_path(path).is_file():
        os.replace(removed_path(path), removed_path(kept))
    return kept


def recorded(path: Path) -> dict[str, str]:
    """The text document properties of a workbook (empty when it has none or is no workbook).

    Read straight from ``docProps/custom.xml``: loading the workbook just to
    learn who made it would cost as much as reading all of it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if "docProps/custom.xml" not in archive.namelist():
                return {}
            root = ElementTree.fromstring(archive.read("docProps/custom.xml"))
    except (zipfile.BadZipFile, OSError, ElementTree.ParseError):
        return {}
    found = {}
    for prop in root.iter(f"{_CUSTOM_NS}property"):
        text = next((child.text for child in prop), None)
        if prop.get("name") and text is not None:
            found[prop.get("name")] = text
    return found


def _is_apply_report(path: Path) -> bool:
    if path.suffix.lower() not in {".xlsx", ".xlsm"}:
        return removed_path(path).is_file()
    mode = recorded(path).get(PROPERTY_MODE)
    if mode is not None:
        return mode == Mode.APPLY
    return _summary_says_apply(path)


def _summary_says_apply(path: Path) -> bool:
    """Reports written before the document properties: the Summary's ``Mode`` row."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
    except Exception:  # not a workbook we can read: not ours to keep
        return False
    try:
        for sheet in book.worksheets:
            if sheet.title.startswith("Summary"):
                for label, value in sheet.iter_rows(max_row=80, max_col=2, values_only=True):
                    if label == "Mode":
                        return value == Mode.APPLY
        return False
    finally:
        book.close()
