"""Trusted lists: reading every serial on a resource (or of a type) without being lied to.

Katana's DELETE answers 204 whatever happens, so a row's status is only as
true as the lists read before and after it. A list is paged (offsets into a
list sorted by serial string), and paging can go wrong in ways that look
like success: a gateway that caps pages at 100 whatever ``limit`` asks, a
server that repeats a page forever or ignores a filter, another integration
that detaches a serial between page 1 and page 2 so that a record slides
across the page boundary unseen while another attached later keeps the count.
Hence the rules of a trusted read:

* **A record counts only if it is what was asked for**: the list's
  ``resource_type`` and ``resource_id`` (per resource) or type (type-wide),
  an integer ``id``, a non-empty ``serial_number`` string. Any other record
  makes the read untrusted.
* Paging follows ``X-Pagination`` (``last_page``, ``total_pages``). Without
  it, a page shorter than the limit proves nothing (servers cap page sizes):
  pages are asked for until an empty one.
* Guards cut a list off with a clear reason: a page made only of records
  already read, more pages than ``total_records`` can fill, more records than
  it announced, or a hard cap on pages.
* One read is **consistent** when ``total_records`` was the same on its first
  and its last page and the distinct records read match it, none twice.
* A list of **more than one page** is trusted when two consistent complete
  reads agree (the same records); a single page is one read. Otherwise it is
  read again (``attempts`` reads in all) and given up with
  :class:`~sn_importer.errors.UntrustedListError`. The caller decides what
  that means for its rows (before the DELETE: ``failed``; after it:
  ``unverified``), never ``deleted`` or ``not_on_resource``.

Two kinds of list share this code: one resource (``resource_type`` and
``resource_id``) and a whole type (``resource_type`` only; each record carries
its ``resource_id``; :func:`by_resource` groups them). A record is identified
by (``id``, ``resource_type``, ``resource_id``), because one serial can sit on
several resources at once.

Usage (any object with the client's ``get_page`` will do)::

    listed = await read_list(client, "ManufacturingOrder", 3001)
    listed.records          # every record on MO 3001, trusted
    listed = await read_list(client, "ManufacturingOrder")   # the whole type
    by_resource(listed.records)[3001]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping, Protocol

from ..errors import UntrustedListError
from .answers import PAGE_LIMIT

#: Reads of one list before it is given up (a list of several pages needs two that agree).
ATTEMPTS = 4
#: No list is read past this many pages (250 × 4,000 = a million records).
MAX_PAGES = 4_000


@dataclass(frozen=True)
class Pagination:
    """What ``X-Pagination`` says about a page (fields the header lacks are None)."""

    total_records: int | None
    total_pages: int | None
    page: int | None
    last_page: bool | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "Pagination | None":
        """The header parsed, or None when it is absent or not a JSON object."""
        raw = headers.get("x-pagination")
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        last = str(value.get("last_page", "")).lower()
        return cls(_int(value.get("total_records")), _int(value.get("total_pages")), _int(value.get("page")),
                   True if last == "true" else False if last == "false" else None)


@dataclass(frozen=True)
class Page:
    """One page of a list as the client fetched it: the records and the header."""

    number: int
    records: list[dict]
    pagination: Pagination | None


@dataclass(frozen=True)
class TrustedList:
    """A list read completely and consistently."""

    resource_type: str | None
    resource_id: int | None
    records: list[dict]
    #: ``total_records`` as the server announced it (None: no X-Pagination header).
    total_records: int | None
    pages: int  # pages read in the read that was trusted
    reads: int  # reads it took (1 when nothing changed while reading)

    @property
    def ids(self) -> set[int]:
        return {int(r["id"]) for r in self.records}


class PageSource(Protocol):
    """What :func:`read_list` needs: the client's ``get_page``."""

    async def get_page(self, resource_type: str | None, resource_id: int | None, page: int,
                       limit: int = PAGE_LIMIT) -> Page: ...


class _Changed(Exception):
    """This read was not consistent; another read may be."""


async def read_list(source: PageSource, resource_type: str | None, resource_id: int | None = None, *,
                    attempts: int = ATTEMPTS, max_pages: int = MAX_PAGES, limit: int = PAGE_LIMIT) -> TrustedList:
    """Every record on the resource (or of the type), read until it can be trusted: one consistent
    read of a single page, or two consistent reads of several pages that agree.

    Raises :class:`UntrustedListError` when ``attempts`` reads did not make a
    trusted list, or at once when a guard cuts the list off (a repeated page,
    more pages or records than announced, ``max_pages``). Errors of the
    requests themselves (:class:`ApiUnavailableError`, :class:`AuthError`, ...) pass through.
    """
    where = describe(resource_type, resource_id)
    why, previous = "", None
    for read in range(1, max(1, attempts) + 1):
        try:
            records, total, pages = await _read_once(source, resource_type, resource_id, where, max_pages, limit)
        except _Changed as exc:
            why, previous = str(exc), None
            continue
        listed = TrustedList(resource_type, resource_id, records, total, pages, read)
        if pages == 1 or (previous is not None and previous.ids == listed.ids):
            return listed
        if previous is not None:
            why = f"two reads of its {pages} pages disagreed on {len(previous.ids ^ listed.ids)} records"
        previous = listed
    raise UntrustedListError(resource_type, resource_id,
                             f"the list of serials on {where} could not be read the same way twice in {attempts} "
                             f"reads (last: {why or 'it spans several pages and changed'}); nothing was "
                             "concluded from it")


