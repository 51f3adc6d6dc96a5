"""The web page: upload a sheet, see the check, confirm, watch it run, download the result.

A Starlette app over the same library calls as the command line
(``Job``, ``Job.preview``/``Job.apply`` and the ``RunResult`` they return, the journal); it has
no logic of its own beyond presentation. Every call that talks to Katana goes
through one :class:`~.runs.RunQueue`, so a tenant's runs go one at a time
through its shared quota. Pages are rendered on the server; a little
JavaScript (``static/app.js``) adds drag-and-drop and live progress.

:func:`create_app` takes the connection ready made: ``sn-importer serve``
(``cli/serve.py``) starts one sandbox for the server's lifetime with
``--sandbox``, so preview and apply see the same tenant state.
"""

from __future__ import annotations

import getpass
import logging
import math
import shutil
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import formats
from ..clock import SYSTEM, Clock
from ..errors import InputError, SnImporterError
from ..filesafety import private_dir, private_file
from ..interrupt import Interrupt
from ..journal import Journal, run_key
from ..template import available_templates, load_template
from . import present
from .present import plural
from ..status import Mode, Origin
from .parse_worker import parse_upload, write_result
from .retention import Retention
from .runs import Live, Phase, Registry, Run, RunQueue, new_id
from .security import (SESSION_COOKIE, BodyTooLarge, CsrfRefused, Guard, UploadRefused, UploadTooLarge, check_upload,
                       csrf_token, display_name, posted, secure_cookies, stored_name, stored_suffix, too_large,
                       user_from_header)
from .sessions import IDLE_SECONDS, LoginThrottle, Logins, Sessions
from .users import Users

HERE = Path(__file__).resolve().parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
log = logging.getLogger("sn_importer.web")


@dataclass
class WebSettings:
    """What the server is started with. The key stays here: no page or view ever gets it."""

    base_url: str
    api_key: str = field(repr=False)
    state_dir: Path
    template: str = "default"                       # preselected on the upload page
    templates: dict[str, Path] = field(default_factory=available_templates)
    max_upload_bytes: int = 20 * 2**20
    #: The team's shared password; without it (and without ``users``) the page opens with a one-time link.
    password: str | None = field(default=None, repr=False)
    #: Per-person logins (``--users-file``).
    users: Users | None = field(default=None, repr=False)
    #: The one-time link's token (made at random when not given); ``serve`` prints the link.
    token: str | None = field(default=None, repr=False)
    #: Who the one-time link logs in: the user the server runs as.
    operator: str = field(default_factory=lambda: _operator())
    #: A session ends after this many seconds without a request (and 12 hours after login in any case).
    idle_seconds: float = IDLE_SECONDS
    sandbox: bool = False
    #: Mark cookies ``Secure`` although requests arrive as plain HTTP (behind an HTTPS proxy).
    secure_cookies: bool = False
    #: An HTTPS proxy in front speaks to the browsers: cookies ``Secure``, answers with HSTS.
    behind_https_proxy: bool = False
    #: The header in which that proxy names the person (who confirmed a run); only behind a proxy.
    trusted_user_header: str | None = None
    #: Host names the page answers to besides ``localhost`` and IP literals (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    keep_days: float = 30                           # uploads and workbooks
    keep_history_days: float = 365                  # a finished run's record: its page and History line
    #: Where the server's time comes from: sessions, logins, the quota estimate, retention, runs and their stamps.
    clock: Clock = field(default=SYSTEM, repr=False)

    @property
    def target(self) -> str:
        """Where runs go, as the page names it."""
        if self.sandbox:
            return "the built-in sandbox (simulated Katana; nothing real changes)"
        return urlsplit(self.base_url).netloc or self.base_url


