"""Check before, delete, verify after: the truthful part of a run.

Katana's DELETE answers 204 whatever happens, so for every resource in the
plan this stage lists the serials on it ("before"), resolves serial strings to
ids from those records, sends DELETE with only the ids confirmed on it, lists
again and marks each row by what the second list shows. ``preview`` stops
before the DELETE. Outcomes go to the journal as they happen, so a run that
dies can be resumed without a false report.

Where it is cheaper, a resource type is listed whole instead of resource by
resource (see :mod:`.strategy` and :mod:`.typescan`): its trusted type-wide
list is the "before" of each of its resources, and after every DELETE of the
type one more type-wide list is the "after". What cannot be listed or trusted
whole is listed resource by resource.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from .katana.client import KatanaClient, RequestNotSent
from .clock import iso
from .errors import ApiRequestError, ApiUnavailableError, AuthError, KatanaError, ResumeLaterError, UntrustedListError
from .interrupt import GRACE, Interrupt
from .journal import Detached, Journal, ResourceRecord
from .outcome import Outcome, Outcomes, Stop
from .status import NEVER_SENT, OPEN, UNSETTLED, Mode, Status, StopKind
from .strategy import ListingPlan
from .katana.typescan import TypeScans

Resource = tuple[str, int]

#: After this many resources in a row find Katana unreachable, the run stops.
UNREACHABLE_LIMIT = 2


@dataclass
class Progress:
    """What a progress callback is told."""

    requests_done: int
    requests_total: int
    rows_done: int
    rows_total: int
    resources_done: int
    resources_total: int
    message: str = ""
    #: Rows by status right now (blank rows not counted): live counts without reading every row.
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class RunState:
    """Where each resource stands, so an interrupted run is reported truthfully."""

    phase: dict[Resource, str] = field(default_factory=dict)  # listed → sent → done
    removed: list[dict] = field(default_factory=list)
    #: How each resource type was listed, once chosen (the probes answered).
    listing: ListingPlan | None = None
    #: What a reader of the report should know about how the run listed (fallbacks).
    notes: list[str] = field(default_factory=list)
    #: Why the run stopped early (kind and words), or None.
    stop_cause: Stop | None = None

    @property
    def stop_reason(self) -> str | None:
        return self.stop_cause.reason if self.stop_cause else None

    def stop(self, kind: StopKind, reason: str) -> None:
        """Record the first reason the run stopped (later ones are consequences)."""
        if not self.stop_cause:
            self.stop_cause = Stop(StopKind(kind), reason)


class Engine:
    """Runs ``preview`` or ``apply`` for one job's plan over one client.

    A stop (a refused key, Katana gone, a wait too long, an interrupt) never
    throws away what is known: no new resource is listed and no new DELETE
    goes out, what is in flight settles for at most a grace period (a
    resource whose DELETE was sent is still checked), and then every row
    keeps the truest status there is: verified outcomes stay, rows that were
    never going to be sent keep theirs, rows whose DELETE went out without a
    check after become ``unverified``, the rest ``skipped``.
    """

    def __init__(self, rows: pd.DataFrame, members: dict[Resource, object], client: KatanaClient, mode: Mode,
                 ids_per_request: int, journal: Journal | None = None, run_key: str | None = None,
                 progress: Callable[[Progress], None] | None = None, concurrency: int = 4,
                 listing: str = "auto", on_plan: Callable[[ListingPlan], None] | None = None,
                 interrupt: Interrupt | None = None, detached: dict[int, Detached] | None = None):
        #: The run result's own rows (a copy of the job's), written row by row as outcomes come.
        self.rows = rows
        self.members = {k: [int(p) for p in v] for k, v in members.items()}
        self._one_sheet = rows["sheet"].nunique() <= 1
        self._counts = Counter(s for s in rows["status"] if s)
        self.client = client
        self.mode = Mode(mode)
        self.chunk = ids_per_request
        self.journal = journal
        self.key = run_key
        self.progress = progress
        self.interrupt = interrupt
        #: Rows an earlier, finished run of the same file detached (a re-run reports them truthfully).
        self.detached = detached or {}
        if progress and client.on_wait is None:  # the progress says why nothing moves (e.g. another run's turn)
            client.on_wait = lambda seconds, why: self.tell(f"{why} (about {seconds:.0f} s)")
        self.resume: dict[Resource, ResourceRecord] = journal.resources(run_key) if journal and run_key else {}
        self.state = RunState()
        self._unreachable = 0
        self._last_unreachable = ""
        self._slots = asyncio.Semaphore(concurrency)
        self._rows_done = 0
        self._resources_done = 0
        self._rows_total = sum(len(v) for v in self.members.values())
        self._requests_total = 0
        self._listing, self._on_plan = listing, on_plan
        self.scans: TypeScans | None = None
        self._pending: dict[str, list[_Pending]] = {}
        self._stopping = False
        self._tasks: list[asyncio.Task] = []
        self._grace: asyncio.TimerHandle | None = None
        self._confirmed: dict[Resource, dict[int, int]] = {}  # row → serial id confirmed on the resource
        self._sent: dict[Resource, set[int]] = {}  # ids whose DELETE went out (or is on its way)

    # --- the run -------------------------------------------------------------

    async def run(self, requests_total: int = 0) -> RunState:
        """Choose how to list each type, then every resource: before, DELETE, after."""
        self._requests_total = requests_total
        loop = asyncio.get_running_loop()
        unlisten = self.interrupt.listen(lambda: loop.call_soon_threadsafe(self._on_interrupt)) \
            if self.interrupt else (lambda: None)
        if self.interrupt and self.interrupt.requested:
            self._on_interrupt()
        try:
            if not self._stopping and await self._all([self._phase(self._list_types_before())]) == [True]:
                await self._all([self._guarded(res) for res in self.members])
                await self._all([self._verify_type(t, p) for t, p in self._pending.items()])
        except asyncio.CancelledError:  # cancelled from outside: KeyboardInterrupt without signal handlers
            self.state.stop(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
            await _cancel(self._tasks)
            raise
        except BaseException:
            await _cancel(self._tasks)
            raise
        finally:
            unlisten()
            if self._grace:
                self._grace.cancel()
            self.state.notes = list(self.scans.notes) if self.scans else []
            if self._unreachable:
                self.state.stop(StopKind.UNREACHABLE, f"Katana is unreachable: {self._last_unreachable}")
            self.finalise()
        return self.state

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
        self.state.stop(kind, reason)
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
        """Rows the run did not settle: ``unverified`` where their DELETE went out, else ``skipped``.

        Rows that already have an outcome (verified, or never going to be
        sent) keep it: only rows still open are marked."""
        reason = self.state.stop_reason or "the run stopped early"
        for res, positions in self.members.items():
            if self.state.phase.get(res) == "done":
                continue
            sent, confirmed = self._sent.get(res, set()), self._confirmed.get(res, {})
            out = [p for p in positions if confirmed.get(p) in sent]
            self._mark(out, Status.UNVERIFIED, f"DELETE sent; the check afterwards was not made: {reason}",
                       only_open=True)
            self._mark([p for p in positions if p not in out], Status.SKIPPED, f"not reached: {reason}",
                       only_open=True)

    async def _guarded(self, res: Resource, work: Callable | None = None) -> None:
        """One resource's step (by default all of it), with what a failure means for the run.
        After a stop no resource starts; a check after a DELETE already sent still runs."""
        async with self._slots:
            if self._stopping and work is None:
                return
            try:
                await (work or self._resource)(res)
                self._unreachable = 0
            except AuthError as exc:
                self.halt(StopKind.AUTH, str(exc))
            except ResumeLaterError as exc:  # a wait beyond --max-wait, or a stall: resumable
                self.halt(StopKind.WAIT, str(exc))
            except ApiUnavailableError as exc:
                self._unreachable += 1
                self._last_unreachable = str(exc)
                if self._unreachable >= UNREACHABLE_LIMIT:
                    self.halt(StopKind.UNREACHABLE, f"Katana is unreachable: {exc}")
            except ApiRequestError as exc:  # 404 on the list endpoint: not Katana, or not /v1
                self.halt(StopKind.BASE_URL,
                          f"{exc}; is the base URL right? It ends in /v1, e.g. https://api.katanamrp.com/v1")
            finally:
                if work is None:
                    self._tick(res)

    # --- listing a type whole ----------------------------------------------------

    async def _phase(self, work) -> bool:
        """Run a step that concerns the whole run; a refused key or a wait too long stops it (False)."""
        try:
            await work
        except AuthError as exc:
            self.halt(StopKind.AUTH, str(exc))
            return False
        except ResumeLaterError as exc:  # a wait beyond --max-wait, or a stall: resumable
            self.halt(StopKind.WAIT, str(exc))
            return False
        return True

    async def _list_types_before(self) -> None:
        """Probe the types worth it, say the plan, read the types chosen whole."""
        todo = {res: len(p) for res, p in self.members.items() if not self._restorable(res)}
        self.scans = TypeScans(self.client, self.mode, todo, self.chunk, self._listing)
        self.state.listing = await self.scans.choose()
        self._requests_total = self.state.listing.requests
        if self._on_plan:
            self._on_plan(self.state.listing)
        await self.scans.read_before()

    async def _verify_type(self, resource_type: str, pending: list[_Pending]) -> None:
        """The check after every DELETE of a type: one type-wide list, or one list per resource."""
        try:
            listed = await self.scans.read_after(resource_type, len(pending)) if self.scans else None
        except AuthError as exc:  # the rows stay unverified: their DELETEs went out
            self.halt(StopKind.AUTH, str(exc))
            return
        except ResumeLaterError as exc:
            self.halt(StopKind.WAIT, str(exc))
            return
        if listed is not None:
            for item in pending:
                self._verified(item, listed.on(item.res[1]))
        else:
            by_res = {item.res: item for item in pending}
            await asyncio.gather(*(self._guarded(res, lambda r: self._check_after(by_res[r])) for res in by_res))
        self._tick()

    def _restorable(self, res: Resource) -> bool:
        """A resource a finished attempt settled: shown again from the journal, nothing listed or sent."""
        stored = self.resume.get(res)
        return bool(stored and stored.phase == "done" and stored.outcome is not None and _settled(stored.outcome))

    # --- one resource ----------------------------------------------------------

    async def _resource(self, res: Resource) -> None:
        positions = self.members[res]
        stored = self.resume.get(res)
        if self._restorable(res):
            self._restore(res, stored)
            return
        try:
            current = self.scans.before(res) if self.scans else None
            if current is None:
                current = await self.client.list_serials(*res)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            self._mark(positions, Status.FAILED, f"could not list the serials on {_name(res)}: {exc}")
            self.state.phase[res] = "done"
            if isinstance(exc, ApiRequestError) and exc.status_code == 404:
                raise
            raise_if_unavailable(exc)
            return
        before = stored.before if stored else current
        self.state.phase[res] = "listed"
        confirmed, outcome = self._resolve(res, positions, before, current)
        if self.mode == Mode.PREVIEW or not confirmed:
            for position, serial_id in confirmed.items():
                outcome[position] = Outcome(Status.PLANNED, "", serial_id, self._stamp())
            self._commit(res, before, [], outcome, write=self.mode == Mode.APPLY)
            return
        self._apply(outcome)  # rows never going to be sent are settled now, whatever stops the run later
        if self._stopping:
            return
        ids = list(dict.fromkeys(confirmed.values()))
        if self.journal and not stored:
            self.journal.before_delete(self.key, res, before, ids)
        await self._delete_and_verify(res, before, current, confirmed, ids, outcome, resumed=stored is not None)

    async def _delete_and_verify(self, res, before, current, confirmed, ids, outcome, resumed) -> None:
        present_now = {r["id"] for r in current}
        to_send = [i for i in ids if i in present_now]
        item = _Pending(res, before, confirmed, ids, outcome, resumed, to_send)
        item.errors, unavailable = await self._send(res, confirmed, to_send)
        item.sent = self._sent[res]
        if not item.sent:  # nothing went out (nothing to send now, or the run stopped first)
            self._verified(item, current)
        elif self.scans and self.scans.scanned(res[0]):
            self._pending.setdefault(res[0], []).append(item)  # checked with the rest of its type
        else:
            await self._check_after(item)
        if unavailable:  # a DELETE that never answered counts towards "Katana is unreachable"
            raise unavailable

    async def _send(self, res: Resource, confirmed: dict[int, int],
                    to_send: list[int]) -> tuple[dict[int, str], ApiUnavailableError | None]:
        """DELETE ``to_send`` in chunks until done or the run stops; the errors by id, and the last
        'unavailable' one."""
        self._confirmed[res], self._sent[res] = confirmed, set()
        errors: dict[int, str] = {}
        unavailable = None
        for start in range(0, len(to_send), self.chunk):
            if self._stopping:
                break
            chunk = to_send[start: start + self.chunk]
            self._sent[res].update(chunk)
            self.state.phase[res] = "sent"
            try:
                await self.client.delete_serials(res[0], res[1], chunk)
            except RequestNotSent:  # held back while waiting for the quota: it never left
                self._sent[res].difference_update(chunk)
                break
            except ApiRequestError as exc:
                errors.update({i: str(exc) for i in chunk})
            except ApiUnavailableError as exc:
                errors.update({i: str(exc) for i in chunk})
                unavailable = exc
        return errors, unavailable

    def _unsent(self, serial_id: int) -> Outcome:
        """A confirmed row whose DELETE the stop kept from going out."""
        return Outcome(Status.SKIPPED, f"not sent: {self.state.stop_reason or 'the run stopped'}", serial_id)

    async def _check_after(self, item: _Pending) -> None:
        """List one resource after its DELETE and mark its rows; a failed list leaves them unverified."""
        res, confirmed, errors, outcome = item.res, item.confirmed, item.errors, item.outcome
        try:
            after = await self.client.list_serials(*res)
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            for position, serial_id in confirmed.items():
                if serial_id not in item.sent:
                    outcome[position] = self._unsent(serial_id)
                elif serial_id in errors:
                    outcome[position] = Outcome(Status.FAILED, f"DELETE failed: {errors[serial_id]}", serial_id)
                else:
                    outcome[position] = Outcome(Status.UNVERIFIED, f"DELETE sent; the check afterwards failed: {exc}",
                                                serial_id)
            self._commit(res, item.before, item.ids, outcome)
            raise_if_unavailable(exc)
            return
        self._verified(item, after)

    def _verified(self, item: _Pending, after: list[dict]) -> None:
        """Mark a resource's rows by what a trusted list after its DELETE shows."""
        confirmed, errors, outcome = item.confirmed, item.errors, item.outcome
        still = {r["id"] for r in after}
        stamp = self._stamp()
        for position, serial_id in confirmed.items():
            if serial_id not in still:
                note = ("gone at the check after an interrupted attempt"
                        if item.resumed and serial_id not in item.to_send else "")
                outcome[position] = Outcome(Status.DELETED, note, serial_id, stamp)
            elif serial_id not in item.sent:
                outcome[position] = self._unsent(serial_id)
            elif serial_id in errors:
                outcome[position] = Outcome(Status.FAILED, f"DELETE failed: {errors[serial_id]}", serial_id, stamp)
            else:
                outcome[position] = Outcome(Status.STILL_PRESENT,
                                            "DELETE was answered 204 but the serial is still on the resource",
                                            serial_id, stamp)
        self._commit(item.res, item.before, item.ids, outcome)

    def _resolve(self, res: Resource, positions: list[int], before: list[dict],
                 current: list[dict]) -> tuple[dict[int, int], Outcomes]:
        """Which rows name a serial that is on the resource (row → id), and outcomes for the rest."""
        by_id = {int(r["id"]): r for r in before}
        by_serial = {str(r.get("serial_number")): r for r in before}
        padded = _zero_padded(by_serial)
        on_now = {int(r["id"]) for r in current}
        confirmed: dict[int, int] = {}
        outcome: Outcomes = {}
        seen: dict[int, int] = {}
        rows = self.rows.loc[positions, ["sheet", "row", "serial_id", "serial_number"]]
        for position, sheet, row, serial_id, serial in rows.itertuples(name=None):
            serial_id = None if pd.isna(serial_id) else int(serial_id)
            serial = str(serial) if isinstance(serial, str) and serial else None
            record = by_id.get(serial_id) if serial_id is not None else by_serial.get(serial)
            if record is None:
                hint = _zeros_hint(serial, padded) if serial_id is None else ""
                outcome[position] = self._absent(res, position, serial_id, serial, on_now, hint)
            elif serial and serial_id is not None and str(record.get("serial_number")) != serial:
                outcome[position] = Outcome(Status.INVALID,
                                            f"serial_id {serial_id} is serial {record.get('serial_number')!r} on "
                                            f"{_name(res)}, not {serial!r}", serial_id, self._stamp())
            elif int(record["id"]) in seen:
                first = seen[int(record["id"])]
                outcome[position] = Outcome(Status.DUPLICATE, "the same serial on the same resource is already in "
                                                              f"{self._where(first, sheet)}", int(record["id"]))
            else:
                seen[int(record["id"])] = position
                confirmed[position] = int(record["id"])
        return confirmed, outcome

    def _absent(self, res: Resource, position: int, serial_id: int | None, serial: str | None,
                on_now: set[int], hint: str = "") -> Outcome:
        """A row whose serial a trusted list before did not show: detached by an earlier run of
        this file (and still gone), or not on the resource."""
        earlier = self.detached.get(position)
        if self.mode == Mode.APPLY and earlier and earlier.serial_id not in on_now:
            return Outcome(Status.DELETED, f"detached on {earlier.checked_at} by run {earlier.run_id}; "
                                           "still absent now", earlier.serial_id, self._stamp())
        what = f"serial id {serial_id}" if serial_id is not None else f"serial {serial!r}"
        return Outcome(Status.NOT_ON_RESOURCE, f"{what} is not on {_name(res)} (checked before any delete; "
                                               f"nothing sent){hint}", serial_id, self._stamp())

    # --- bookkeeping -----------------------------------------------------------

    def _commit(self, res: Resource, before: list[dict], ids: list[int], outcome: Outcomes,
                write: bool = True) -> None:
        deleted = {o.serial_id for o in outcome.values() if o.status == Status.DELETED}
        self._apply(outcome)
        self._removed(res, before, deleted, outcome)
        self.state.phase[res] = "done"
        if write and self.journal and self.key:
            self.journal.outcome(self.key, res, before, ids, outcome)

    def _restore(self, res: Resource, stored: ResourceRecord) -> None:
        """A resource a finished attempt recorded: its outcome again, nothing sent."""
        self._commit(res, stored.before, stored.planned, stored.outcome or {}, write=False)

    def _removed(self, res: Resource, before: list[dict], deleted: set, outcome: Outcomes) -> None:
        if not deleted:
            return
        asked: dict[int, list[str]] = {}
        for position, found in outcome.items():
            if found.status == Status.DELETED:
                asked.setdefault(found.serial_id, []).append(self._where(position, None))
        for record in before:
            if record.get("id") in deleted:
                self.state.removed.append({**record, "sheet_rows": ", ".join(asked.get(record["id"], []))})

    def _apply(self, outcome: Outcomes) -> None:
        """Write the outcomes into the rows (and keep the counts by status up to date)."""
        if not outcome:
            return
        positions = list(outcome)
        values = list(outcome.values())
        earlier = self.rows.loc[positions, ["status", "message"]].to_numpy()
        notes = [m if s == Status.VALID.value else "" for s, m in earlier]  # a valid row's message is a note
        self._recount(positions, [v.status.value for v in values])
        self.rows.loc[positions, "status"] = [v.status.value for v in values]
        self.rows.loc[positions, "message"] = ["; ".join(t for t in (v.message, n) if t) for v, n in zip(values, notes)]
        self.rows.loc[positions, "serial_id"] = pd.array([v.serial_id for v in values], dtype="Int64")
        self.rows.loc[positions, "checked_at"] = [v.checked_at for v in values]
        unsent = [p for p, v in zip(positions, values) if v.status in NEVER_SENT]
        if unsent:
            self.rows.loc[unsent, "request"] = ""

    def _mark(self, positions: list[int], status: Status, message: str, only_open: bool = False) -> None:
        if only_open:
            open_statuses = {s.value for s in OPEN}
            positions = [p for p in positions if self.rows.at[p, "status"] in open_statuses]
        if positions:
            self._recount(positions, [status.value] * len(positions))
            self.rows.loc[positions, "status"] = status.value
            self.rows.loc[positions, "message"] = message

    def _recount(self, positions: list[int], new: list[str]) -> None:
        self._counts.subtract(s for s in self.rows.loc[positions, "status"] if s)
        self._counts.update(new)

    def _where(self, position: int, sheet_of_reader: str | None) -> str:
        """'row 5', or 'row 5 of sheet X' when the reader may be looking at another sheet."""
        sheet, row = self.rows.at[position, "sheet"], self.rows.at[position, "row"]
        if sheet_of_reader == sheet or (sheet_of_reader is None and self._one_sheet):
            return f"row {row}"
        return f"row {row} of sheet '{sheet}'"

    def _stamp(self) -> str:
        """When a row was checked, on the client's (injectable) clock."""
        return iso(self.client.clock.now())

    def _tick(self, res: Resource | None = None) -> None:
        """Tell the progress callback: a resource is through (or, with None, a type's check after is)."""
        if res is not None:
            self._rows_done += len(self.members[res])
            self._resources_done += 1
        self.tell()

    def tell(self, message: str = "") -> None:
        """Give the progress callback the counts as they stand, with why nothing moves if so."""
        if self.progress:
            stats = self.client.stats.requests
            self.progress(Progress(stats["GET"] + stats["DELETE"], self._requests_total, self._rows_done,
                                   self._rows_total, self._resources_done, len(self.members), message,
                                   statuses={s: n for s, n in self._counts.items() if n > 0}))


