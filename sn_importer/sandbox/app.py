"""The simulated Katana API: a plain Starlette app over a :class:`SandboxStore`.

Two layers, as on the real service: a *gateway* (bearer key, per-tenant rate
limit, X-Ratelimit-* headers, injected faults and latency) in front of the
``/v1/serial_numbers`` routes. Tests reach the app in-process through
``httpx.ASGITransport``; :mod:`.server` serves it on a loopback port.
Choices where the API's behaviour is not documented are listed in
``docs/sandbox.md``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import uuid
from email.utils import formatdate
from typing import Any, Callable

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..clock import Clock
from .orders import TABLES, QueryError
from .store import CREATE_TYPES, MINT_TYPES, RESOURCE_TYPES, SandboxStore, Seed

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
INVALID_BODY = "The request body is invalid. See error object `details` property for more info."


class SimulatedConnectionDrop(httpx.RemoteProtocolError):
    """Raised inside the app to drop the connection mid-answer.

    Served by uvicorn, the response headers are already out, so uvicorn closes
    the socket and httpx sees ``RemoteProtocolError``. In-process through
    ``httpx.ASGITransport`` the exception itself reaches the client, and
    because it *is* an ``httpx.TransportError`` the client sees the same kind
    of failure either way.
    """


def error_body(status: int, name: str, message: str, **extra: Any) -> dict:
    return {"statusCode": status, "name": name, "message": message, **extra}


def error(status: int, name: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(status, name, message, **extra), status_code=status)


def validation_error(details: list[dict]) -> JSONResponse:
    return error(422, "UnprocessableEntityError", INVALID_BODY, code="VALIDATION_FAILED", details=details)


# --------------------------------------------------------------------------- Ajv-style checks


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _detail(path: str, code: str, message: str, **info: Any) -> dict:
    return {"path": path, "code": code, "message": message, "info": info}


def _check_type(value: Any, path: str, expected: str) -> list[dict]:
    checks = {"integer": _is_int, "string": lambda v: isinstance(v, str), "array": lambda v: isinstance(v, list)}
    return [] if checks[expected](value) else [_detail(path, "type", f"should be {expected}", type=expected)]


def _check_enum(allowed: tuple[str, ...]) -> Callable[[Any, str], list[dict]]:
    def check(value: Any, path: str) -> list[dict]:
        if value in allowed:
            return []
        return [_detail(path, "enum", "should be equal to one of the allowed values", allowedValues=list(allowed))]

    return check


def _check_array(item_type: str, min_items: int = 0) -> Callable[[Any, str], list[dict]]:
    def check(value: Any, path: str) -> list[dict]:
        if problems := _check_type(value, path, "array"):
            return problems
        if len(value) < min_items:
            message = f"should NOT have fewer than {min_items} items"
            return [_detail(path, "minItems", message, limit=min_items)]
        return [p for i, item in enumerate(value) for p in _check_type(item, f"{path}[{i}]", item_type)]

    return check


def _check_integer(value: Any, path: str) -> list[dict]:
    return _check_type(value, path, "integer")


DELETE_BODY = {"resource_type": _check_enum(RESOURCE_TYPES), "resource_id": _check_integer, "ids": _check_array("integer", 1)}
POST_BODY = {"resource_type": _check_enum(CREATE_TYPES), "resource_id": _check_integer, "serial_numbers": _check_array("string")}


def check_body(raw: bytes, fields: dict[str, Callable[[Any, str], list[dict]]]) -> tuple[dict | None, list[dict]]:
    """Validate a JSON body the way Ajv reports it (every problem, dotted paths)."""
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return None, [_detail("", "type", "should be object", type="object")]
    problems = [
        _detail("", "required", f"should have required property '{name}'", missingProperty=name)
        for name in fields
        if name not in body
    ]
    problems += [
        _detail("", "additionalProperties", "should NOT have additional properties", additionalProperty=name)
        for name in body
        if name not in fields
    ]
    problems += [p for name, check in fields.items() if name in body for p in check(body[name], f".{name}")]
    return body, problems


# --------------------------------------------------------------------------- routes


def _query_int(request: Request, name: str, default: int | None, minimum: int) -> tuple[int | None, list[dict]]:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default, []
    try:
        value = int(raw)
    except ValueError:
        return None, [_detail(f".{name}", "type", "should be integer", type="integer")]
    if value < minimum:
        return None, [_detail(f".{name}", "minimum", f"should be >= {minimum}", comparison=">=", limit=minimum)]
    return value, []


def _page_query(request: Request) -> tuple[int, int, list[dict]]:
    """``limit`` (default 50, clamped to 250) and ``page`` (from 1), or the 422 details."""
    limit, problems = _query_int(request, "limit", DEFAULT_LIMIT, 1)
    page, more = _query_int(request, "page", 1, 1)
    return min(limit or DEFAULT_LIMIT, MAX_LIMIT), page or 1, problems + more


def invalid_query(details: list[dict]) -> JSONResponse:
    return error(422, "UnprocessableEntityError", "Invalid query parameters", code="VALIDATION_FAILED", details=details)


def paginated(found: list[dict], limit: int, page: int) -> JSONResponse:
    """One page of ``found`` as ``{"data": [...]}`` with the X-Pagination header."""
    offset = (page - 1) * limit
    pages = math.ceil(len(found) / limit)
    pagination = {
        "total_records": str(len(found)),
        "total_pages": str(pages),
        "offset": str(offset),
        "page": str(page),
        "first_page": str(page == 1).lower(),
        "last_page": str(page >= pages).lower(),
    }
    return JSONResponse({"data": found[offset : offset + limit]}, headers={"X-Pagination": json.dumps(pagination)})


async def list_serials(request: Request) -> Response:
    store: SandboxStore = request.app.state.store
    resource_type = request.query_params.get("resource_type") or None
    if resource_type is not None and resource_type not in RESOURCE_TYPES:
        return error(400, "BadRequest", f"Invalid resource_type {resource_type!r}: must be one of {', '.join(RESOURCE_TYPES)}")
    resource_id, problems = _query_int(request, "resource_id", None, 0)
    limit, page, more = _page_query(request)
    if problems + more:
        return invalid_query(problems + more)
    return paginated(store.find(resource_type, resource_id), limit, page)


def list_orders(table: str) -> Callable:
    """The GET handler of one order list endpoint (``/manufacturing_orders``, ``/variants``, ...)."""

    async def handler(request: Request) -> Response:
        store: SandboxStore = request.app.state.store
        limit, page, problems = _page_query(request)
        if problems:
            return invalid_query(problems)
        try:
            found = store.orders.find(table, request.query_params.multi_items())
        except QueryError as exc:
            return invalid_query([_detail(f".{exc.parameter}", "type", f"should be {exc.expected}", type=exc.expected)])
        return paginated(found, limit, page)

    handler.__name__ = f"list_{table}"
    return handler


async def delete_serials(request: Request) -> Response:
    body, problems = check_body(await request.body(), DELETE_BODY)
    if problems:
        return validation_error(problems)
    request.app.state.store.detach(body["resource_type"], body["resource_id"], body["ids"])
    return Response(status_code=204)


async def create_serials(request: Request) -> Response:
    body, problems = check_body(await request.body(), POST_BODY)
    if problems:
        return validation_error(problems)
    store: SandboxStore = request.app.state.store
    target = (body["resource_type"], body["resource_id"])
    if body["resource_type"] in MINT_TYPES:
        return JSONResponse(_mint(store, target, body["serial_numbers"], request.app.state.rng))
    missing = [s for s in body["serial_numbers"] if store.known_id(s) is None]
    if missing:
        message = "UnknownSerialNumber" if body["resource_type"] == "Production" else "serial numbers not found"
        return error(422, "UnprocessableEntityError", message)
    return JSONResponse(_transfer(store, target, body["serial_numbers"]))


def _record(store: SandboxStore, string: str, target: tuple[str, int], id_: int, transaction: str) -> dict:
    """A SerialNumber record as POST writes it onto ``target``."""
    return {"id": id_, "transaction_id": transaction, "serial_number": string, "resource_type": target[0],
            "resource_id": target[1], "transaction_date": store.now_iso(), "quantity_change": 1}


def _mint(store: SandboxStore, target: tuple[str, int], strings: list[str], rng: random.Random) -> dict:
    """New records on the target: a new id, unless the string is on another resource now (one string,
    one id); ``failed`` with ``DUPLICATE`` when the string is on the target already."""
    successful, failed = [], []
    for string in strings:
        if store.holds(target, string):
            failed.append({"serial_number": string, "reason": "DUPLICATE"})
            continue
        transaction = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        record = _record(store, string, target, store.id_of(string) or store.next_id(), transaction)
        store.add(record)
        successful.append(record)
    return {"successful": successful, "failed": failed}


def _transfer(store: SandboxStore, target: tuple[str, int], strings: list[str]) -> dict:
    """Attach known serials to the target too (a serial detached from every resource is still known,
    with its id); the answer shows the API's transfer quirks."""
    successful, failed = [], []
    for string in strings:
        if store.holds(target, string):
            failed.append({"serial_number": string, "reason": "DUPLICATE"})
            continue
        record = _record(store, string, target, store.known_id(string), "undefined")
        store.add(record)
        successful.append({**record, "resource_id": None})
    return {"successful": successful, "failed": failed}


