"""The annotated output: the user's own file back, with a status on every row.

Last stage of the pipeline. An .xlsx/.xlsm input comes back as the user's own
package, patched (``patch.py``, ``sheetxml.py``): every part it holds kept
byte for byte except the data sheets, which get the result columns of
:mod:`sn_importer.columns` right of their header, and the few parts that list
the sheets and styles; a ``Summary`` for staff (``summary.py``) and, for an
apply, a ``Removed`` sheet with the records of every detached serial as they
were before. An .xls or .ods becomes the .xlsx it would be, sheets, formats
and formulas kept (``rebuild.write_office``); CSV input written as .xlsx and
.xlsb are rebuilt from their values (``rebuild.write_rebuilt``), and the
Summary says so. CSV in gives CSV out (``csv_out.py``). Every file is written
to a temporary name and renamed, and never over the input or another input's
results (``paths.py``).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..columns import RESULT_NAMES as RESULT_COLUMNS
from ..mapping import REMOVED_COLUMNS
from ..reader import SourceFile
from ..xlsx import STRICT
from .csv_out import csv_lines, write_csv, write_removed_csv
from .paths import (PROPERTY_INPUT, PROPERTY_INPUT_DIGEST, PROPERTY_INPUT_ID, PROPERTY_MODE, PROPERTY_RUN,
                    atomic_path, default_output_path, input_id,
                    keep_earlier_apply_report, keep_other_input_results, removed_path)
from .rows import defuse_formulas, result_frame, sheet_slices
from .summary import ReportFacts

CSV_OUTPUTS = {".csv", ".txt", ".tsv"}
XLSX_OUTPUTS = {".xlsx", ".xlsm"}
#: Errors that only writing raises: the output's folder has no room, not a package that cannot be patched.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})

__all__ = ["REMOVED_COLUMNS", "RESULT_COLUMNS", "ReportFacts", "atomic_path", "csv_lines", "default_output_path",
           "defuse_formulas", "keep_earlier_apply_report", "keep_other_input_results", "prove_writable", "removed_path", "result_frame", "sheet_slices",
           "write_report"]


def write_report(path: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                 removed: pd.DataFrame | None = None) -> Path:
    """Write the annotated copy to ``path`` (.xlsx or .csv by extension), atomically.

    ``removed`` is given for an apply only: the records of the detached
    serials (the ``Removed`` sheet, or ``<stem>.removed.csv`` beside a CSV
    report); validate and preview carry none.
    """
    path = Path(path)
    check_output_path(path, source.path)
    suffix = path.suffix.lower()
    if suffix in CSV_OUTPUTS:
        with atomic_path(path) as tmp:
            write_csv(tmp, source, rows)
        if removed is not None:  # an apply: its audit trail goes beside it, even when empty
            with atomic_path(removed_path(path)) as tmp:
                write_removed_csv(tmp, removed)
    else:
        with atomic_path(path) as tmp:
            write_workbook(tmp, path, source, rows, facts, removed)
    return path


def check_output_path(path: Path, input_path: Path) -> None:
    """Refuse, in plain words, an output that cannot be what the user meant."""
    if path.resolve() == Path(input_path).resolve():
        raise UsageError(f"the output {path} would overwrite the input; choose another --output")
    suffix = path.suffix.lower()
    if suffix not in CSV_OUTPUTS | XLSX_OUTPUTS:
        what = f"has the extension {path.suffix!r}" if path.suffix else "has no extension"
        raise UsageError(f"the output {str(path)!r} {what}; name it .xlsx (a workbook) or .csv (text)")
    if path.is_dir():
        raise UsageError(f"the output {path} is a folder; give a file name ending in .xlsx or .csv")
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise UsageError(f"the output {path} would go inside {above}, which is a file, not a folder; "
                         "choose another --output")


def prove_writable(path: Path, input_path: Path) -> None:
    """Before anything is sent to Katana: the output's name is usable and its folder has room
    for it (real blocks reserved, about twice the input's size: an empty probe file passes on a
    full disk), so a run never ends with results nowhere to go."""
    from ..errors import StorageError
    from ..storage import reserve

    path = Path(path)
    check_output_path(path, input_path)
    try:
        size = Path(input_path).stat().st_size
    except OSError:
        size = 0
    try:
        reserve(path.parent, 2 * size + (1 << 20), f"the output {path}")
    except StorageError as exc:
        raise UsageError(f"cannot write the output {path}: {exc.reason}") from None


def write_workbook(tmp: Path, target: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                   removed: pd.DataFrame | None) -> None:
    """The input's own package patched with the results (.xlsx/.xlsm); .xls/.ods rewritten as an .xlsx
    keeping their sheets and formats; anything else rebuilt from its values, saying so."""
    from .rebuild import write_rebuilt

    properties = {PROPERTY_MODE: facts.mode, PROPERTY_INPUT: Path(source.path).name,
                  PROPERTY_INPUT_ID: input_id(source.path)}
    if facts.mode == "apply" and facts.value("Run id"):
        from ..journal import file_digest

        properties |= {PROPERTY_RUN: str(facts.value("Run id")), PROPERTY_INPUT_DIGEST: file_digest(source.path)}
    package = source.package
    notes: list[str] = []
    output = package.format.output if package is not None else None
    if output == "patch":
        if package.changed():
            notes.append("The input file changed after it was read, so these results were rebuilt from the values "
                         "that were read, without its formatting, hidden sheets and sheets with no rows read.")
        elif STRICT.strip("{}").encode() in (package.part("xl/workbook.xml") or b""):  # names of its own
            notes.append("The input is saved as Strict Open XML, which cannot be annotated in place: these results "
                         "are a new .xlsx rebuilt from its values, without its formatting, hidden sheets and sheets "
                         "with no rows read. The input is unchanged.")
        else:
            from .patch import write_patched

            notes += _macro_notes(source.path, target)
            try:
                write_patched(tmp, target, source, rows, facts, removed, notes, properties)
                return
            except (ValueError, KeyError, OSError) as exc:  # a package we cannot patch: its values still come back
                if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
                    raise  # the output's folder is full, not the package odd: the report lands elsewhere
                notes = [f"This workbook could not be annotated in place ({type(exc).__name__}: {exc}), so these "
                         "results were rebuilt from its values, without its formatting, hidden sheets and "
                         "sheets with no rows read."]
    elif source.office is not None:
        from .rebuild import write_office

        write_office(tmp, source, rows, facts, removed, notes, properties)
        return
    elif source.kind == "excel":
        suffix = Path(source.path).suffix.lower()
        notes.append(f"The input is a {suffix} file, which cannot be annotated in place: these results are a new "
                     ".xlsx rebuilt from its values, without its formatting, hidden sheets and sheets with no rows "
                     "read. The input is unchanged.")
    write_rebuilt(tmp, source, rows, facts, removed, notes, properties)


def _macro_notes(input_path: Path, target: Path) -> list[str]:
    if input_path.suffix.lower() == ".xlsm" and target.suffix.lower() != ".xlsm":
        return ["The input's macros are not in this .xlsx copy; write the results to an .xlsm "
                "(--output NAME.xlsm) to keep them."]
    return []
