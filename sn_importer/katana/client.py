"""The Katana API client: the one stage that talks HTTP.

``get_page``, ``list_serials`` and ``delete_serials`` do the work, and
``list_records`` reads the order lists that order numbers and SKUs are looked
up in; whole lists are read by :mod:`sn_importer.katana.lists`, which follows
``X-Pagination`` and trusts a list only when it held still while read. Each
request goes through the :class:`~sn_importer.katana.pacing.Pacer` (a slot among
``max_in_flight`` and room in the tenant's window) and through a retry loop
(backoff with jitter, Retry-After honoured, waits on the injected clock).

Waiting is bounded, so a run never hangs silently:

* every try has ``timeout`` seconds in all, and a request has
  ``request_deadline`` seconds across its tries;
* a Retry-After or quota reset further away than ``max_wait`` (default: one
  quota window) raises :class:`WaitTooLongError`, and no successful request for
  ``stall_limit`` seconds raises :class:`StalledError`: both stop the run so it
  can be resumed later;
* every wait of a second or more is told to ``on_wait(seconds, reason)``, so a
  terminal can say why nothing moves.

An answer that is not the API's JSON (a proxy's HTML page, JSON cut off, a
200 without ``data``) is a transient failure, retried like a 5xx, and
described in a few words, never pasted. Failures leave as the project's own
errors: :class:`AuthError` at once on 401/403, :class:`ApiRequestError` on
other refusals, :class:`ApiUnavailableError` once retries or the deadline run
out. The key lives only in the ``Authorization`` header, which httpx masks in
its reprs; it is never logged.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from ..clock import Clock, SystemClock
from ..errors import ApiRequestError, ApiUnavailableError, AuthError, StalledError, WaitTooLongError
from .lists import PAGE_LIMIT, Page, Pagination, is_last_page, read_list
from .pacing import Pacer
from .quota import SharedBudget

log = logging.getLogger(__name__)

RETRY_STATUSES = {500, 502, 503, 504}
ENDPOINT = "/serial_numbers"
#: Waits shorter than this are not worth telling anyone about.
NOTICE_AFTER = 1.0
#: An order list longer than this many pages of 250 is not an answer to one order number or SKU.
MAX_RECORD_PAGES = 40

WaitCallback = Callable[[float, str], None]


@dataclass
class ClientStats:
    """What the run cost: requests sent by method (every try counts), retries, 429s met,
    and the seconds requests waited for the quota (of which for other sn-importer runs)."""

    requests: Counter = field(default_factory=lambda: Counter({"GET": 0, "DELETE": 0, "POST": 0}))
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0
    waited_for_others: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        return {**self.requests, "retries": self.retries, "rate_limited": self.rate_limited,
                "waited_s": round(self.waited, 1), "waited_for_other_runs_s": round(self.waited_for_others, 1)}


class RequestNotSent(Exception):
    """A DELETE held back because the run is stopping: it never left (nothing to verify for it)."""


class _RetryableAnswer(Exception):
    """An answer worth trying again (429, 5xx, a body that is not the API's JSON)."""

    def __init__(self, status_code: int, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.status_code, self.reason, self.retry_after = status_code, reason, retry_after


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
        what = describe_body(response)
        return f"{response.reason_phrase or 'error'} ({what})"
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


class KatanaClient:
    """An async client for ``/serial_numbers`` that paces itself, retries politely and never waits unbounded.

    ``max_retries`` is the most tries one request gets (the first included).
    ``backoff`` is (initial, max) seconds of the exponential backoff; jitter of
    up to ``initial`` seconds is added to each wait. ``timeout`` bounds one try
    in all (not only between bytes); ``request_deadline`` bounds one request
    across its tries. ``max_wait`` (None: one quota window as last learned) is
    the longest Retry-After or quota reset worth waiting for; ``stall_limit``
    the longest time without any successful request.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        max_in_flight: int = 4,
        timeout: float = 30.0,
        max_retries: int = 6,
        initial_quota: tuple[int, float] = (60, 60.0),
        backoff: tuple[float, float] = (0.5, 30.0),
        request_deadline: float = 90.0,
        max_wait: float | None = None,
        stall_limit: float = 120.0,
        on_wait: WaitCallback | None = None,
        budget: SharedBudget | None = None,
    ):
        if not api_key:
            raise AuthError(401, "no API key given")
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.timeout = timeout
        self.max_retries = max(1, max_retries)
        self.request_deadline = request_deadline
        self._max_wait = max_wait
        self.stall_limit = stall_limit
        self.on_wait = on_wait
        self.pacer = Pacer(self.clock, initial_quota=initial_quota, max_in_flight=max_in_flight, shared=budget)
        self.pacer.on_wait = self._pacer_wait
        self.stats = ClientStats()
        self._backoff = (max(0.0, backoff[0]), max(0.0, backoff[1]))
        self._last_success: float | None = None
        self._told_until = 0.0
        self._hold_deletes = False
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json", "User-Agent": "sn-importer"},
        )

    def __repr__(self) -> str:
        return f"KatanaClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> "KatanaClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def max_wait(self) -> float:
        """The longest wait the run accepts: as given, else one quota window."""
        return self._max_wait if self._max_wait is not None else self.pacer.window

    # -- the API
    async def get_page(self, resource_type: str | None, resource_id: int | None, page: int,
                       limit: int = PAGE_LIMIT) -> Page:
        """One page of serial-number records, with its X-Pagination (see :mod:`sn_importer.katana.lists`)."""
        params: dict[str, Any] = {"limit": limit}
        if resource_type is not None:
            params["resource_type"] = resource_type
        if resource_id is not None:
            params["resource_id"] = resource_id
        response, records = await self._request("GET", params={**params, "page": page}, parse=_records)
        return Page(page, records, Pagination.from_headers(response.headers))

    async def list_serials(self, resource_type: str | None, resource_id: int | None) -> list[dict]:
        """Every serial-number record on the resource (or of the type), from a trusted list.

        Raises :class:`~sn_importer.errors.UntrustedListError` when the list
        could not be read consistently."""
        return (await read_list(self, resource_type, resource_id)).records

    async def delete_serials(self, resource_type: str, resource_id: int, ids: list[int]) -> None:
        """Detach ``ids`` from one resource. The API answers 204 whatever happened:
        verify with :meth:`list_serials`. An empty list sends nothing."""
        if not ids:
            return
        body = {"resource_type": resource_type, "resource_id": resource_id, "ids": list(ids)}
        await self._request("DELETE", body=body)

    async def list_records(self, path: str, params: dict[str, Any]) -> list[dict]:
        """Every record an order list (``/variants``, ``/manufacturing_orders``, ...)
        answers for ``params``, all pages of 250; paced, retried and counted like the rest.

        These lists are the few records one order number or SKU names, so pages
        are followed by X-Pagination (a short page ends the list only without
        it) and not checked for holding still."""
        records: list[dict] = []
        for page in range(1, MAX_RECORD_PAGES + 1):
            response, data = await self._request("GET", params={**params, "limit": PAGE_LIMIT, "page": page},
                                                  parse=_records, path=path)
            records.extend(data)
            if is_last_page(Page(page, data, Pagination.from_headers(response.headers)), PAGE_LIMIT):
                return records
        raise ApiUnavailableError(f"GET {path} went on for more than {MAX_RECORD_PAGES} pages; cut off")

    def stop_sending(self) -> None:
        """The run is stopping: no DELETE leaves from now on, even one already waiting for the quota
        (it raises :class:`RequestNotSent`); lists (the checks after) still go."""
        self._hold_deletes = True

    def estimate_seconds(self, n_requests: int) -> float:
        """About how long ``n_requests`` take under the quota as currently known."""
        return self.pacer.estimate_seconds(n_requests)

    # -- one request, retried within bounds
    async def _request(self, method: str, *, params: dict | None = None, body: dict | None = None,
                       parse: Callable[[httpx.Response], Any] | None = None, path: str = ENDPOINT) -> Any:
        """Send with retries until an answer, a refusal, or a bound (tries, deadline, max-wait, stall).

        With ``parse``, returns (response, parsed); a parse failure is retried like a 5xx."""
        if self._last_success is None:
            self._last_success = self.clock.now()
        started, attempt = self.clock.now(), 1
        while True:
            limited = False
            if attempt > 1 and method == "DELETE" and self._hold_deletes:
                raise ApiUnavailableError(f"Katana {failing} {self.base_url}: {why}; not tried again: the run "
                                          "is stopping")
            try:
                response = await self._send_once(method, params, body, path, first=attempt == 1)
                parsed = parse(response) if parse else None
            except _RetryableAnswer as exc:
                why, retry_after, failing = exc.reason, exc.retry_after, "kept failing at"
                limited = exc.status_code == 429
            except httpx.TransportError as exc:
                why, retry_after, failing = describe_transport_error(exc, self.timeout), None, "did not answer at"
            else:
                self._last_success = self.clock.now()
                return (response, parsed) if parse else response
            delay = self._delay(attempt, retry_after)
            self._check_bounds(method, f"{failing} {self.base_url}: {why}", retry_after, delay, started, attempt,
                               patient=limited)
            self.stats.retries += 1
            log.info("%s %s: %s; try %d of %d in %.1f s", method, path, why, attempt + 1, self.max_retries, delay)
            self._tell(delay, f"{why}; waiting for the window" if limited else f"{why}; try {attempt + 1} of {self.max_retries}")
            await self.clock.sleep(delay)
            attempt += 0 if limited else 1  # a 429 is a reason to wait for the window, not a failed try

    def _check_bounds(self, method: str, why: str, retry_after: float | None, delay: float, started: float,
                      attempt: int, patient: bool = False) -> None:
        """Raise when the next try would cross a bound; the order says which reason the user sees.
        A 429 (``patient``) is bounded only by max-wait and the stall limit, never by tries or deadline."""
        now = self.clock.now()
        if retry_after is not None and retry_after > self.max_wait:
            raise WaitTooLongError(retry_after, self.max_wait)
        if now + delay - self._last_success >= self.stall_limit:
            raise StalledError(now - self._last_success, why.split(": ", 1)[-1], self.stall_limit)
        if patient:
            return
        if attempt >= self.max_retries:
            raise ApiUnavailableError(f"Katana {why} after {attempt} tries")
        if now + delay - started >= self.request_deadline:
            raise ApiUnavailableError(f"Katana {why}; {method} gave up after {attempt} tries in {now - started:.0f} s")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; after a 429 at least its Retry-After."""
        initial, ceiling = self._backoff
        jitter = random.uniform(0, initial)
        if retry_after is not None:
            return retry_after + jitter
        return min(ceiling, initial * 2 ** (attempt - 1)) + jitter

    async def _send_once(self, method: str, params: dict | None, body: dict | None, path: str = ENDPOINT,
                         first: bool = True) -> httpx.Response:
        ticket = await self.pacer.acquire()
        self.stats.waited, self.stats.waited_for_others = self.pacer.waited, self.pacer.waited_for_others
        try:
            if method == "DELETE" and self._hold_deletes and first:
                raise RequestNotSent()
            self.stats.requests[method] += 1
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._http.request(method, path, params=params, json=body)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no answer within {self.timeout:g} s") from None
            self.pacer.observe(response.headers, ticket)
        finally:
            self.pacer.release(ticket)
        return self._check(method, response, path)

    def _check(self, method: str, response: httpx.Response, path: str = ENDPOINT) -> httpx.Response:
        status = response.status_code
        if status < 300:
            return response
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = _retry_after(response)
            if "x-ratelimit-remaining" not in response.headers:
                self.pacer.on_rate_limited(retry_after)
            raise _RetryableAnswer(status, "rate limited (HTTP 429)", retry_after)
        if status in (401, 403):
            raise AuthError(status, api_message(response))
        if status in RETRY_STATUSES:
            raise _RetryableAnswer(status, describe_answer(response))
        if status >= 500:
            raise ApiUnavailableError(f"Katana at {self.base_url} answered {method} with {describe_answer(response)}")
        raise ApiRequestError(status, api_message(response), method, path)

    # -- telling why it waits
    def _pacer_wait(self, seconds: float) -> None:
        """The pacer is about to wait for the quota window to reset."""
        if seconds > self.max_wait + 1:
            raise WaitTooLongError(seconds, self.max_wait, "Katana's quota window resets in")
        self._tell(seconds, self.pacer.wait_reason())

    def _tell(self, seconds: float, reason: str) -> None:
        """Say why nothing moves (once per wait of a second or more)."""
        until = self.clock.now() + seconds
        if self.on_wait is None or seconds < NOTICE_AFTER or abs(until - self._told_until) < NOTICE_AFTER:
            return
        self._told_until = until
        self.on_wait(seconds, reason)


def _records(response: httpx.Response) -> list[dict]:
    """The ``data`` list of a GET answer; anything else is a transient failure, summarised."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _RetryableAnswer(response.status_code, describe_answer(response)) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise _RetryableAnswer(response.status_code, f"HTTP {response.status_code} without the API's data list")
    if not all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in data):
        raise _RetryableAnswer(response.status_code,
                               f"HTTP {response.status_code} with data that are not serial-number records")
    return data


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None
