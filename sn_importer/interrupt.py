"""Stopping a run the way Ctrl-C does, whichever signal asked.

systemd, ``timeout``, ``docker stop`` and a closed SSH session end a process
with SIGTERM or SIGHUP, not Ctrl-C; left to their default, they kill it
between a DELETE and its check, with no report. So the command line turns
SIGINT, SIGTERM and SIGHUP alike into an :class:`Interrupt`, which the engine
honours:

1. the first one stops sending: no new resource is listed and no new DELETE
   goes out; what is already on the wire settles (a resource whose DELETE was
   sent is still checked), for at most ``grace`` seconds;
2. the report is written, with every row's true status, and the command exits 2;
3. a second one cancels what is still in flight at once (its rows are
   ``unverified`` if their DELETE was sent); a third raises KeyboardInterrupt.

Library callers without signals (a notebook, the web page) use the same
object: ``interrupt.request("reason")`` from any thread.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

#: The signals that mean "stop, but tell me what happened".
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
#: Seconds what is in flight may take to settle after the first stop request.
GRACE = 10.0


class Interrupt:
    """A request to stop a run: set by a signal handler or by code, honoured by the engine.

    Setting it is safe from a signal handler (no locks): it records the reason
    and calls the listeners, which only schedule work on their event loop.
    """

    def __init__(self, grace: float = GRACE, resume: str = "run the same command again to resume"):
        self.grace = grace
        #: How a report tells the person to finish the run, in the words of where it was started.
        self.resume = resume
        self.reason: str | None = None
        self.count = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.reason is not None

    @property
    def forced(self) -> bool:
        """Asked twice: do not wait for what is in flight."""
        return self.count >= 2

    def request(self, reason: str) -> None:
        """Ask the run to stop (again: to stop now)."""
        self.count += 1
        if self.reason is None:
            self.reason = reason
        for listener in list(self._listeners):
            listener()

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on every request from now on; returns a function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def describe(self) -> str:
        """The stop reason in the words a report uses."""
        return f"interrupted ({self.reason}); nothing more was sent; {self.resume}"

    def __repr__(self) -> str:
        return f"Interrupt(reason={self.reason!r}, count={self.count})"


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


@contextmanager
def stop_signals(interrupt: Interrupt | None = None,
                 on_signal: Callable[[str], None] | None = None) -> Iterator[Interrupt]:
    """While in the block, SIGINT, SIGTERM and SIGHUP request ``interrupt`` (a new one if None).

    Outside the main thread signals cannot be caught; the block runs as it
    is and Ctrl-C stays a KeyboardInterrupt. ``on_signal`` is told the
    signal's name (to print "stopping ..." on a terminal).
    """
    interrupt = interrupt or Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def handler(signum, frame) -> None:
        if interrupt.count >= 2:
            raise KeyboardInterrupt
        interrupt.request(signal_name(signum))
        if on_signal:
            on_signal(signal_name(signum))

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield interrupt
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


__all__ = ["GRACE", "STOP_SIGNALS", "Interrupt", "signal_name", "stop_signals"]
