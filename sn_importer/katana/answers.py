"""What Katana's answers say, read without trusting them further than they go.

Every layer of the client reads answers: the retry layer asks whether an
answer is worth trying again and how long to wait first, the pacing layer
what the rate-limit headers say about the tenant's window, the client what
a refusal means. The facts they all need are here:

* **Bodies that are not the API's JSON** (a proxy's HTML page, JSON cut off,
  a 200 without ``data``) are described in a few words, never pasted.
* **Rate-limit headers**: ``X-Ratelimit-Limit``, ``-Remaining`` and ``-Reset``
  (epoch milliseconds *on the server's clock*), and ``Retry-After`` in
  seconds or as an HTTP date.
* **The server's clock.** Resets and HTTP dates are moments on Katana's
  clock; a client clock 90 s ahead would read every reset as long past.
  :class:`ServerClock` learns the offset between the two from the ``Date``
  header of each answer (a whole second, so each answer bounds the offset to
  an interval): zero when the clocks agree, else the offset (to within a
  second, erring towards waiting longer).
"""

from __future__ import annotations

import errno
import json
import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

import httpx

from . import PAGE_LIMIT


# --------------------------------------------------------------------------- bodies


def describe_body(response: httpx.Response) -> str:
    """A few words on a body that is not the API's JSON: never the body itself."""
    text = response.content[:512].lstrip().lower()
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if not response.content.strip():
        return "an empty body"
    if kind == "text/html" or text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if kind.endswith("json") or text.startswith((b"{", b"[")):
        return "truncated or malformed JSON"
    return f"{kind or 'a body'} that is not the API's JSON"


def describe_answer(response: httpx.Response) -> str:
    """'HTTP 502 from a proxy (HTML page)', 'HTTP 503: Service Unavailable', ..."""
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        what = describe_body(response)
        if what == "an HTML page":
            return f"HTTP {status} from a proxy (HTML page)"
        return f"HTTP {status} {response.reason_phrase} ({what})".replace("  ", " ")
    return f"HTTP {status}: {_message_of(body, response)}"


def api_message(response: httpx.Response) -> str:
    """The API's own words from an error body, plain or wrapped as ``{"error": {...}}``;
    a summary when the body is not JSON."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"{response.reason_phrase or 'error'} ({describe_body(response)})"
    return _message_of(body, response)


def _message_of(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        return response.reason_phrase
    message = str(body.get("message") or body.get("name") or response.reason_phrase)
    details = body.get("details")
    if isinstance(details, list) and details:
        message += " (" + "; ".join(_detail_text(d) for d in details[:5]) + ")"
    return message[:300]


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, dict):
        return str(detail)
    return f"{detail.get('path') or 'body'} {detail.get('message', '')}".strip()


def data_list(response: httpx.Response) -> list[dict] | str:
    """The ``data`` list of a list answer (records with integer ids), or why the body is not one."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return describe_answer(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return f"HTTP {response.status_code} without the API's data list"
    if not all(isinstance(r, dict) and isinstance(r.get("id"), int) and not isinstance(r.get("id"), bool)
               for r in data):
        return f"HTTP {response.status_code} with data that are not records with an id"
    return data


def describe_transport_error(exc: httpx.TransportError, timeout: float) -> str:
    """A plain-words reason for a failure below HTTP."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if _refused(exc) else f"could not connect ({exc})"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "the connection dropped before a full answer"
    return f"{type(exc).__name__}: {exc}"


def _refused(exc: BaseException) -> bool:
    """Somewhere down the cause chain (httpx → httpcore → anyio → OS) the OS said ECONNREFUSED."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# --------------------------------------------------------------------------- time and quota


@dataclass(frozen=True)
class QuotaHeaders:
    """``X-Ratelimit-*`` of one answer: the limit, what is left, and the reset (server epoch ms)."""

    limit: int
    remaining: int
    reset_ms: int

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> "QuotaHeaders | None":
        try:
            return cls(int(headers["x-ratelimit-limit"]), int(headers["x-ratelimit-remaining"]),
                       int(headers["x-ratelimit-reset"]))
        except (KeyError, ValueError):
            return None

    def as_tuple(self) -> tuple[int, int, int]:
        return self.limit, self.remaining, self.reset_ms


def server_date(headers: Mapping[str, str]) -> float | None:
    """The answer's ``Date`` as epoch seconds (a whole second), or None."""
    return http_date(headers.get("date"))


def http_date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.timestamp() if moment.tzinfo else None


def retry_after(headers: Mapping[str, str], server_now: float) -> float | None:
    """Seconds ``Retry-After`` asks to wait, written in seconds or as an HTTP date
    (a date is read against ``server_now``, the server's time when it answered)."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        moment = http_date(raw)
        return None if moment is None else max(0.0, moment - server_now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class ServerClock:
    """The offset of the server's clock from ours, as its ``Date`` headers bound it.

    An answer whose ``Date`` says ``D`` was written at a server moment in
    ``[D, D + 1)``, between our moments ``sent`` and ``received``; so the
    offset (server minus local) lies in ``[D - received, D + 1 - sent]``.
    The intersection of every answer's interval narrows it; when answers stop
    agreeing (a clock was set), the newest answer starts it again.
    """

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None

    def seen(self, headers: Mapping[str, str], sent: float, received: float) -> None:
        date = server_date(headers)
        if date is None:
            return
        low, high = date - received, date + 1 - sent
        if self.low is None or low > self.high or high < self.low:
            self.low, self.high = low, high
        else:
            self.low, self.high = max(self.low, low), min(self.high, high)

    @property
    def offset(self) -> float:
        """Server minus local seconds: 0 when the answers allow it (the clocks agree to a second), else
        the lowest offset they allow, which reads every reset as late as it can be: waiting a moment
        too long costs a moment, a moment too short a 429."""
        if self.low is None or self.low <= 0 <= self.high:
            return 0.0
        return self.low

    def local(self, server_moment: float) -> float:
        """A moment on the server's clock, on ours."""
        return server_moment - self.offset

    def server_now(self, local_now: float) -> float:
        return local_now + self.offset


__all__ = ["PAGE_LIMIT", "QuotaHeaders", "ServerClock", "api_message", "data_list", "describe_answer",
           "describe_body", "describe_transport_error", "http_date", "retry_after", "server_date"]
