"""What the pages show of a job and its runs: plain dictionaries, built once per phase.

The offline read is shown from the :class:`~sn_importer.job.Job`; a preview
or apply from the :class:`~sn_importer.result.RunResult` it returned (both
offer rows, counts, mapping, plan and template alike).

Views are built on the worker thread when a phase ends and kept with the run,
so a page never reads a result while the worker builds it. They hold nothing
but what a person should see: never the API key, never a server path.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Union

from ..estimate import wait_line
from ..notebook import cell_text as text
from ..resource_types import label as type_label
from ..report.summary import unread_sheets
from ..validate import shown_fields
from ..outcome import Cause
from ..status import COLOURS, Mode, Status
from ..words import plural

if TYPE_CHECKING:
    from ..job import Job
    from ..result import RunResult

    Shown = Union[Job, RunResult]

#: Rows listed first, in this order: the ones a person must look at.
ATTENTION = (Status.INVALID, Status.NOT_ON_RESOURCE, Status.STILL_PRESENT, Status.FAILED,
             Status.UNVERIFIED, Status.SKIPPED, Status.DUPLICATE)
NEEDS_FIX = tuple(s for s in ATTENTION if s != Status.DUPLICATE)
ORDER = (Status.VALID, Status.PLANNED, Status.DELETED) + ATTENTION + (Status.IGNORED,) + \
    (Status.RESTORED, Status.ALREADY_THERE, Status.NOT_RESTORED, Status.CANNOT_RESTORE)  # an undo's (undo.py)
#: At most this many rows in a table; the workbook has them all.
ROW_LIMIT = 500

MEANING = {
    Status.VALID: "passed every check in the sheet",
    Status.PLANNED: "is on that resource now and would be detached",
    Status.INVALID: "cannot be sent as written; the message says what to fix",
    Status.DUPLICATE: "repeats an earlier row; sent once",
    Status.NOT_ON_RESOURCE: "is not on that resource in Katana; nothing will be sent for it",
    Status.DELETED: "was on the resource and is verified gone",
    Status.STILL_PRESENT: "was sent but is still on the resource",
    Status.UNVERIFIED: "was sent, but the check afterwards could not be made",
    Status.FAILED: "the request failed; the message says why",
    Status.SKIPPED: "not reached: the run stopped early, or its sheet was not read",
    Status.IGNORED: "a total or note below the table, not a serial; changes nothing",
    Status.RESTORED: "was put back and is on its resource now",
    Status.ALREADY_THERE: "is on its resource already; nothing is sent for it",
    Status.NOT_RESTORED: "was not put back; the message says why",
    Status.CANNOT_RESTORE: "Katana's API cannot put it back (re-attach it in Katana's screens)",
}


def when(stamp: str | None) -> str:
    """'2026-11-27T13:02:15Z' → '2026-11-27 13:02 UTC': the journal's times, readable."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def statuses(counts: dict[str, int]) -> list[dict]:
    """Counts by status in a fixed order, each with its colour and plain meaning."""
    known = [s for s in ORDER if counts.get(s.value)]
    return [{"status": s.value, "count": counts[s.value], "colour": COLOURS.get(s, "EDEDED"),
             "meaning": MEANING[s], "attention": s in NEEDS_FIX} for s in known]


#: Mid-run, a row the run has not reached yet: not "valid" any more, not settled yet.
PENDING = {"status": "pending", "colour": "EDEDED", "meaning": "not reached yet", "attention": False}


def live_statuses(live, undo: bool = False) -> list[dict]:
    """Counts by status so far, while a run goes. A row the run has not reached still counts as
    ``valid`` (from the sheet): shown as "pending" instead, so the tiles never read "300 valid"
    mid-run. An undo counts only settled records: the rest of its total is pending."""
    counts = dict(live.counts)
    pending = max(0, live.rows_total - sum(counts.values())) if undo else counts.pop(Status.VALID.value, 0)
    shown = statuses(counts)
    return ([{**PENDING, "count": pending}] if pending else []) + shown


def waiting(wait: tuple[float, str] | None, clock) -> dict | None:
    """Why a run stands still and for how long, in the terminal's words ("Waiting 54 s: Katana's
    quota …"), with the moment it ends on the server's clock; None when nothing holds it."""
    if wait is None:
        return None
    seconds, reason = wait
    ends = datetime.fromtimestamp(clock.now() + seconds, timezone.utc).strftime("%H:%M:%S UTC")
    return {"text": f"{wait_line(seconds, reason)} (until {ends})", "seconds": round(seconds), "reason": reason}


def rows_table(job: Shown, wanted: tuple[Status, ...]) -> dict:
    """The rows with these statuses, most urgent first, with sheet and row to find them by."""
    rows = job.rows
    order = {s.value: i for i, s in enumerate(wanted)}
    picked = rows[rows["status"].isin(order)]
    picked = picked.assign(_rank=picked["status"].map(order)).sort_values(["_rank", "sheet", "row"], kind="stable")
    head = picked.head(ROW_LIMIT)
    shown = [_row(r) for r in head.assign(**shown_fields(head)).itertuples(index=False)]  # as the sheet gave them
    return {"rows": shown, "total": len(picked), "more": max(0, len(picked) - ROW_LIMIT)}


