"""One check against Katana, in a process of its own that exits when the check is shown.

A check builds the sheet's tables again and again (the preview's rows,
findings, the workbook, the page's view): tens of megabytes for a large
sheet. Built in the page's server, that memory stays with it after the check
(a freed heap stays fragmented), round after round. So the whole check runs
in a child process (forked by :mod:`.check_worker`), which sends back only
what the page shows, and exits: its memory goes with it.

What goes through the child's private connection (pickled messages):

1. child → server: ``("ready", pid)``, once it turns SIGTERM into its own stop
   request (the server stops a check as Ctrl-C stops the command line: nothing
   more is sent, what is in flight settles, every row keeps a true status).
   Ctrl-C in the server's terminal reaches the child too; it ignores it, as
   its forking server does: the server's own stop request follows;
2. server → child: a :class:`CheckRequest`: the job as the parse worker read
   it (pickled) and the Katana key, which reaches the child this way only
   (never through its environment or a file);
3. child → server, while Katana is asked: ``("progress", Progress)`` and
   ``("wait", seconds, reason)`` as they come, then ``("checked", counts)``:
   the queue moves on (or ``("failed", sentence)``: the check could not be done);
4. server → child: ``"write"``, when one of the page's places for writing is
   free; the child writes the annotated workbook within the workers' memory
   and processor limits (no wall-time limit: a check may have waited minutes
   for Katana's quota before) and makes the page's view;
5. child → server: ``("done", CheckOutcome)``, and it exits.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from ..clock import Clock
from ..errors import SnImporterError
from ..guard import Limits, size
from ..interrupt import Interrupt
from ..status import Mode, Origin
from .runs import STOPPING

log = logging.getLogger("sn_importer.web")

#: The child's exit code when it ran out of memory in a way it could still report.
OUT_OF_MEMORY = 3
#: The child's exit code when the page's server went away during the check.
SERVER_GONE = 4


@dataclass(frozen=True)
class CheckRequest:
    """What a check's child needs, sent through its private connection: the sheet and the key included."""

    sheet: bytes = field(repr=False)   # the job as the parse worker read it, pickled
    filename: str                      # as the person named the file
    target: Path                       # where the annotated workbook goes
    base_url: str
    api_key: str = field(repr=False)
    state_dir: Path
    sandbox: bool                      # the server's own sandbox: named so on the page and in the workbook
    clock: Clock
    quota_share: float                 # resolved by the server: the child's environment is minimal
    grace: float                       # how long what is in flight may settle after a stop request
    limits: Limits


@dataclass(frozen=True)
class CheckOutcome:
    """What comes back of a check: only what the page shows and the confirm step uses."""

    view: dict
    error: str | None
    output: str | None                 # the annotated workbook, if it could be written
    counts: dict[str, int]


def stamp(result, sandbox: bool) -> None:
    """Mark a run's (or an undo's) result as the page's: the Summary's advice speaks to the page,
    and the server's own sandbox is named "built-in sandbox", not by its loopback URL."""
    result.origin = Origin.WEB
    if sandbox:
        result.sandbox = "with the page's server"


def tenant_estimate(state_dir: Path, base_url: str, api_key: str, share: float, clock: Clock, requests: int,
                    words=None) -> str:
    """About how long ``requests`` take on the tenant: the one estimate the command line shows too
    (:mod:`sn_importer.estimate`'s ``wait_text``, or ``words`` of it)."""
    from ..estimate import tenant_ledger, wait_text

    ledger = tenant_ledger(state_dir, base_url, api_key, share, clock)
    try:
        return (words or wait_text)(ledger, requests)
    finally:
        ledger.close()


# --------------------------------------------------------------------------- in the child


