"""A check from the page, as the server runs it: in a process of its own that exits.

The check's turn in the one queue (:func:`execute`, on the queue's thread)
starts its child (:mod:`.check_worker`), hands it the sheet and the key, and
applies its progress and waits to the run as they come, so the page shows
live figures and why it stands still. Once Katana is done with, the queue
moves on to the next run; the child then writes the workbook and makes the
page's view beside the queue (:func:`finish`, in the server's pool for that,
two at once) and sends back only that view, its counts and where the
workbook is. The server never holds the check's rows.

When the server stops, a check stops as the command line does on Ctrl-C
(its child is sent SIGTERM) and is shown as interrupted. A child that dies
(killed, out of memory) leaves a broken check with a plain sentence; the
page goes on serving everyone.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import SnImporterError
from ..guard import LIMITS
from ..status import Mode
from . import check_worker
from .check_child import OUT_OF_MEMORY, SERVER_GONE, CheckOutcome, CheckRequest
from .parse_worker import WorkerStopped, why_stopped
from .runs import Phase, Run

if TYPE_CHECKING:
    from .check_worker import Child
    from .server import Server

log = logging.getLogger("sn_importer.web")
UNEXPECTED = "the check stopped on an unexpected error; the server log has the details"


def execute(server: Server, run: Run) -> None:
    """The check's turn in the queue: only its Katana calls hold it."""
    run.phase, run.ran, run.wait = Phase.CHECKING, Mode.PREVIEW.value, None
    try:
        if run.sheet is None:  # checked again: its upload is read again (in the parse worker)
            read = server.sheet_again(run, same=False)
            run.sheet, run.fingerprint = read.job, read.fingerprint
        request = _request(server, run)
        child = check_worker.start()
    except (SnImporterError, WorkerStopped) as exc:
        run.error, run.phase = str(exc), Phase.BROKEN
        return
    run.sheet, run.child = None, child.pid  # the child has the sheet now; the server keeps none
    unlisten = server.interrupt.listen(lambda: child.stop(server.interrupt.count))
    try:
        got = follow(run, child, server.settings.clock) if _begin(server, child, request) else None
        if got is not None and got[0] == "checked":
            with run.lock:
                run.live.counts = dict(got[1])
            server.finishing.submit(server.finish_check, run, child, unlisten)
            return
    except BaseException:
        unlisten()
        _end(child, kill=True)
        raise
    unlisten()
    status = _end(child, kill=got is not None and got[0] != "failed")
    run.error, run.phase = _why(run, got, status, writing=False), Phase.BROKEN


def finish(server: Server, run: Run, child: Child, unlisten: Callable[[], None]) -> None:
    """Let the child write the workbook and make the page's view (beside the queue), and show it."""
    try:
        try:
            child.send("write")
            got = follow(run, child, server.settings.clock)
        except OSError:
            got = None
        unlisten()
        status = _end(child, kill=got is not None and got[0] not in ("done", "failed"))
        if got is not None and got[0] == "done":
            _show(run, got[1])
            return
        run.error, run.phase = _why(run, got, status, writing=True), Phase.BROKEN
    except Exception:  # a bug must not leave the run "checking" for ever
        log.exception("check %s could not be finished", run.id)
        unlisten()
        _end(child, kill=True)
        run.error, run.phase = UNEXPECTED, Phase.BROKEN


def follow(run: Run, child: Child, clock) -> tuple | None:
    """Apply the child's progress reports and waits to the run as they arrive, until it says something
    else (that message); None when it has gone without a word."""
    while True:
        try:
            message = child.recv()
        except (EOFError, OSError):
            return None
        if message[0] == "progress":
            run.progress(message[1])
        elif message[0] == "wait":  # on the server's clock: seconds from now, as the client said
            run.waiting(clock.now() + message[1], message[2])
        else:
            return message


def _begin(server: Server, child: Child, request: CheckRequest) -> bool:
    """Wait for the child to take stop requests, stop it at once if the server is stopping already,
    and hand it the check. False when it has gone."""
    try:
        if child.recv()[0] != "ready":
            return False
        child.ready()
        if server.interrupt.requested:
            child.stop(server.interrupt.count)
        child.send(request)
    except (EOFError, OSError):
        return False
    return True


def _request(server: Server, run: Run) -> CheckRequest:
    from ..settings import resolve_quota_share

    settings = server.settings
    return CheckRequest(sheet=run.sheet, filename=run.filename, target=server.results / f"{run.id}-preview.xlsx",
                        base_url=settings.base_url, api_key=settings.api_key, state_dir=Path(settings.state_dir),
                        sandbox=settings.sandbox, clock=settings.clock, quota_share=resolve_quota_share(),
                        grace=server.interrupt.grace, limits=LIMITS)


def _show(run: Run, outcome: CheckOutcome) -> None:
    run.output = Path(outcome.output) if outcome.output else None
    run.view, run.error = outcome.view, outcome.error
    with run.lock:
        run.live.counts = dict(outcome.counts)
    run.phase = Phase.BROKEN if outcome.error else Phase.READY


def _end(child: Child, kill: bool) -> int | None:
    """The child's exit status once it has gone; ``kill``: it may still be running, end it first
    (a child whose connection closed, or that said its last word, has exited or is exiting)."""
    if kill:
        child.kill()
    return child.end()


def _why(run: Run, got: tuple | None, status: int | None, writing: bool) -> str:
    """Why a check could not be shown, in a plain sentence."""
    if got is not None and got[0] == "failed":
        return got[1]
    what = f"Writing the workbook of “{run.filename}”" if writing else f"Checking “{run.filename}”"
    if status == SERVER_GONE:
        return f"{what} stopped: it lost touch with the page's server. Press Check again."
    if status in (OUT_OF_MEMORY, -signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGXCPU):
        return why_stopped(what, status, LIMITS)
    code = f" (code {status})" if status is not None else ""
    return f"{what} stopped unexpectedly{code}. Press Check again; the server log may say more."


__all__ = ["execute", "finish", "follow"]
