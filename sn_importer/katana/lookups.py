"""Order numbers and SKUs → Katana ids: the step between validation and the engine.

Staff know ``MO-3001``, ``SO-1042`` and SKUs; Katana's ids appear only in its
URLs, and an order number is not an id (``MO-3001`` may well be id 8301, while
id 3001 is some other order). Rows that name their resource by ``order_no``
(ManufacturingOrder) or ``order_no`` + ``sku`` (SalesOrderRow,
PurchaseOrderRow) are resolved here through Katana's list endpoints, as
API-NOTES "Looking resources up by the numbers staff know" describes.

Every lookup spends the tenant's quota, so each distinct order, SKU and
(order, SKU) row search is asked once per run, through the run's
:class:`~sn_importer.katana.client.KatanaClient` (pacing, retries and counts apply),
and :func:`lookup_requests` says beforehand how many that can be. An order or
SKU Katana does not know, or an order holding several rows of the SKU, makes
its rows ``invalid`` and nothing is sent for them.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace

import pandas as pd

from .client import KatanaClient
from ..errors import ApiRequestError, ApiUnavailableError
from ..resource_types import BY_ORDER, OrderLookup, staff_resource
from ..references import Reference, Resolution, references
from ..status import Status


@dataclass(frozen=True)
class Found:
    """What Katana said about a reference: the resource id, or why there is none."""

    resource_id: int | None
    problem: str = ""
    status: Status = Status.INVALID  # of the rows, when there is a problem
    unknown: str = ""  # "order" or "sku": the one Katana does not know, for a near miss in the same file


def _same(a: object, b: str) -> bool:
    return str(a).strip().casefold() == b.strip().casefold()


class Lookups:
    """Resolves references through one client, asking Katana once per distinct question.

    Answers are cached as tasks, so references resolved concurrently share a
    request that is still in flight instead of sending it twice.
    """

    def __init__(self, client: KatanaClient):
        self.client = client
        self._asked: dict[tuple, asyncio.Task] = {}

    async def find(self, ref: Reference) -> Found:
        """The id of the resource ``ref`` names, or the problem in plain words."""
        kind = BY_ORDER[ref.resource_type]
        try:
            order = await self._one_order(kind, ref.order_no)
            if isinstance(order, Found):
                return order
            if kind.rows is None:
                return Found(order)
            variants = await self._variants(ref.sku)
            if isinstance(variants, Found):
                return variants
            return await self._row(kind, ref, order, variants)
        except (ApiRequestError, ApiUnavailableError) as exc:
            return Found(None, f"could not look up {ref} in Katana: {exc}", Status.FAILED)

    async def _one_order(self, kind: OrderLookup, order_no: str) -> int | Found:
        records = await self._ask(kind.orders, {"order_no": order_no})
        ids = sorted({int(r["id"]) for r in records if _same(r.get("order_no"), order_no) and "id" in r})
        if not ids:
            return Found(None, f"Katana has no {kind.order_words} {order_no}", unknown="order")
        if len(ids) > 1:
            return Found(None, f"Katana has several {kind.order_words}s numbered {order_no} "
                               f"(ids {_listed(ids)}); give the resource_id instead")
        return ids[0]

    async def _variants(self, sku: str) -> set[int] | Found:
        records = await self._ask("/variants", {"sku": sku})
        ids = {int(r["id"]) for r in records if _same(r.get("sku"), sku) and "id" in r}
        return ids or Found(None, f"Katana has no item with SKU {sku}", unknown="sku")

    async def _row(self, kind: OrderLookup, ref: Reference, order_id: int, variants: set[int]) -> Found:
        rows: set[int] = set()
        for variant_id in sorted(variants):
            records = await self._ask(kind.rows, {kind.order_filter: order_id, "variant_id": variant_id})
            rows |= {int(r["id"]) for r in records
                     if r.get(kind.order_field) == order_id and r.get("variant_id") == variant_id and "id" in r}
        if not rows:
            return Found(None, f"{kind.order_words} {ref.order_no} has no row with SKU {ref.sku}")
        if len(rows) > 1:
            return Found(None, f"{kind.order_words} {ref.order_no} has {len(rows)} rows with SKU {ref.sku} "
                               f"(row ids {_listed(sorted(rows))}); add a resource id column and give the row's id there")
        return Found(rows.pop())

    def _ask(self, path: str, params: dict) -> asyncio.Task:
        """The records ``path`` lists for ``params``: asked once, shared by every caller."""
        key = (path, tuple(sorted(params.items())))
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self.client.list_records(path, params))
        return self._asked[key]

    @property
    def questions(self) -> int:
        """How many distinct questions were put to Katana (one request each, unless paged or retried)."""
        return len(self._asked)


def _listed(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


async def resolve(rows: pd.DataFrame, lookups: Lookups,
                  words: dict[str, dict[str, str]] | None = None) -> Resolution:
    """Resolve every row named by order number; the rows frame is only read. ``words``: each sheet's
    words for the fields (its own headers), for the messages."""
    refs = references(rows)
    found = _near_misses(list(refs), await asyncio.gather(*(lookups.find(ref) for ref in refs)))
    resolution = Resolution()
    given, sheets = rows["resource_id"], rows.get("sheet")
    for (ref, labels), answer in zip(refs.items(), found):
        for label in labels:
            sheet_words = (words or {}).get(sheets.at[label], {}) if sheets is not None else {}
            named = sheet_words.get("resource_id", "resource id")
            _settle(resolution, label, ref, answer, given.at[label], named)
    return resolution


def _near_misses(refs: list[Reference], found: list[Found]) -> list[Found]:
    """An order number or SKU Katana does not know that another row of the file writes otherwise
    and Katana found ("mo-2917" beside "MO-2917", "KNF 01" beside "KNF-01") says so: Katana
    matches them as written, and staff see the right spelling at once. Costs no request."""
    orders = {(ref.resource_type, _letters(ref.order_no)): ref.order_no
              for ref, answer in zip(refs, found) if answer.resource_id is not None}
    skus = {_letters(ref.sku): ref.sku for ref, answer in zip(refs, found) if answer.resource_id is not None and ref.sku}
    out = []
    for ref, answer in zip(refs, found):
        twin, what = None, ""
        if answer.unknown == "order":
            twin, what = orders.get((ref.resource_type, _letters(ref.order_no))), "order number"
        elif answer.unknown == "sku":
            twin, what = skus.get(_letters(ref.sku)), "SKU"
        if twin:
            answer = replace(answer, problem=f"{answer.problem}; another row writes it {twin}, which Katana "
                                             f"found: write the {what} as Katana shows it")
        out.append(answer)
    return out


def _letters(text: str) -> str:
    """Letters and digits alone, case folded: what two spellings of one number share."""
    return re.sub(r"[\W_]+", "", text).casefold()


def _settle(resolution: Resolution, label, ref: Reference, answer: Found, given, named: str) -> None:
    """One row's outcome: its resolved id, or the problem (also when a given id disagrees)."""
    if answer.resource_id is None:
        resolution.problems[label] = (answer.status.value, answer.problem)
        return
    if not pd.isna(given) and int(given) != answer.resource_id:
        resolution.problems[label] = (Status.INVALID.value,
                                      f"{named} {int(given)} is not {ref}, which is "
                                      f"{staff_resource(ref.resource_type, answer.resource_id)} in Katana")
        return
    resolution.ids[label] = answer.resource_id
    resolution.notes[label] = f"{ref} is {staff_resource(ref.resource_type, answer.resource_id)}"


__all__ = ["Found", "Lookups", "resolve"]
