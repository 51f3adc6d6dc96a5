"""Reading what Katana holds, corroborated: no status rests on one read that could be a glitch.

The engine asks here for the lists its rows' statuses rest on, and gets them
only once they can be believed (the trusted-read rules of
:mod:`sn_importer.katana.lists` hold for every read; these add what a single
read cannot show):

* **Before any DELETE**, an empty list for a resource that the sheet says
  holds serials is read again: two reads in a row must agree before any row
  is called ``not_on_resource`` on it.
* **After the DELETE**, a list is *suspect* (:func:`sn_importer.truth.suspicion`)
  when a serial that was not sent (a witness) went missing from it, or when
  it is empty while the list before was not; it is read again, after a
  pause, until two reads agree, and given up (``unverified``) after
  :data:`SUSPECT_READS` reads.
* A serial that was sent and is **still listed** is checked again with
  backoff (a DELETE may take effect seconds after its 204), ``recheck``
  seconds at most, before it is ``still_present``.
"""

from __future__ import annotations

from typing import Callable

from . import truth
from .resource_types import staff_resource
from .errors import UntrustedListError
from .katana.client import KatanaClient
from .katana.typescan import TypeList, TypeScans

Resource = tuple[str, int]

#: Reads of a suspect list (two must agree) before its rows are ``unverified``.
SUSPECT_READS = 3
#: Pause between reads of a suspect list, and the first pause of the rechecks of a late DELETE.
PAUSE = 1.0


class Unbelieved(Exception):
    """A list after the DELETE stayed suspect through every read allowed."""


def ids_of(records: list[dict]) -> set[int]:
    return {int(r["id"]) for r in records}


class Reads:
    """The corroborated reads of one run: ``before``, ``after`` and ``type_after``."""

    def __init__(self, client: KatanaClient, scans: TypeScans | None, recheck: float,
                 tell: Callable[[str], None], stopping: Callable[[], bool]):
        self.client, self.scans, self.recheck, self.tell, self.stopping = client, scans, recheck, tell, stopping
        self.notes: list[str] = []

    async def before(self, res: Resource) -> list[dict]:
        """The records on ``res`` now: from its type's list, or its own. An empty list is read again
        before any row is called ``not_on_resource`` on it: two reads in a row must agree."""
        current = self.scans.before(res) if self.scans else None
        if current:
            return current
        previous = None
        for _ in range(SUSPECT_READS):
            current = await self.client.list_serials(*res)
            if current and previous is None:
                return current
            if previous is not None and ids_of(previous) == ids_of(current):
                return current
            previous = current
        raise UntrustedListError(res[0], res[1], f"the list of serials on {_name(res)} was empty, then not, "
                                                 f"in {SUSPECT_READS} reads; nothing was concluded from it")

    async def after(self, res: Resource, before: list[dict], sent: set[int],
                    failed: set[int] = frozenset()) -> tuple[list[dict], str]:
        """A list after the DELETE that can be believed: read again while suspect (until two reads
        agree), and while a serial sent is still listed (with backoff, ``recheck`` seconds at most;
        not for ``failed`` ones, whose DELETE was refused)."""
        awaited = set(sent) - set(failed)
        previous, reads, suspect, waited, pause = None, 0, 0, 0.0, PAUSE
        while True:
            after = await self.client.list_serials(*res)
            reads += 1
            why = truth.suspicion(before, sent, after)
            if why and not (previous is not None and ids_of(previous) == ids_of(after)):
                suspect += 1
                if suspect >= SUSPECT_READS:
                    raise Unbelieved(f"{why}, and {reads} reads did not agree")
                nap = PAUSE
            elif awaited & ids_of(after) and waited + pause <= self.recheck and not self.stopping():
                self.tell(f"{_name(res)}: a serial sent is still listed; checking again in {pause:.0f} s "
                          "(a DELETE may take effect late)")
                nap, waited, pause = pause, waited + pause, pause * 2
            else:
                return after, (f" (listed {reads} times over {waited:.0f} s)" if waited else "")
            previous = after
            await self.client.clock.sleep(nap)

    async def type_after(self, resource_type: str, resources: int, sent: set[int]) -> TypeList | None:
        """The type's list after its DELETEs, read again while suspect until two reads agree
        (None: not worth it, or not to be believed; its resources are then listed one by one)."""
        before = self.scans.before_records(resource_type)
        previous, why = None, ""
        for _ in range(SUSPECT_READS):
            listed = await self.scans.read_after(resource_type, resources)
            if listed is None:
                return None
            why = truth.suspicion(before, sent, listed.records)
            if not why or (previous is not None and previous.ids == listed.ids):
                return listed
            previous = listed
            await self.client.clock.sleep(PAUSE)
        self.notes.append(f"{resource_type}: the list of the whole type after the DELETEs could not be "
                          f"believed ({why}); its resources were listed one by one instead.")
        return None


def _name(res: Resource) -> str:
    """A resource as messages to staff name it: "Manufacturing order 3001"."""
    return staff_resource(*res)


__all__ = ["PAUSE", "Reads", "SUSPECT_READS", "Unbelieved", "ids_of"]
