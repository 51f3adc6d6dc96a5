"""Who is logged in to the page, how they got in, and how fast wrong guesses may come.

The page always needs a secret, also on loopback (another user of the same
computer could otherwise detach serials with the operator's key):

- **one-time link**: on loopback without a password, ``serve`` prints a link
  with a random token; the first browser that opens it is logged in, and the
  link is spent;
- **shared password** (``--password-env VAR``): one password for the team;
- **per-person logins** (``--users-file PATH``): a name and a password each
  (:mod:`sn_importer.web.users`), so every confirmed run names its person.

A session is a random id in a cookie, kept in memory (a restart logs
everyone out). It ends 12 hours after login, or after ``idle`` seconds
without a request, whichever comes first.

Wrong passwords are throttled per client address (:class:`LoginThrottle`):
growing pauses for that address alone, so one guesser never locks the team
out; and a ceiling on wrong passwords per minute for the whole server, so
guessing from many addresses cannot go faster than that. A logged-in session
is never affected by either.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..clock import SYSTEM, Clock
from .users import Users

SESSION_COOKIE = "sn_session"
SESSION_SECONDS = 12 * 3600
IDLE_SECONDS = 30 * 60


@dataclass
class Session:
    who: str
    expires: float
    seen: float


class Sessions:
    """Logged-in browsers: random ids, who each one is, when each one ends."""

    def __init__(self, seconds: float = SESSION_SECONDS, idle: float = IDLE_SECONDS, clock: Clock = SYSTEM):
        self.seconds, self.idle, self.clock = seconds, idle, clock
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, who: str) -> str:
        session = secrets.token_urlsafe(32)
        now = self.clock.now()
        with self._lock:
            self._by_id = {k: s for k, s in self._by_id.items() if self._alive(s, now)}
            self._by_id[session] = Session(who, now + self.seconds, now)
        return session

    def get(self, session: str | None) -> Session | None:
        """The live session of this id (its idle time starts again), or None."""
        if not session:
            return None
        now = self.clock.now()
        with self._lock:
            found = self._by_id.get(session)
            if found is None or not self._alive(found, now):
                self._by_id.pop(session, None)
                return None
            found.seen = now
            return found

    def valid(self, session: str | None) -> bool:
        return self.get(session) is not None

    def close(self, session: str | None) -> None:
        with self._lock:
            self._by_id.pop(session or "", None)

    def _alive(self, session: Session, now: float) -> bool:
        return now < session.expires and now - session.seen < self.idle


class Logins:
    """How people prove who they are: a one-time link, a shared password, or a name and password each."""

    def __init__(self, password: str | None = None, users: Users | None = None, token: str | None = None,
                 operator: str = "the operator"):
        self.password, self.users, self.operator = password, users, operator
        #: The one-time link's token (only without a password or users): spent by its first use.
        self.token = None if password or users else (token or secrets.token_urlsafe(32))
        self._spent = False
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "users" if self.users else "password" if self.password else "link"

    def check(self, name: str, password: str) -> str | None:
        """Who this is, or None. Every check takes about as long, whatever was wrong."""
        if self.users:
            return self.users.check(name, password)
        if self.password is not None and hmac.compare_digest(password.encode(), self.password.encode()):
            return f"{name.strip()} (shared password)" if name.strip() else "shared password"
        return None

    def redeem(self, given: str) -> str | None:
        """The one-time link: who it logs in (the operator, on this computer) the first time, then None."""
        if self.token is None or not given:
            return None
        with self._lock:
            if self._spent or not hmac.compare_digest(given.encode(), self.token.encode()):
                return None
            self._spent = True
        return f"{self.operator} (on the server's computer)"

    @property
    def spent(self) -> bool:
        return self._spent


@dataclass
class _Address:
    failures: int = 0
    last: float = float("-inf")
    open_at: float = float("-inf")


class LoginThrottle:
    """Wrong passwords slow down the address they come from, and the server as a whole has a ceiling.

    After an address's n-th wrong password in a row its next try waits
    ``BASE * 2**(n-1)`` seconds, at most ``CAP``; ``FORGET`` quiet seconds wipe
    its count. Across every address at most ``CEILING`` wrong passwords are
    checked per ``WINDOW`` seconds. A try inside a pause (its address's, or the
    ceiling's) is answered at once with the seconds left and its password is
    *not* checked (checking it would tell a guesser which one is right).
    """

    BASE = 1.0
    CAP = 15.0
    FORGET = 900.0
    CEILING = 30
    WINDOW = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or SYSTEM
        self._addresses: dict[str, _Address] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def failures(self, address: str) -> int:
        with self._lock:
            return self._addresses.get(address, _Address()).failures

    def attempt(self, address: str, check: Callable[[], str | None]) -> tuple[str, float, str | None]:
        """One login try from ``address``: ("in", 0, who), ("wrong", pause, None) or
        ("wait", seconds left, None); ``check`` is only called when the try is let through."""
        now = self.clock.now()
        with self._lock:
            self._forget(now)
            state = self._addresses.get(address)
            if state is not None and now < state.open_at:
                return "wait", state.open_at - now, None
            if len(self._recent) >= self.CEILING:
                return "wait", self._recent[0] + self.WINDOW - now, None
        who = check()
        with self._lock:
            if who is not None:
                self._addresses.pop(address, None)
                return "in", 0.0, who
            state = self._addresses.setdefault(address, _Address())
            state.failures += 1
            state.last = now
            pause = min(self.CAP, self.BASE * 2 ** min(state.failures - 1, 32))
            state.open_at = now + pause
            self._recent.append(now)
            return "wrong", pause, None

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - self.WINDOW:
            self._recent.popleft()
        if len(self._addresses) > self.MAX_ADDRESSES:
            quiet = [a for a, s in self._addresses.items() if now - s.last >= self.FORGET or now >= s.open_at]
            for address in quiet[: len(self._addresses) - self.MAX_ADDRESSES // 2]:
                del self._addresses[address]
        for address, state in list(self._addresses.items()):
            if now - state.last >= self.FORGET:
                del self._addresses[address]


__all__ = ["IDLE_SECONDS", "LoginThrottle", "Logins", "SESSION_COOKIE", "SESSION_SECONDS", "Session", "Sessions"]
