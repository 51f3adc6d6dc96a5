"""Undo from the page: a finished apply offers "Undo this run"; the undo is a run of its own.

Pressing "Undo this run" on a finished apply's page makes a new run (its own
page, ``kind == "undo"``) that goes through the server's one queue like any
other: first a check (an undo preview: Katana is only read), then a button
that says exactly what it will put back, the progress while it goes, and the
undo's report to download. The undo reads the apply's own workbook (its
``Removed`` sheet) with :func:`sn_importer.restore.read_removed` and runs
:func:`sn_importer.restore.run_undo`, so it works as long as that workbook is
kept, after a restart too; the journal makes a second undo of the same apply
resume or re-check, never send a serial twice. The apply's page and the
undo's link to each other, and History shows each apply's undos. Its two
routes (start, confirm) are in :mod:`.undo_routes`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SnImporterError
from ..notebook import cell_text as text
from ..resource_types import label as type_label
from ..status import COLOURS, Status
from . import present
from .present import plural
from .runs import Phase, Run

if TYPE_CHECKING:
    from ..restore import UndoResult
    from .server import Server

log = logging.getLogger("sn_importer.web")
#: The queue's tasks of an undo: its check (nothing sent) and the undo itself.
UNDO_CHECK, UNDO = "undo-check", "undo"
MODES = frozenset({UNDO_CHECK, UNDO})
#: The order statuses are shown in, and what each means on the page.
ORDER = (Status.PLANNED, Status.RESTORED, Status.ALREADY_THERE, Status.NOT_RESTORED, Status.CANNOT_RESTORE,
         Status.UNVERIFIED, Status.SKIPPED)
MEANING = {**present.MEANING,
           Status.PLANNED: "is not on its resource now; undo would put it back",
           Status.SKIPPED: "not reached: the undo stopped early"}
ATTENTION = (Status.NOT_RESTORED, Status.CANNOT_RESTORE, Status.UNVERIFIED, Status.SKIPPED)
ROW_LIMIT = 500


# --------------------------------------------------------------------------- the apply's page


def offer(server: Server, run: Run) -> dict | None:
    """What a finished apply's page offers: its undo's page when there is one, else "Undo this run"
    (when it detached something and its workbook is still kept); None for anything else."""
    if run.kind != "apply" or run.phase != Phase.DONE:
        return None
    if run.undone_by and (server.registry.get(run.undone_by) or server.registry.record(run.undone_by)):
        return {"page": f"/runs/{run.undone_by}"}
    if not (run.view or {}).get("deleted") or run.output is None or not run.output.is_file():
        return None
    return {"page": None, "serials": run.view["deleted"]}


# --------------------------------------------------------------------------- on the worker thread


def execute(server: Server, run: Run, mode: str) -> None:
    """Check or run the undo of ``run``'s apply; called by the queue, one task at a time."""
    from ..restore.records import read_removed
    from ..restore.run import run_undo

    preview = mode == UNDO_CHECK
    run.phase = Phase.CHECKING if preview else Phase.RUNNING
    try:
        removed = read_removed(run.upload)
        removed.display_name = f"{Path(run.filename).stem}.results.xlsx"  # the person's name, never a server path
        result = run_undo(removed, preview=preview, base_url=server.settings.base_url,
                          api_key=server.settings.api_key, state_dir=server.settings.state_dir,
                          progress=run.progress, interrupt=server.interrupt,
                          client_options=server.client_options(run))
    except SnImporterError as exc:
        run.error, run.phase = str(exc), Phase.BROKEN
        return
    server.stamp(result)
    run.result = result
    run.count_now()
    server.finishing.submit(finish, server, run, result, removed, mode)


