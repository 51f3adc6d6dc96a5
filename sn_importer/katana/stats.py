"""What a client's requests cost, and how it tells why nothing moves.

Shared by the client's layers: the pacing layer counts requests as they
leave and the time spent waiting for the tenant's window; the retry layer
counts retries, 429s and the time spent backing off. ``waited_s`` is every
second during which at least one request waited, whatever for (the quota,
a ``Retry-After``, a backoff), counted once however many requests waited.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..clock import Clock

#: Waits shorter than this are not worth telling anyone about.
NOTICE_AFTER = 1.0

WaitCallback = Callable[[float, str], None]


class WaitMeter:
    """Seconds during which at least one request waited (not the sum over requests)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.seconds = 0.0
        self._waiting, self._since = 0, 0.0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        self._change(+1)
        try:
            yield
        finally:
            self._change(-1)

    def _change(self, step: int) -> None:
        now = self.clock.now()
        if self._waiting:
            self.seconds += now - self._since
        self._waiting, self._since = self._waiting + step, now


@dataclass
class ClientStats:
    """Requests sent by method (every try counts), retries, 429s met, and the waits."""

    requests: Counter = field(default_factory=lambda: Counter({"GET": 0, "DELETE": 0, "POST": 0}))
    retries: int = 0
    rate_limited: int = 0
    meter: WaitMeter | None = None
    #: Of the waits, the seconds while another sn-importer run drew from the shared budget (set by the client).
    waited_for_others: Callable[[], float] = lambda: 0.0
    #: Called as each request is answered, so a progress display counts requests as they go rather
    #: than when a resource is through (a resource's lists and DELETEs take seconds under the quota).
    on_request: Callable[[], None] | None = None

    @property
    def waited(self) -> float:
        return self.meter.seconds if self.meter else 0.0

    def as_dict(self) -> dict[str, int | float]:
        return {**self.requests, "retries": self.retries, "rate_limited": self.rate_limited,
                "waited_s": round(self.waited, 1), "waited_for_other_runs_s": round(self.waited_for_others(), 1)}


def no_requests() -> dict[str, int]:
    """The request counters of a run that sent nothing (the keys of :meth:`ClientStats.as_dict`)."""
    return {"GET": 0, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0,
            "waited_s": 0.0, "waited_for_other_runs_s": 0.0}


class Teller:
    """Tells ``on_wait(seconds, reason)`` why nothing moves, once per wait of a second or more."""

    def __init__(self, clock: Clock, on_wait: WaitCallback | None = None):
        self.clock, self.on_wait = clock, on_wait
        self._told_until = 0.0

    def __call__(self, seconds: float, reason: str) -> None:
        until = self.clock.now() + seconds
        if self.on_wait is None or seconds < NOTICE_AFTER or abs(until - self._told_until) < NOTICE_AFTER:
            return
        self._told_until = until
        self.on_wait(seconds, reason)


__all__ = ["ClientStats", "NOTICE_AFTER", "Teller", "WaitCallback", "WaitMeter", "no_requests"]
