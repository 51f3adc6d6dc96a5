"""A scripted, misbehaving Katana on loopback: the edges real tenants live on.

A real HTTP server (Starlette served by uvicorn in a thread, on 127.0.0.1) that
holds serial-number records and answers ``/v1/serial_numbers`` honestly (the
API's filters, sorting by serial string, ``X-Pagination``, DELETE's silent
204) until a test scripts it to misbehave: a proxy's HTML page, truncated
JSON, pages shorter than ``limit`` asks, the same page forever, a 429 with an
hour's ``Retry-After``, a DELETE that never answers, a 401 on one resource, a
list that another integration changes between page 1 and page 2, a POST
that answers ``failed``, one that lands seconds after its answer, one whose
answer is lost after it landed.

Nothing in the client is patched: the client talks HTTP to this server as it
would to Katana, so what a test sees is what a user would see. Every request
the server received is kept in ``calls``.

    with MisbehavingKatana(records) as katana:
        katana.script("GET", html(502), times=2)          # the next two GETs
        katana.script("DELETE", hang())                   # every DELETE
        katana.script("GET", unauthorized(), when=on_resource("ManufacturingOrder", 3002))
        ... KatanaClient(katana.base_url, katana.api_key) ...
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from email.utils import formatdate
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sn_importer.sandbox.server import SandboxServer

KEY = "sandbox"
Answer = Callable[["Call", "MisbehavingKatana"], Awaitable[Response]]


@dataclass
class Call:
    """One request as the server saw it."""

    method: str
    params: dict
    body: dict | None

    @property
    def page(self) -> int:
        return int(self.params.get("page", 1))

    @property
    def limit(self) -> int:
        return min(int(self.params.get("limit", 50)), 250)

    @property
    def resource(self) -> tuple[str | None, int | None]:
        source = self.body if self.method in ("DELETE", "POST") and self.body else self.params
        rid = source.get("resource_id")
        return source.get("resource_type"), int(rid) if rid not in (None, "") else None


@dataclass
class Rule:
    """Answer matching requests with ``answer`` (``times`` of them; None: all)."""

    method: str
    answer: Answer
    times: int | None = None
    when: Callable[[Call], bool] = lambda call: True
    used: int = 0

    def takes(self, call: Call) -> bool:
        if call.method != self.method or (self.times is not None and self.used >= self.times):
            return False
        if not self.when(call):
            return False
        self.used += 1
        return True


@dataclass
class MisbehavingKatana:
    """The server: records, scripted rules, and what it was asked."""

    records: list[dict]
    api_key: str = KEY
    rules: list[Rule] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    #: The server's clock: every answer's ``Date`` (set it to a test's fake clock's ``now`` to share it).
    now: Callable[[], float] = time.time

    def __post_init__(self):
        self.records = [dict(r) for r in self.records]
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.minted = 0
        self._server: SandboxServer | None = None

    # -- scripting
    def script(self, method: str, answer: Answer, *, times: int | None = None,
               when: Callable[[Call], bool] | None = None) -> Rule:
        """Add a rule; rules are tried in the order they were added."""
        rule = Rule(method, answer, times, when or (lambda call: True))
        self.rules.append(rule)
        return rule

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    # -- the honest Katana
    def find(self, resource_type: str | None, resource_id: int | None) -> list[dict]:
        with self._lock:
            found = [r for r in self.records
                     if (resource_type is None or r["resource_type"] == resource_type)
                     and (resource_id is None or r["resource_id"] == resource_id)]
        return sorted(found, key=lambda r: (str(r["serial_number"]), r["id"]))

    def detach(self, resource_type: str, resource_id: int, ids) -> None:
        ids = set(ids)
        with self._lock:
            self.records = [r for r in self.records if not (
                r["id"] in ids and r["resource_type"] == resource_type and r["resource_id"] == resource_id)]

    def attach(self, records: list[dict]) -> None:
        with self._lock:
            self.records.extend(dict(r) for r in records)

    def put(self, resource_type: str, resource_id: int, serials) -> tuple[list[dict], list[dict]]:
        """POST as Katana does it: each string not on the resource gets a record (a new id), one
        already on it is ``failed`` with ``DUPLICATE``. Returns (successful, failed)."""
        done, failed = [], []
        with self._lock:
            for serial in serials:
                if any(r["serial_number"] == serial and r["resource_type"] == resource_type
                       and r["resource_id"] == resource_id for r in self.records):
                    failed.append({"serial_number": serial, "reason": "DUPLICATE"})
                    continue
                self.minted += 1
                made = record(10 ** 8 + self.minted, serial, resource_type, resource_id)
                self.records.append(made)
                done.append(made)
        return done, failed

    def strings(self, resource_type: str, resource_id: int) -> list[str]:
        """Serial strings on a resource now, in order (a serial twice would show twice)."""
        return [r["serial_number"] for r in self.find(resource_type, resource_id)]

    def on(self, resource_type: str, resource_id: int) -> set[int]:
        """Ids on a resource now (for assertions against what the server really holds)."""
        return {r["id"] for r in self.find(resource_type, resource_id)}

    # -- serving
    @property
    def base_url(self) -> str:
        return self._server.base_url

    def __enter__(self) -> "MisbehavingKatana":
        app = Starlette(routes=[Route("/v1/serial_numbers", self._handle, methods=["GET", "DELETE", "POST"])])
        self._server = SandboxServer(app).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()  # releases every hanging answer, so the server can stop at once
        self._server.stop()

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(request.method, dict(request.query_params), body)
        self.calls.append(call)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await unauthorized()(call, self)
        return await self._answer(call)

    async def _answer(self, call: Call) -> Response:
        rule = next((rule for rule in self.rules if rule.takes(call)), None)
        response = await (rule.answer if rule else honest())(call, self)
        if "date" not in response.headers:
            response.headers["Date"] = formatdate(self.now(), usegmt=True)
        return response


# --------------------------------------------------------------------------- answers

def quota_headers(remaining: int = 9_999) -> dict:
    """A roomy window, so pacing learns it at once and never holds a test back."""
    reset_ms = int((time.time() + 60) * 1000)
    return {"X-Ratelimit-Limit": "10000", "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Reset": str(reset_ms)}


def page_answer(found: list[dict], page: int, size: int, *, last_page: bool | None = None,
                total: int | None = None, header: bool = True) -> Response:
    """One page of ``found`` with the API's X-Pagination (``total`` / ``last_page`` may lie)."""
    pages = max(1, math.ceil(len(found) / size))
    pagination = {
        "total_records": str(len(found) if total is None else total),
        "total_pages": str(pages),
        "offset": str((page - 1) * size),
        "page": str(page),
        "first_page": str(page == 1).lower(),
        "last_page": str(page >= pages if last_page is None else last_page).lower(),
    }
    headers = quota_headers() | ({"X-Pagination": json.dumps(pagination)} if header else {})
    return JSONResponse({"data": found[(page - 1) * size: page * size]}, headers=headers)