def _row(row) -> dict:
    # the type as the drop-down names it ("Sales order row"); one the table does not know stays as typed
    return {"sheet": text(row.sheet), "row": text(row.row), "resource_type": type_label(text(row.resource_type)),
            "resource_id": text(row.resource_id), "serial_id": text(row.serial_id),
            "serial_number": text(row.serial_number), "status": text(row.status), "message": text(row.message),
            "colour": COLOURS.get(text(row.status), "EDEDED")}


def mapping(job: Shown) -> dict:
    return {"columns": [{"sheet": s, "field": f, "source": w} for s, f, w in job.mapping()],
            "skipped": [{"sheet": s, "reason": r} for s, r in job.source.skipped]}


def plan(job: Shown) -> list[dict]:
    """One line per resource in the sheet's plan, with how many of its serials would go
    (a preview's plan counts them; before one, none)."""
    table = job.plan
    going = table["planned"] if "planned" in table else [0] * len(table)
    return [{"resource_type": str(t), "type_label": type_label(str(t)), "resource_id": int(i), "serials": int(n),
             "requests": int(r), "planned": int(g)}
            for t, i, n, r, g in zip(table["resource_type"], table["resource_id"], table["serials"],
                                     table["requests"], going, strict=True)]


def _resources(job: Shown, status: Status) -> list[tuple[str, int]]:
    rows = job.rows[job.rows["status"] == status.value]
    return [(str(t), int(i)) for t, i in zip(rows["resource_type"], rows["resource_id"], strict=True)]


def confirm(job: Shown) -> dict:
    """What the confirm button does, in exact numbers: planned serials and their resources."""
    going = _resources(job, Status.PLANNED)
    serials, resources = len(going), len(set(going))
    return {"serials": serials, "resources": resources,
            "label": f"Detach {plural(serials, 'serial number')} from {plural(resources, 'resource')}"}


#: What the page says beside an exit code (the library documents the codes, it has no words for them).
EXIT_MEANING = {0: "every row reached the goal", 1: "some rows need attention", 2: "the run could not be completed"}


def facts(job: RunResult) -> list[tuple[str, str]]:
    """The run's summary exactly as the workbook's Summary sheet has it, the exit code explained.

    The input is the job's display name (the uploaded file's own name), so no
    server path appears.
    """
    shown = []
    for label, value in job.report_facts().facts:
        if label == "Exit code":
            value = f"{value} ({EXIT_MEANING.get(int(value), 'unknown')})"
        shown.append((label, text(value)))
    return shown


def read_view(job: Shown, filename: str) -> dict:
    """After the offline read: what the sheet holds before Katana is asked."""
    return {"filename": filename, "template": job.template.name, "statuses": statuses(job.counts()),
            "mapping": mapping(job), "rows": job.source.row_count, "unread": unread_sheets(job.source.skipped),
            "sheet_notes": list(job.source.sheet_notes),
            "plan_totals": _plan_totals(job)}


def figures(live, checking: bool = False) -> str:
    """The progress line: resources and rows sent so far (or, ``checking``, read: a check sends
    nothing), and requests. "Sent", because a row sent is not yet a row checked: the counts by
    status beside it keep it pending until the list after says what became of it. Retries and
    re-read lists can take a run past the requests planned; the line then says so instead of
    "31 of at most 30"."""
    if not live.resources_total:
        return "Starting…"
    done, planned = live.requests_done, live.requests_total
    requests = (f"requests {done} of at most {planned}" if done <= planned
                else f"requests {done} ({planned} planned; retries and lists read again add more)")
    return (f"{'Checked' if checking else 'Sent'}: {live.resources_done} of {live.resources_total} resources, "
            f"{live.rows_done} of "
            f"{live.rows_total} rows · {requests}")


def preview_view(job: RunResult, filename: str, estimate: str) -> dict:
    view = read_view(job, filename)
    view.update({
        "mode": Mode.PREVIEW.value,
        "attention": rows_table(job, NEEDS_FIX),
        "duplicates": rows_table(job, (Status.DUPLICATE,)),
        "going": rows_table(job, (Status.PLANNED,)),
        "plan": plan(job),
        "confirm": confirm(job),
        "estimate": estimate,
        "requests": job.requests_needed(Mode.APPLY),
        "facts": facts(job),
        "messages": list(job.notes),
        "error": job.error,
    })
    return view


def result_view(job: RunResult, filename: str) -> dict:
    view = read_view(job, filename)
    counts = job.counts()
    deleted = job.rows[job.rows["status"] == Status.DELETED.value]
    before = len(job.deleted_before(frozenset({Cause.EARLIER_RUN})))  # by an earlier run, still gone
    view.update({
        "mode": Mode.APPLY.value,
        "attention": rows_table(job, NEEDS_FIX),
        "deleted": len(deleted) - before,
        "gone_before": before,
        # Only a run that read Katana itself may call its rows verified (a replay from the journal sent nothing).
        "checked": job.requests.get("GET", 0) > 0,
        "exit_code": job.exit_code,
        "outcome": EXIT_MEANING[job.exit_code],
        "facts": facts(job),
        "messages": list(job.notes),
        "error": job.error,
        "counts": counts,
        "run_id": job.run_id,
        "finished_at": job.finished_at,
    })
    return view


def _plan_totals(job: Shown) -> dict:
    detail = job.plan_detail
    return {"resources": detail.resource_count, "serials": detail.serial_count, "requests": detail.delete_requests}