def finish(server: Server, run: Run, result: UndoResult, removed, mode: str) -> None:
    """The undo's report and its page, made beside the queue (as a check's are): only the Katana calls
    hold the queue, so the next person's run starts while this report is written."""
    preview = mode == UNDO_CHECK
    if not preview:
        result.confirmed_by = run.confirmed_by  # its report and page say who pressed the button
    try:
        run.output = _write(result, server.results / f"{run.id}-{mode}.xlsx")
        run.view, run.error = undo_view(result, run, *_cost(server, removed, preview)), result.error
        if not preview:
            server.registry.save(run, {"kind": "undo", "undoes": run.undoes, "run_id": result.run_id,
                                       "filename": run.filename, "template": run.template,
                                       "output": run.output.name if run.output else None, "view": run.view,
                                       "finished_at": result.finished_at, "confirmed_by": run.confirmed_by})
    except Exception:  # a bug must not leave the undo "checking" for ever
        log.exception("undo %s (%s) could not be finished", run.id, mode)
        run.error, run.phase = "the undo stopped on an unexpected error; the server log has the details", Phase.BROKEN
        return
    if preview:
        run.phase = Phase.BROKEN if result.error else Phase.READY
    else:
        run.phase = Phase.DONE


def _cost(server: Server, removed, preview: bool) -> tuple[int, str]:
    """What the undo itself needs at most, and how long the tenant's quota makes that take: after its
    check, what pressing the button will cost (the one estimate the command line shows too)."""
    from ..restore.run import CHUNK
    from ..restore.runner import requests_needed

    requests = requests_needed(removed.wanted()[0], CHUNK, preview=False)
    return requests, server.estimate(requests) if preview else ""


def _write(result: UndoResult, target: Path) -> Path | None:
    """The undo's report (our own records, written here: no workbook of a person's is read)."""
    try:
        return result.write(target)
    except (OSError, SnImporterError) as exc:
        result.notes.append(f"The undo report could not be written: {exc}")
        return None


# --------------------------------------------------------------------------- what the page shows


def statuses(counts: dict[str, int]) -> list[dict]:
    """Records by status, in the undo's order, each with its colour and meaning."""
    return [{"status": s.value, "count": counts[s.value], "colour": COLOURS.get(s, "EDEDED"),
             "meaning": MEANING[s], "attention": s in ATTENTION} for s in ORDER if counts.get(s.value)]


def records(result: UndoResult, wanted: tuple[Status, ...]) -> dict:
    """The records with these statuses, in the order of the Removed sheet."""
    rows = result.rows[result.rows["status"].isin([s.value for s in wanted])]
    shown = [{"serial_number": text(r.serial_number), "resource": f"{type_label(text(r.resource_type))} "
              f"{text(r.resource_id)}", "old_id": text(r.id), "new_id": text(r.new_serial_id),
              "status": text(r.status), "message": text(r.message)} for r in rows.head(ROW_LIMIT).itertuples()]
    return {"rows": shown, "total": len(rows), "more": max(0, len(rows) - ROW_LIMIT)}


def _confirm(result: UndoResult) -> dict:
    planned = result.rows[result.rows["status"] == Status.PLANNED.value]
    serials = len(planned)
    resources = len(set(zip(planned["resource_type"], planned["resource_id"])))
    return {"serials": serials, "resources": resources,
            "label": f"Put back {plural(serials, 'serial number')} on {plural(resources, 'resource')}"}


def undo_view(result: UndoResult, run: Run, requests: int = 0, estimate: str = "") -> dict:
    """What an undo's page shows; ``requests`` and ``estimate``: what the undo itself will cost (after its check)."""
    from ..restore.report import technical_facts

    counts = result.counts()
    return {
        "filename": run.filename, "template": run.template, "undoes": run.undoes, "preview": result.preview,
        "statuses": statuses(counts), "records": result.row_count,
        "attention": records(result, ATTENTION), "going": records(result, (Status.PLANNED,)),
        "restored": counts.get(Status.RESTORED.value, 0), "confirm": _confirm(result),
        "requests": requests or result.requests_needed, "estimate": estimate or result.estimate,
        "exit_code": result.exit_code, "error": result.error, "messages": list(result.notes),
        "facts": [(label, text(value)) for label, value in technical_facts(result)],
        "run_id": result.run_id, "apply_run_id": result.apply_run_id, "finished_at": result.finished_at,
    }


__all__ = ["MODES", "UNDO", "UNDO_CHECK", "execute", "finish", "offer", "records", "statuses", "undo_view"]