def honest(page_size: int | None = None, header: bool = True) -> Answer:
    """What Katana does: GET lists (with ``page_size`` records a page whatever ``limit``
    asks, if given), DELETE detaches the ids on the named resource and answers 204."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        if call.method == "DELETE":
            katana.detach(call.body["resource_type"], call.body["resource_id"], call.body["ids"])
            return Response(status_code=204, headers=quota_headers())
        if call.method == "POST":
            done, failed = katana.put(call.body["resource_type"], call.body["resource_id"], call.body["serial_numbers"])
            return JSONResponse({"successful": done, "failed": failed}, headers=quota_headers())
        found = katana.find(*call.resource)
        return page_answer(found, call.page, page_size or call.limit, header=header)

    return answer


def same_page_forever() -> Answer:
    """Page 1 for every page asked, never the last."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        return page_answer(katana.find(*call.resource), 1, call.limit, last_page=False,
                           total=10 ** 6)

    return answer


def endless_new_records(total: int = 300) -> Answer:
    """Full pages of records never seen before, forever, while claiming ``total`` records."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        rtype, rid = call.resource
        made = [{"id": 10 ** 7 + call.page * 1000 + i, "serial_number": f"GHOST{call.page:05d}{i:04d}",
                 "resource_type": rtype, "resource_id": rid, "transaction_id": None,
                 "transaction_date": None, "quantity_change": 1} for i in range(call.limit)]
        response = page_answer(made, 1, call.limit, last_page=False, total=total)
        return response

    return answer


def then(action: Callable[[MisbehavingKatana], None], answer: Answer | None = None) -> Answer:
    """Do ``action`` to the server's records (another integration at work), then answer."""

    async def answer_after(call: Call, katana: MisbehavingKatana) -> Response:
        action(katana)
        return await (answer or honest())(call, katana)

    return answer_after


def slow(seconds: float, answer: Answer | None = None) -> Answer:
    """Answer after ``seconds`` (a busy tenant, a long network)."""

    async def answer_later(call: Call, katana: MisbehavingKatana) -> Response:
        await asyncio.sleep(seconds)
        return await (answer or honest())(call, katana)

    return answer_later


