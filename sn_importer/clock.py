"""Time as the API client and the sandbox see it.

Pacing and retries wait for the rate-limit window and for backoff; the sandbox
opens and closes that window. Both take a :class:`Clock` so tests can swap in
:class:`FakeClock` and run minutes of rate-limited traffic without waiting.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


class Clock:
    """A source of wall-clock time (epoch seconds) and a way to wait."""

    def now(self) -> float:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class SystemClock(Clock):
    """The real clock: ``time.time()`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock(Clock):
    """A clock that jumps forward on ``sleep`` instead of waiting.

    Concurrent sleepers that start at the same moment wake at the same
    moment: each sleep moves time to at least *its own* wake-up time rather
    than adding its duration to everyone else's, so three tasks sleeping one
    second each cost one fake second, as they would in real time.
    """

    def __init__(self, start: float = 1_700_000_000.0):
        self._now = float(start)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        wake_at = self._now + seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would
        self._now = max(self._now, wake_at)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:.3f})"


#: The clock used when none is given.
SYSTEM = SystemClock()


def iso(seconds: float) -> str:
    """Epoch seconds as the stamps in sheets, summaries and the journal: ``2026-11-27T13:02:15Z``."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def now_iso(clock: Clock | None = None) -> str:
    """The current moment on ``clock`` (the system clock by default), as :func:`iso` writes it."""
    return iso((clock or SYSTEM).now())