async def sandbox_stats(request: Request) -> Response:
    return JSONResponse(request.app.state.store.stats())


async def serial_numbers(request: Request) -> Response:
    handler = {"GET": list_serials, "DELETE": delete_serials, "POST": create_serials}.get(request.method)
    return await handler(request) if handler else error(404, "NotFoundError", "Not found")


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the API's error shape, not Starlette's text."""
    status = getattr(exc, "status_code", 500)
    if status == 404 or status == 405:
        return error(404, "NotFoundError", "Not found")
    return error(status, "Error", str(getattr(exc, "detail", "")))


# --------------------------------------------------------------------------- gateway


class Gateway:
    """What stands before the API: key check, rate limit, faults, latency, counters.

    Only paths under ``/v1`` pass through it; ``/_sandbox/*`` is free.
    Requests with a wrong key are answered 401 without using the tenant's
    quota (a wrong key does not identify the tenant), but their answer still
    carries the window's X-Ratelimit-* headers as they stand.
    """

    def __init__(self, app: Any, store: SandboxStore, api_key: str, fail_rate: float, latency_ms: int, rng: random.Random):
        self.app, self.store, self.rng = app, store, rng
        self.expected = f"Bearer {api_key}"
        self.fail_rate, self.latency = fail_rate, latency_ms / 1000

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            return await self.app(scope, receive, send)
        if self.latency:
            await asyncio.sleep(self.latency)
        method = scope["method"]
        if Headers(scope=scope).get("authorization") != self.expected:
            return await self._answer(error(401, "UnauthorizedError", "Unauthorized"), self.store.window.peek().headers(), scope, receive, send)
        quota = self.store.window.take()
        if not quota.allowed:
            return await self._answer(error(429, "TooManyRequests", "Too Many Requests"), quota.headers(), scope, receive, send)
        fault = self._fault()
        if fault == "500":
            return await self._answer(error(500, "InternalServerError", "Internal Server Error"), quota.headers(), scope, receive, send)
        if fault == "drop":
            self.store.count(method, "dropped", scope["path"])
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
            raise SimulatedConnectionDrop("sandbox dropped the connection (fail_rate)")
        await self.app(scope, receive, self._stamping(send, quota.headers(), scope))

    def _fault(self) -> str | None:
        if self.fail_rate <= 0 or self.rng.random() >= self.fail_rate:
            return None
        return "500" if self.rng.random() < 0.5 else "drop"

    async def _answer(self, response: Response, headers: dict, scope: dict, receive: Callable, send: Callable) -> None:
        await response(scope, receive, self._stamping(send, headers, scope))

    def _stamping(self, send: Callable, headers: dict, scope: dict) -> Callable:
        """Every answer carries the window's X-Ratelimit-* and a ``Date`` on the tenant's own clock
        (the same clock its resets are stamped with, as a real server's are)."""
        async def stamped(message: dict) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update({**headers, "Date": formatdate(self.store.clock.now(),
                                                                                    usegmt=True)})
                self.store.count(scope["method"], message["status"], scope["path"])
            await send(message)

        return stamped


def create_app(
    records: list[dict] | Seed,
    *,
    api_key: str = "sandbox",
    rate_limit: tuple[int, float] = (60, 60.0),
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    random_seed: int = 0,
    clock: Clock | None = None,
) -> Starlette:
    """A simulated Katana tenant holding ``records`` (serial-number records, or a
    :class:`Seed` with orders too); ``app.state.store`` exposes its state."""
    if not 0.0 <= fail_rate <= 1.0:
        raise ValueError(f"fail_rate must be between 0 and 1, not {fail_rate}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
    seed = records if isinstance(records, Seed) else Seed(list(records))
    store = SandboxStore(seed.serial_numbers, rate_limit=rate_limit, clock=clock, orders=seed.orders)
    rng = random.Random(random_seed)
    app = Starlette(
        routes=[
            Route("/v1/serial_numbers", serial_numbers, methods=["GET", "DELETE", "POST"]),
            *(Route(f"/v1/{table}", list_orders(table), methods=["GET"]) for table in TABLES),
            Route("/_sandbox/stats", sandbox_stats, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.store = store
    app.state.rng = rng
    app.add_middleware(Gateway, store=store, api_key=api_key, fail_rate=fail_rate, latency_ms=latency_ms, rng=rng)
    return app