def leaves_in_place(*kept: int) -> Answer:
    """A DELETE that detaches the ids asked for except ``kept``, and answers 204 all the same."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        ids = [i for i in call.body["ids"] if i not in kept]
        katana.detach(call.body["resource_type"], call.body["resource_id"], ids)
        return Response(status_code=204, headers=quota_headers())

    return answer


def rate_limited(retry_after: float) -> Answer:
    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"}
        return JSONResponse({"statusCode": 429, "name": "TooManyRequests", "message": "Too Many Requests"},
                            status_code=429, headers=headers)

    return answer


def quota_spent(reset_in: float, now: Callable[[], float] = time.time) -> Answer:
    """A 200 that says the window is spent and resets ``reset_in`` seconds from ``now()``
    (pass a fake clock's ``now`` when the client runs on it)."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        response = await honest()(call, katana)
        response.headers.update({"X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": "0",
                                 "X-Ratelimit-Reset": str(int((now() + reset_in) * 1000)),
                                 "Date": formatdate(now(), usegmt=True)})
        return response

    return answer


def hang() -> Answer:
    """Never answer (until the server stops)."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        while not katana.stopping.is_set():
            await asyncio.sleep(0.05)
        return Response(status_code=504)

    return answer


PROXY_PAGE = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>"
              "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")


def html(status: int = 502) -> Answer:
    """A proxy's HTML error page."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        return Response(PROXY_PAGE, status_code=status, media_type="text/html")

    return answer


def truncated_json() -> Answer:
    """A 200 whose JSON body was cut off mid-way."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        full = json.dumps({"data": katana.find(*call.resource)})
        return Response(full[: max(10, len(full) // 2)], status_code=200, media_type="application/json",
                        headers=quota_headers())

    return answer


def without_data() -> Answer:
    """A 200 with JSON that is not the API's list (no ``data``)."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        return JSONResponse({"items": [], "status": "ok"}, headers=quota_headers())

    return answer


def unauthorized() -> Answer:
    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        return JSONResponse({"statusCode": 401, "name": "UnauthorizedError", "message": "Unauthorized"},
                            status_code=401)

    return answer


def ignoring(*filters: str) -> Answer:
    """A gateway that drops query filters (``resource_id``, ``resource_type``) before the API sees them."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        kept = {k: v for k, v in call.params.items() if k not in filters}
        return await honest()(Call(call.method, kept, call.body), katana)

    return answer


def without_serial_number(record_id: int) -> Answer:
    """An honest list in which one record comes without its ``serial_number``."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        found = [dict(r) for r in katana.find(*call.resource)]
        for r in found:
            if r["id"] == record_id:
                del r["serial_number"]
        return page_answer(found, call.page, call.limit)

    return answer


def empty_list() -> Answer:
    """``{"data": []}`` with a header that agrees: a cache or gateway that lost the list."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        return page_answer([], call.page, call.limit)

    return answer


def lands_late(seconds: float) -> Answer:
    """A DELETE answered 204 at once and carried out ``seconds`` later (a queue behind the gateway)."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        body = dict(call.body)
        timer = threading.Timer(seconds, katana.detach, (body["resource_type"], body["resource_id"], body["ids"]))
        timer.daemon = True
        timer.start()
        return Response(status_code=204, headers=quota_headers())

    return answer


def post_fails(reason: str = "MISSING") -> Answer:
    """A POST answered 200 with every string in ``failed`` (``reason``), nothing put on."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        failed = [{"serial_number": s, "reason": reason} for s in call.body["serial_numbers"]]
        return JSONResponse({"successful": [], "failed": failed}, headers=quota_headers())

    return answer


def post_lands_late(seconds: float) -> Answer:
    """A POST answered ``successful`` at once and carried out ``seconds`` later (a queue behind the gateway)."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        body = dict(call.body)
        timer = threading.Timer(seconds, katana.put, (body["resource_type"], body["resource_id"], body["serial_numbers"]))
        timer.daemon = True
        timer.start()
        promised = [record(0, s, body["resource_type"], body["resource_id"]) for s in body["serial_numbers"]]
        return JSONResponse({"successful": promised, "failed": []}, headers=quota_headers())

    return answer


def lost_answer(status: int = 502) -> Answer:
    """A POST carried out, whose answer is lost on the way back: a proxy's ``status`` page instead."""

    async def answer(call: Call, katana: MisbehavingKatana) -> Response:
        katana.put(call.body["resource_type"], call.body["resource_id"], call.body["serial_numbers"])
        return await html(status)(call, katana)

    return answer


def after_a_post(katana: MisbehavingKatana) -> Callable[[Call], bool]:
    """A ``when`` for rules: requests once a POST has been received."""
    return lambda call: katana.count("POST") > 0


def after_a_delete(katana: MisbehavingKatana) -> Callable[[Call], bool]:
    """A ``when`` for rules: requests once a DELETE has been received."""
    return lambda call: katana.count("DELETE") > 0


def on_resource(resource_type: str, resource_id: int | None = None) -> Callable[[Call], bool]:
    """A ``when`` for rules: requests about that resource (or type)."""
    return lambda call: call.resource == (resource_type, resource_id) if resource_id is not None \
        else call.resource[0] == resource_type


def on_page(page: int) -> Callable[[Call], bool]:
    return lambda call: call.page == page


def record(id: int, serial_number: str, resource_type: str = "ManufacturingOrder", resource_id: int = 3001) -> dict:
    return {"id": id, "serial_number": serial_number, "resource_type": resource_type, "resource_id": resource_id,
            "transaction_id": f"tx-{id}", "transaction_date": "2024-01-15T08:00:00.000Z", "quantity_change": 1}


def serials(count: int, resource_type: str = "ManufacturingOrder", resource_id: int = 4000,
            first_id: int = 10_000) -> list[dict]:
    return [record(first_id + i, f"SN{first_id + i:08d}", resource_type, resource_id) for i in range(count)]
