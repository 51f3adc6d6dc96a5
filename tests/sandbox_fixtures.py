"""Small seeds and helpers shared by the sandbox and client tests."""

from __future__ import annotations

import asyncio
import json

import httpx
import jsonschema

from sn_importer.schemas import schema_for

KEY = "sandbox"
AUTH = {"Authorization": f"Bearer {KEY}"}


def serial(id: int, serial_number: str, resource_type: str = "ManufacturingOrder", resource_id: int = 3001) -> dict:
    return {
        "id": id,
        "serial_number": serial_number,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "transaction_id": f"tx-{id}",
        "transaction_date": "2024-01-15T08:00:00.000Z",
        "quantity_change": 1,
    }


def small_seed() -> list[dict]:
    """Serial 904179 sits on three resources (make-to-order); two MOs hold others."""
    return [
        serial(904179, "KNF000904179", "Production", 7001),
        serial(904179, "KNF000904179", "ManufacturingOrder", 3001),
        serial(904179, "KNF000904179", "SalesOrderRow", 5001),
        serial(1002, "KNF000001002", "ManufacturingOrder", 3001),
        serial(1001, "KNF000001001", "ManufacturingOrder", 3001),
        serial(2001, "KNF000002001", "ManufacturingOrder", 3002),
    ]


def orders_seed() -> dict:
    """MO-3001 is not id 3001; SO-1042 holds two rows of KNF-02; PO-77 one row of STL-304."""
    return {
        "serial_numbers": [serial(1, "SN-1", "ManufacturingOrder", 8123)],
        "manufacturing_orders": [{"id": 3001, "order_no": "MO-2999"}, {"id": 8123, "order_no": "MO-3001"}],
        "sales_orders": [{"id": 601, "order_no": "SO-1042"}, {"id": 602, "order_no": "SO-1043"}],
        "sales_order_rows": [{"id": 5001, "sales_order_id": 601, "variant_id": 201},
                             {"id": 5002, "sales_order_id": 601, "variant_id": 202},
                             {"id": 5003, "sales_order_id": 601, "variant_id": 202},
                             {"id": 5004, "sales_order_id": 602, "variant_id": 201}],
        "purchase_orders": [{"id": 701, "order_no": "PO-77"}],
        "purchase_order_rows": [{"id": 7001, "purchase_order_id": 701, "variant_id": 301}],
        "variants": [{"id": 201, "sku": "KNF-01"}, {"id": 202, "sku": "KNF-02"}, {"id": 301, "sku": "STL-304"}],
    }


def many(count: int, resource_type: str = "ManufacturingOrder", resource_id: int = 4000, first_id: int = 10_000) -> list[dict]:
    return [serial(first_id + i, f"SN{first_id + i:08d}", resource_type, resource_id) for i in range(count)]


def grid(resources: int, per_resource: int) -> list[dict]:
    """``resources`` ManufacturingOrders 6000.. each holding ``per_resource`` serials."""
    return [r for n in range(resources) for r in many(per_resource, resource_id=6000 + n, first_id=100_000 + n * 1000)]


def assert_valid(instance: object, name: str) -> None:
    jsonschema.validate(instance, schema_for(name), format_checker=jsonschema.FormatChecker())


def assert_api_headers(response: httpx.Response) -> None:
    """Every API answer carries the rate-limit headers, in the documented shape."""
    assert_valid({k: v for k, v in response.headers.items() if k.startswith(("x-ratelimit", "retry-after"))}, "RateLimitHeaders")


def pagination(response: httpx.Response) -> dict:
    value = json.loads(response.headers["x-pagination"])
    assert_valid(value, "XPagination")
    return value


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and keeps every request the client sent (method, path, JSON body)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.sent: list[tuple[str, str, object]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, request.url.path, body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class InProcess:
    """A synchronous caller of a sandbox app through ``httpx.ASGITransport`` (no socket)."""

    def __init__(self, app, headers: dict | None = None):
        self.app = app
        self.headers = dict(AUTH if headers is None else headers)

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=self.headers) as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)