def main(fd: int) -> int:
    """The child's life: its exit code (0 when it could say how the check went)."""
    connection = Connection(fd)
    interrupt = Interrupt(resume="upload the sheet again after the restart to check it")

    def stop(signum, frame) -> None:  # the server is stopping: stop as Ctrl-C stops the command line
        interrupt.request(STOPPING)

    signal.signal(signal.SIGTERM, stop)
    try:
        connection.send(("ready", os.getpid()))
        request: CheckRequest = connection.recv()
        interrupt.grace = request.grace
        _limit_memory(request.limits)
        _check(connection, request, interrupt)
        return 0
    except MemoryError:
        return OUT_OF_MEMORY
    except (EOFError, OSError):
        return SERVER_GONE
    except Exception:  # a bug: said in plain words on the page, in full in the server's log
        log.exception("a check stopped on an unexpected error")
        try:
            connection.send(("failed", "the check stopped on an unexpected error; the server log has the details"))
        except OSError:
            pass
        return 0


class _Reports:
    """The library's progress callback and the client's wait hook, sent to the server as they come.
    When the server has gone, the check stops as if it had been asked to."""

    def __init__(self, connection: Connection, interrupt: Interrupt):
        self.connection, self.interrupt = connection, interrupt
        self.gone = False

    def progress(self, report) -> None:
        self._send(("progress", report))

    def wait(self, seconds: float, reason: str) -> None:
        self._send(("wait", seconds, reason))

    def _send(self, message: tuple) -> None:
        if self.gone:
            return
        try:
            self.connection.send(message)
        except OSError:  # the server is gone: nobody to tell, nobody to show the check to
            self.gone = True
            self.interrupt.request("the page's server is gone")


def _check(connection: Connection, request: CheckRequest, interrupt: Interrupt) -> None:
    reports = _Reports(connection, interrupt)
    job = pickle.loads(request.sheet)  # made by our own parse worker, sent by the server through the pipe
    try:
        result = job.preview(base_url=request.base_url, api_key=request.api_key, state_dir=request.state_dir,
                             progress=reports.progress, interrupt=interrupt, origin=Origin.WEB,
                             client_options={"clock": request.clock, "on_wait": reports.wait},
                             quota_share=request.quota_share)
    except SnImporterError as exc:
        connection.send(("failed", str(exc)))
        return
    del job
    stamp(result, request.sandbox)
    connection.send(("checked", result.counts()))
    if connection.recv() != "write":
        return
    _limit_processor(request.limits)
    _write(result, request)
    connection.send(("done", CheckOutcome(_view(result, request), result.error,
                                          str(result.output) if result.output else None, result.counts())))


def _write(result, request: CheckRequest) -> None:
    """The annotated workbook; when it cannot be written, a note on the result says why (the check
    is shown all the same)."""
    try:
        result.write(request.target)
        return
    except (SnImporterError, OSError) as exc:
        why = str(exc)
    except MemoryError:
        why = f"writing it needed more than {size(request.limits.worker_memory_bytes)} of memory"
    result.output = None
    result.notes.append(f"The annotated workbook could not be written: {why}")


def _view(result, request: CheckRequest) -> dict:
    """The check's view, with what applying costs in the words ``preview`` prints (one estimate)."""
    from ..estimate import apply_estimate
    from .present import preview_view

    estimate = result.apply_estimate or tenant_estimate(
        request.state_dir, request.base_url, request.api_key, request.quota_share, request.clock,
        result.requests_needed(Mode.APPLY), apply_estimate)
    return preview_view(result, request.filename, estimate)


def _limit_memory(limits: Limits) -> None:
    """Address space: what the child holds now plus the workers' allowance."""
    with open("/proc/self/statm") as handle:
        held = int(handle.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (held + limits.worker_memory_bytes, held + limits.worker_memory_bytes))


def _limit_processor(limits: Limits) -> None:
    """Processor time for the workbook and the view: the workers' allowance from now on (waiting for
    Katana took next to none, but a large sheet's preview did take some)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    now = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (now + limits.worker_cpu_seconds, now + limits.worker_cpu_seconds + 5))


__all__ = ["CheckOutcome", "CheckRequest", "main", "stamp", "tenant_estimate"]
