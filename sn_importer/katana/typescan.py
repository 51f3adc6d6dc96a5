"""Reading a whole resource type at once, and trusting it only when it held still.

``GET /serial_numbers?resource_type=T`` (no ``resource_id``) pages through
every serial of type T in the tenant, sorted by serial string, each record
carrying its ``resource_id``. Pages are offsets into that sorted list, so a
serial attached or detached by another integration while the list is paged
shifts every record after it: one can be skipped, another seen twice, and a
type-wide list is long and crosses many writers. It is read by
:func:`sn_importer.katana.lists.read_list` under the same rules as any list
(``total_records`` held still from the first page to the last, the records
read match it, none twice; else read again, bounded), and here also every
record must be of type T. A type-wide list that cannot be trusted is not used:
its resources are listed one by one instead, so a row never becomes
``deleted`` or ``not_on_resource`` on an untrusted list.

The first page doubles as the *probe*: its ``X-Pagination`` tells the type's
size before anything else is read (see :mod:`sn_importer.strategy`), and when
the whole type is chosen the probe is its first page, not a request spent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ApiRequestError, ApiUnavailableError, UntrustedListError
from .answers import PAGE_LIMIT
from .lists import Page, PageSource, by_resource, read_list
from ..strategy import Listing, ListingPlan, choose, per_type, worth_probing

if TYPE_CHECKING:
    from .client import KatanaClient


@dataclass(frozen=True)
class TypeList:
    """A trusted type-wide list, grouped by resource."""

    resource_type: str
    total_records: int
    pages: int  # pages the trusted read took
    by_resource: dict[int | None, list[dict]] = field(default_factory=dict)

    def on(self, resource_id: int) -> list[dict]:
        """The records on one resource of this type (a resource with none has an empty list)."""
        return list(self.by_resource.get(resource_id, []))

    def ids_on(self, resource_id: int) -> set[int]:
        return {int(r["id"]) for r in self.by_resource.get(resource_id, [])}

    @property
    def records(self) -> list[dict]:
        return [r for group in self.by_resource.values() for r in group]

    @property
    def ids(self) -> set[int]:
        return {int(r["id"]) for r in self.records}


class _ProbeFirst:
    """A page source whose first page 1 is the probe already in hand (so it is not asked twice)."""

    def __init__(self, source: PageSource, first: Page):
        self._source, self._first = source, first

    async def get_page(self, resource_type: str | None, resource_id: int | None, page: int,
                       limit: int = PAGE_LIMIT) -> Page:
        if page == 1 and self._first is not None:
            first, self._first = self._first, None
            return first
        return await self._source.get_page(resource_type, resource_id, page, limit)


def type_pages(first: Page) -> int | None:
    """How many pages the whole list takes, as its first page's X-Pagination tells (None: it does not)."""
    meta = first.pagination
    if meta is None or meta.total_records is None:
        return None
    return max(1, meta.total_pages or -(-meta.total_records // PAGE_LIMIT))


async def read_type(source: PageSource, resource_type: str, first: Page | None = None) -> TypeList:
    """Every serial of ``resource_type`` in the tenant, trusted (see :func:`sn_importer.katana.lists.read_list`).

    ``first`` is a page 1 already in hand (the probe): the first read starts
    from it. Raises :class:`UntrustedListError` when the list could not be
    trusted (it would not hold still, or held serials of other types: a
    filter the server ignored).
    """
    listed = await read_list(_ProbeFirst(source, first) if first is not None else source, resource_type)
    return TypeList(resource_type, listed.total_records or 0, listed.pages, by_resource(listed.records))


class TypeScans:
    """One run's listing by type: probe, choose, read the chosen types whole before and after.

    ``todo`` maps each resource still to be done to the number of serials the
    sheet names on it. ``listing`` is ``"auto"`` (choose by cost) or
    ``"per_resource"`` (never list a type whole). Whatever cannot be read or
    trusted whole falls back to resource-by-resource lists, with a note saying so.
    """

    def __init__(self, client: "KatanaClient", mode: str, todo: dict[tuple[str, int], int], chunk: int,
                 listing: str = "auto"):
        self.client, self.mode, self.listing = client, mode, listing
        rows = [(t, n, max(1, -(-n // chunk))) for (t, _), n in todo.items()]
        self.plan = ListingPlan(mode, tuple(per_type(rows).values()))
        self.notes: list[str] = []
        self._probes: dict[str, Page] = {}
        self._before: dict[str, TypeList] = {}

    async def choose(self) -> ListingPlan:
        """Probe every type that could be cheaper whole, and choose its listing."""
        if self.listing == "per_resource":
            return self.plan
        chosen = []
        for choice in self.plan.types:
            first = await self._probe(choice.resource_type) if worth_probing(choice.list_pages) else None
            if first is not None:
                choice = choose(choice, first.pagination.total_records, type_pages(first))
                if choice.listing is Listing.TYPE_WIDE:
                    self._probes[choice.resource_type] = first
            chosen.append(choice)
        self.plan = ListingPlan(self.mode, tuple(chosen))
        return self.plan

    async def read_before(self) -> None:
        """Read each type chosen whole, from its probe on; an untrusted one is listed resource by resource."""
        for resource_type, first in list(self._probes.items()):
            listed = await self._read(resource_type, first, "before any delete")
            if listed is not None:
                self._before[resource_type] = listed
        self._probes.clear()

    def before(self, res: tuple[str, int]) -> list[dict] | None:
        """The records on ``res`` from its type's trusted list, or None when it is listed on its own."""
        listed = self._before.get(res[0])
        return listed.on(res[1]) if listed is not None else None

    def before_records(self, resource_type: str) -> list[dict]:
        """Every record of a type read whole before (empty when it was not)."""
        listed = self._before.get(resource_type)
        return listed.records if listed is not None else []

    def scanned(self, resource_type: str) -> bool:
        """Whether ``resource_type`` was read whole before (so its check after may be too)."""
        return resource_type in self._before

    async def read_after(self, resource_type: str, resources: int) -> TypeList | None:
        """The type's trusted list after the DELETEs, or None when ``resources`` lists are cheaper or it cannot be trusted."""
        if not self.scanned(resource_type) or self._before[resource_type].pages > resources:
            return None
        return await self._read(resource_type, None, "after the DELETEs")

    async def _probe(self, resource_type: str) -> Page | None:
        try:
            first = await self.client.get_page(resource_type, None, 1)
        except (ApiRequestError, ApiUnavailableError) as exc:
            self.notes.append(f"{resource_type}: could not ask how many serials the type has ({exc}); "
                              "its resources were listed one by one.")
            return None
        if type_pages(first) is None:
            self.notes.append(f"{resource_type}: Katana did not say how many serials the type has "
                              "(no X-Pagination); its resources were listed one by one.")
            return None
        return first

    async def _read(self, resource_type: str, first: Page | None, when: str) -> TypeList | None:
        try:
            return await read_type(self.client, resource_type, first)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            self.notes.append(f"{resource_type}: the list of the whole type ({when}) could not be used ({exc}); "
                              "its resources were listed one by one instead.")
            return None