@dataclass
class _Pending:
    """A resource whose DELETEs are sent and whose rows wait for the check after."""

    res: Resource
    before: list[dict]
    confirmed: dict[int, int]
    ids: list[int]
    outcome: Outcomes
    resumed: bool
    to_send: list[int]
    errors: dict[int, str] = field(default_factory=dict)
    sent: set[int] = field(default_factory=set)  # the ids whose DELETE went out


def _settled(outcome: Outcomes) -> bool:
    """Every row of a recorded resource reached a final outcome (else it is tried again)."""
    return not any(o.status in UNSETTLED for o in outcome.values())


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def raise_if_unavailable(exc: KatanaError) -> None:
    if isinstance(exc, ApiUnavailableError):
        raise exc


def _name(res: Resource) -> str:
    return f"{res[0]} {res[1]}"


def _zero_padded(by_serial: dict[str, dict]) -> dict[str, str]:
    """The resource's digits-only serials with leading zeros, by their digits without them."""
    return {s.lstrip("0"): s for s in by_serial if s[:1] == "0" and s.isdigit()}


def _zeros_hint(serial: str | None, padded: dict[str, str]) -> str:
    """When a zero-padded form of a missing digits-only serial is on the resource, say so and how to fix
    the column. Only the exact serial is ever sent: this is advice, not a match."""
    if not serial or not serial.isdigit():
        return ""
    found = padded.get(serial.lstrip("0"))
    if not found or found == serial:
        return ""
    return (f"; {found!r} is on it: Excel drops the leading zeros of a serial stored as a number, so format the "
            "serial column as Text, type the serial with its zeros and run again")
