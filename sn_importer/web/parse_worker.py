"""Reading an upload, and writing its annotated workbook, in a worker process with its own limits.

The page serves everyone from one process, so an uploaded file is never
parsed, and never annotated, in it. A small server process (:func:`main`,
started at the first upload, with the library already imported) forks one
child per task: the child limits itself with ``resource.setrlimit`` (address
space, CPU seconds) and an alarm (wall time), runs the same library call as
the command line (``Job`` to read: the input guard, the reader, validation,
the plan; ``RunResult.write`` to annotate an apply's result) and sends its
outcome back through a pipe. (A check writes its own workbook, in the process
it ran in: :mod:`.check_child`.) A refusal comes back as the guard's own sentence; a child that runs
out of memory or time, or dies any other way, becomes a plain refusal of that
one file, and the page goes on serving everyone else.

Least privilege: the server process starts with a minimal environment (no
Katana key, no password: :data:`KEPT_ENVIRONMENT`), its children write files
only the server's user can read (``umask 077``), and outcomes travel through
pipes, never through a file in a folder someone else could write (a pickle
planted there would be code run by the server).

Forking from that single-threaded process, not from the threaded web server,
is what makes the fork safe; it is also why multiprocessing is not used (its
children re-import the program's main module). Two such servers take tasks
(:data:`WORKERS`): two people's sheets are read or written at once, a third
waits for one of them.
"""

from __future__ import annotations

import os
import pickle
import queue
import resource
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from .. import guard
from ..errors import InputError, SnImporterError
from ..guard import Limits, size

#: The only variables the worker's environment keeps: enough to find Python, its packages and a locale.
KEPT_ENVIRONMENT = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME",
                    "VIRTUAL_ENV", "SYSTEMROOT")


class WorkerStopped(Exception):
    """The worker ran out of memory or time, or died: the message says so in plain words."""


class SheetChanged(SnImporterError):
    """A sheet read again is not the one that was checked: it must be checked again before it is applied."""


def minimal_environment(environ=None, names: tuple[str, ...] = KEPT_ENVIRONMENT) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in names if name in environ}


class _Server:
    """The forking server process, started once and restarted if it dies."""

    def __init__(self):
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.requests: Connection | None = None
        self.answers: Connection | None = None

    def ask(self, request: tuple) -> tuple[int, bytes]:
        """(the child's exit status, the pickled outcome it sent back)."""
        with self.lock:
            for attempt in (1, 2):
                if self.process is None or self.process.poll() is not None:
                    self._start()
                try:
                    self.requests.send(request)
                    return self.answers.recv()
                except (EOFError, OSError):
                    self._stop()
                    if attempt == 2:
                        raise
        raise RuntimeError("unreachable")

    def _start(self) -> None:
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from sn_importer.web.parse_worker import main; main()",
             str(child_reads), str(child_writes)],
            pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL, close_fds=True,
            env=minimal_environment())
        os.close(child_reads)
        os.close(child_writes)
        self.requests = Connection(parent_writes, readable=False)
        self.answers = Connection(parent_reads, writable=False)

    def _stop(self) -> None:
        for connection in (self.requests, self.answers):
            if connection is not None:
                connection.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class _Pool:
    """:data:`WORKERS` forking servers: a task (one person's read or write) takes whichever is free, so
    reads and writes go on beside each other and beside the queue of Katana calls, never more at once."""

    def __init__(self, size: int):
        self.servers = [_Server() for _ in range(size)]
        self.free: queue.SimpleQueue[_Server] = queue.SimpleQueue()
        for server in self.servers:
            self.free.put(server)

    def ask(self, request: tuple) -> tuple[int, bytes]:
        server = self.free.get()
        try:
            return server.ask(request)
        finally:
            self.free.put(server)

    def processes(self) -> list[subprocess.Popen]:
        """The forking servers running now."""
        return [s.process for s in self.servers if s.process is not None and s.process.poll() is None]

    def _stop(self) -> None:
        for server in self.servers:
            with server.lock:
                server._stop()


