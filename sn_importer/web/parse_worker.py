"""Reading an upload in a worker process with its own memory and time limits.

The page serves everyone from one process, so an upload is never parsed in
it. A small server process (:func:`main`, started at the first upload, with the library already imported) forks one
child per upload: the child limits itself with ``resource.setrlimit``
(address space, CPU seconds) and an alarm (wall time), runs the same library
call as the command line (``Job``: the input guard, the reader, validation,
the plan) and leaves the job, pickled, in a file beside the upload. A refusal
comes back as the guard's own sentence; a child that runs out of memory or
time, or dies any other way, becomes a plain refusal of that one upload, and
the page goes on serving everyone else.

Forking from that single-threaded process, not from the threaded web server,
is what makes the fork safe; it is also why multiprocessing is not used (its
children re-import the program's main module).
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from ..errors import InputError, SnImporterError
from .. import guard
from ..guard import Limits, size
from .security import UploadRefused


class _Server:
    """The forking server process, started once and restarted if it dies."""

    def __init__(self):
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.requests: Connection | None = None
        self.answers: Connection | None = None

    def ask(self, request: tuple) -> tuple:
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
            pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL, close_fds=True)
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


_server = _Server()


def parse_upload(path: Path, template, display_name: str, limits: Limits | None = None):
    """The :class:`~sn_importer.job.Job` of ``path``, read in a limited worker.

    Raises :class:`InputError` with the guard's or the reader's sentence, or
    :class:`UploadRefused` when the worker ran out of memory or time.
    """
    limits = limits or guard.LIMITS
    result = Path(f"{path}.job")
    try:
        status = _server.ask((str(path), pickle.dumps(template), display_name, limits, str(result)))
        if status != 0 or not result.is_file():
            raise UploadRefused(_death(display_name, status, limits))
        kind, payload = pickle.loads(result.read_bytes())
    finally:
        result.unlink(missing_ok=True)
    if kind == "job":
        return payload
    if kind == "refused":
        raise InputError(path, payload)
    if kind == "memory":
        raise UploadRefused(_death(display_name, -signal.SIGKILL, limits))
    raise SnImporterError(payload)


def _death(name: str, status: int, limits: Limits) -> str:
    """Why the worker died, in words (``status``: its exit code, or minus the signal that ended it)."""
    advice = "Split the sheet into smaller files and upload them one by one."
    if status in (-signal.SIGXCPU, -signal.SIGALRM):
        return f"Reading “{name}” took longer than the {_seconds(status, limits)} s allowed and was stopped. {advice}"
    if status in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL, -signal.SIGBUS, 3):
        return (f"Reading “{name}” needed more than {size(limits.worker_memory_bytes)} of memory and was "
                f"stopped. {advice}")
    return f"Reading “{name}” stopped unexpectedly (code {status}). Open it in Excel, save it again and upload it."


def _seconds(status: int, limits: Limits) -> int:
    return limits.worker_cpu_seconds if status == -signal.SIGXCPU else limits.worker_wall_seconds


# --------------------------------------------------------------------------- in the worker processes


def serve(requests: Connection, answers: Connection) -> None:
    """The forking server: one child per request, its exit status as the answer."""
    from .. import job  # noqa: F401  imported once here, so every child starts with it

    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return  # the web server is gone
        pid = os.fork()
        if pid == 0:
            requests.close()
            answers.close()
            os._exit(_child(*request))
        _, code = os.waitpid(pid, 0)
        answers.send(os.waitstatus_to_exitcode(code))


def _child(path: str, template: bytes, display_name: str, limits: Limits, result: str) -> int:
    """Limit this process, read the upload, leave the outcome pickled in ``result``."""
    _limit_self(limits)
    from ..job import Job

    try:
        outcome = ("job", Job(Path(path), pickle.loads(template), display_name=display_name))
    except InputError as exc:
        outcome = ("refused", exc.problem + (f" (sheet {exc.sheet!r})" if exc.sheet else ""))
    except SnImporterError as exc:
        outcome = ("failed", str(exc))
    except MemoryError:
        return 3
    except Exception as exc:  # the reader met something no check foresaw
        if _out_of_memory(exc):
            return 3
        outcome = ("failed", f"the file could not be read ({type(exc).__name__})")
    try:
        Path(result).write_bytes(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    except MemoryError:
        return 3
    return 0


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


__all__ = ["parse_upload"]
