"""The plan: one delete request per resource, chunked.

Valid rows are grouped by (resource_type, resource_id) in the order the
resources first appear, their serials kept in first-seen order and cut into
chunks of the template's ``ids_per_request``. The plan is a plain DataFrame so
the command line, the notebook and the web page all show the same thing, and
the API stage walks it resource by resource. Each planned row's request
label ("DELETE ManufacturingOrder 3001 (1/2)") is a value of the plan
(:attr:`Plan.labels`); the fold writes it into the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .status import Mode, Status, is_one_of
from .strategy import upfront_requests
from .words import plural

PLAN_COLUMNS = ("resource_type", "resource_id", "serials", "requests")


@dataclass(frozen=True)
class Plan:
    """The resources to touch and the rows of each, in first-seen order."""

    resources: pd.DataFrame  # PLAN_COLUMNS, one row per resource
    #: The planned rows' labels, resource after resource (each resource's ``serials`` of them, in input order).
    ordered: np.ndarray
    ids_per_request: int
    #: Each planned row's request label, by row label.
    labels: pd.Series = None

    @cached_property
    def members(self) -> dict[tuple[str, int], np.ndarray]:
        """Resource → its rows' labels in the rows frame. Made when a run asks (a check never does):
        a million rows on fifty thousand resources are fifty thousand slices."""
        ends = np.cumsum(self.resources["serials"].to_numpy(dtype=np.int64))
        starts = ends - self.resources["serials"].to_numpy(dtype=np.int64)
        return {(str(t), i): self.ordered[a:b] for t, i, a, b in zip(self.resources["resource_type"].tolist(),
                self.resources["resource_id"].tolist(), starts.tolist(), ends.tolist())}

    @property
    def resource_count(self) -> int:
        return len(self.resources)

    @property
    def serial_count(self) -> int:
        return int(self.resources["serials"].sum()) if len(self.resources) else 0

    @property
    def delete_requests(self) -> int:
        return int(self.resources["requests"].sum()) if len(self.resources) else 0

    @property
    def sentence(self) -> str:
        """"Plan: 3 serials on 1 resource, 1 DELETE request", as the console and the notebook say it."""
        return (f"Plan: {plural(self.serial_count, 'serial')} on {plural(self.resource_count, 'resource')}, "
                f"{plural(self.delete_requests, 'DELETE request')}")

    def api_requests(self, with_delete: bool = True) -> int:
        """Requests a run needs at most before Katana is asked anything (see :mod:`.strategy`,
        the one cost model: a run that lists a type whole needs fewer)."""
        mode = Mode.APPLY if with_delete else Mode.PREVIEW
        return upfront_requests(self.sizes(), self.ids_per_request, mode)

    def sizes(self) -> list[tuple[str, int]]:
        """(resource type, serials named on it) for every resource, in plan order."""
        return list(zip(self.resources["resource_type"].astype(str).tolist(),
                        self.resources["serials"].astype(int).tolist()))


def build_plan(rows: pd.DataFrame, ids_per_request: int, resource_ids: pd.Series | None = None) -> Plan:
    """Group the valid rows of ``rows`` into per-resource requests, with each row's request label.

    ``resource_ids`` (by row label) are the resources rows named by order number
    turned out to be, once Katana was asked; rows it leaves out that have no
    ``resource_id`` of their own are not planned.

    Resources are numbered in first-seen order by factorizing the
    (type, id) pair; a stable sort by that number gives each resource's rows
    in input order, so grouping, chunking and labelling are array operations
    and only the (few) resources, not the rows, are visited in Python.
    """
    # rows named by order number get their resource_id from Katana before a run: not planned until then
    ids = rows["resource_id"] if resource_ids is None else rows["resource_id"].where(
        ~rows.index.isin(resource_ids.index), resource_ids.reindex(rows.index))
    valid_mask = is_one_of(rows["status"], Status.VALID.value) & ids.notna().to_numpy()
    if not valid_mask.any():
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in PLAN_COLUMNS})
        return Plan(empty, np.array([], dtype=np.int64), ids_per_request, pd.Series(pd.Categorical([]), dtype="category"))
    valid = rows.loc[valid_mask, ["resource_type"]].assign(resource_id=ids[valid_mask])
    group = _resource_numbers(valid)
    sizes = np.bincount(group)
    first = np.unique(group, return_index=True)[1]  # first row of each resource, in resource order
    resources = pd.DataFrame({
        "resource_type": valid["resource_type"].to_numpy(dtype=object)[first],
        "resource_id": valid["resource_id"].to_numpy(dtype="int64")[first],
        "serials": sizes,
        "requests": -(-sizes // ids_per_request),
    })
    order = np.argsort(group, kind="stable")
    bounds = np.cumsum(sizes)[:-1]
    starts = np.concatenate(([0], bounds))
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - np.repeat(starts, sizes)
    labels = pd.Series(_labels(resources, group, rank // ids_per_request), index=valid.index)
    return Plan(resources[list(PLAN_COLUMNS)], valid.index.to_numpy()[order], ids_per_request, labels)


def _resource_numbers(valid: pd.DataFrame) -> np.ndarray:
    """0, 1, 2 ... per (resource_type, resource_id), numbered in first-seen order.

    Valid ids have at most 15 digits, so id * (types + 1) + type fits int64.
    """
    types, type_names = pd.factorize(valid["resource_type"])
    ids = valid["resource_id"].to_numpy(dtype="int64")
    number, _ = pd.factorize(ids * (len(type_names) + 1) + types)
    return number


def _labels(resources: pd.DataFrame, group: np.ndarray, chunk: np.ndarray) -> pd.Categorical:
    """'DELETE ManufacturingOrder 3001 (1/2)' for every valid row.

    One string per (resource, chunk) is built; rows hold theirs by code (a categorical).
    """
    totals = resources["requests"].to_numpy()
    offsets = np.concatenate(([0], np.cumsum(totals)[:-1]))
    texts = [f"DELETE {t} {i} ({k}/{total})"
             for t, i, total in zip(resources["resource_type"].tolist(), resources["resource_id"].tolist(), totals.tolist())
             for k in range(1, total + 1)]
    return pd.Categorical.from_codes(offsets[group] + chunk, categories=pd.Index(texts, dtype=object))