class Server:
    """The app's moving parts: folders, runs, queue, quota watch, templates."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        private_dir(settings.state_dir)
        web = private_dir(Path(settings.state_dir) / "web")  # uploads, workbooks and records: the operator's alone
        self.uploads, self.results = private_dir(web / "uploads"), private_dir(web / "results")
        self.registry = Registry(web / "runs")
        self.retention = Retention(web, settings.keep_days, settings.keep_history_days, settings.clock)
        self.queue = RunQueue(self.execute)
        #: Requested when the server stops: a run in progress stops sending, settles and is reported.
        self.interrupt = Interrupt(grace=5.0)
        self.sessions = Sessions(idle=settings.idle_seconds, clock=settings.clock)
        self.logins = Logins(settings.password, settings.users, settings.token, settings.operator)
        self.throttle = LoginThrottle(settings.clock)
        self.resuming: set[str] = set()
        self.pages = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.pages.globals["plural"] = present.plural
        self.pages.filters["when"] = present.when
        self.pages.globals.update(formats_accept=formats.web_accept(), formats_short=formats.short_list(web_only=True),
                                  formats_described=formats.describe(web_only=True))
        self.template_choices = _describe(settings.templates)

    # --- running (on the worker thread) --------------------------------------

    def execute(self, run: Run, mode: Mode) -> None:
        """Preview or apply one run; called by the queue, one at a time."""
        mode = Mode(mode)
        run.phase = Phase.CHECKING if mode == Mode.PREVIEW else Phase.RUNNING
        job = run.job
        runner = job.preview if mode == Mode.PREVIEW else job.apply
        try:
            result = runner(base_url=self.settings.base_url, api_key=self.settings.api_key,
                            state_dir=self.settings.state_dir, progress=run.progress, interrupt=self.interrupt,
                            client_options={"clock": self.settings.clock})
        except SnImporterError as exc:
            run.error, run.phase = str(exc), Phase.BROKEN
            return
        run.result = result
        if mode == Mode.APPLY:
            result.confirmed_by = run.confirmed_by
        run.count_now()
        result.origin = Origin.WEB
        run.output = self._write(result, self.results / f"{run.id}-{mode.value}.xlsx")
        if mode == Mode.PREVIEW:
            self._previewed(run, result)
        else:
            self._applied(run, result)

    def estimate(self, requests: int) -> str:
        """About how long ``requests`` take on the tenant: the one estimate the command line shows too."""
        from ..estimate import tenant_ledger, wait_text
        from ..settings import resolve_quota_share

        ledger = tenant_ledger(self.settings.state_dir, self.settings.base_url, self.settings.api_key,
                               resolve_quota_share(), self.settings.clock)
        try:
            return wait_text(ledger, requests)
        finally:
            ledger.close()

    def _write(self, result, target: Path) -> Path | None:
        """The annotated workbook, written by the worker (within its limits); None, with a note
        on the result, when the worker could not write it."""
        try:
            return write_result(result, target)
        except (SnImporterError, UploadRefused) as exc:
            result.notes.append(f"The annotated workbook could not be written: {exc}")
            return None

    def _previewed(self, run: Run, result) -> None:
        requests = result.requests_needed(Mode.APPLY)
        estimate = self.estimate(requests)
        run.view = present.preview_view(result, run.filename, estimate)
        run.error = result.error
        run.phase = Phase.BROKEN if result.error else Phase.READY

    def _applied(self, run: Run, result) -> None:
        run.view = present.result_view(result, run.filename)
        self.registry.save(run, {"run_id": result.run_id, "filename": run.filename, "template": run.template,
                                 "output": run.output.name if run.output else None, "view": run.view,
                                 "finished_at": result.finished_at, "confirmed_by": run.confirmed_by})
        run.phase = Phase.DONE

    def tidy(self) -> None:
        """Remove uploads, workbooks and records past their retention (at most once an hour)."""
        if not self.retention.due():
            return
        removed = self.retention.sweep(self.registry.busy_ids())
        self.registry.drop_records({p.stem for p in removed if p.parent.name == "runs"})

    # --- pages ----------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        current, waiting = self.queue.lineup()
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        page = self.pages.get_template(name).render(
            csrf=csrf_token(request), target=self.settings.target, sandbox=self.settings.sandbox,
            login=session is not None, user=self.who(request) if session else None, path=request.url.path,
            lineup={"current": current, "waiting": waiting}, **context)
        return HTMLResponse(page, status_code=status)

    def render_error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, message=message, status_code=status)

    def upload_page(self, request: Request, status: int = 200, problem: str | None = None,
                    chosen: str | None = None) -> HTMLResponse:
        return self.render(request, "upload.html", status=status, problem=problem,
                           templates=self.template_choices, chosen=chosen or self.settings.template,
                           max_mb=self.settings.max_upload_bytes // 2**20,
                           max_bytes=self.settings.max_upload_bytes)

    def find(self, request: Request) -> Run:
        """The run named in the URL: live, or rebuilt from its record after a restart."""
        run_id = request.path_params["run_id"]
        run = self.registry.get(run_id)
        if run is not None:
            return run
        record = self.registry.record(run_id)
        if record is None:
            gone = self.registry.gone(run_id)
            if gone is not None:
                raise HTTPException(410, f"The check of “{gone}” is no longer kept: the server keeps only its "
                                         "latest runs. Upload the sheet again to check it.")
            raise HTTPException(404, "There is no run at this address. See History for past runs.")
        if "view" not in record:  # confirmed, never finished: the server stopped during the run
            return Run(id=run_id, filename=record["filename"], template=record["template"],
                       upload=self.uploads / record["upload"], phase=Phase.INTERRUPTED,
                       view={"filename": record["filename"], "template": record["template"]},
                       confirmed_by=record.get("confirmed_by"))
        output = self.results / Path(record["output"]).name if record.get("output") else None
        return Run(id=run_id, filename=record["filename"], template=record["template"], upload=Path(),
                   phase=Phase.DONE, view=record["view"], output=output, confirmed_by=record.get("confirmed_by"))

    def journal_key(self, run: Run) -> str:
        """The key the journal will file this run's apply under (same file, template and Katana)."""
        return run_key(run.upload, self.settings.templates[run.template], self.settings.base_url)

    def confirmed(self, run: Run, key: str, who: str) -> None:
        """Keep a record as soon as a run is confirmed (before it is queued, so the finished run's
        record always comes after it): a restart in the middle can then offer to resume it, and the
        journal key ties it to the journal's entry, which History lists, with who confirmed it."""
        run.confirmed_by = who
        self.registry.save(run, {"filename": run.filename, "template": run.template, "journal_key": key,
                                 "upload": run.upload.relative_to(self.uploads).as_posix(), "confirmed_by": who})

    def who(self, request: Request) -> str:
        """The person behind a request: the name the proxy gives (``--trusted-user-header``), else
        the session's login."""
        header = self.settings.trusted_user_header
        named = user_from_header(request, header) if header else None
        if named:
            return named
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        return session.who if session else "unknown"


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "the operator"


