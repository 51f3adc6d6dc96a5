"""The page's routes: upload, the check, confirm, progress, resume, download, the blank sheet.

Each route is made for one :class:`~.server.Server` and only renders what the
library returned: uploads are accepted by :mod:`.uploads`, runs go through
the server's one queue, POST routes are made through :func:`~.csrf.posted`
(the form token checked before the handler runs). A run is only ever found
by its id, a dictionary key, never a path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ..errors import SnImporterError
from ..status import Mode
from ..template import load_template
from . import present, undo
from .csrf import posted
from .parse_worker import Read, SheetChanged, WorkerStopped, parse_upload
from .runs import Live, Phase, Run
from .server import Server
from .uploads import UploadRefused, UploadTooLarge, accept

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def home(server: Server):
    async def home(request: Request) -> Response:
        await run_in_threadpool(server.tidy)
        return server.upload_page(request)

    return home


def upload(server: Server):
    @posted(max_files=1, max_fields=5)
    async def upload(request: Request, form) -> Response:
        chosen = form.get("template")
        if chosen not in server.settings.templates:
            return server.upload_page(request, 400, "Pick one of the templates in the list.")
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return server.upload_page(request, 400, "Choose a file to upload first.", chosen)
        await run_in_threadpool(server.tidy)
        try:
            run = await run_in_threadpool(accept, server, file, str(chosen))
        except UploadTooLarge as exc:
            return server.upload_page(request, 413, str(exc), chosen)
        except UploadRefused as exc:
            return server.upload_page(request, 400, str(exc), chosen)
        server.queue.submit(run, Mode.PREVIEW)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return upload


def run_page(server: Server):
    async def page(request: Request) -> Response:
        run = server.find(request)
        live = run.snapshot()
        page = "undo.html" if run.kind == "undo" else "run.html"  # an undo is a run of its own (undo.py)
        return server.render(request, page, run=run, view=run.view, phase=run.phase.value,
                             moving=run.phase.moving, live=live, place=_place(server, run), **_live(server, run, live),
                             error=run.error, mode=_mode(run), undo=undo.offer(server, run))

    return page


def _mode(run: Run) -> Mode:
    """The mode of what the page shows: the latest run's, the offline check's before one, apply's
    for a run kept from an earlier server (its job is not kept)."""
    if run.ran is not None and run.kind == "apply":
        return Mode(run.ran)
    return Mode.VALIDATE if run.job is not None or run.sheet is not None else Mode.APPLY


def _place(server: Server, run: Run) -> dict:
    """Where the run stands in the queue, as the page and its status JSON say it."""
    place = server.queue.position(run)
    if place is None:  # between phases: not (or no longer) in the queue
        return {"running": run.phase in (Phase.CHECKING, Phase.RUNNING), "ahead": None}
    return {"running": place.running, "ahead": place.ahead}


def status(server: Server):
    async def status(request: Request) -> Response:
        run = server.find(request)
        live = run.snapshot()
        return JSONResponse({
            "phase": run.phase.value, **_place(server, run),
            "requests": [live.requests_done, live.requests_total], "rows": [live.rows_done, live.rows_total],
            "resources": [live.resources_done, live.resources_total], **_live(server, run, live),
        }, headers={"cache-control": "no-store"})

    return status


def _live(server: Server, run: Run, live: Live) -> dict:
    """What the page and its status JSON show of a run as it goes: the figures, the counts by
    status so far, and why it stands still and for how long (``wait``; None while it moves)."""
    clock = server.settings.clock
    return {"figures": present.figures(live, run.phase == Phase.CHECKING),
            "counts": present.live_statuses(live, run.kind == "undo"),
            "wait": present.waiting(run.wait_now(clock.now()), clock)}


def _submit_if(server: Server, run, mode: Mode, waiting: Phase, allowed, before=None) -> bool:
    """Queue ``mode`` for ``run`` once: the phase moves to ``waiting`` under the run's lock,
    so a second press (or a second tab) finds it no longer allowed. ``before`` runs just
    before the run is queued."""
    with run.lock:
        go = bool(allowed())
        if go:  # the figures start from nothing for this run, not from the check's
            run.phase, run.error, run.live, run.wait = waiting, None, Live(), None
    if go:
        if before is not None:
            before()
        server.queue.submit(run, mode)
    return go


def confirm(server: Server):
    @posted()
    async def confirm(request: Request, form) -> Response:
        run = server.find(request)
        if run.phase != Phase.READY:
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
        key = await run_in_threadpool(server.journal_key, run)  # reads the whole sheet: not on the event loop
        read = await _read_again(server, run, same=True)
        who = server.who(request)

        def hand_over() -> None:
            run.sheet = read.job
            server.confirmed(run, key, who)

        if read is not None:
            _submit_if(server, run, Mode.APPLY, Phase.WAITING,
                       lambda: run.phase == Phase.READY and run.view and run.view["confirm"]["serials"] > 0,
                       before=hand_over)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return confirm


def resume(server: Server):
    """A run the server stopped in the middle of: read its sheet again and apply it; the journal
    skips what was done (nothing is sent twice)."""

    @posted()
    async def resume(request: Request, form) -> Response:
        run = server.find(request)
        if run.phase != Phase.INTERRUPTED or run.id in server.resuming:
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
        if not run.upload.is_file():
            raise HTTPException(410, f"“{run.filename}” is no longer kept (sheets are kept for "
                                     f"{server.settings.keep_days:g} days). Upload it again: the journal "
                                     "still knows what was done.")
        server.resuming.add(run.id)
        try:
            try:
                template = load_template(server.settings.templates[run.template])
                run.job = await run_in_threadpool(parse_upload, run.upload, template, run.filename)
            except (SnImporterError, WorkerStopped) as exc:
                raise HTTPException(400, f"“{run.filename}” could not be read again: {exc}") from None
            run.view = {**present.read_view(run.job, run.filename), "confirm": {"label": "Resume the run"}}
            run.confirmed_by = server.who(request)
            server.registry.add(run)
            _submit_if(server, run, Mode.APPLY, Phase.WAITING, lambda: run.phase == Phase.INTERRUPTED)
        finally:
            server.resuming.discard(run.id)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return resume


def check_again(server: Server):
    @posted()
    async def check(request: Request, form) -> Response:
        run = server.find(request)

        def allowed() -> bool:
            return run.phase in (Phase.READY, Phase.BROKEN) and (run.job is not None or run.upload.is_file())

        if allowed():
            read = await _read_again(server, run, same=False)

            def keep() -> None:
                run.sheet, run.fingerprint = read.job, read.fingerprint

            _submit_if(server, run, Mode.PREVIEW, Phase.CHECK_WAITING, allowed, before=keep)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return check


async def _read_again(server: Server, run: Run, same: bool) -> Read | None:
    """The run's sheet read again from its upload (in the parse worker, beside the queue): a check
    shown holds no sheet in the server. ``same``: it must be the job that was checked; when it is
    not, the run is broken with a sentence that says so (None), and its page offers to check again."""
    try:
        return await run_in_threadpool(server.sheet_again, run, same)
    except SheetChanged as exc:
        with run.lock:
            if run.phase == Phase.READY:
                run.error, run.phase = str(exc), Phase.BROKEN
        return None
    except (SnImporterError, WorkerStopped) as exc:
        raise HTTPException(400, f"“{run.filename}” could not be read again: {exc}") from None


def download(server: Server):
    async def download(request: Request) -> Response:
        run = server.find(request)
        if run.output is None or not run.output.is_file():
            days = server.settings.keep_days
            raise HTTPException(404 if run.output is None else 410,
                                "There is no workbook for this run." if run.output is None else
                                f"This run's workbook was removed: workbooks are kept for {days:g} days.")
        what = "results" if run.phase == Phase.DONE else "preview"
        name = _download_name(run.filename, f"results.undo{'' if run.phase == Phase.DONE else '-check'}"
                              if run.kind == "undo" else what)
        return FileResponse(run.output, media_type=XLSX, headers={"content-disposition": _disposition(name)})

    return download


def _download_name(filename: str, what: str) -> str:
    stem = Path(filename).stem or "serials"
    return f"{stem}.{what}.xlsx"


def _disposition(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in " ._-()") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def blank(server: Server):
    async def blank(request: Request) -> Response:
        name = request.query_params.get("template", server.settings.template)
        if name not in server.settings.templates:
            raise HTTPException(404, "There is no template of that name.")
        try:
            content = await run_in_threadpool(_blank_bytes, server.settings.templates[name])
        except SnImporterError as exc:  # the template's file was changed since the server started
            raise HTTPException(500, f"The blank sheet of “{name}” cannot be made: {exc}. "
                                     "Ask whoever runs this page to fix the template.") from None
        return Response(content, media_type=XLSX,
                        headers={"content-disposition": _disposition(f"serial-numbers-{name}.xlsx")})

    return blank


def _blank_bytes(template_path: Path) -> bytes:
    from ..blank import write_blank_sheet

    with tempfile.TemporaryDirectory() as folder:
        path = write_blank_sheet(Path(folder) / "blank.xlsx", load_template(template_path))
        return path.read_bytes()


__all__ = ["blank", "check_again", "confirm", "download", "home", "resume", "run_page", "status", "upload"]
