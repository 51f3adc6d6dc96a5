"""The page's server: what it was started with, and its moving parts.

:class:`WebSettings` is what ``sn-importer serve`` starts the page with (the
connection ready made, the ways to log in, what the page keeps and for how
long); :class:`Server` holds the parts every route uses: the folders under
the state directory (the operator's alone), the runs and their one queue,
sessions and logins, the page templates. It runs the library's calls
(``Job.apply``, the annotated workbook written in the limited worker) on the
queue's thread, and a check in a process of its own (:mod:`.checks`); it has
no logic of its own beyond that.
"""

from __future__ import annotations

import getpass
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import formats
from ..clock import SYSTEM, Clock
from ..errors import SnImporterError
from ..filesafety import private_dir
from ..interrupt import Interrupt
from ..journal import run_key
from ..memory import give_back
from ..status import Mode, Origin, StopKind
from ..template import available_templates, load_template
from . import checks, present, undo
from .check_child import stamp, tenant_estimate
from .csrf import csrf_token
from .guard import user_from_header
from .parse_worker import (WORKERS, Read, SheetChanged, WorkerStopped, parse_upload, read_upload, unpickle_job,
                           write_result)
from .retention import Retention
from .runs import Phase, Registry, Run, RunQueue
from .sessions import IDLE_SECONDS, SESSION_COOKIE, LoginThrottle, Logins, Sessions
from .users import Users

