"""The annotated output: the user's own file back, with a status on every row.

Last stage of the pipeline. An .xlsx/.xlsm input comes back as the user's own
workbook, annotated in place (``annotate.py``): every sheet, style and setting
kept, the result columns ``status``, ``message``, ``serial_id``, ``request``
and ``checked_at`` right of each read sheet's header, a ``Summary`` for staff
(``summary.py``) and, for an apply, a ``Removed`` sheet with the records of
every detached serial as they were before. Other workbooks (.xls, .ods),
CSV input written as .xlsx, and workbooks too large to annotate quickly are
rebuilt from their values (``rebuild.py``), and the Summary says so. CSV in
gives CSV out (``csv_out.py``). Every file is written to a temporary name and
renamed, and never over the input or another input's results (``paths.py``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..mapping import REMOVED_COLUMNS, RESULT_COLUMNS
from ..reader import SourceFile
from .csv_out import csv_lines, write_csv, write_removed_csv
from .paths import (PROPERTY_INPUT, PROPERTY_MODE, atomic_path, default_output_path, keep_earlier_apply_report,
                    keep_other_input_results, removed_path)
from .rows import defuse_formulas, result_frame, sheet_slices
from .summary import ReportFacts

CSV_OUTPUTS = {".csv", ".txt", ".tsv"}
XLSX_OUTPUTS = {".xlsx", ".xlsm"}

__all__ = ["REMOVED_COLUMNS", "RESULT_COLUMNS", "ReportFacts", "atomic_path", "csv_lines", "default_output_path",
           "defuse_formulas", "keep_earlier_apply_report", "prove_writable", "removed_path", "result_frame", "sheet_slices",
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
        kept = keep_other_input_results(path, source.path)
        if kept:
            facts = replace(facts, notes=[*facts.notes, f"Results of another input, {path.name}, "
                                                        f"were kept as {kept.name}."])
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


def prove_writable(path: Path, input_path: Path) -> None:
    """Before anything is sent to Katana: the output's name is usable and its
    folder takes a new file, so a run never ends with results nowhere to go."""
    path = Path(path)
    check_output_path(path, input_path)
    probe = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.probe")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write the output {path}: {exc.strerror or exc}") from None


def write_workbook(tmp: Path, target: Path, source: SourceFile, rows: pd.DataFrame, facts: ReportFacts,
                   removed: pd.DataFrame | None) -> None:
    """Annotate the input workbook in place when it can be done well; else rebuild it, saying why."""
    from .annotate import ANNOTATABLE, ANNOTATE_MAX_CELLS, cell_count, has_drawings, write_annotated
    from .rebuild import write_rebuilt

    properties = {PROPERTY_MODE: facts.mode, PROPERTY_INPUT: Path(source.path).name}
    suffix = Path(source.path).suffix.lower()
    notes: list[str] = []
    if source.kind == "excel" and suffix in ANNOTATABLE:
        cells = cell_count(source.path)
        if cells <= ANNOTATE_MAX_CELLS:
            notes += _annotate_notes(source.path, target, has_drawings(source.path))
            try:
                write_annotated(tmp, target, source, rows, facts, removed, notes, properties)
                return
            except Exception as exc:  # a workbook openpyxl cannot take: its values still come back
                notes = [f"This workbook could not be annotated in place ({type(exc).__name__}: {exc}), so these "
                         "results were rebuilt from its values, without its formatting, hidden sheets and "
                         "sheets with no rows read."]
        else:
            notes.append(f"The workbook holds about {cells:,} cells, more than can be annotated in place quickly "
                         f"({ANNOTATE_MAX_CELLS:,}), so these results were rebuilt from its values, without its "
                         "formatting, hidden sheets and sheets with no rows read. The input is unchanged.")
    elif source.kind == "excel":
        notes.append(f"The input is a {suffix} file, which cannot be annotated in place: these results are a new "
                     ".xlsx rebuilt from its values, without its formatting, hidden sheets and sheets with no rows "
                     "read. The input is unchanged.")
    write_rebuilt(tmp, source, rows, facts, removed, notes, properties)


def _annotate_notes(input_path: Path, target: Path, drawings: bool) -> list[str]:
    notes = []
    if input_path.suffix.lower() == ".xlsm" and target.suffix.lower() != ".xlsm":
        notes.append("The input's macros are not in this .xlsx copy; write the results to an .xlsm "
                     "(--output NAME.xlsm) to keep them.")
    if drawings:
        notes.append("The input has drawings: its charts and pictures are kept, other shapes may not be.")
    return notes
