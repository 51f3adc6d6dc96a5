"""Check before, delete, verify after: the run over Katana, returning what it found as values.

Katana's DELETE answers 204 whatever happens, so for every resource in the
plan this stage lists the serials on it ("before"), sends DELETE with only
the ids confirmed on it, lists again and leaves what the lists prove to the
truth rules (:mod:`sn_importer.truth`). ``preview`` stops before the DELETE.
It writes no frame: it returns :class:`~sn_importer.outcome.Findings`
(outcomes by row, the records it detached, notes, why it stopped), which the
run result folds into its rows once. Outcomes go to the journal as they
happen, so a run that dies is resumed without a false report.

No status rests on one uncorroborated read (:mod:`sn_importer.reads`).

Where it is cheaper, a resource type is listed whole instead of resource by
resource (:mod:`sn_importer.strategy`, :mod:`sn_importer.katana.typescan`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from . import truth
from .resource_types import staff_resource
from .clock import iso
from .errors import ApiRequestError, ApiUnavailableError, KatanaError, StorageError, UntrustedListError
from .interrupt import GRACE, Interrupt
from .journal import Journal, ResourceRecord
from .katana.client import KatanaClient, RequestNotSent
from .katana.typescan import TypeScans
from .outcome import Findings, Outcome, Outcomes, Progress
from .reads import Reads, Unbelieved, ids_of
from .status import UNSETTLED, Mode, Status, StopKind
from .strategy import ListingPlan
from .truth import Ask, Earlier, Resolved, Sending, Unfinished

Resource = tuple[str, int]

#: After this many resources in a row find Katana unreachable, the run stops.
UNREACHABLE_LIMIT = 2


@dataclass
class _Pending:
    """A resource whose DELETEs are sent and whose rows wait for the check after."""

    res: Resource
    before: list[dict]
    found: Resolved
    ids: list[int]
    sending: Sending


class Engine:
    """Runs ``preview`` or ``apply`` for one plan over one client; :meth:`run` returns its findings.

    A stop (a refused key, Katana gone, a wait too long, an interrupt) never
    throws away what is known: no new resource is listed and no new DELETE
    goes out, what is in flight settles for at most a grace period (a
    resource whose DELETE was sent is still checked), and then every row
    keeps the truest status there is.
    """

    def __init__(self, asks: dict[Resource, list[Ask]], client: KatanaClient, mode: Mode, ids_per_request: int, *,
                 journal: Journal | None = None, run_key: str | None = None,
                 progress: Callable[[Progress], None] | None = None, concurrency: int = 4, listing: str = "auto",
                 on_plan: Callable[[ListingPlan], None] | None = None, interrupt: Interrupt | None = None,
                 earlier: dict[int, Earlier] | None = None, counts: Counter | None = None, recheck: float = 15.0,
                 unfinished: dict[Resource, Unfinished] | None = None):
        self.asks, self.client, self.mode, self.chunk = asks, client, Mode(mode), ids_per_request
        self.journal, self.key, self.progress, self.interrupt = journal, run_key, progress, interrupt
        self.earlier, self.unfinished, self.recheck = earlier or {}, unfinished or {}, max(0.0, recheck)
        self._one_sheet = len({a.sheet for asks_ in asks.values() for a in asks_}) <= 1
        self.findings = Findings()
        self.listing: ListingPlan | None = None
        self.resume: dict[Resource, ResourceRecord] = journal.resources(run_key) if journal and run_key else {}
        self._counts = Counter(counts or {})
        self._status: dict[int, str] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._listing_choice, self._on_plan = listing, on_plan
        self.scans: TypeScans | None = None
        self.reads = Reads(client, None, self.recheck, self.tell, lambda: self._stopping)
        self._pending: dict[str, list[_Pending]] = {}
        self._done: set[Resource] = set()
        self._confirmed: dict[Resource, dict[int, tuple[int, ...]]] = {}
        self._sent: dict[Resource, set[int]] = {}
        self._unreachable, self._last_unreachable = 0, ""
        self._rows_done = self._resources_done = self._requests_total = 0
        self._rows_total = sum(len(v) for v in asks.values())
        self._stopping = False
        self._tasks: list[asyncio.Task] = []
        self._grace: asyncio.TimerHandle | None = None
        if progress:  # the progress says why nothing moves (e.g. another run's turn), and counts requests as sent
            client.on_wait = client.on_wait or (lambda seconds, why: self.tell(f"{why} (about {seconds:.0f} s)"))
            client.stats.on_request = client.stats.on_request or self.tell

    # --- the run -------------------------------------------------------------

    async def run(self, requests_total: int = 0) -> Findings:
        """Choose how to list each type, then every resource: before, DELETE, after."""
        self._requests_total = requests_total
        loop = asyncio.get_running_loop()
        unlisten = self.interrupt.listen(lambda: loop.call_soon_threadsafe(self._on_interrupt)) \
            if self.interrupt else (lambda: None)
        if self.interrupt and self.interrupt.requested:
            self._on_interrupt()
        try:
            if not self._stopping and await self._all([self._phase(self._list_types_before())]) == [True]:
                await self._all([self._guarded(res) for res in self.asks])
                await self._all([self._phase(self._verify_type(t, p)) for t, p in self._pending.items()])
        except asyncio.CancelledError:  # cancelled from outside: KeyboardInterrupt without signal handlers
            self.findings.stopped(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
            await _cancel(self._tasks)
            raise
        except BaseException:
            await _cancel(self._tasks)
            raise
        finally:
            unlisten()
            if self._grace:
                self._grace.cancel()
            self.findings.notes.extend([*(self.scans.notes if self.scans else []), *self.reads.notes])
            if self._unreachable:
                self.findings.stopped(StopKind.UNREACHABLE, f"Katana is unreachable: {self._last_unreachable}")
            self.finalise()
        return self.findings

    async def _all(self, steps: list) -> list:
        """Run steps as tasks a stop can cancel after its grace period; their results (None if cancelled).
        A bug in one step is raised, not passed over."""
        tasks = [asyncio.create_task(step) for step in steps]
        self._tasks.extend(tasks)
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # the caller cancels the rest
        return [None if task.cancelled() else task.result() for task in tasks]

    def halt(self, kind: StopKind, reason: str, *, now: bool = False) -> None:
        """Stop sending; let what is in flight settle for the grace period (or not at all with ``now``)."""
        self.findings.stopped(kind, reason)
        self._stopping = True
        self.client.stop_sending()
        if now:
            self._cancel_all()
        elif self._grace is None:
            grace = self.interrupt.grace if self.interrupt else GRACE
            self._grace = asyncio.get_running_loop().call_later(grace, self._cancel_all)

    def _on_interrupt(self) -> None:
        """A stop signal (or a caller) asked to stop; asked twice, stop now."""
        if self.interrupt:
            self.halt(StopKind.INTERRUPTED, self.interrupt.describe(), now=self.interrupt.forced)

    def _cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    def finalise(self) -> None:
        """Rows the run did not settle: ``unverified`` where their DELETE went out, else ``skipped``."""
        reason = self.findings.stop.reason if self.findings.stop else "the run stopped early"
        for res, asks in self.asks.items():
            if res in self._done:
                continue
            open_rows = [a.position for a in asks if a.position not in self.findings.outcomes]
            self._record(truth.stopped(open_rows, self._confirmed.get(res, {}), self._sent.get(res, set()), reason))

    def _stopped_by(self, exc: KatanaError | StorageError) -> None:
        """What a failure means for the run: a stop of its kind, or (Katana unreachable) one more strike."""
        if isinstance(exc, ApiUnavailableError):
            self._unreachable += 1
            self._last_unreachable = str(exc)
            if self._unreachable >= UNREACHABLE_LIMIT:
                self.halt(StopKind.UNREACHABLE, f"Katana is unreachable: {exc}")
        elif isinstance(exc, ApiRequestError):  # 404 on the list endpoint: not Katana, or not /v1
            self.halt(exc.stop_kind, f"{exc}; is the base URL right? It ends in /v1, e.g. https://api.katanamrp.com/v1")
        elif exc.stop_kind is not None:
            self.halt(exc.stop_kind, str(exc))

    async def _guarded(self, res: Resource, work: Callable | None = None) -> None:
        """One resource's step (by default all of it), with what a failure means for the run.
        After a stop no resource starts; a check after a DELETE already sent still runs."""
        async with self._slots:
            if self._stopping and work is None:
                return
            try:
                await (work or self._resource)(res)
                self._unreachable = 0
            except (KatanaError, StorageError) as exc:
                self._stopped_by(exc)
            finally:
                if work is None:
                    self._tick(res)

    async def _phase(self, work) -> bool:
        """A step that concerns the whole run; a failure that stops runs stops it (False)."""
        try:
            await work
        except (KatanaError, StorageError) as exc:
            if exc.stop_kind is None or isinstance(exc, ApiUnavailableError):
                raise
            self._stopped_by(exc)
            return False
        return True

    # --- listing a type whole ----------------------------------------------------

    async def _list_types_before(self) -> None:
        """Probe the types worth it, say the plan, read the types chosen whole."""
        todo = {res: len(a) for res, a in self.asks.items() if not self._restorable(res)}
        self.scans = TypeScans(self.client, self.mode, todo, self.chunk, self._listing_choice)
        self.listing = await self.scans.choose()
        self._requests_total = self.listing.requests
        if self._on_plan:
            self._on_plan(self.listing)
        await self.scans.read_before()
        self.reads = Reads(self.client, self.scans, self.recheck, self.tell, lambda: self._stopping)

    async def _verify_type(self, resource_type: str, pending: list[_Pending]) -> None:
        """The check after every DELETE of a type: one type-wide list (read again while suspect), or
        one list per resource; a sent serial still listed is rechecked on its own resource."""
        sent = {i for item in pending for i in item.sending.sent}
        listed = await self.reads.type_after(resource_type, len(pending), sent)
        recheck = [item for item in pending if listed is None or _still(item, listed.ids_on(item.res[1]))]
        for item in pending:
            if item not in recheck:
                self._conclude(item, listed.on(item.res[1]))
        await asyncio.gather(*(self._guarded(item.res, lambda r, item=item: self._check_after(item))
                               for item in recheck))
        self._tick()

    def _restorable(self, res: Resource) -> bool:
        """A resource a finished attempt settled: shown again from the journal, nothing listed or sent."""
        stored = self.resume.get(res)
        return bool(stored and stored.phase == "done" and stored.outcome is not None
                    and not any(o.status in UNSETTLED for o in stored.outcome.values()))

    # --- one resource ----------------------------------------------------------

    async def _resource(self, res: Resource) -> None:
        stored = self.resume.get(res)
        if self._restorable(res):
            self._commit(res, stored.before, stored.planned, stored.outcome or {}, write=False)
            self.findings.carried.update(stored.outcome or {})
            return
        try:
            current = await self.reads.before(res)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            self._record(_failed(self.asks[res], f"could not list the serials on {staff_resource(*res)}: {exc}"))
            self._done.add(res)
            if isinstance(exc, ApiUnavailableError) or (isinstance(exc, ApiRequestError) and exc.status_code == 404):
                raise
            return
        before = stored.before if stored else current
        found = truth.resolve(staff_resource(*res), self.asks[res], before, {int(r["id"]) for r in current},
                              apply=self.mode == Mode.APPLY, earlier=self.earlier, stamp=self._stamp(),
                              one_sheet=self._one_sheet, unfinished=self.unfinished.get(res))
        self._confirmed[res] = found.confirmed
        self.findings.removed.extend(found.removed)
        if self.mode == Mode.PREVIEW or not found.confirmed:
            if self.mode == Mode.PREVIEW and not (self.scans and self.scans.scanned(res[0])):
                taken = {i for group in found.confirmed.values() for i in group}
                self.findings.second_reads += bool(not before or (found.confirmed and ids_of(before) <= taken))
            self._commit(res, before, [], {**found.outcomes, **truth.planned(found, self._stamp())},
                         write=self.mode == Mode.APPLY)
            return
        self._record(found.outcomes)  # rows never going to be sent are settled now, whatever stops the run later
        if self._stopping:
            return
        ids = list(dict.fromkeys(i for group in found.confirmed.values() for i in group))
        if self.journal and not stored:
            self.journal.before_delete(self.key, res, before, ids)
        await self._delete_and_verify(res, before, current, found, ids, resumed=stored is not None)

    async def _delete_and_verify(self, res: Resource, before: list[dict], current: list[dict], found: Resolved,
                                 ids: list[int], resumed: bool) -> None:
        present_now = {int(r["id"]) for r in current}
        to_send = [i for i in ids if i in present_now]
        sent, errors, unavailable = await self._send(res, to_send)
        item = _Pending(res, before, found, ids,
                        Sending(frozenset(sent), errors, frozenset(to_send) if resumed else None))
        if not sent:  # nothing went out (nothing to send now, or the run stopped first)
            self._conclude(item, current)
        elif self.scans and self.scans.scanned(res[0]):
            self._pending.setdefault(res[0], []).append(item)  # checked with the rest of its type
        else:
            await self._check_after(item)
        if unavailable:  # a DELETE that never answered counts towards "Katana is unreachable"
            raise unavailable

    async def _send(self, res: Resource, to_send: list[int]) -> tuple[set[int], dict[int, str],
                                                                     ApiUnavailableError | None]:
        """DELETE ``to_send`` in chunks until done or the run stops: the ids that went out, the errors
        by id, and the last 'unavailable' error."""
        sent = self._sent[res] = set()
        errors: dict[int, str] = {}
        unavailable = None
        for start in range(0, len(to_send), self.chunk):
            if self._stopping:
                break
            chunk = to_send[start: start + self.chunk]
            sent.update(chunk)
            try:
                await self.client.delete_serials(res[0], res[1], chunk)
            except RequestNotSent:  # held back while waiting for the quota: it never left
                sent.difference_update(chunk)
                break
            except ApiRequestError as exc:
                errors.update({i: str(exc) for i in chunk})
            except ApiUnavailableError as exc:
                errors.update({i: str(exc) for i in chunk})
                unavailable = exc
        return set(sent), errors, unavailable

    async def _check_after(self, item: _Pending) -> None:
        """List one resource after its DELETE, as often as the rules ask, and mark its rows; a list
        that cannot be had or believed leaves them unverified."""
        try:
            after, checks = await self.reads.after(item.res, item.before, set(item.sending.sent),
                                                   set(item.sending.errors))
        except (ApiRequestError, ApiUnavailableError, UntrustedListError, Unbelieved) as exc:
            outcomes = truth.unsettled(item.found.confirmed, item.sending, str(exc), self._stamp())
            self._commit(item.res, item.before, item.ids, {**item.found.outcomes, **outcomes})
            if isinstance(exc, ApiUnavailableError):
                raise
            return
        self._conclude(item, after, checks)

    def _conclude(self, item: _Pending, after: list[dict], checks: str = "") -> None:
        """Mark a resource's rows by what a list after its DELETE shows."""
        reason = self.findings.stop.reason if self.findings.stop else ""
        outcomes = truth.verdict(item.found.confirmed, item.found.notes, item.sending, ids_of(after), self._stamp(),
                                 reason, checks)
        self._commit(item.res, item.before, item.ids, {**item.found.outcomes, **outcomes})

    # --- bookkeeping -----------------------------------------------------------

    def _commit(self, res: Resource, before: list[dict], ids: list[int], outcomes: Outcomes,
                write: bool = True) -> None:
        """A resource is done: its outcomes recorded (and journalled), its detached records kept."""
        self._record(outcomes)
        where = {a.position: a.where(None, self._one_sheet) for a in self.asks[res]}
        self.findings.removed.extend(truth.removed_records(before, outcomes, self._confirmed.get(res, {}), where))
        self._done.add(res)
        if write and self.journal and self.key:
            self.journal.outcome(self.key, res, before, ids, outcomes)

    def _record(self, outcomes: Outcomes) -> None:
        """Keep the outcomes and the live counts by status."""
        for position, found in outcomes.items():
            old = self._status.get(position, "valid")
            self._counts[old] -= 1
            self._counts[found.status.value] += 1
            self._status[position] = found.status.value
        self.findings.outcomes.update(outcomes)

    def _stamp(self) -> str:
        """When a row was checked, on the client's (injectable) clock."""
        return iso(self.client.clock.now())

    def _tick(self, res: Resource | None = None) -> None:
        """Tell the progress callback: a resource is through (or, with None, a type's check after is)."""
        if res is not None:
            self._rows_done += len(self.asks[res])
            self._resources_done += 1
        self.tell()

    def tell(self, message: str = "") -> None:
        """Give the progress callback the counts as they stand, with why nothing moves if so."""
        if self.progress:
            stats = self.client.stats.requests
            self.progress(Progress(stats["GET"] + stats["DELETE"] + stats["POST"], self._requests_total,
                                   self._rows_done, self._rows_total, self._resources_done, len(self.asks), message,
                                   statuses={s: n for s, n in self._counts.items() if n > 0}))


def _still(item: _Pending, listed: set[int]) -> bool:
    """A serial whose DELETE went out (and was not refused) is still listed."""
    return bool((item.sending.sent - set(item.sending.errors)) & listed)


def _failed(asks: list[Ask], message: str) -> Outcomes:
    return {a.position: Outcome(Status.FAILED, message) for a in asks}


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Engine", "Progress", "UNREACHABLE_LIMIT"]
