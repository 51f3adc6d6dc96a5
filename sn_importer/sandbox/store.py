"""The sandbox's state: the tenant's serial-number records, its rate-limit
window and the counters behind ``GET /_sandbox/stats``.

Records are keyed by ``(id, resource_type, resource_id)`` because one serial id
can sit on several resources at once (a make-to-order serial is on a
Production, a ManufacturingOrder and a SalesOrderRow with the same id), and a
DELETE detaches it from one of them only. The store is shared between the
server thread and the tests that inspect it, hence the lock.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..clock import Clock, SystemClock
from ..errors import InputError
from ..resource_types import CREATABLE as CREATE_TYPES
from ..resource_types import MINTING as MINT_TYPES
from ..resource_types import NAMES as RESOURCE_TYPES
from ..resources import sample_seed_path
from .orders import TABLES, OrderBook

Key = tuple[int, str, "int | None"]


def record_key(record: dict) -> Key:
    return (record["id"], record["resource_type"], record["resource_id"])


def _sort_key(record: dict) -> tuple:
    rid = record["resource_id"]
    return (record["serial_number"], record["id"], record["resource_type"], -1 if rid is None else rid)


# --------------------------------------------------------------------------- seed


@dataclass(frozen=True)
class Seed:
    """A tenant to start from: its serial-number records and its orders."""

    serial_numbers: list[dict]
    orders: OrderBook = field(default_factory=OrderBook.empty)

    def __len__(self) -> int:
        return len(self.serial_numbers)


SEED_FORMS = ('a JSON array of SerialNumber records, {"data": [...]}, or an object with '
              '"serial_numbers" and the order lists (' + ", ".join(TABLES) + ")")


def load_seed(path: str | Path | None = None) -> Seed:
    """Read a seed file: a JSON array of SerialNumber records, ``{"data": [...]}``,
    or an object ``{"serial_numbers": [...], "manufacturing_orders": [...], ...}``.

    ``None`` means the samples' dataset. A file that cannot be used raises
    :class:`InputError` naming the file and the problem (which record, which field).
    """
    path = Path(path) if path is not None else sample_seed_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(path, "seed file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the seed file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    try:
        return seed_from(document)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None


def seed_from(document: Any) -> Seed:
    """A :class:`Seed` from a parsed seed document (any of the three forms), or ValueError."""
    object_keys = {"serial_numbers", *TABLES}
    if isinstance(document, dict) and isinstance(document.get("data"), list) and not object_keys & set(document):
        document = document["data"]
    if isinstance(document, list):
        return Seed(check_records(document))
    if not isinstance(document, dict) or not object_keys & set(document):
        raise ValueError(f"expected {SEED_FORMS}")
    unknown = sorted(set(document) - object_keys)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; expected {SEED_FORMS}")
    serials = document.get("serial_numbers", [])
    if not isinstance(serials, list):
        raise ValueError("'serial_numbers' must be a list of SerialNumber records")
    return Seed(check_records(serials), OrderBook.from_seed(document))


def check_records(records: Iterable[Any]) -> list[dict]:
    """Normalise seed records (optional fields filled) or raise ValueError saying which and why."""
    checked: list[dict] = []
    seen: set[Key] = set()
    for index, raw in enumerate(records):
        record = _check_record(raw, f"record {index}")
        if record_key(record) in seen:
            raise ValueError(
                f"record {index}: serial id {record['id']} appears twice on "
                f"{record['resource_type']} {record['resource_id']}"
            )
        seen.add(record_key(record))
        checked.append(record)
    return checked


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_record(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object, found {type(raw).__name__}")
    for field in ("id", "serial_number", "resource_type"):
        if field not in raw:
            raise ValueError(f"{where}: missing {field!r}")
    if not _is_int(raw["id"]):
        raise ValueError(f"{where}: 'id' must be an integer, found {raw['id']!r}")
    if not isinstance(raw["serial_number"], str) or not raw["serial_number"]:
        raise ValueError(f"{where}: 'serial_number' must be a non-empty string")
    if raw["resource_type"] not in RESOURCE_TYPES:
        raise ValueError(f"{where}: unknown resource_type {raw['resource_type']!r} (one of {', '.join(RESOURCE_TYPES)})")
    resource_id = raw.get("resource_id")
    if resource_id is not None and not _is_int(resource_id):
        raise ValueError(f"{where}: 'resource_id' must be an integer or null, found {resource_id!r}")
    quantity = raw.get("quantity_change", 1)
    if not _is_int(quantity):
        raise ValueError(f"{where}: 'quantity_change' must be an integer, found {quantity!r}")
    for field in ("transaction_id", "transaction_date"):
        if raw.get(field) is not None and not isinstance(raw[field], str):
            raise ValueError(f"{where}: {field!r} must be a string or null")
    return {
        **raw,
        "resource_id": resource_id,
        "transaction_id": raw.get("transaction_id"),
        "transaction_date": raw.get("transaction_date"),
        "quantity_change": quantity,
    }


# --------------------------------------------------------------------------- rate limit


@dataclass(frozen=True)
class Quota:
    """The window as one request saw it; becomes the X-Ratelimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int
    retry_after: int  # whole seconds until reset, for a 429

    def headers(self) -> dict[str, str]:
        headers = {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(self.reset_ms),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateWindow:
    """A fixed window of ``limit`` requests per ``seconds``, opened by the first request."""

    def __init__(self, limit: int, seconds: float, clock: Clock):
        if limit < 1 or seconds <= 0:
            raise ValueError("the rate limit needs at least 1 request per a positive number of seconds")
        self.limit, self.seconds, self.clock = limit, float(seconds), clock
        self._start: float | None = None
        self._count = 0

    def _roll(self, now: float, opening: bool) -> None:
        expired = self._start is None or now >= self._start + self.seconds
        if expired and opening:
            self._start, self._count = now, 0
        elif expired:
            self._count = 0

    def take(self) -> Quota:
        """Count one request (if the window has room) and describe the window."""
        now = self.clock.now()
        self._roll(now, opening=True)
        allowed = self._count < self.limit
        self._count += allowed
        return self._quota(now, allowed)

    def peek(self) -> Quota:
        """Describe the window without counting (for answers that do not use the quota)."""
        now = self.clock.now()
        self._roll(now, opening=False)
        return self._quota(now, True)

    def _quota(self, now: float, allowed: bool) -> Quota:
        reset = (self._start if self._start is not None and self._count else now) + self.seconds
        return Quota(
            allowed=allowed,
            limit=self.limit,
            remaining=self.limit - self._count,
            reset_ms=math.ceil(reset * 1000),
            retry_after=max(1, math.ceil(reset - now)),
        )


# --------------------------------------------------------------------------- store


class SandboxStore:
    """The tenant: serial-number records, the rate-limit window and the counters."""

    def __init__(self, records: Iterable[dict], *, rate_limit: tuple[int, float] = (60, 60.0), clock: Clock | None = None,
                 orders: OrderBook | None = None):
        self.clock = clock or SystemClock()
        self.orders = orders or OrderBook.empty()
        self.window = RateWindow(rate_limit[0], rate_limit[1], self.clock)
        self._records: dict[Key, dict] = {record_key(r): dict(r) for r in check_records(records)}
        self._lock = threading.RLock()
        self._last_id = max((r["id"] for r in self._records.values()), default=0)
        #: Every serial string the tenant has known, with its latest id: a serial detached from
        #: every resource still exists (in stock, as in Katana) and can be transferred back.
        self._known: dict[str, int] = {r["serial_number"]: r["id"] for r in self._records.values()}
        self.requests: Counter[str] = Counter({"GET": 0, "DELETE": 0, "POST": 0})
        self.statuses: Counter[str] = Counter()
        self.endpoints: Counter[str] = Counter()

    # -- records
    @property
    def records(self) -> list[dict]:
        """A copy of every record, sorted like the API sorts them."""
        with self._lock:
            return sorted((dict(r) for r in self._records.values()), key=_sort_key)

    def find(self, resource_type: str | None = None, resource_id: int | None = None) -> list[dict]:
        """Records matching the GET filters (either may be None), sorted by serial string."""
        with self._lock:
            found = [
                dict(r)
                for r in self._records.values()
                if (resource_type is None or r["resource_type"] == resource_type)
                and (resource_id is None or r["resource_id"] == resource_id)
            ]
        return sorted(found, key=_sort_key)

    def detach(self, resource_type: str, resource_id: int, ids: Iterable[int]) -> list[dict]:
        """Remove each id from exactly this resource; ids elsewhere or unknown are ignored."""
        with self._lock:
            removed = [self._records.pop((i, resource_type, resource_id), None) for i in set(ids)]
        return [r for r in removed if r is not None]

    def add(self, record: dict) -> bool:
        """Attach a record; False if that id already sits on that resource."""
        with self._lock:
            key = record_key(record)
            if key in self._records:
                return False
            self._records[key] = dict(record)
            self._last_id = max(self._last_id, record["id"])
            self._known[record["serial_number"]] = record["id"]
            return True

    def holds(self, resource: tuple[str, int], serial_number: str) -> bool:
        """The serial string is on that resource now."""
        with self._lock:
            return any(r["serial_number"] == serial_number and (r["resource_type"], r["resource_id"]) == resource
                       for r in self._records.values())

    def id_of(self, serial_number: str) -> int | None:
        """The id of a serial on some resource now (None: on none)."""
        with self._lock:
            return next((r["id"] for r in self._records.values() if r["serial_number"] == serial_number), None)

    def known_id(self, serial_number: str) -> int | None:
        """The id of a serial the tenant knows, on a resource now or detached from every one (None: never seen)."""
        with self._lock:
            return self.id_of(serial_number) or self._known.get(serial_number)

    def next_id(self) -> int:
        """A new id, never one a deleted record had (Katana does not reuse ids)."""
        with self._lock:
            self._last_id += 1
            return self._last_id

    def now_iso(self) -> str:
        moment = datetime.fromtimestamp(self.clock.now(), tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- counters
    def count(self, method: str, status: int | str, path: str | None = None) -> None:
        with self._lock:
            self.requests[method] += 1
            self.statuses[str(status)] += 1
            if path:
                self.endpoints[f"{method} {path.removeprefix('/v1')}"] += 1

    def stats(self) -> dict:
        """Requests by method, answers by status, and requests by endpoint ("GET /variants")."""
        with self._lock:
            return {"requests": dict(self.requests), "status": dict(sorted(self.statuses.items())),
                    "endpoints": dict(sorted(self.endpoints.items()))}