#: Reads and writes at once: two, so a large sheet being read does not hold up everyone else's,
#: while the memory the workers may take stays bounded (each within its own limits).
WORKERS = 2
_server = _Pool(WORKERS)


def parse_upload(path: Path, template, display_name: str, limits: Limits | None = None):
    """The :class:`~sn_importer.job.Job` of ``path``, read in a limited worker.

    Raises :class:`InputError` with the guard's or the reader's sentence, or
    :class:`WorkerStopped` when the worker ran out of memory or time.
    """
    return _read("parse", path, template, display_name, limits)


@dataclass(frozen=True)
class Read:
    """An upload read in the worker: its job still pickled (the server never unpickles a check's job:
    the check's own process does, :mod:`.check_child`), with what the page shows of it at once, and
    its fingerprint, which tells whether a later read of the same upload is the same job."""

    job: bytes = field(repr=False)
    view: dict
    counts: dict
    fingerprint: str


def read_upload(path: Path, template, display_name: str, limits: Limits | None = None) -> Read:
    """Read ``path`` as :func:`parse_upload` does; the job comes back pickled, with the page's view."""
    return Read(*_read("read", path, template, display_name, limits))


def fingerprint(job) -> str:
    """What makes two reads of a sheet the same job: its rows (each with its validation status and
    its planned request) and its template. The time it was read, which every read has its own of,
    is left out; a pickle cannot serve (sets pickle in an order that varies from process to process)."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256(pd.util.hash_pandas_object(job.rows, index=True).to_numpy().tobytes())
    digest.update(repr((list(job.rows.columns), job.template.name, job.template.ids_per_request)).encode())
    return digest.hexdigest()


def unpickle_job(read: bytes):
    """The job of a :class:`Read` (bytes our own worker sent through a pipe, kept in memory only)."""
    return pickle.loads(read)


def _read(kind: str, path: Path, template, display_name: str, limits: Limits | None):
    limits = limits or guard.LIMITS
    status, outcome = _ask((kind, str(path), template, display_name), limits)
    if outcome is None:
        raise WorkerStopped(why_stopped(f"Reading “{display_name}”", status, limits))
    got, payload = outcome
    if got in ("job", "read"):
        return payload
    if got == "refused":
        raise InputError(path, payload)
    if got == "memory":
        raise WorkerStopped(why_stopped(f"Reading “{display_name}”", -signal.SIGKILL, limits))
    raise SnImporterError(payload)


def write_result(result, target: Path, limits: Limits | None = None) -> Path:
    """Write ``result``'s annotated workbook to ``target`` in a limited worker; where it went.

    Raises :class:`SnImporterError` when it could not be written, :class:`WorkerStopped`
    when the worker ran out of memory or time."""
    limits = limits or guard.LIMITS
    status, outcome = _ask(("write", result, str(target)), limits)
    name = result.display_name
    if outcome is None or outcome[0] == "memory":
        raise WorkerStopped(why_stopped(f"Writing the workbook of “{name}”", status if outcome is None else -9,
                                        limits))
    kind, payload = outcome
    if kind != "written":
        raise SnImporterError(payload)
    result.output = Path(payload)
    return result.output


def _ask(task: tuple, limits: Limits) -> tuple[int, tuple | None]:
    status, payload = _server.ask((task, limits))
    if status != 0 or not payload:
        return status, None
    return status, pickle.loads(payload)  # sent by our own child, through a pipe


def why_stopped(what: str, status: int, limits: Limits) -> str:
    """Why the worker died, in words (``status``: its exit code, or minus the signal that ended it)."""
    advice = "Split the sheet into smaller files and upload them one by one."
    if status in (-signal.SIGXCPU, -signal.SIGALRM):
        return f"{what} took longer than the {_seconds(status, limits)} s allowed and was stopped. {advice}"
    if status in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL, -signal.SIGBUS, 3):
        return f"{what} needed more than {size(limits.worker_memory_bytes)} of memory and was stopped. {advice}"
    return f"{what} stopped unexpectedly (code {status}). Open it in Excel, save it again and upload it."


def _seconds(status: int, limits: Limits) -> int:
    return limits.worker_cpu_seconds if status == -signal.SIGXCPU else limits.worker_wall_seconds


# --------------------------------------------------------------------------- in the worker processes


def become_forking_server() -> None:
    """What a forking server (this one, or the checks') does first, before the library's imports take
    their seconds: Ctrl-C in the terminal is the web server's to handle (it stops us, without a
    traceback from here), and what its children write is the server's user's alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.umask(0o077)


