"""The Katana API client: the endpoints, over a stack of layers that pace and retry.

The client is the API's face only: ``get_page``, ``list_serials``,
``delete_serials``, ``create_serials`` and ``list_records`` build requests and
turn answers into records or the project's errors. What happens to a request
on its way is a stack of httpx transports, as httpx builds its own (a
transport is "a strict point of cut-off" between the API and the network)::

    RetryingTransport      retries within bounds (retrying.py)
      PacedTransport       waits for the tenant's window, learns from answers (pacing.py)
        the network        httpx's own, or the one given (a sandbox in process, a test's)

The window itself is a :class:`~sn_importer.katana.ledger.Ledger`: in memory
for a process alone, or shared through the state directory by every process
of the host (:class:`~sn_importer.katana.quota.SharedLedger`).

Failures leave as the project's errors: :class:`AuthError` at once on
401/403, :class:`ApiRequestError` on other refusals, :class:`ApiUnavailableError`
once retries or the deadline run out, :class:`WaitTooLongError` and
:class:`StalledError` when waiting would pass ``max_wait`` or the stall limit.
The key lives only in the ``Authorization`` header, which httpx masks in its
reprs; it is never logged.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..clock import Clock, SystemClock
from ..errors import ApiRequestError, ApiUnavailableError, AuthError, WaitTooLongError
from .answers import PAGE_LIMIT, api_message, data_list, describe_answer
from .ledger import Ledger
from .lists import Page, Pagination, is_last_page, read_list
from .pacing import Holds, PacedTransport, RequestNotSent
from .retrying import RetryingTransport, RetryPolicy
from .stats import ClientStats, Teller, WaitCallback

ENDPOINT = "/serial_numbers"
#: An order list longer than this many pages of 250 is not an answer to one order number or SKU.
MAX_RECORD_PAGES = 40


def judge(request: httpx.Request, response: httpx.Response) -> str | None:
    """Why a successful answer is not the API's, worth trying again (None: it is)."""
    if request.method == "GET":
        found = data_list(response)
        return found if isinstance(found, str) else None
    if request.method == "POST":
        try:
            body = response.json()
        except ValueError:
            return describe_answer(response)
        return None if isinstance(body, dict) else f"HTTP {response.status_code} without the API's answer"
    return None


