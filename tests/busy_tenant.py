"""A busy tenant: the real sandbox, and another integration writing to it while a list is paged.

:class:`BusyTenant` is an ASGI app in front of a sandbox app. After it has
answered a ``GET /v1/serial_numbers`` page that ``when(params)`` picks, it
lets ``then(store)`` change the tenant, as a shop-front or accounting
integration of the same tenant would between two of the importer's page
reads. The client under test is not touched: it talks HTTP to this app, in
process through ``httpx.ASGITransport`` or served on loopback.
:class:`Refusing` is a gateway in front of the sandbox that refuses the
requests a script picks (a Katana that goes down, a DELETE that keeps failing).
"""

from __future__ import annotations

import json
from typing import Callable
from urllib.parse import parse_qs

from sandbox_fixtures import serial

from sn_importer.sandbox import SandboxStore


class BusyTenant:
    def __init__(self, app, when: Callable[[dict], bool], then: Callable[[SandboxStore], None], times: int = 1):
        self.app, self.when, self.then, self.times = app, when, then, times
        self.state = app.state  # like the sandbox app: ``.state.store``
        self.changes = 0

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].endswith("/serial_numbers"):
            return
        params = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        if self.changes < self.times and self.when(params):
            self.changes += 1
            self.then(self.app.state.store)


def type_wide(page: int, resource_type: str = "ManufacturingOrder") -> Callable[[dict], bool]:
    """Pick page ``page`` of the type-wide list of ``resource_type`` (no resource_id)."""
    return lambda p: p.get("resource_type") == resource_type and "resource_id" not in p and p.get("page") == str(page)


def attach_in_front(next_id: list[int], resource_id: int = 8888, resource_type: str = "ManufacturingOrder"):
    """Another integration attaches a serial that sorts before every other one (shifting every page)."""

    def then(store: SandboxStore) -> None:
        next_id[0] += 1
        store.add(serial(next_id[0], f"0-ATTACHED-{next_id[0]}", resource_type, resource_id))

    return then


class Refusing:
    """The sandbox behind a gateway that answers ``status`` to the requests ``refuse`` picks.

    ``refuse(method, params, body)`` sees every request (``body`` parsed as
    JSON, or None) and may keep its own state, e.g. "everything after the
    second DELETE" for a Katana that goes down mid-run.
    """

    def __init__(self, app, refuse: Callable[[str, dict, object], bool], status: int = 503):
        self.app, self.refuse, self.status = app, refuse, status
        self.state = app.state
        self.refused = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        params = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        if self.refuse(scope["method"], params, json.loads(raw) if raw else None):
            self.refused += 1
            body = json.dumps({"statusCode": self.status, "name": "ServiceUnavailable", "message": "down"}).encode()
            await send({"type": "http.response.start", "status": self.status,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return

        async def replay():
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


def down_after_deletes(count: int) -> Callable[[str, dict, object], bool]:
    """Katana goes away once ``count`` DELETEs got through: every later request is refused."""
    seen = [0]

    def refuse(method: str, params: dict, body: object) -> bool:
        if seen[0] >= count:
            return True
        seen[0] += method == "DELETE"
        return False

    return refuse
