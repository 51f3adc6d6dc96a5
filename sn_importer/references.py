"""Rows that name their resource by order number (and SKU), and what Katana said they name.

Staff know ``MO-3001``, ``SO-1042`` and SKUs; Katana's ids appear only in its
URLs. Which rows name a resource that way, which distinct references they
make, and how many lookups resolving them costs are questions about the rows
alone, asked by the plan, the estimate and the console before anything talks
to Katana; :mod:`sn_importer.katana.lookups` asks Katana and answers with a
:class:`Resolution`, which the fold writes into a run's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .resource_types import BY_ORDER
from .status import Status, is_one_of


@dataclass(frozen=True)
class Reference:
    """A resource as a row names it: its type, order number and (for order rows) SKU."""

    resource_type: str
    order_no: str
    sku: str = ""

    def __str__(self) -> str:
        return f"{self.order_no} / SKU {self.sku}" if self.sku else self.order_no


@dataclass
class Resolution:
    """The outcome of resolving a rows frame, by row label."""

    ids: dict[object, int] = field(default_factory=dict)  # row → resolved resource id
    problems: dict[object, tuple[str, str]] = field(default_factory=dict)  # row → (status, message)
    notes: dict[object, str] = field(default_factory=dict)  # row → "MO-3001 is ManufacturingOrder 8301"

    def resource_ids(self) -> pd.Series:
        """The resolved resource ids by row label (what the plan of the run is built from)."""
        return pd.Series(self.ids, dtype="Int64")


def by_order_mask(rows: pd.DataFrame) -> pd.Series:
    """Rows still open (``valid``) that name their resource by order number: a
    ManufacturingOrder by ``order_no``, an order row by ``order_no`` and ``sku``.

    An order row with a ``resource_id`` but no SKU is not looked up: its id says it all.
    """
    if "order_no" not in rows:
        return pd.Series(False, index=rows.index)
    rtype = rows["resource_type"]
    has_sku = rows["sku"].astype(str) != ""
    whole = [name for name, lookup in BY_ORDER.items() if not lookup.needs_sku]
    with_rows = [name for name, lookup in BY_ORDER.items() if lookup.needs_sku]
    return (pd.Series(is_one_of(rows["status"], Status.VALID.value), index=rows.index)
            & (rows["order_no"].astype(str) != "") & (rtype.isin(whole) | (rtype.isin(with_rows) & has_sku)))


def references(rows: pd.DataFrame) -> dict[Reference, list]:
    """Each distinct reference in ``rows`` and the labels of the rows naming it, in first-seen order."""
    part = rows.loc[by_order_mask(rows), ["resource_type", "order_no", "sku"]]
    found: dict[Reference, list] = {}
    for label, rtype, order_no, sku in part.itertuples(name=None):
        ref = Reference(rtype, str(order_no).strip(), str(sku).strip() if BY_ORDER[rtype].needs_sku else "")
        found.setdefault(ref, []).append(label)
    return found


def lookup_requests(rows: pd.DataFrame) -> int:
    """The most lookups resolving ``rows`` needs: one per distinct order, per distinct
    SKU, and per distinct (order, SKU) row search (fewer when an order is unknown)."""
    refs = references(rows)
    orders = {(r.resource_type, r.order_no) for r in refs}
    skus = {r.sku for r in refs if r.sku}
    row_searches = {r for r in refs if r.sku}
    return len(orders) + len(skus) + len(row_searches)


__all__ = ["Reference", "Resolution", "by_order_mask", "lookup_requests", "references"]
