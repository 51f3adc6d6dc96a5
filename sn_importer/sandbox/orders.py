"""The sandbox's orders: the lists staff numbers are looked up in.

Katana's internal ids appear in URLs only; staff know order numbers
(``MO-3001``) and SKUs. The importer finds a resource's id through six list
endpoints (API-NOTES, "Looking resources up by the numbers staff know"), and
this module is the tenant's side of them: the seeded manufacturing orders,
sales orders and their rows, purchase orders and their rows, and variants,
with the filters those lookups use. The seed gives ids and the linking
fields; the rest of each record is filled in the API's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

#: Seed key / endpoint → (fields a seed record must carry: name → kind).
TABLES: dict[str, dict[str, str]] = {
    "manufacturing_orders": {"id": "int", "order_no": "str"},
    "sales_orders": {"id": "int", "order_no": "str"},
    "sales_order_rows": {"id": "int", "sales_order_id": "int", "variant_id": "int"},
    "purchase_orders": {"id": "int", "order_no": "str"},
    "purchase_order_rows": {"id": "int", "purchase_order_id": "int", "variant_id": "int"},
    "variants": {"id": "int", "sku": "str"},
}

#: Query filter → (record field, how the value is read). Only the filters the
#: lookups need, plus ``ids``; other query parameters are ignored, as unknown
#: filters are by most list endpoints.
FILTERS: dict[str, dict[str, tuple[str, str]]] = {
    "manufacturing_orders": {"ids": ("id", "ints"), "order_no": ("order_no", "str"), "status": ("status", "str")},
    "sales_orders": {"ids": ("id", "ints"), "order_no": ("order_no", "str")},
    "sales_order_rows": {"ids": ("id", "ints"), "sales_order_ids": ("sales_order_id", "ints"),
                         "variant_id": ("variant_id", "int")},
    "purchase_orders": {"ids": ("id", "ints"), "order_no": ("order_no", "str")},
    "purchase_order_rows": {"ids": ("id", "ints"), "purchase_order_id": ("purchase_order_id", "int"),
                            "variant_id": ("variant_id", "int")},
    "variants": {"ids": ("id", "ints"), "sku": ("sku", "strs")},
}

#: What a seed record that leaves them out gets, per table (the API's shapes).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "manufacturing_orders": {"status": "NOT_STARTED", "variant_id": None, "planned_quantity": 1,
                             "actual_quantity": None, "location_id": 1, "is_linked_to_sales_order": False},
    "sales_orders": {"customer_id": 1, "status": "NOT_SHIPPED", "location_id": 1, "currency": "USD"},
    "sales_order_rows": {"quantity": 1, "location_id": 1},
    "purchase_orders": {"status": "NOT_RECEIVED", "entity_type": "regular", "supplier_id": 1,
                        "currency": "USD", "location_id": 1},
    "purchase_order_rows": {"quantity": 1, "purchase_uom": "pcs"},
    "variants": {"type": "product"},
}
_STAMPS = {"created_at": "2026-11-01T08:00:00.000Z", "updated_at": "2026-11-01T08:00:00.000Z", "deleted_at": None}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_table(name: str, records: Any) -> list[dict]:
    """The seed's records of one table, filled in; ValueError naming the record and field."""
    if not isinstance(records, list):
        raise ValueError(f"{name!r} must be a list of objects")
    required = TABLES[name]
    seen: set[int] = set()
    checked = []
    for index, raw in enumerate(records):
        where = f"{name}[{index}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected an object, found {type(raw).__name__}")
        for field, kind in required.items():
            value = raw.get(field)
            ok = _is_int(value) if kind == "int" else isinstance(value, str) and value.strip() != ""
            if not ok:
                wanted = "an integer" if kind == "int" else "a non-empty string"
                raise ValueError(f"{where}: {field!r} must be {wanted}, found {value!r}")
        if raw["id"] in seen:
            raise ValueError(f"{where}: id {raw['id']} appears twice")
        seen.add(raw["id"])
        checked.append({**_DEFAULTS[name], **_STAMPS, **raw})
    return checked


class QueryError(ValueError):
    """A query value of the wrong type: (parameter, expected type) for a 422."""

    def __init__(self, parameter: str, expected: str):
        super().__init__(f"{parameter} should be {expected}")
        self.parameter, self.expected = parameter, expected


def _read(parameter: str, values: list[str], kind: str) -> set | str | int:
    """A query parameter as its filter wants it. Arrays come repeated or comma-separated."""
    if kind == "str":
        return values[-1]
    items = [part.strip() for value in values for part in value.split(",") if part.strip() != ""]
    if kind == "strs":
        return set(items)
    try:
        numbers = {int(item) for item in items}
    except ValueError:
        raise QueryError(parameter, "integer") from None
    if kind == "int":
        if len(numbers) != 1:
            raise QueryError(parameter, "integer")
        return next(iter(numbers))
    return numbers


@dataclass
class OrderBook:
    """The tenant's orders, rows and variants, keyed by endpoint name."""

    tables: dict[str, list[dict]]

    @classmethod
    def empty(cls) -> "OrderBook":
        return cls({name: [] for name in TABLES})

    @classmethod
    def from_seed(cls, document: dict) -> "OrderBook":
        return cls({name: check_table(name, document.get(name, [])) for name in TABLES})

    def find(self, table: str, query: Iterable[tuple[str, str]]) -> list[dict]:
        """Records of ``table`` matching the query's filters, most recent (highest id) first."""
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key.removesuffix("[]"), []).append(value)
        tests = []
        for parameter, (field, kind) in FILTERS[table].items():
            if parameter in grouped:
                wanted = _read(parameter, grouped[parameter], kind)
                tests.append((field, wanted))
        found = [dict(r) for r in self.tables[table] if all(_matches(r.get(f), w) for f, w in tests)]
        return sorted(found, key=lambda r: -r["id"])

    def counts(self) -> dict[str, int]:
        return {name: len(records) for name, records in self.tables.items()}


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, set):
        return value in wanted
    return value == wanted