async def _read_once(source: PageSource, resource_type, resource_id, where: str, max_pages: int,
                     limit: int) -> tuple[list[dict], int | None, int]:
    """One pass over the pages; raises _Changed for an inconsistent read, UntrustedListError for a cut-off."""
    cut = _CutOff(resource_type, resource_id, where)
    records: list[dict] = []
    seen: set[tuple] = set()
    repeats = 0
    first: Pagination | None = None
    first_size = 0
    page = 1
    while True:
        got = await source.get_page(resource_type, resource_id, page, limit)
        _check_records(got.records, resource_type, resource_id, where)
        if page == 1:
            first, first_size = got.pagination, len(got.records)
        keys = [_key(r) for r in got.records]
        fresh = set(keys) - seen
        if got.records and not fresh:
            raise cut(f"page {page} repeats records already read")
        repeats += len(keys) - len(fresh)
        seen |= fresh
        records.extend(got.records)
        if is_last_page(got):
            break
        _guard(cut, first, first_size, len(seen), page, max_pages)
        page += 1
    _check_consistent(first, got.pagination, len(seen), repeats, page)
    return records, (got.pagination.total_records if got.pagination else None), page


class _CutOff:
    """Makes the error that cuts one list off, worded alike for every guard."""

    def __init__(self, resource_type, resource_id, where: str):
        self.resource_type, self.resource_id, self.where = resource_type, resource_id, where

    def __call__(self, why: str) -> UntrustedListError:
        return UntrustedListError(self.resource_type, self.resource_id,
                                  f"the list of serials on {self.where} was cut off: {why}")


def _guard(cut: _CutOff, first: Pagination | None, first_size: int, distinct: int, page: int,
           max_pages: int) -> None:
    """Before asking for page ``page + 1``: is the list still one that can end?"""
    if page >= max_pages:
        raise cut(f"it goes on past {max_pages} pages")
    total = first.total_records if first else None
    if total is None:
        return
    if distinct > total + PAGE_LIMIT:  # more than any change during the read can explain
        raise cut(f"it announced {total} records and gave {distinct} and more")
    can_fill = max(first.total_pages or 0, math.ceil(total / max(1, first_size)))
    if page > can_fill:
        raise cut(f"it announced {total} records on {can_fill} pages and page {page} is still not the last")


def is_last_page(got: Page) -> bool:
    """The end of the list: the header's last_page (or its page count); without the header only
    an empty page (a short page proves nothing: servers cap page sizes).

    An empty page is the end whatever the header says: a page past the end is
    empty, and nothing can follow it.
    """
    if not got.records:
        return True
    meta = got.pagination
    if meta is None or (meta.last_page is None and meta.total_pages is None):
        return False
    if meta.last_page is not None:
        return meta.last_page
    return got.number >= meta.total_pages


def _check_records(records: list[dict], resource_type: str | None, resource_id: int | None, where: str) -> None:
    """Every record is what was asked for, or the list is not to be trusted. A record of another
    resource, or one without a serial, is not a list changing under us: the server does not apply
    the filter or does not send whole records, and reading again would only spend the quota."""
    for record in records:
        problem = record_problem(record, resource_type, resource_id)
        if problem:
            raise UntrustedListError(resource_type, resource_id, f"the list of serials on {where} held {problem}; "
                                                                 "nothing was concluded from it")


def record_problem(record: dict, resource_type: str | None, resource_id: int | None) -> str:
    """Why ``record`` does not belong in the list asked for ('' when it does)."""
    rid = record.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool):
        return "a record without an integer id"
    serial = record.get("serial_number")
    if not isinstance(serial, str) or not serial.strip():
        return f"record {rid} without a serial number"
    if resource_type is not None and record.get("resource_type") != resource_type:
        return f"record {rid} of {record.get('resource_type')!r}, not {resource_type} (the filter was not applied)"
    on = record.get("resource_id")
    if resource_id is not None and on != resource_id:
        return f"record {rid} on resource {on!r}, not {resource_id} (the filter was not applied)"
    if on is not None and (not isinstance(on, int) or isinstance(on, bool)):
        return f"record {rid} with a resource id that is not a whole number"
    return ""


def _check_consistent(first: Pagination | None, last: Pagination | None, distinct: int, repeats: int,
                      pages: int) -> None:
    """Trust a read only when the header held still from first to last page and the records match it."""
    if repeats:
        raise _Changed(f"{repeats} records were read twice across {pages} pages")
    if first is None and last is None:
        return  # no header at all: nothing to compare with (Katana always sends it)
    if first is None or last is None:
        raise _Changed("X-Pagination came on some pages only")
    if first.total_records != last.total_records:
        raise _Changed(f"total_records was {first.total_records} on page 1 and {last.total_records} on page {pages}")
    if last.total_records is not None and last.total_records != distinct:
        raise _Changed(f"total_records said {last.total_records}, {distinct} records were read")


def by_resource(records: list[dict]) -> dict[int | None, list[dict]]:
    """A type-wide list grouped by ``resource_id`` (records without one under None)."""
    grouped: dict[int | None, list[dict]] = {}
    for record in records:
        rid = record.get("resource_id")
        grouped.setdefault(int(rid) if rid is not None else None, []).append(record)
    return grouped


def describe(resource_type: str | None, resource_id: int | None) -> str:
    """'ManufacturingOrder 3001', 'every ManufacturingOrder', 'the whole tenant'."""
    if resource_type and resource_id is not None:
        return f"{resource_type} {resource_id}"
    if resource_type:
        return f"every {resource_type}"
    return "the whole tenant" if resource_id is None else f"resource {resource_id}"


def _key(record: dict) -> tuple:
    return record.get("id"), record.get("resource_type"), record.get("resource_id")


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["ATTEMPTS", "MAX_PAGES", "PAGE_LIMIT", "Page", "PageSource", "Pagination", "TrustedList",
           "by_resource", "describe", "is_last_page", "read_list", "record_problem"]
