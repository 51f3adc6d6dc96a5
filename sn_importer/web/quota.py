"""How long the next run takes under the tenant's quota as it stands now.

The library estimates from the quota its client has learnt. A preview's client
is gone by the time the page shows the plan, so the page lends the client a
transport that notes the last ``X-Ratelimit-*`` answer; that answer, fed to a
fresh :class:`~sn_importer.pacing.Pacer`, gives the estimate shown beside the
confirm button. Before any answer it is the library's own starting quota.
"""

from __future__ import annotations

import threading

import httpx

from ..clock import SYSTEM, Clock
from ..pacing import Pacer, Ticket


HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


class QuotaWatch:
    """The last rate-limit headers Katana sent, shared by every run of the server."""

    def __init__(self, clock: Clock = SYSTEM):
        self.clock = clock
        self._headers: dict[str, str] | None = None
        self._lock = threading.Lock()

    def seen(self, headers: httpx.Headers) -> None:
        if all(name in headers for name in HEADERS):
            with self._lock:
                self._headers = {name: headers[name] for name in HEADERS}

    def transport(self) -> httpx.AsyncBaseTransport:
        """A fresh transport for one run (each run has its own event loop)."""
        return _WatchingTransport(self)

    def estimate_seconds(self, requests: int) -> float:
        pacer = Pacer(self.clock)
        with self._lock:
            headers = dict(self._headers) if self._headers else None
        if headers:
            if int(headers["x-ratelimit-reset"]) / 1000 <= self.clock.now():
                headers["x-ratelimit-remaining"] = headers["x-ratelimit-limit"]  # that window is over
            pacer.observe(headers, Ticket(sent_at=self.clock.now()))
        return pacer.estimate_seconds(requests)


class _WatchingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, watch: QuotaWatch):
        super().__init__()
        self._watch = watch

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self._watch.seen(response.headers)
        return response