def serve(requests: Connection, answers: Connection) -> None:
    """The forking server: one child per request; its exit status and what it sent back as the answer."""
    become_forking_server()
    from .. import job  # noqa: F401  imported once here, so every child starts with it
    from .. import result  # noqa: F401

    while True:
        try:
            request = requests.recv_bytes()
        except (EOFError, OSError):
            return  # the web server is gone
        reads, writes = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reads)
            requests.close()
            answers.close()
            os._exit(_child(request, writes))
        os.close(writes)
        payload = _read_all(reads)
        _, code = os.waitpid(pid, 0)
        answers.send((os.waitstatus_to_exitcode(code), payload))


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as pipe:
        for chunk in iter(lambda: pipe.read(1 << 20), b""):
            chunks.append(chunk)
    return b"".join(chunks)


def _child(request: bytes, out: int) -> int:
    """Limit this process, do the task, send the outcome (pickled) through ``out``."""
    (kind, *args), limits = pickle.loads(request)
    _limit_self(limits)
    try:
        outcome = _write(*args) if kind == "write" else _parse(*args, pickled=kind == "read")
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return 3
    with os.fdopen(out, "wb") as pipe:
        pipe.write(data)
    return 0


def _parse(path: str, template, display_name: str, pickled: bool = False) -> tuple[str, object]:
    from ..job import Job
    from .present import read_view

    try:
        job = Job(Path(path), template, display_name=display_name)
        if pickled:
            return "read", (pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL), read_view(job, display_name),
                            job.counts(), fingerprint(job))
        return "job", job
    except InputError as exc:
        return "refused", exc.problem + (f" (sheet {exc.sheet!r})" if exc.sheet else "")
    except SnImporterError as exc:
        return "failed", str(exc)
    except Exception as exc:  # the reader met something no check foresaw
        if _out_of_memory(exc):
            return "memory", ""
        return "failed", f"the file could not be read ({type(exc).__name__})"


def _write(result, target: str) -> tuple[str, str]:
    try:
        return "written", str(result.write(Path(target)))
    except (SnImporterError, OSError) as exc:
        return "failed", f"the annotated workbook could not be written: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported, never a dead page
        if _out_of_memory(exc):
            return "memory", ""
        return "failed", f"the annotated workbook could not be written ({type(exc).__name__})"


def _out_of_memory(exc: BaseException) -> bool:
    """A MemoryError can surface wrapped (an import or a library call that could not allocate)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError) or "memory" in str(exc).lower() or "allocat" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _limit_self(limits: Limits) -> None:
    """Address space: what the worker holds now plus the allowance; CPU and wall time: the allowance."""
    with open("/proc/self/statm") as handle:
        held = int(handle.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (held + limits.worker_memory_bytes, held + limits.worker_memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.worker_cpu_seconds, limits.worker_cpu_seconds + 5))
    signal.alarm(limits.worker_wall_seconds)


def main() -> None:
    """The forking server's entry point: the two pipe ends it was given."""
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))


__all__ = ["KEPT_ENVIRONMENT", "Read", "SheetChanged", "WorkerStopped", "become_forking_server", "fingerprint", "minimal_environment",
           "parse_upload", "read_upload", "unpickle_job", "why_stopped", "write_result"]
