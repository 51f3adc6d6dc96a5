"""The Katana API client: the one stage that talks HTTP.

``list_serials`` and ``delete_serials`` are all the importer needs. Each
request goes through the :class:`~sn_importer.pacing.Pacer` (a slot among
``max_in_flight`` and room in the tenant's window) and through a tenacity
retry loop (backoff with jitter, Retry-After honoured, waits on the injected
clock). Failures leave as the project's own errors: :class:`AuthError` at once
on 401/403, :class:`ApiRequestError` on other refusals, and
:class:`ApiUnavailableError` once retries run out. The key lives only in the
``Authorization`` header, which httpx masks in its reprs; it is never logged.
"""

from __future__ import annotations

import errno
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from .clock import Clock, SystemClock
from .errors import ApiRequestError, ApiUnavailableError, AuthError
from .pacing import Pacer

log = logging.getLogger(__name__)

PAGE_LIMIT = 250
RETRY_STATUSES = {500, 502, 503, 504}
ENDPOINT = "/serial_numbers"


@dataclass
class ClientStats:
    """What the run cost: requests sent by method (every try counts), retries, 429s met."""

    requests: Counter = field(default_factory=lambda: Counter({"GET": 0, "DELETE": 0, "POST": 0}))
    retries: int = 0
    rate_limited: int = 0

    def as_dict(self) -> dict[str, int]:
        return {**self.requests, "retries": self.retries, "rate_limited": self.rate_limited}


class _RetryableAnswer(Exception):
    """An answer worth trying again (429, 500/502/503/504)."""

    def __init__(self, status_code: int, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.status_code, self.reason, self.retry_after = status_code, reason, retry_after


def api_message(response: httpx.Response) -> str:
    """The API's own words from an error body, plain or wrapped as ``{"error": {...}}``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        return response.reason_phrase
    message = str(body.get("message") or body.get("name") or response.reason_phrase)
    details = body.get("details")
    if isinstance(details, list) and details:
        message += " (" + "; ".join(_detail_text(d) for d in details[:5]) + ")"
    return message


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
    """An async client for ``/serial_numbers`` that paces itself and retries politely.

    ``max_retries`` is the most tries one request gets (the first included).
    ``backoff`` is (initial, max) seconds of the exponential backoff; jitter of
    up to ``initial`` seconds is added to each wait.
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
    ):
        if not api_key:
            raise AuthError(401, "no API key given")
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.timeout = timeout
        self.max_retries = max(1, max_retries)
        self.pacer = Pacer(self.clock, initial_quota=initial_quota, max_in_flight=max_in_flight)
        self.stats = ClientStats()
        self._backoff = wait_exponential(multiplier=backoff[0], max=backoff[1]) + wait_random(0, backoff[0])
        self._jitter = backoff[0]
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

    # -- the API
    async def list_serials(self, resource_type: str | None, resource_id: int | None) -> list[dict]:
        """Every serial-number record on the resource, all pages of 250."""
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if resource_type is not None:
            params["resource_type"] = resource_type
        if resource_id is not None:
            params["resource_id"] = resource_id
        records: list[dict] = []
        page = 1
        while True:
            response = await self._request("GET", params={**params, "page": page})
            data = self._json(response).get("data")
            if not isinstance(data, list):
                raise ApiUnavailableError(f"Katana at {self.base_url} answered GET without a data list")
            records.extend(data)
            if len(data) < PAGE_LIMIT or _last_page(response):
                return records
            page += 1

    async def delete_serials(self, resource_type: str, resource_id: int, ids: list[int]) -> None:
        """Detach ``ids`` from one resource. The API answers 204 whatever happened:
        verify with :meth:`list_serials`. An empty list sends nothing."""
        if not ids:
            return
        body = {"resource_type": resource_type, "resource_id": resource_id, "ids": list(ids)}
        await self._request("DELETE", body=body)

    def estimate_seconds(self, n_requests: int) -> float:
        """About how long ``n_requests`` take under the quota as currently known."""
        return self.pacer.estimate_seconds(n_requests)

    # -- one request, retried
    async def _request(self, method: str, *, params: dict | None = None, body: dict | None = None) -> httpx.Response:
        """Send with retries. tenacity drives the loop; its ``sleep`` is our clock."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries),
            wait=self._wait,
            retry=retry_if_exception_type((_RetryableAnswer, httpx.TransportError)),
            sleep=self.clock.sleep,
            before_sleep=self._before_retry(method),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, params, body)
        except _RetryableAnswer as exc:
            raise ApiUnavailableError(
                f"Katana kept failing at {self.base_url}: {exc.reason} after {self.max_retries} tries"
            ) from exc
        except httpx.TransportError as exc:
            reason = describe_transport_error(exc, self.timeout)
            raise ApiUnavailableError(f"Katana did not answer at {self.base_url}: {reason} after {self.max_retries} tries") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, method: str, params: dict | None, body: dict | None) -> httpx.Response:
        ticket = await self.pacer.acquire()
        try:
            self.stats.requests[method] += 1
            response = await self._http.request(method, ENDPOINT, params=params, json=body)
            self.pacer.observe(response.headers, ticket)
        finally:
            self.pacer.release(ticket)
        return self._check(method, response)

    def _check(self, method: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 300:
            return response
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = _retry_after(response)
            if "x-ratelimit-remaining" not in response.headers:
                self.pacer.on_rate_limited(retry_after)
            raise _RetryableAnswer(status, "still rate limited (429)", retry_after)
        if status in (401, 403):
            raise AuthError(status, api_message(response))
        if status in RETRY_STATUSES:
            raise _RetryableAnswer(status, f"{status} {api_message(response)}")
        if status >= 500:
            raise ApiUnavailableError(f"Katana at {self.base_url} answered {method} with {status}: {api_message(response)}")
        raise ApiRequestError(status, api_message(response), method, ENDPOINT)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter; after a 429 at least Retry-After."""
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableAnswer) and exc.retry_after is not None:
            return exc.retry_after + random.uniform(0, self._jitter)
        return backoff

    def _before_retry(self, method: str):
        def note(state: RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, httpx.TransportError):
                why = describe_transport_error(exc, self.timeout)
            else:
                why = getattr(exc, "reason", str(exc))
            wait = state.next_action.sleep if state.next_action else 0.0
            log.info("%s %s: %s; try %d of %d in %.1f s", method, ENDPOINT, why, state.attempt_number + 1, self.max_retries, wait)

        return note

    def _json(self, response: httpx.Response) -> dict:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiUnavailableError(f"Katana at {self.base_url} answered with something that is not JSON") from None
        return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _last_page(response: httpx.Response) -> bool:
    try:
        return json.loads(response.headers["x-pagination"]).get("last_page") == "true"
    except (KeyError, ValueError, AttributeError):
        return False
