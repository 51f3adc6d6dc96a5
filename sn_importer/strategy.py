"""How each resource type is listed: resource by resource, or the whole type at once.

Katana's DELETE says nothing, so every resource is listed before and after.
Listing resource by resource costs one request per resource per pass (more for
a resource with over 250 serials); ``GET /serial_numbers?resource_type=T``
lists every serial of type T in pages of 250, each record carrying its
``resource_id``, so for many resources in a small tenant the whole type is far
cheaper. Which one wins depends on how many serials the tenant holds of that
type, and only Katana knows that: the first page of the type-wide list (the
*probe*) tells it in its ``X-Pagination`` header. The probe is that list's
first page, so when the type-wide list is chosen it is not spent twice.

This module is the arithmetic only, the same for ``preview`` (one pass: the
list before) and ``apply`` (two passes: before and after): whether a type is
worth probing, which listing a probe's answer chooses, and what each costs.
It is the one cost model: the plan, the run's estimate and its result all ask
it (:func:`upfront_requests` before Katana has answered, :class:`ListingPlan`
after). The engine does the probing and the listing.

A list of more than one page is read twice (two reads must agree before it
is trusted), so a type-wide list of several pages costs its pages twice per
pass; a single page is one read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from .katana import PAGE_LIMIT
from .status import Mode


class Listing(str, Enum):
    """How a resource type's serials are listed."""

    PER_RESOURCE = "per_resource"
    TYPE_WIDE = "type_wide"


def passes(mode: str) -> int:
    """Lists each resource needs: before only (preview) or before and after (apply)."""
    return 2 if mode == Mode.APPLY else 1


def pages_for(serials: int) -> int:
    """Pages a list of ``serials`` records takes (an empty list is still one request)."""
    return max(1, math.ceil(serials / PAGE_LIMIT))


def read_cost(pages: int) -> int:
    """Requests one trusted read of a list of ``pages`` pages takes: one page is one read; several
    pages are read twice, and the two reads must agree."""
    return pages if pages <= 1 else 2 * pages


def worth_probing(list_pages: int) -> bool:
    """Whether a type-wide list could beat ``list_pages`` per-resource list requests.

    A type-wide list is at least one page per pass, so it can only win over
    two or more per-resource pages per pass; for one resource the probe would
    be a request spent for nothing.
    """
    return list_pages >= 2


def type_wide_wins(type_pages: int, list_pages: int) -> bool:
    """With the probe already made, is the type-wide list the cheaper one?

    Type-wide costs one trusted read of ``type_pages`` per pass, the probe
    being the first page of the first pass; per-resource lists cost
    ``list_pages`` per pass on top of the probe (a resource's own list is a
    page or a few). For both modes that comes to: type-wide when its read
    costs no more than the resources' lists.
    """
    return read_cost(type_pages) <= list_pages


@dataclass(frozen=True)
class TypeChoice:
    """The listing chosen for one resource type and what it costs.

    ``list_pages`` is the per-resource lists' pages for one pass (one per
    resource, plus one per further 250 serials the sheet names on it);
    ``type_records``/``type_pages`` are what the probe reported (None when
    the type was not probed).
    """

    resource_type: str
    resources: int
    list_pages: int
    delete_requests: int
    listing: Listing = Listing.PER_RESOURCE
    type_records: int | None = None
    type_pages: int | None = None

    @property
    def probed(self) -> bool:
        return self.type_pages is not None

    def list_requests(self, mode: str) -> int:
        """GETs this type needs at most in ``mode``, the probe included."""
        if self.listing is Listing.TYPE_WIDE:
            return passes(mode) * read_cost(max(1, self.type_pages or 0))
        return passes(mode) * self.list_pages + (1 if self.probed else 0)

    def requests(self, mode: str) -> int:
        """Every request this type needs at most: lists (probe included) and, for apply, the DELETEs."""
        return self.list_requests(mode) + (self.delete_requests if mode == Mode.APPLY else 0)

    def describe(self, mode: str) -> str:
        """One line for the estimate: the type, how it is listed and why."""
        many = "resource" if self.resources == 1 else "resources"
        if self.listing is Listing.TYPE_WIDE:
            when = "before and after" if passes(mode) == 2 else "once"
            return (f"{self.resource_type}: {self.resources} {many}, listed whole "
                    f"({self.type_pages} page{'s' if self.type_pages != 1 else ''} of its "
                    f"{self.type_records:,} serials in the tenant, {when})")
        why = (f"; the whole type is {self.type_records:,} serials, {self.type_pages} pages"
               if self.probed else "")
        return f"{self.resource_type}: {self.resources} {many}, listed one by one{why}"


def per_type(resources: Iterable[tuple[str, int, int]]) -> dict[str, TypeChoice]:
    """Per-resource costs by type from (resource_type, serials named, delete requests), in first-seen order."""
    choices: dict[str, TypeChoice] = {}
    for resource_type, serials, deletes in resources:
        known = choices.get(resource_type) or TypeChoice(resource_type, 0, 0, 0)
        choices[resource_type] = TypeChoice(resource_type, known.resources + 1,
                                            known.list_pages + read_cost(pages_for(serials)),
                                            known.delete_requests + deletes)
    return choices


def choose(choice: TypeChoice, type_records: int, type_pages: int) -> TypeChoice:
    """The probe's answer applied: the cheaper listing for this type."""
    pages = max(1, type_pages)
    listing = Listing.TYPE_WIDE if type_wide_wins(pages, choice.list_pages) else Listing.PER_RESOURCE
    return TypeChoice(choice.resource_type, choice.resources, choice.list_pages, choice.delete_requests,
                      listing, type_records, pages)


@dataclass(frozen=True)
class ListingPlan:
    """The listing of every resource type of a run, and the run's cost."""

    mode: str
    types: tuple[TypeChoice, ...]

    @property
    def requests(self) -> int:
        return sum(t.requests(self.mode) for t in self.types)

    @property
    def resources(self) -> int:
        return sum(t.resources for t in self.types)

    def in_mode(self, mode: str) -> "ListingPlan":
        """The same choices costed for another mode (a preview's plan says what its apply needs)."""
        return ListingPlan(mode, self.types)

    def listing(self, resource_type: str) -> Listing:
        return next((t.listing for t in self.types if t.resource_type == resource_type), Listing.PER_RESOURCE)

    def describe(self) -> list[str]:
        return [t.describe(self.mode) for t in self.types]

    def as_dict(self) -> dict:
        """The plan for ``--json``: per type, its listing and cost."""
        return {t.resource_type: {"listing": t.listing.value, "resources": t.resources,
                                  "type_records": t.type_records, "type_pages": t.type_pages,
                                  "requests": t.requests(self.mode)} for t in self.types}


def upfront_requests(resources: Iterable[tuple[str, int]], chunk: int, mode: str) -> int:
    """Requests a run needs at most before Katana has answered anything: ``resources`` are
    (type, serials the sheet names on it); each listed on its own (before, and after with its
    DELETE chunks for apply), plus a probe for each type worth probing."""
    choices = per_type((t, n, max(1, -(-n // chunk))) for t, n in resources).values()
    plan = ListingPlan(str(mode), tuple(choices))
    return plan.requests + sum(worth_probing(t.list_pages) for t in plan.types)


def per_resource_cost(choice: TypeChoice, mode: str) -> int:
    """What the type would cost listed resource by resource without a probe (the old way)."""
    return passes(mode) * choice.list_pages + (choice.delete_requests if mode == Mode.APPLY else 0)