HERE = Path(__file__).resolve().parent
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
        #: Where workbooks are written and views made once the queue is done with a run (two at once).
        self.finishing = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="sn-web-finish")
        #: Requested when the server stops: a run in progress stops sending, settles and is reported.
        #: Whether a run was going when the server was asked to stop (what ``serve`` says as it ends).
        self.stopped_a_run = False
        self.interrupt = Interrupt(grace=5.0, resume="after the restart, open the run's page (or History) and "
                                                      "resume it")
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
        """Check or apply one run (or check or run an undo, :mod:`.undo`); called by the queue, one at a
        time. Only the Katana calls hold the queue: a check's workbook and view are made in its own
        process beside it (:mod:`.checks`), an apply's in :meth:`finish`, so the next run starts at once."""
        if mode in undo.MODES:
            return undo.execute(self, run, mode)
        if Mode(mode) == Mode.PREVIEW:
            return checks.execute(self, run)
        run.phase, run.ran = Phase.RUNNING, Mode.APPLY.value
        try:
            job = run.job or (unpickle_job(run.sheet) if run.sheet is not None else self.read_again(run))
            result = job.apply(base_url=self.settings.base_url, api_key=self.settings.api_key,
                               state_dir=self.settings.state_dir, progress=run.progress, interrupt=self.interrupt,
                               client_options=self.client_options(run), origin=Origin.WEB)
        except (SnImporterError, WorkerStopped) as exc:
            run.error, run.phase = str(exc), Phase.BROKEN
            return
        run.job, run.result = job, result
        result.confirmed_by = run.confirmed_by
        run.count_now()
        self.stamp(result)
        self.finishing.submit(self.finish, run, result)

    def finish(self, run: Run, result) -> None:
        """Write the workbook and the page's view of an apply the queue is done with (in the limited
        worker, beside the queue), then let go of its rows, so the server's memory returns near its
        idle size between runs."""
        try:
            run.output = self._write(result, self.results / f"{run.id}-{Mode.APPLY.value}.xlsx")
            phase = self._applied(run, result)
        except Exception:  # a bug must not leave the run "running" for ever
            log.exception("run %s (apply) could not be finished", run.id)
            run.error, phase = "the run stopped on an unexpected error; the server log has the details", Phase.BROKEN
        if phase == Phase.DONE:
            run.job = run.result = run.sheet = None
        del result
        give_back()
        run.phase = phase

    def finish_check(self, run: Run, child, unlisten) -> None:
        """A check's workbook and view, made by its process beside the queue (:func:`.checks.finish`)."""
        checks.finish(self, run, child, unlisten)

    def settle(self) -> None:
        """Wait for the workbooks being written (the server is stopping); later runs get a new pool."""
        finishing, self.finishing = self.finishing, ThreadPoolExecutor(max_workers=WORKERS,
                                                                       thread_name_prefix="sn-web-finish")
        finishing.shutdown(wait=True)

    def read_again(self, run: Run):
        """A run's job, read again from its stored upload (in the limited worker), as it was checked."""
        return parse_upload(run.upload, self._template_of(run), run.filename)

    def sheet_again(self, run: Run, same: bool = True) -> Read:
        """A check's sheet read again from its stored upload (in the limited worker), still pickled:
        with the template it was read with then. ``same``: it must be the job that was checked
        (:class:`SheetChanged` if its rows differ), as when the check is confirmed."""
        read = read_upload(run.upload, self._template_of(run), run.filename)
        if same and run.fingerprint is not None and read.fingerprint != run.fingerprint:
            raise SheetChanged(f"“{run.filename}” read again is not the sheet that was checked. "
                               "Check it again before detaching anything.")
        return read

    def _template_of(self, run: Run):
        return run.template_read or load_template(self.settings.templates[run.template])

    def stamp(self, result) -> None:
        """Mark a run's (or an undo's) result as the page's (:func:`.check_child.stamp`)."""
        stamp(result, self.settings.sandbox)

    def client_options(self, run: Run) -> dict:
        """The client of a run: the server's clock, and a wait hook that tells the run's page why
        it stands still and for how long (the hook the command line prints its "Waiting …" with)."""
        clock = self.settings.clock
        return {"clock": clock, "on_wait": lambda seconds, reason: run.waiting(clock.now() + seconds, reason)}

    def estimate(self, requests: int, words=None) -> str:
        """About how long ``requests`` take on the tenant (:func:`.check_child.tenant_estimate`)."""
        from ..settings import resolve_quota_share

        settings = self.settings
        return tenant_estimate(settings.state_dir, settings.base_url, settings.api_key, resolve_quota_share(),
                               settings.clock, requests, words)

    def _write(self, result, target: Path) -> Path | None:
        """The annotated workbook, written by the worker (within its limits); None, with a note
        on the result, when the worker could not write it."""
        try:
            return write_result(result, target)
        except (SnImporterError, WorkerStopped) as exc:
            result.notes.append(f"The annotated workbook could not be written: {exc}")
            return None

    def _applied(self, run: Run, result) -> Phase:
        run.view = present.result_view(result, run.filename)
        # stopped with the server: after the restart its page offers to resume it (the journal knows the rest)
        stopped = result.stop_kind == StopKind.INTERRUPTED and self.interrupt.requested
        self.registry.save(run, {"run_id": result.run_id, "filename": run.filename, "template": run.template,
                                 "output": run.output.name if run.output else None, "view": run.view,
                                 "finished_at": result.finished_at, "confirmed_by": run.confirmed_by,
                                 "sandbox": self.settings.sandbox,
                                 **({"interrupted": True, "upload": run.upload.relative_to(self.uploads).as_posix()}
                                    if stopped else {})})
        return Phase.DONE

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
        if "view" not in record or record.get("interrupted"):  # the server stopped during the run
            return Run(id=run_id, filename=record["filename"], template=record["template"],
                       upload=self.uploads / record["upload"], phase=Phase.INTERRUPTED,
                       view={"filename": record["filename"], "template": record["template"]},
                       confirmed_by=record.get("confirmed_by"))
        output = self.results / Path(record["output"]).name if record.get("output") else None
        return Run(id=run_id, filename=record["filename"], template=record["template"], upload=Path(),
                   phase=Phase.DONE, view=record["view"], output=output, confirmed_by=record.get("confirmed_by"),
                   kind=record.get("kind", "apply"), undoes=record.get("undoes"), undone_by=record.get("undone_by"))

    def journal_key(self, run: Run) -> str:
        """The key the journal will file this run's apply under (same file, template and Katana)."""
        return run_key(run.upload, self.settings.templates[run.template], self.settings.base_url,
                       self.settings.api_key)

    def confirmed(self, run: Run, key: str, who: str) -> None:
        """Keep a record as soon as a run is confirmed (before it is queued, so the finished run's
        record always comes after it): a restart in the middle can then offer to resume it, and the
        journal key ties it to the journal's entry, which History lists, with who confirmed it."""
        run.confirmed_by = who
        self.registry.save(run, {"filename": run.filename, "template": run.template, "journal_key": key,
                                 "upload": run.upload.relative_to(self.uploads).as_posix(), "confirmed_by": who,
                                 "sandbox": self.settings.sandbox})

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


__all__ = ["Server", "WebSettings"]