class KatanaClient:
    """An async client for Katana that paces itself, retries politely and never waits unbounded.

    ``max_retries`` is the most tries one request gets (the first included).
    ``backoff`` is (initial, max) seconds of the exponential backoff. ``timeout``
    bounds one try in all; ``request_deadline`` one request across its tries.
    ``max_wait`` (None: one quota window as last learnt) is the longest
    Retry-After or quota reset worth waiting for; ``stall_limit`` the longest
    time without any successful request. ``ledger`` is the tenant's window
    (default: one in memory, the whole window for this client).
    """

    def __init__(self, base_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Clock | None = None, max_in_flight: int = 4, timeout: float = 30.0, max_retries: int = 6,
                 initial_quota: tuple[int, float] = (60, 60.0), backoff: tuple[float, float] = (0.5, 30.0),
                 request_deadline: float = 90.0, max_wait: float | None = None, stall_limit: float = 120.0,
                 on_wait: WaitCallback | None = None, ledger: Ledger | None = None):
        if not api_key:
            raise AuthError(401, "no API key given")
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.ledger = ledger or Ledger(share=1.0, clock=self.clock, initial_quota=initial_quota)
        self._max_wait = max_wait
        self.stats = ClientStats(waited_for_others=lambda: self.ledger.waited_for_others)
        self.tell = Teller(self.clock, on_wait)
        self.holds = Holds()
        policy = RetryPolicy(max(1, max_retries), backoff, request_deadline, stall_limit, timeout)
        network = transport or httpx.AsyncHTTPTransport()
        self.paced = PacedTransport(network, self.ledger, clock=self.clock, stats=self.stats, tell=self.tell,
                                    max_in_flight=max_in_flight, timeout=timeout, before_wait=self._before_wait,
                                    holds=self.holds)
        self.retrying = RetryingTransport(self.paced, clock=self.clock, policy=policy, stats=self.stats,
                                          tell=self.tell, judge=judge, base_url=self.base_url, holds=self.holds)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, transport=self.retrying, timeout=None,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json", "User-Agent": "sn-importer"})

    def __repr__(self) -> str:
        return f"KatanaClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> "KatanaClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def on_wait(self) -> WaitCallback | None:
        return self.tell.on_wait

    @on_wait.setter
    def on_wait(self, callback: WaitCallback | None) -> None:
        self.tell.on_wait = callback

    @property
    def max_wait(self) -> float:
        """The longest wait the run accepts: as given, else one quota window."""
        return self._max_wait if self._max_wait is not None else self.ledger.quota()[2]

    def _before_wait(self, seconds: float, why: str) -> None:
        """A wait for the window: refused beyond ``max_wait``, or when it would make a stall."""
        if seconds > self.max_wait + 1:
            raise WaitTooLongError(seconds, self.max_wait, why)
        self.retrying.check_stall(seconds, "waiting for Katana's quota window")

    # -- the API
    async def get_page(self, resource_type: str | None, resource_id: int | None, page: int,
                       limit: int = PAGE_LIMIT) -> Page:
        """One page of serial-number records, with its X-Pagination (see :mod:`sn_importer.katana.lists`)."""
        params: dict[str, Any] = {"limit": limit}
        if resource_type is not None:
            params["resource_type"] = resource_type
        if resource_id is not None:
            params["resource_id"] = resource_id
        response = await self._request("GET", params={**params, "page": page})
        return Page(page, data_list(response), Pagination.from_headers(response.headers))

    async def list_serials(self, resource_type: str | None, resource_id: int | None) -> list[dict]:
        """Every serial-number record on the resource (or of the type), from a trusted list.

        Raises :class:`~sn_importer.errors.UntrustedListError` when the list
        could not be read so that it can be trusted."""
        return (await read_list(self, resource_type, resource_id)).records

    async def delete_serials(self, resource_type: str, resource_id: int, ids: list[int]) -> None:
        """Detach ``ids`` from one resource. The API answers 204 whatever happened:
        verify with :meth:`list_serials`. An empty list sends nothing."""
        if not ids:
            return
        await self._request("DELETE", body={"resource_type": resource_type, "resource_id": resource_id,
                                            "ids": list(ids)})

    async def create_serials(self, resource_type: str, resource_id: int, serial_numbers: list[str]) -> dict:
        """Put serial-number strings on one resource (``POST``): the API's answer, ``successful``
        and ``failed`` (with a reason each). Reported, never trusted alone: verify with a list."""
        response = await self._request("POST", body={"resource_type": resource_type, "resource_id": resource_id,
                                                     "serial_numbers": list(serial_numbers)})
        return response.json()

    async def list_records(self, path: str, params: dict[str, Any]) -> list[dict]:
        """Every record an order list (``/variants``, ``/manufacturing_orders``, ...) answers for
        ``params``, all pages of 250; paced, retried and counted like the rest.

        These lists are the few records one order number or SKU names, so pages
        are followed by X-Pagination, without it until an empty page."""
        records: list[dict] = []
        for page in range(1, MAX_RECORD_PAGES + 1):
            response = await self._request("GET", params={**params, "limit": PAGE_LIMIT, "page": page}, path=path)
            data = data_list(response)
            records.extend(data)
            if is_last_page(Page(page, data, Pagination.from_headers(response.headers))):
                return records
        raise ApiUnavailableError(f"GET {path} went on for more than {MAX_RECORD_PAGES} pages; cut off")

    def stop_sending(self) -> None:
        """The run is stopping: no write leaves from now on, even one already waiting for the quota
        (it raises :class:`RequestNotSent`); lists (the checks after) still go."""
        self.holds.writes = True

    def estimate_seconds(self, n_requests: int) -> float:
        """About how long ``n_requests`` take under the quota as known now (the ledger's one estimate)."""
        return self.ledger.estimate_seconds(n_requests)

    # -- one request: through the layers, then the project's errors
    async def _request(self, method: str, *, params: dict | None = None, body: dict | None = None,
                       path: str = ENDPOINT) -> httpx.Response:
        response = await self._http.request(method, path, params=params, json=body)
        status = response.status_code
        if status < 300:
            return response
        if status in (401, 403):
            raise AuthError(status, api_message(response))
        if status >= 500:
            raise ApiUnavailableError(f"Katana at {self.base_url} answered {method} with {describe_answer(response)}")
        raise ApiRequestError(status, api_message(response), method, path)


__all__ = ["ENDPOINT", "KatanaClient", "RequestNotSent", "judge"]