def _describe(templates: dict[str, Path]) -> list[tuple[str, str]]:
    """(name, description) of each template offered; a broken one is left out and logged."""
    choices = []
    for name, path in sorted(templates.items()):
        try:
            choices.append((name, load_template(path).description))
        except SnImporterError as exc:
            log.warning("template %s left out of the page: %s", name, exc)
    return choices


def create_app(settings: WebSettings) -> Starlette:
    """The ASGI app. The queue's worker starts with the app and stops with it."""
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(server.tidy)
        server.queue.start()
        try:
            yield
        finally:
            server.interrupt.request("the server is stopping")
            server.queue.stop()

    routes = [
        Route("/", _home(server), methods=["GET"], name="home"),
        Route("/upload", _upload(server), methods=["POST"], name="upload"),
        Route("/runs/{run_id:str}", _run_page(server), methods=["GET"], name="run"),
        Route("/runs/{run_id:str}/status", _status(server), methods=["GET"], name="status"),
        Route("/runs/{run_id:str}/apply", _confirm(server), methods=["POST"], name="apply"),
        Route("/runs/{run_id:str}/check", _check_again(server), methods=["POST"], name="check"),
        Route("/runs/{run_id:str}/resume", _resume(server), methods=["POST"], name="resume"),
        Route("/runs/{run_id:str}/download", _download(server), methods=["GET"], name="download"),
        Route("/history", _history(server), methods=["GET"], name="history"),
        Route("/blank", _blank(server), methods=["GET"], name="blank"),
        Route("/login", _login_page(server), methods=["GET"], name="login"),
        Route("/login", _login(server), methods=["POST"], name="login-post"),
        Route("/logout", _logout(server), methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    handlers = {
        HTTPException: lambda request, exc: server.render_error(request, exc.status_code, exc.detail),
        CsrfRefused: lambda request, exc: server.render_error(
            request, 403, "Refused: this form did not come from this page, or your page is out of date. "
                          "Go back, reload the page and try again."),
        BodyTooLarge: lambda request, exc: server.render_error(request, 413, too_large(settings.max_upload_bytes)),
        MultiPartException: lambda request, exc: server.render_error(
            request, 400, f"The form could not be read: {exc}"),
    }
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.server = server
    app.state.render_error = server.render_error
    # The form around the file adds a little: the Guard allows for it, _store holds the file to the limit.
    app.add_middleware(Guard, sessions=server.sessions, max_body=settings.max_upload_bytes + 64 * 1024,
                       limit=settings.max_upload_bytes, secure_cookies=settings.secure_cookies,
                       hosts=frozenset({"localhost", *(h.lower() for h in settings.allowed_hosts)}),
                       behind_proxy=settings.behind_https_proxy, trusted_user_header=settings.trusted_user_header)
    return app


# --------------------------------------------------------------------------- upload


def _home(server: Server):
    async def home(request: Request) -> Response:
        await run_in_threadpool(server.tidy)
        return server.upload_page(request)

    return home


def _upload(server: Server):
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
            run = await run_in_threadpool(_accept, server, file, str(chosen))
        except UploadTooLarge as exc:
            return server.upload_page(request, 413, str(exc), chosen)
        except UploadRefused as exc:
            return server.upload_page(request, 400, str(exc), chosen)
        server.queue.submit(run, Mode.PREVIEW)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return upload


def _accept(server: Server, file: UploadFile, template: str) -> Run:
    """Store the upload in a server-chosen folder, check its content, read it: a new run."""
    filename = display_name(file.filename)
    suffix = stored_suffix(file.filename)
    run_id = new_id()
    folder = server.uploads / run_id
    target = folder / stored_name(file.filename, suffix)
    folder.mkdir(mode=0o700)
    try:
        _store(file, target, server.settings.max_upload_bytes)
        check_upload(target, suffix)
        job = parse_upload(target, load_template(server.settings.templates[template]), filename)
        _check_rows(job, filename)
    except UploadRefused:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except SnImporterError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRefused(_plain(exc, target, filename)) from None
    except Exception as exc:  # the reader met something no check foresaw: refuse, stay up
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("upload %s could not be read: %r", filename, exc)
        raise UploadRefused(f"“{filename}” could not be read as a spreadsheet ({type(exc).__name__}). "
                            "Open it in Excel, save it again and upload the new copy.") from None
    run = Run(id=run_id, filename=filename, template=template, upload=target, job=job,
              created=server.settings.clock.now())
    run.view = present.read_view(job, filename)
    return server.registry.add(run)


def _check_rows(job: "Job", filename: str) -> None:
    """A sheet with headers but no rows under them is refused: there is nothing to check."""
    if not job.counts():
        raise UploadRefused(f"“{filename}” has the headers but no rows under them: there is nothing to check. "
                            "Fill in one row per serial number and upload it again.")


def _store(file: UploadFile, target: Path, limit: int) -> None:
    file.file.seek(0)
    with open(private_file(target), "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    if target.stat().st_size > limit:
        target.unlink()
        raise UploadTooLarge(too_large(limit))


def _plain(exc: SnImporterError, stored: Path, filename: str) -> str:
    """A library message names the stored copy; the person knows the file by its own name."""
    if isinstance(exc, InputError):
        where = f" (sheet “{exc.sheet}”)" if exc.sheet else ""
        message = f"“{filename}”{where}: {exc.problem}"
    else:
        message = str(exc)
    return message.replace(str(stored), f"“{filename}”").replace(str(stored.parent), "the upload")


# --------------------------------------------------------------------------- a run


def _run_page(server: Server):
    async def page(request: Request) -> Response:
        run = server.find(request)
        live = run.snapshot()
        return server.render(request, "run.html", run=run, view=run.view, phase=run.phase.value,
                             moving=run.phase.moving, live=live, place=_place(server, run),
                             figures=present.figures(live), live_statuses=present.statuses(live.counts),
                             error=run.error, mode=_mode(run))

    return page


def _mode(run: Run) -> Mode:
    """The mode of what the page shows: the latest run's, the offline check's before one, apply's
    for a run kept from an earlier server (its job is not kept)."""
    if run.result is not None:
        return run.result.mode
    return Mode.VALIDATE if run.job is not None else Mode.APPLY


def _place(server: Server, run: Run) -> dict:
    """Where the run stands in the queue, as the page and its status JSON say it."""
    place = server.queue.position(run)
    if place is None:  # between phases: not (or no longer) in the queue
        return {"running": run.phase in (Phase.CHECKING, Phase.RUNNING), "ahead": None}
    return {"running": place.running, "ahead": place.ahead}


def _status(server: Server):
    async def status(request: Request) -> Response:
        run = server.find(request)
        live = run.snapshot()
        return JSONResponse({
            "phase": run.phase.value, **_place(server, run),
            "requests": [live.requests_done, live.requests_total], "rows": [live.rows_done, live.rows_total],
            "resources": [live.resources_done, live.resources_total],
            "figures": present.figures(live), "counts": present.statuses(live.counts),
        }, headers={"cache-control": "no-store"})

    return status


def _submit_if(server: Server, run, mode: Mode, waiting: Phase, allowed, before=None) -> bool:
    """Queue ``mode`` for ``run`` once: the phase moves to ``waiting`` under the run's lock,
    so a second press (or a second tab) finds it no longer allowed. ``before`` runs just
    before the run is queued."""
    with run.lock:
        go = bool(allowed())
        if go:  # the figures start from nothing for this run, not from the check's
            run.phase, run.error, run.live = waiting, None, Live()
    if go:
        if before is not None:
            before()
        server.queue.submit(run, mode)
    return go


def _confirm(server: Server):
    @posted()
    async def confirm(request: Request, form) -> Response:
        run = server.find(request)
        if run.phase != Phase.READY:
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
        key = await run_in_threadpool(server.journal_key, run)  # reads the whole sheet: not on the event loop
        who = server.who(request)
        _submit_if(server, run, Mode.APPLY, Phase.WAITING,
                   lambda: run.phase == Phase.READY and run.view and run.view["confirm"]["serials"] > 0,
                   before=lambda: server.confirmed(run, key, who))
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return confirm


def _resume(server: Server):
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
            template = load_template(server.settings.templates[run.template])
            try:
                run.job = await run_in_threadpool(parse_upload, run.upload, template, run.filename)
            except (SnImporterError, UploadRefused) as exc:
                raise HTTPException(400, f"“{run.filename}” could not be read again: {exc}") from None
            run.view = {**present.read_view(run.job, run.filename), "confirm": {"label": "Resume the run"}}
            run.confirmed_by = server.who(request)
            server.registry.add(run)
            _submit_if(server, run, Mode.APPLY, Phase.WAITING, lambda: run.phase == Phase.INTERRUPTED)
        finally:
            server.resuming.discard(run.id)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return resume


def _check_again(server: Server):
    @posted()
    async def check(request: Request, form) -> Response:
        run = server.find(request)
        _submit_if(server, run, Mode.PREVIEW, Phase.CHECK_WAITING,
                   lambda: run.phase in (Phase.READY, Phase.BROKEN) and run.job is not None)
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return check


def _download(server: Server):
    async def download(request: Request) -> Response:
        run = server.find(request)
        if run.output is None or not run.output.is_file():
            days = server.settings.keep_days
            raise HTTPException(404 if run.output is None else 410,
                                "There is no workbook for this run." if run.output is None else
                                f"This run's workbook was removed: workbooks are kept for {days:g} days.")
        name = _download_name(run.filename, "results" if run.phase == Phase.DONE else "preview")
        return FileResponse(run.output, media_type=XLSX, headers={"content-disposition": _disposition(name)})

    return download


def _download_name(filename: str, what: str) -> str:
    stem = Path(filename).stem or "serials"
    return f"{stem}.{what}.xlsx"


def _disposition(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in " ._-()") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


# --------------------------------------------------------------------------- history, blank sheet


def _history(server: Server):
    async def history(request: Request) -> Response:
        await run_in_threadpool(server.tidy)
        entries = await run_in_threadpool(_history_entries, server)
        return server.render(request, "history.html", entries=entries,
                             keep_days=f"{server.settings.keep_days:g}")

    return history


def _history_entries(server: Server) -> list[dict]:
    """Past applies from the journal, joined with the records (and workbooks) this server kept."""
    records = sorted(server.registry.records(), key=lambda r: r.get("finished_at") or "")
    journal = Journal(server.settings.state_dir)
    try:
        runs = journal.history(limit=200)
        kept = {r.get("run_id"): r for r in records if r.get("run_id")}
        for record in records:  # confirmed but never finished: found by the journal's key
            past = journal.past_run(record["journal_key"]) if "view" not in record and "journal_key" in record \
                else None
            if past is not None:
                kept.setdefault(past.run_id, record)
    finally:
        journal.close()
    return [_history_entry(server, past, kept.get(past["run_id"])) for past in runs]


def _history_entry(server: Server, past: dict, record: dict | None) -> dict:
    return {
        "run_id": past["run_id"], "started_at": past["started_at"], "finished_at": past["finished_at"],
        "file": record["filename"] if record else Path(past["input"]).name,
        "template": past["template"], "target": past["base_url"],
        "statuses": present.statuses(past["statuses"] or {}),
        "download": f"/runs/{record['id']}/download" if record and _kept(server, record) else None,
        "page": f"/runs/{record['id']}" if record else None,
        "from_page": record is not None,
        "confirmed_by": record.get("confirmed_by") if record else None,
        "interrupted": record is not None and "view" not in record and not past["finished_at"],
    }


def _kept(server: Server, record: dict) -> bool:
    return bool(record.get("output")) and (server.results / Path(record["output"]).name).is_file()


def _blank(server: Server):
    async def blank(request: Request) -> Response:
        name = request.query_params.get("template", server.settings.template)
        if name not in server.settings.templates:
            raise HTTPException(404, "There is no template of that name.")
        content = await run_in_threadpool(_blank_bytes, server.settings.templates[name])
        return Response(content, media_type=XLSX,
                        headers={"content-disposition": _disposition(f"serial-numbers-{name}.xlsx")})

    return blank


def _blank_bytes(template_path: Path) -> bytes:
    from ..blank import write_blank_sheet

    with tempfile.TemporaryDirectory() as folder:
        path = write_blank_sheet(Path(folder) / "blank.xlsx", load_template(template_path))
        return path.read_bytes()


# --------------------------------------------------------------------------- login


def _login_page(server: Server):
    """The login form; with ``?token=``, the one-time link ``serve`` printed."""

    async def page(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            verdict, seconds, who = server.throttle.attempt(_address(request), lambda: server.logins.redeem(given))
            if verdict == "in":
                return _logged_in(server, request, who)
            return _login_refused(server, request, verdict, seconds)
        if server.sessions.valid(request.cookies.get(SESSION_COOKIE)):
            return RedirectResponse("/", status_code=303)
        return server.render(request, "login.html", problem=None, kind=server.logins.kind)

    return page


def _login(server: Server):
    @posted()
    async def login(request: Request, form) -> Response:
        name, given = form.get("name", ""), form.get("password", "")
        if server.logins.kind == "link" or not isinstance(given, str) or not isinstance(name, str):
            return _login_refused(server, request, "wrong", 0.0)
        verdict, seconds, who = await run_in_threadpool(
            server.throttle.attempt, _address(request), lambda: server.logins.check(name, given))
        if verdict != "in":
            return _login_refused(server, request, verdict, seconds)
        return _logged_in(server, request, who)

    return login


def _address(request: Request) -> str:
    """The client's address (behind a proxy on this computer, the one the proxy names)."""
    return request.client.host if request.client else "unknown"


def _logged_in(server: Server, request: Request, who: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, server.sessions.open(who), httponly=True, samesite="lax",
                        max_age=int(server.sessions.seconds), secure=secure_cookies(request))
    return response


def _login_refused(server: Server, request: Request, verdict: str, seconds: float) -> Response:
    """A wrong password or a spent link (403), or a try inside a pause (429, the password not looked at)."""
    wait = f"Wait {plural(math.ceil(seconds), 'second')}, then try again."
    if verdict == "wrong" and server.logins.kind == "link":
        status, problem = 403, ("This link is spent or wrong: the link sn-importer serve printed logs in once. "
                                "Restart the server for a new one, or serve with --password-env or --users-file.")
    elif verdict == "wrong":
        status, problem = 403, "That is not the password." + (f" {wait}" if seconds >= 2 else "")
    else:
        status, problem = 429, f"Too many wrong passwords were tried. {wait}"
    response = server.render(request, "login.html", status=status, problem=problem, kind=server.logins.kind)
    if seconds:
        response.headers["retry-after"] = str(math.ceil(seconds))
    return response


def _logout(server: Server):
    @posted()
    async def logout(request: Request, form) -> Response:
        server.sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return logout
