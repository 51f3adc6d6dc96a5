"""Putting removed serials back: list, POST, list again, over one client; the undo's I/O.

For every resource an apply emptied, this stage lists what is on it now
(corroborated: an empty list is read twice), asks the rules which records to
send (:mod:`sn_importer.restore.rules`), commits each POST to the journal
*before* it is sent and its answer when it comes, and lists again until the
list can be believed and every serial Katana said it put back has had time
to land (a POST may land late). Only a POST that got no answer is sent again,
and only after that wait. A resumed run starts from what its interrupted
attempt sent, so no serial is ever sent twice in vain.

A stop (a refused key, Katana gone, a wait too long, an interrupt) sends
nothing more; what is in flight settles for a grace period; every record
then keeps the truest status there is (``unverified`` where its POST went
out, else ``skipped``).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from ..clock import iso
from ..engine import UNREACHABLE_LIMIT
from ..errors import (ApiRequestError, ApiUnavailableError, AuthError, KatanaError, ResumeLaterError, StorageError,
                      UntrustedListError)
from ..interrupt import GRACE, Interrupt
from ..katana.client import KatanaClient, RequestNotSent
from ..outcome import Progress, Stop
from ..reads import PAUSE, SUSPECT_READS, Reads, Unbelieved
from ..resource_types import staff_resource
from ..status import Status, StopKind
from . import rules
from .journal import UndoJournal
from .records import Wanted
from .rules import NOT_SENT, REFUSED, UNKNOWN, Answer, Decided, Earlier, Found

Resource = tuple[str, int]

#: Rounds of POSTs per resource: the first, and one more for serials whose POST got no answer.
ROUNDS = 2
#: Final outcomes: a resumed run shows them again without asking Katana.
SETTLED = frozenset({Status.RESTORED, Status.ALREADY_THERE, Status.CANNOT_RESTORE, Status.NOT_RESTORED})


class Undoer:
    """Runs an undo (or its preview) over ``groups`` (resource → the records to put back on it)."""

    def __init__(self, groups: dict[Resource, list[Wanted]], client: KatanaClient, *, preview: bool = False,
                 chunk: int = 100, journal: UndoJournal | None = None, run_id: str = "",
                 resumed: dict[Resource, dict[str, Answer]] | None = None, done: dict[int, Found] | None = None,
                 earlier: dict[int, Earlier] | None = None, recheck: float = 15.0, interrupt: Interrupt | None = None,
                 progress: Callable[[Progress], None] | None = None, concurrency: int = 4, requests_total: int = 0):
        self.groups, self.client, self.preview, self.chunk = groups, client, preview, max(1, chunk)
        self.journal, self.run_id, self.resumed = journal, run_id, resumed or {}
        self.done, self.earlier, self.recheck = done or {}, earlier or {}, max(0.0, recheck)
        self.interrupt, self.progress, self.requests_total = interrupt, progress, requests_total
        self.outcomes: dict[int, Found] = {}
        self.stop: Stop | None = None
        self.notes: list[str] = []
        self.stopping = False
        self._answers: dict[Resource, dict[str, Answer]] = {}
        self._to_send: dict[Resource, dict[str, list[Wanted]]] = {}
        self._finished: set[Resource] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: list[asyncio.Task] = []
        self._grace: asyncio.TimerHandle | None = None
        self._unreachable = 0
        self.reads = Reads(client, None, self.recheck, self.tell, lambda: self.stopping)
        if progress and client.on_wait is None:
            client.on_wait = lambda seconds, why: self.tell(f"{why} (about {seconds:.0f} s)")

    # --- the run -------------------------------------------------------------------

    async def run(self) -> dict[int, Found]:
        loop = asyncio.get_running_loop()
        unlisten = self.interrupt.listen(lambda: loop.call_soon_threadsafe(self._on_interrupt)) \
            if self.interrupt else (lambda: None)
        if self.interrupt and self.interrupt.requested:
            self._on_interrupt()
        try:
            self.tell()  # the records to put back, counted from the start (a page shows them as pending)
            self._tasks = [asyncio.create_task(self._guarded(res)) for res in self.groups]
            results = await asyncio.gather(*self._tasks, return_exceptions=True)
            bugs = [r for r in results if isinstance(r, Exception) and not isinstance(r, asyncio.CancelledError)]
            if bugs:
                raise bugs[0]
            if any(isinstance(r, asyncio.CancelledError) for r in results):
                self.stopped(StopKind.INTERRUPTED, "interrupted; nothing more was sent")
        except asyncio.CancelledError:  # cancelled from outside: KeyboardInterrupt without signal handlers
            self.stopped(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
            await _cancel(self._tasks)
            raise
        finally:
            unlisten()
            if self._grace:
                self._grace.cancel()
            self.notes.extend(self.reads.notes)
            self.finalise()
        return self.outcomes

    def stopped(self, kind: StopKind, reason: str) -> None:
        if not self.stop:
            self.stop = Stop(StopKind(kind), reason)

    def halt(self, kind: StopKind, reason: str, *, now: bool = False) -> None:
        """Stop sending; what is in flight settles for the grace period (or not at all with ``now``)."""
        self.stopped(kind, reason)
        self.stopping = True
        self.client.stop_sending()
        if now:
            self._cancel_all()
        elif self._grace is None:
            grace = self.interrupt.grace if self.interrupt else GRACE
            self._grace = asyncio.get_running_loop().call_later(grace, self._cancel_all)

    def _on_interrupt(self) -> None:
        if self.interrupt:
            self.halt(StopKind.INTERRUPTED, self.interrupt.describe(), now=self.interrupt.forced)

    def _cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    def finalise(self) -> None:
        """Records the run did not settle: ``unverified`` where their POST went out, else ``skipped``;
        a record Katana's POST never accepts is ``cannot_restore`` whether the run reached it or not."""
        from ..resource_types import BY_NAME

        reason = self.stop.reason if self.stop else "the run stopped early"
        for res, wanted in self.groups.items():
            if res in self._finished:
                continue
            if not BY_NAME[res[0]].creatable:
                self._record({w.position: Found(Status.CANNOT_RESTORE, rules.cannot_post(res), None, "", self._stamp())
                              for w in wanted if w.position not in self.outcomes})
                continue
            to_send = self._to_send.get(res) or {w.serial: [w] for w in wanted if w.position not in self.outcomes}
            open_ = {s: [w for w in ws if w.position not in self.outcomes] for s, ws in to_send.items()}
            self._record(rules.unsettled({s: ws for s, ws in open_.items() if ws}, self._answers.get(res, {}),
                                         reason, checked=False))

    def _stopped_by(self, exc: KatanaError | StorageError) -> None:
        if isinstance(exc, ApiUnavailableError):
            self._unreachable += 1
            if self._unreachable >= UNREACHABLE_LIMIT:
                self.halt(StopKind.UNREACHABLE, f"Katana is unreachable: {exc}")
        elif isinstance(exc, ApiRequestError):
            self.halt(exc.stop_kind, f"{exc}; is the base URL right? It ends in /v1, e.g. https://api.katanamrp.com/v1")
        elif exc.stop_kind is not None:
            self.halt(exc.stop_kind, str(exc))

    async def _guarded(self, res: Resource) -> None:
        async with self._slots:
            if self.stopping:
                return
            try:
                await self._resource(res)
                self._unreachable = 0
            except (KatanaError, StorageError) as exc:
                self._stopped_by(exc)
            finally:
                self.tell()

    # --- one resource ------------------------------------------------------------

    async def _resource(self, res: Resource) -> None:
        wanted = self.groups[res]
        if all(self.done.get(w.position) and self.done[w.position].status in SETTLED for w in wanted):
            self._commit(res, {w.position: self.done[w.position] for w in wanted}, write=False)
            return
        try:
            listed = await self.reads.before(res)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            self._commit(res, {w.position: Found(Status.NOT_RESTORED, f"could not list the serials on {_name(res)}: "
                                                 f"{exc}; nothing was sent; run undo again") for w in wanted},
                         write=not self.preview)
            if isinstance(exc, ApiUnavailableError) or (isinstance(exc, ApiRequestError) and exc.status_code == 404):
                raise
            return
        decided = rules.decide(res, wanted, listed, preview=self.preview, stamp=self._stamp(), earlier=self.earlier,
                               chunk=self.chunk, sent=self.resumed.get(res))
        if self.preview or not decided.to_send:
            self._commit(res, decided.outcomes, write=not self.preview)
            return
        self._record(decided.outcomes)
        self._to_send[res] = decided.to_send
        await self._put_back(res, listed, decided)

    async def _put_back(self, res: Resource, before: list[dict], decided: Decided) -> None:
        """POST what is missing (after any late landing of an interrupted attempt), list again, conclude."""
        answers = self._answers[res] = {s: a for s, a in self.resumed.get(res, {}).items() if s in decided.to_send}
        listed, checks, unavailable = before, "", None
        try:
            if rules.awaited(answers, listed):
                listed, checks = await self._list_after(res, before, answers)
            for round_ in range(ROUNDS):
                send = rules.resendable(list(decided.to_send), answers, listed)
                if not send or self.stopping:
                    break
                again = round_ > 0 or bool(answers.keys() & set(send))
                unavailable = await self._post(res, send, answers, again) or unavailable
                listed, checks = await self._list_after(res, before, answers)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError, Unbelieved) as exc:
            self._commit(res, {**decided.outcomes, **rules.unsettled(decided.to_send, answers, str(exc), self._stamp())})
            if isinstance(exc, ApiUnavailableError):
                raise
            return
        reason = self.stop.reason if self.stop else ""
        self._commit(res, {**decided.outcomes,
                           **rules.verdict(decided.to_send, answers, listed, self._stamp(), reason, checks)})
        if unavailable:  # a POST without an answer counts towards "Katana is unreachable", once its records are settled
            raise unavailable

    async def _post(self, res: Resource, serials: list[str], answers: dict[str, Answer],
                    again: bool) -> ApiUnavailableError | None:
        """POST ``serials`` in chunks until done or the run stops; a refused chunk of several is sent
        again one serial at a time (so one serial Katana does not know keeps no other off).
        Returns the last 'unavailable' error (it counts towards Katana being unreachable)."""
        labels = rules.request_labels(res, serials, self.chunk, again)
        unavailable = None
        for start in range(0, len(serials), self.chunk):
            if self.stopping:
                break
            chunk = serials[start: start + self.chunk]
            got, error = await self._send(res, chunk, labels)
            if len(chunk) > 1 and all(a.kind == REFUSED for a in got.values()):
                for serial in chunk:
                    if not self.stopping:
                        got.update((await self._send(res, [serial], labels))[0])
            answers.update(got)
            unavailable = error or unavailable
        return unavailable

    async def _send(self, res: Resource, serials: list[str],
                    labels: dict[str, str]) -> tuple[dict[str, Answer], ApiUnavailableError | None]:
        """One POST, committed to the journal before it leaves and answered in it after."""
        attempt = self.journal.posting(self.run_id, res, serials) if self.journal else 0
        label, error = labels[serials[0]], None
        try:
            body = await self.client.create_serials(res[0], res[1], serials)
            got = rules.answers_of(body, serials, label)
        except (RequestNotSent, AuthError, ResumeLaterError) as exc:  # held back, or refused before it could land
            self._answer(res, attempt, {s: Answer(NOT_SENT) for s in serials})
            if isinstance(exc, RequestNotSent):
                return {}, None
            raise
        except ApiRequestError as exc:
            got = {s: Answer(REFUSED, f"{exc.status_code} {exc.api_message}".strip(), labels[s]) for s in serials}
        except ApiUnavailableError as exc:
            got, error = {s: Answer(UNKNOWN, str(exc), labels[s]) for s in serials}, exc
        self._answer(res, attempt, got)
        return got, error

    def _answer(self, res: Resource, attempt: int, answers: dict[str, Answer]) -> None:
        if self.journal:
            self.journal.answered(self.run_id, res, attempt, answers)

    async def _list_after(self, res: Resource, before: list[dict], answers: dict[str, Answer]) -> tuple[list[dict], str]:
        """A list after the POST that can be believed: read again while suspect (until two reads agree),
        and while a serial that may still land is not listed (with backoff, ``recheck`` seconds at most)."""
        previous, reads, suspect, waited, pause = None, 0, 0, 0.0, PAUSE
        while True:
            listed = await self.client.list_serials(*res)
            reads += 1
            why = rules.suspicion(before, listed)
            if why and not (previous is not None and _ids(previous) == _ids(listed)):
                suspect += 1
                if suspect >= SUSPECT_READS:
                    raise Unbelieved(f"{why}, and {reads} reads did not agree")
                nap = PAUSE
            elif rules.awaited(answers, listed) and waited + pause <= self.recheck and not self.stopping:
                self.tell(f"{_name(res)}: a serial sent is not listed yet; checking again in {pause:.0f} s "
                          "(a POST may land late)")
                nap, waited, pause = pause, waited + pause, pause * 2
            else:
                return listed, (f" (listed {reads} times over {waited:.0f} s)" if waited else "")
            previous = listed
            await self.client.clock.sleep(nap)

    # --- bookkeeping ----------------------------------------------------------------

    def _commit(self, res: Resource, outcomes: dict[int, Found], write: bool = True) -> None:
        """A resource is done: its outcomes recorded, and journalled."""
        self._record(outcomes)
        self._finished.add(res)
        if write and self.journal:
            self.journal.outcome(self.run_id, outcomes)

    def _record(self, outcomes: dict[int, Found]) -> None:
        self.outcomes.update(outcomes)

    def _stamp(self) -> str:
        return iso(self.client.clock.now())

    def tell(self, message: str = "") -> None:
        """Give the progress callback the counts as they stand, with why nothing moves if so."""
        if not self.progress:
            return
        stats = self.client.stats.requests
        counts: dict[str, int] = {}
        for found in self.outcomes.values():
            counts[found.status.value] = counts.get(found.status.value, 0) + 1
        records = sum(len(w) for w in self.groups.values())
        done = sum(len(self.groups[r]) for r in self._finished)
        self.progress(Progress(stats["GET"] + stats["POST"], self.requests_total, done, records, len(self._finished),
                               len(self.groups), message, counts))


def requests_needed(groups: dict[Resource, list[Wanted]], chunk: int, preview: bool) -> int:
    """The most requests an undo needs: per resource two lists before (an empty list is read twice),
    and where serials may be put back, a POST per chunk and a list after."""
    from ..resource_types import BY_NAME

    total = 0
    for res, wanted in groups.items():
        total += 2
        serials = len({w.serial for w in wanted})
        if not preview and BY_NAME[res[0]].creatable:
            total += -(-serials // max(1, chunk)) + 1
    return total


def _ids(listed: list[dict]) -> set[tuple[int, str]]:
    return {(int(r["id"]), str(r["serial_number"])) for r in listed}


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _name(res: Resource) -> str:
    """A resource as messages to staff name it: "Manufacturing order 3001"."""
    return staff_resource(*res)


__all__ = ["ROUNDS", "SETTLED", "Undoer", "requests_needed"]
