"""Where checks run: one child process per check, forked by a server process of their own.

The page's server never builds a check's tables (:mod:`.check_child` says
why). Forking from the threaded web server is not safe, and starting a fresh
Python per check would import the library every time; so, as for reading
uploads (:mod:`.parse_worker`), a small single-threaded process
(:func:`main`, started at the first check, the library already imported)
forks one child per check. It is a server of its own, not one of the two
parse workers: a check may wait minutes for Katana's quota, and must never
hold up someone's upload meanwhile.

Each check gets a private connection (a socket pair made by the web server;
one end is passed to the forking server with the request, which hands it to
the child and closes its own copy), so the child talks to the web server
directly while it runs: its progress and waits reach the page as they come.
The forking server starts with the parse worker's minimal environment (no
Katana key, no password); the key reaches a child through its connection
only. The forking server forks and collects its children's exit statuses,
nothing else; the web server signals a child by its pid (SIGTERM: stop as
Ctrl-C stops the command line) only while it has not been collected, so a
signal never reaches a process that took over the pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle

from .parse_worker import KEPT_ENVIRONMENT, WorkerStopped, become_forking_server, minimal_environment

#: The checks' environment: the parse worker's, and how the server itself reaches Katana: the
#: certificate authorities the operator trusts (a company's TLS-inspecting proxy) and the proxy
#: settings httpx reads. Without them a check would fail where the server's own runs get through.
PROXY_ENVIRONMENT = tuple(name for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
                          for name in (base, base.lower()))
CHECK_ENVIRONMENT = (*KEPT_ENVIRONMENT, "SSL_CERT_FILE", "SSL_CERT_DIR", *PROXY_ENVIRONMENT)
#: Seconds a child that said it is done may take to exit before it is killed (it exits at once).
EXIT_PATIENCE = 30.0


class Child:
    """One check's child, as the web server holds it: its pid and its private connection."""

    def __init__(self, forker: "_Forker", pid: int, connection: Connection):
        self.pid, self.connection = pid, connection
        self._forker = forker
        self._lock = threading.Lock()
        self._ready = False      # it takes SIGTERM as a stop request now
        self._stops = 0          # SIGTERMs sent
        self._ended = False      # collected (or being collected): its pid is no longer ours to signal
        self.status: int | None = None

    def send(self, message) -> None:
        self.connection.send(message)

    def recv(self):
        """The child's next message; EOFError or OSError when it has gone."""
        return self.connection.recv()

    def ready(self) -> None:
        """The child said it takes SIGTERM as a stop request: from now on it may be stopped."""
        with self._lock:
            self._ready = True

    def stop(self, times: int = 1) -> None:
        """Ask the child to stop, as often as the server was asked (``times``): once settles what is in
        flight, twice stops at once, as Ctrl-C does on the command line."""
        with self._lock:
            while self._ready and not self._ended and self._stops < times:
                self._signal(signal.SIGTERM)
                self._stops += 1

    def kill(self) -> None:
        with self._lock:
            if not self._ended:
                self._signal(signal.SIGKILL)

    def end(self) -> int | None:
        """Close the connection and collect the child's exit status (its exit code, or minus the
        signal that ended it; None if it could not be known). Call it once the child is done, has
        gone or was killed."""
        with self._lock:
            if self._ended:
                return self.status
            self._ended = True
        self.connection.close()
        self.status = self._forker.reap(self.pid)
        return self.status

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:  # already gone; collected by end()
            pass


class _Forker:
    """The forking server process, started at the first check and again if it dies."""

    def __init__(self):
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.control: Connection | None = None

    def start(self) -> Child:
        """A new child with its own connection; WorkerStopped when none could be started."""
        ours, theirs = socket.socketpair()
        try:
            with self.lock:
                pid = self._fork(theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child has its own copy now
        return Child(self, pid, Connection(ours.detach()))

    def warm(self) -> None:
        """Start the forking server now if it is not running (it imports the library as it starts)."""
        with self.lock:
            if not self._running():
                self._start()

    def reap(self, pid: int) -> int | None:
        with self.lock:
            if not self._running():
                return None  # it died with its children's statuses
            try:
                self.control.send(("reap", pid))
                return self.control.recv()
            except (EOFError, OSError):
                self._stop()
                return None

    def processes(self) -> list[subprocess.Popen]:
        """The forking server, if it runs now."""
        return [self.process] if self._running() else []

    def _fork(self, fd: int) -> int:
        for attempt in (1, 2):
            if not self._running():
                self._start()
            try:
                self.control.send(("check",))
                send_handle(self.control, fd, self.process.pid)
                return self.control.recv()
            except (EOFError, OSError):
                self._stop()
        raise WorkerStopped("The check could not be started: the server could not start a process for it. "
                            "Press Check again; the server log may say more.")

    def _running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from sn_importer.web.check_worker import main; main()", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True,
            env=minimal_environment(names=CHECK_ENVIRONMENT))
        theirs.close()
        self.control = Connection(ours.detach())

    def _stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self._running():
            self.process.kill()
            self.process.wait()
        self.process = None


_forker = _Forker()


def start() -> Child:
    """A child for one check (see :mod:`.check_child` for what it does)."""
    return _forker.start()


def warm() -> None:
    """Have the forking server ready by the time a check's turn comes (called as an upload is read)."""
    _forker.warm()


# --------------------------------------------------------------------------- in the forking server


def serve(control: Connection) -> None:
    """Fork a child per check; collect a child's exit status when asked. Ends with the web server."""
    become_forking_server()
    from .. import job, result, run  # noqa: F401  imported once here, so every child starts with them
    from . import check_child, present  # noqa: F401

    while True:
        try:
            request = control.recv()
        except (EOFError, OSError):
            return  # the web server is gone
        if request[0] == "check":
            control.send(_fork(control, recv_handle(control)))
        else:
            control.send(_reap(request[1]))


def _fork(control: Connection, fd: int) -> int:
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            control.close()
            from .check_child import main as check

            code = check(fd)
        finally:
            os._exit(code)
    os.close(fd)
    return pid


def _reap(pid: int) -> int | None:
    """The exit status of a child that is done (its exit code, or minus the signal that ended it)."""
    try:
        deadline = time.monotonic() + EXIT_PATIENCE
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)  # it said it was done, or its connection closed: it must not linger
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:  # not ours (the forking server was started again since)
        return None


def main() -> None:
    """The forking server's entry point: its end of the socket pair it was given."""
    serve(Connection(int(sys.argv[1])))


__all__ = ["CHECK_ENVIRONMENT", "Child", "start", "warm"]
