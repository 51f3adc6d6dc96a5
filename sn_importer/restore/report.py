"""The undo's report: one row per removed record and a Summary, as .xlsx or CSV.

The rows are the ``Removed`` sheet's columns followed by what the undo found
(:data:`~sn_importer.restore.rules.UNDO_COLUMNS`); the Summary speaks to
staff first (what happened, what to do next), then a legend of the statuses
shown, then the technical details. Written with the project's own pieces:
the Summary's :class:`~sn_importer.report.summary.Line` values and workbook
writer, the cell writer and styles of the rebuilt workbooks, the CSV writer
(text safe from spreadsheets that would run it as a formula), atomically.
The workbook records the undo mode in its document properties, so a later
run, ``watch`` and ``undo`` itself know it for what it is. An earlier undo's
report at the same place is kept aside, never replaced.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import UsageError
from ..settings import base_url_words
from ..mapping import REMOVED_COLUMNS
from ..report import CSV_OUTPUTS, XLSX_OUTPUTS
from ..report.csv_out import csv_lines
from ..report.paths import (PROPERTY_INPUT, PROPERTY_MODE, PROPERTY_PREVIEW, UNDO_MODE, atomic_path, keep_aside,
                            recorded, removed_path)
from ..report.rows import defuse_formulas
from ..estimate import waits_text
from ..report.summary import HAPPENED, MEANINGS, Line, plural
from ..status import Origin, Status
from ..storage import zip_target
from ..cell_text import cells_as_text
from .rules import UNDO_COLUMNS

if TYPE_CHECKING:
    from .result import UndoResult

#: Widths of the columns an undo adds (characters).
_WIDTHS = {"status": 16, "message": 70, "new_serial_id": 14, "request": 38, "checked_at": 22}
#: Where undo's meanings differ from an import's.
_MEANINGS = {
    Status.PLANNED: "not on its resource now; undo would put it back",
    Status.UNVERIFIED: "its POST was sent, but the check afterwards could not be made",
    Status.SKIPPED: "not reached: the undo stopped early",
}
_EXIT_MEANING = {0: "every record is back on its resource", 1: "some records need attention",
                 2: "the undo could not be completed"}
#: What to do to finish an undo, in the words of where it was started.
_AGAIN = {Origin.COMMAND_LINE: "Run the same sn-importer undo command again", Origin.WEB: "Press Undo on the page again",
          Origin.WATCH: "Run sn-importer undo on the results again", Origin.NOTEBOOK: "Call undo() again"}


def write_undo_report(path: Path, result: UndoResult) -> Path:
    """Write the report to ``path`` (.xlsx or .csv by extension), atomically; an earlier undo's
    report there is kept aside first."""
    path = Path(path)
    check_undo_output(path, result)
    if path.is_file() and _undo_report_to_keep(path):
        kept = keep_aside(path)
        result.notes.append(f"The earlier undo report {path.name} was kept as {kept.name}.")
    with atomic_path(path) as tmp:
        if path.suffix.lower() in CSV_OUTPUTS:
            _write_csv(tmp, result.rows)
        else:
            _write_xlsx(tmp, result)
    return path


def check_undo_output(path: Path, result: UndoResult) -> None:
    """Refuse, in plain words, an output that would replace what is undone or cannot be written."""
    source = result.removed.path
    inputs = {p.resolve() for p in (source, removed_path(source) if source else None) if p}
    if path.resolve() in inputs:
        raise UsageError(f"the output {path} would overwrite the results being undone; choose another --output")
    if path.suffix.lower() not in CSV_OUTPUTS | XLSX_OUTPUTS:
        raise UsageError(f"the output {str(path)!r} must end in .xlsx (a workbook) or .csv (text)")
    if path.is_dir():
        raise UsageError(f"the output {path} is a folder; give a file name ending in .xlsx or .csv")


def _undo_report_to_keep(path: Path) -> bool:
    """An undo that sent something keeps its report: a preview's may be replaced."""
    if path.suffix.lower() not in XLSX_OUTPUTS:
        return True
    props = recorded(path)
    return props.get(PROPERTY_MODE) == UNDO_MODE and props.get(PROPERTY_PREVIEW) != "yes"


# --------------------------------------------------------------------------- the Summary


def summary_lines(result: UndoResult) -> list[Line]:
    counts = {s: n for s in Status if (n := result.counts().get(s.value, 0))}
    title = "sn-importer undo preview" if result.preview else "sn-importer undo"
    lines = [Line("title", (title,)), Line("blank")]
    lines += _section("What happened", [Line("text", (s,)) for s in what_happened(result, counts)])
    lines += _section("What to do next", [Line("text", (s,)) for s in what_next(result, counts)])
    if result.notes:
        lines += _section("Notes", [Line("text", (n,)) for n in result.notes])
    legend = [Line("status", (s.value, n, _MEANINGS.get(s, MEANINGS[s]))) for s, n in counts.items()]
    lines += _section("Statuses", [Line("header", ("Status", "Records", "What it means")), *legend])
    lines += _section("Technical details", [Line("fact", fact) for fact in technical_facts(result)])
    return lines


