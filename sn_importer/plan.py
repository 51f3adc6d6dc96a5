"""The plan: one delete request per resource, chunked.

Valid rows are grouped by (resource_type, resource_id) in the order the
resources first appear, their serials kept in first-seen order and cut into
chunks of the template's ``ids_per_request``. The plan is a plain DataFrame so
the command line, the notebook and the web page all show the same thing, and
the API stage walks it resource by resource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .status import Status

PLAN_COLUMNS = ("resource_type", "resource_id", "serials", "requests")
PAGE_SIZE = 250


@dataclass(frozen=True)
class Plan:
    """The resources to touch and the rows of each, in first-seen order."""

    resources: pd.DataFrame  # PLAN_COLUMNS, one row per resource
    members: dict[tuple[str, int], np.ndarray]  # resource → row labels in the rows frame
    ids_per_request: int

    @property
    def resource_count(self) -> int:
        return len(self.resources)

    @property
    def serial_count(self) -> int:
        return int(self.resources["serials"].sum()) if len(self.resources) else 0

    @property
    def delete_requests(self) -> int:
        return int(self.resources["requests"].sum()) if len(self.resources) else 0

    def api_requests(self, with_delete: bool = True) -> int:
        """Requests a run needs at most: list before, DELETE chunks, list after."""
        if not len(self.resources):
            return 0
        pages = np.maximum(1, np.ceil(self.resources["serials"].to_numpy() / PAGE_SIZE)).astype(int)
        if not with_delete:
            return int(pages.sum())
        return int((2 * pages).sum() + self.delete_requests)


def build_plan(rows: pd.DataFrame, ids_per_request: int) -> Plan:
    """Group the valid rows of ``rows`` into per-resource requests (and label each row)."""
    valid = rows[rows["status"] == Status.VALID.value]
    if valid.empty:
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in PLAN_COLUMNS})
        return Plan(empty, {}, ids_per_request)
    keys = ["resource_type", "resource_id"]
    groups = valid.groupby(keys, sort=False, observed=True)
    sizes = groups.size()
    resources = sizes.rename("serials").reset_index()
    resources["resource_id"] = resources["resource_id"].astype("int64")
    resources["requests"] = -(-resources["serials"] // ids_per_request)
    indices = groups.indices
    members = {(str(t), int(i)): valid.index.to_numpy()[indices[(t, i)]] for t, i in sizes.index}
    rows.loc[valid.index, "request"] = _labels(valid, groups, ids_per_request)
    return Plan(resources[list(PLAN_COLUMNS)], members, ids_per_request)


def _labels(valid: pd.DataFrame, groups, ids_per_request: int) -> pd.Series:
    """'DELETE ManufacturingOrder 3001 (1/2)' for every valid row, vectorised."""
    chunk = groups.cumcount() // ids_per_request + 1
    total = -(-groups["resource_id"].transform("size") // ids_per_request)
    head = "DELETE " + valid["resource_type"].astype(str) + " " + valid["resource_id"].astype(str)
    return head + " (" + chunk.astype(str) + "/" + total.astype(str) + ")"