def _section(title: str, body: list[Line]) -> list[Line]:
    return [Line("heading", (title,)), *body, Line("blank")]


def what_happened(result: UndoResult, counts: dict[Status, int]) -> list[str]:
    total = plural(result.row_count, "removed record")
    of = f" of apply run {result.apply_run_id}" if result.apply_run_id else ""
    if not result.row_count:
        return [f"The apply{of} removed no serials: there is nothing to undo."]
    verb = "checked against Katana without changing anything" if result.preview else "put back where Katana allowed"
    sentences = [f"{total[0].upper()}{total[1:]}{of} read from {Path(result.display_name).name}; {verb}."]
    happened = {Status.PLANNED: "{n} not on their resource now, which undo would put back (planned)."}
    sentences += ["• " + happened.get(s, HAPPENED[s]).format(n=f"{n:,}") for s, n in counts.items()]
    if result.error:
        sentences.append(f"The undo stopped early: {result.error}")
    return sentences


def what_next(result: UndoResult, counts: dict[Status, int]) -> list[str]:
    again = _AGAIN[Origin(result.origin)]
    advice = []
    if Status.CANNOT_RESTORE in counts:
        advice.append("Re-attach the records marked cannot_restore in Katana's screens: its API cannot.")
    if counts.keys() & {Status.NOT_RESTORED, Status.UNVERIFIED, Status.SKIPPED} or result.error:
        advice.append(f"{again}: it lists Katana again and puts back what is still missing, never a serial twice.")
    if advice:
        return advice
    if result.preview:
        return [f"Nothing is sent by a preview. {again} without preview to put the planned records back."]
    return ["Nothing left to do: every removed record is on its resource again."]


def technical_facts(result: UndoResult) -> list[tuple[str, object]]:
    exit_code = result.exit_code
    requests = ", ".join(f"{k} {v}" for k, v in result.requests.items() if not k.startswith("waited"))
    facts = [("Run id", result.run_id), ("Mode", "undo preview" if result.preview else "undo"),
             ("Started from", str(result.origin)), ("Undoes", result.display_name),
             ("Apply run id", result.apply_run_id or "(not recorded in a CSV)"),
             ("Base URL", base_url_words(result.base_url, result.sandbox)),
             ("Started", result.started_at), ("Finished", result.finished_at), ("Records", result.row_count),
             ("Resources", result.resources), ("Estimated before sending", result.estimate or "(nothing to send)"),
             ("Requests sent", requests), ("Waited for the quota", waits_text(result.requests)),
             ("Exit code", f"{exit_code} ({_EXIT_MEANING[exit_code]})")]
    if result.confirmed_by:
        facts.insert(3, ("Confirmed by", result.confirmed_by))
    if result.error:
        facts.append(("Stopped because", result.error))
    return facts


# --------------------------------------------------------------------------- the writers


def _write_xlsx(tmp: Path, result: UndoResult) -> None:
    import xlsxwriter

    from ..report.rebuild import Styles, print_fitted, write_summary

    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}
    with zip_target(tmp) as target, xlsxwriter.Workbook(target, options) as book:
        styles = Styles(book)
        _write_records(book.add_worksheet("Undo"), result.rows, styles)
        summary = book.add_worksheet("Summary")
        write_summary(summary, summary_lines(result), styles)
        summary.activate()
        print_fitted(summary, None)
        properties = {PROPERTY_MODE: UNDO_MODE, PROPERTY_INPUT: Path(result.display_name).name,
                      PROPERTY_PREVIEW: "yes" if result.preview else "no"}
        for name, value in properties.items():
            book.set_custom_property(name, value)


def _write_records(ws, rows: pd.DataFrame, styles) -> None:
    from ..report.rebuild import print_fitted, write_cell

    names = [*REMOVED_COLUMNS, *UNDO_COLUMNS]
    for c, name in enumerate(names):
        ws.write_string(0, c, name, styles.result_header if name in UNDO_COLUMNS else styles.header)
        ws.set_column(c, c, _WIDTHS.get(name, 20))
    frame = rows.reindex(columns=names).astype(object).where(rows.reindex(columns=names).notna(), None)
    status_at = names.index("status")
    for r, record in enumerate(frame.itertuples(index=False, name=None), start=1):
        for c, value in enumerate(record):
            if c == status_at and value:
                ws.write_string(r, c, value, styles.status.get(value))
            else:
                write_cell(ws, r, c, value, styles)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(frame)), len(names) - 1)
    print_fitted(ws, 0)


def _write_csv(tmp: Path, rows: pd.DataFrame) -> None:
    names = [*REMOVED_COLUMNS, *UNDO_COLUMNS]
    frame = rows.reindex(columns=names)
    columns = [defuse_formulas(cells_as_text(frame[c].astype(object))) for c in names]
    with tmp.open("wb") as handle:
        handle.write(codecs.BOM_UTF8)
        handle.write(csv_lines([pd.Series([c], dtype="str") for c in names], ","))
        if len(frame):
            handle.write(csv_lines(columns, ","))


__all__ = ["check_undo_output", "summary_lines", "technical_facts", "what_happened", "what_next", "write_undo_report"]
