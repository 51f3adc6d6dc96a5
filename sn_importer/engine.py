"""Check before, delete, verify after: the truthful part of a run.

Katana's DELETE answers 204 whatever happens, so for every resource in the
plan this stage lists the serials on it ("before"), resolves serial strings to
ids from those records, sends DELETE with only the ids confirmed on it, lists
again and marks each row by what the second list shows. ``preview`` stops
before the DELETE. Outcomes go to the journal as they happen, so a run that
dies can be resumed without a false report.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import pandas as pd

from .client import KatanaClient
from .errors import ApiRequestError, ApiUnavailableError, AuthError, KatanaError, ResumeLaterError, UntrustedListError
from .journal import Journal, ResourceRecord
from .status import Status

Resource = tuple[str, int]
Outcome = dict[int, list]  # row position → [status, message, serial_id, checked_at]

#: After this many resources in a row find Katana unreachable, the run stops.
UNREACHABLE_LIMIT = 2

#: Why a run can stop early. All but "internal" are about the run, not the file:
#: the same file can be run again once the cause is gone.
STOP_KINDS = ("no_key", "auth", "unreachable", "base_url", "interrupted", "journal", "busy", "wait", "internal")


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


@dataclass
class RunState:
    """Where each resource stands, so an interrupted run is reported truthfully."""

    phase: dict[Resource, str] = field(default_factory=dict)  # listed → sent → done
    removed: list[dict] = field(default_factory=list)
    stop_reason: str | None = None
    #: Why the run stopped, for callers that act on it: one of STOP_KINDS, or None.
    stop_kind: str | None = None

    def stop(self, kind: str, reason: str) -> None:
        """Record the first reason the run stopped (later ones are consequences)."""
        if not self.stop_reason:
            self.stop_kind, self.stop_reason = kind, reason


class Engine:
    """Runs ``preview`` or ``apply`` for one job's plan over one client."""

    def __init__(self, rows: pd.DataFrame, members: dict[Resource, object], client: KatanaClient, mode: str,
                 ids_per_request: int, journal: Journal | None = None, run_key: str | None = None,
                 progress: Callable[[Progress], None] | None = None, concurrency: int = 4):
        self.rows = rows  # the caller's frame, written in place (Job.reset gives it fresh, writable columns)
        self.members = {k: [int(p) for p in v] for k, v in members.items()}
        self._one_sheet = rows["sheet"].nunique() <= 1
        self.client = client
        self.mode = mode
        self.chunk = ids_per_request
        self.journal = journal
        self.key = run_key
        self.progress = progress
        self.resume: dict[Resource, ResourceRecord] = journal.resources(run_key) if journal and run_key else {}
        self.state = RunState()
        self._unreachable = 0
        self._last_unreachable = ""
        self._slots = asyncio.Semaphore(concurrency)
        self._rows_done = 0
        self._resources_done = 0
        self._rows_total = sum(len(v) for v in self.members.values())
        self._requests_total = 0

    # --- the run -------------------------------------------------------------

    async def run(self, requests_total: int) -> RunState:
        self._requests_total = requests_total
        tasks = [asyncio.create_task(self._guarded(res)) for res in self.members]
        try:
            await asyncio.gather(*tasks)
        except _StopRun:
            await _cancel(tasks)
        except asyncio.CancelledError:
            self.state.stop("interrupted", "interrupted (Ctrl-C)")
            await _cancel(tasks)
            raise
        except BaseException:
            await _cancel(tasks)
            raise
        finally:
            if self._unreachable:
                self.state.stop("unreachable", f"Katana is unreachable: {self._last_unreachable}")
            self.finalise()
        return self.state

    def finalise(self) -> None:
        """Rows of resources that did not finish: unverified if sent, else skipped."""
        reason = self.state.stop_reason or "the run stopped early"
        for res, positions in self.members.items():
            phase = self.state.phase.get(res)
            if phase == "done":
                continue
            if phase == "sent":
                self._mark(positions, Status.UNVERIFIED, f"DELETE sent; the check afterwards was not made: {reason}",
                           only_open=True)
            else:
                self._mark(positions, Status.SKIPPED, f"not reached: {reason}", only_open=True)

    async def _guarded(self, res: Resource) -> None:
        async with self._slots:
            if self.state.stop_reason:
                return
            try:
                await self._resource(res)
                self._unreachable = 0
            except AuthError as exc:
                self._stop("auth", str(exc))
            except ResumeLaterError as exc:  # a wait beyond --max-wait, or a stall: resumable
                self._stop("wait", str(exc))
            except ApiUnavailableError as exc:
                self._unreachable += 1
                self._last_unreachable = str(exc)
                if self._unreachable >= UNREACHABLE_LIMIT:
                    self._stop("unreachable", f"Katana is unreachable: {exc}")
            except ApiRequestError as exc:  # 404 on the list endpoint: not Katana, or not /v1
                self._stop("base_url", f"{exc}; is the base URL right? It ends in /v1, e.g. https://api.katanamrp.com/v1")
            finally:
                self._tick(res)

    def _stop(self, kind: str, reason: str) -> None:
        self.state.stop(kind, reason)
        raise _StopRun(reason)

    # --- one resource ----------------------------------------------------------

    async def _resource(self, res: Resource) -> None:
        positions = self.members[res]
        stored = self.resume.get(res)
        if stored and stored.phase == "done" and stored.outcome is not None and _settled(stored.outcome):
            self._restore(res, stored)
            return
        try:
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
        confirmed, outcome = self._resolve(res, positions, before)
        if self.mode == "preview" or not confirmed:
            for position, serial_id in confirmed.items():
                outcome[position] = [Status.PLANNED.value, "", serial_id, self._stamp()]
            self._commit(res, before, [], outcome, write=self.mode == "apply")
            return
        ids = list(dict.fromkeys(confirmed.values()))
        if self.journal and not stored:
            self.journal.before_delete(self.key, res, before, ids)
        await self._delete_and_verify(res, before, current, confirmed, ids, outcome, resumed=stored is not None)

    async def _delete_and_verify(self, res, before, current, confirmed, ids, outcome, resumed) -> None:
        present_now = {r["id"] for r in current}
        to_send = [i for i in ids if i in present_now]
        errors: dict[int, str] = {}
        self.state.phase[res] = "sent"
        for start in range(0, len(to_send), self.chunk):
            chunk = to_send[start : start + self.chunk]
            try:
                await self.client.delete_serials(res[0], res[1], chunk)
            except (ApiRequestError, ApiUnavailableError) as exc:
                errors.update({i: str(exc) for i in chunk})
        try:
            after = await self.client.list_serials(*res) if to_send else current
        except (ApiRequestError, ApiUnavailableError, UntrustedListError) as exc:
            for position, serial_id in confirmed.items():
                if serial_id in errors:
                    outcome[position] = [Status.FAILED.value, f"DELETE failed: {errors[serial_id]}", serial_id, ""]
                else:
                    outcome[position] = [Status.UNVERIFIED.value,
                                         f"DELETE sent; the check afterwards failed: {exc}", serial_id, ""]
            self._commit(res, before, ids, outcome)
            raise_if_unavailable(exc)
            return
        still = {r["id"] for r in after}
        stamp = self._stamp()
        for position, serial_id in confirmed.items():
            if serial_id not in still:
                note = "gone at the check after an interrupted attempt" if resumed and serial_id not in to_send else ""
                outcome[position] = [Status.DELETED.value, note, serial_id, stamp]
            elif serial_id in errors:
                outcome[position] = [Status.FAILED.value, f"DELETE failed: {errors[serial_id]}", serial_id, stamp]
            else:
                outcome[position] = [Status.STILL_PRESENT.value,
                                     "DELETE was answered 204 but the serial is still on the resource", serial_id, stamp]
        self._commit(res, before, ids, outcome)

    def _resolve(self, res: Resource, positions: list[int], before: list[dict]) -> tuple[dict[int, int], Outcome]:
        """Which rows name a serial that is on the resource (row → id), and outcomes for the rest."""
        by_id = {int(r["id"]): r for r in before}
        by_serial = {str(r.get("serial_number")): r for r in before}
        confirmed: dict[int, int] = {}
        outcome: Outcome = {}
        seen: dict[int, int] = {}
        rows = self.rows.loc[positions, ["sheet", "row", "serial_id", "serial_number"]]
        for position, sheet, row, serial_id, serial in rows.itertuples(name=None):
            serial_id = None if pd.isna(serial_id) else int(serial_id)
            serial = str(serial) if isinstance(serial, str) and serial else None
            record = by_id.get(serial_id) if serial_id is not None else by_serial.get(serial)
            if record is None:
                what = f"serial id {serial_id}" if serial_id is not None else f"serial {serial!r}"
                outcome[position] = [Status.NOT_ON_RESOURCE.value,
                                     f"{what} is not on {_name(res)} (checked before any delete; nothing sent)",
                                     serial_id, self._stamp()]
            elif serial and serial_id is not None and str(record.get("serial_number")) != serial:
                outcome[position] = [Status.INVALID.value,
                                     f"serial_id {serial_id} is serial {record.get('serial_number')!r} on "
                                     f"{_name(res)}, not {serial!r}", serial_id, self._stamp()]
            elif int(record["id"]) in seen:
                first = seen[int(record["id"])]
                outcome[position] = [Status.DUPLICATE.value,
                                     f"the same serial on the same resource is already in {self._where(first, sheet)}",
                                     int(record["id"]), ""]
            else:
                seen[int(record["id"])] = position
                confirmed[position] = int(record["id"])
        return confirmed, outcome

    # --- bookkeeping -----------------------------------------------------------

    def _commit(self, res: Resource, before: list[dict], ids: list[int], outcome: Outcome, write: bool = True) -> None:
        deleted = {o[2] for o in outcome.values() if o[0] == Status.DELETED.value}
        self._apply(outcome)
        self._removed(res, before, deleted, outcome)
        self.state.phase[res] = "done"
        if write and self.journal and self.key:
            self.journal.outcome(self.key, res, before, ids, outcome)

    def _restore(self, res: Resource, stored: ResourceRecord) -> None:
        """A resource a finished attempt recorded: its outcome again, nothing sent."""
        self._commit(res, stored.before, stored.planned, stored.outcome or {}, write=False)

    def _removed(self, res: Resource, before: list[dict], deleted: set, outcome: Outcome) -> None:
        if not deleted:
            return
        asked: dict[int, list[str]] = {}
        for position, (status, _, serial_id, _) in outcome.items():
            if status == Status.DELETED.value:
                asked.setdefault(serial_id, []).append(self._where(position, None))
        for record in before:
            if record.get("id") in deleted:
                self.state.removed.append({**record, "sheet_rows": ", ".join(asked.get(record["id"], []))})

    def _apply(self, outcome: Outcome) -> None:
        if not outcome:
            return
        positions = list(outcome)
        values = list(outcome.values())
        self.rows.loc[positions, "status"] = [v[0] for v in values]
        self.rows.loc[positions, "message"] = [v[1] for v in values]
        self.rows.loc[positions, "serial_id"] = pd.array([v[2] for v in values], dtype="Int64")
        self.rows.loc[positions, "checked_at"] = [v[3] for v in values]
        never_sent = {Status.NOT_ON_RESOURCE.value, Status.INVALID.value, Status.DUPLICATE.value}
        unsent = [p for p, v in zip(positions, values) if v[0] in never_sent]
        if unsent:
            self.rows.loc[unsent, "request"] = ""

    def _mark(self, positions: list[int], status: Status, message: str, only_open: bool = False) -> None:
        if only_open:
            open_statuses = {Status.VALID.value, Status.PLANNED.value}
            positions = [p for p in positions if self.rows.at[p, "status"] in open_statuses]
        if positions:
            self.rows.loc[positions, "status"] = status.value
            self.rows.loc[positions, "message"] = message

    def _where(self, position: int, sheet_of_reader: str | None) -> str:
        """'row 5', or 'row 5 of sheet X' when the reader may be looking at another sheet."""
        sheet, row = self.rows.at[position, "sheet"], self.rows.at[position, "row"]
        if sheet_of_reader == sheet or (sheet_of_reader is None and self._one_sheet):
            return f"row {row}"
        return f"row {row} of sheet '{sheet}'"

    def _stamp(self) -> str:
        """When a row was checked, on the client's (injectable) clock."""
        moment = datetime.fromtimestamp(self.client.clock.now(), tz=timezone.utc).replace(microsecond=0)
        return moment.isoformat().replace("+00:00", "Z")

    def _tick(self, res: Resource) -> None:
        self._rows_done += len(self.members[res])
        self._resources_done += 1
        if self.progress:
            stats = self.client.stats.requests
            self.progress(Progress(stats["GET"] + stats["DELETE"], self._requests_total, self._rows_done,
                                   self._rows_total, self._resources_done, len(self.members)))


class _StopRun(Exception):
    """Raised inside the run to stop every resource (bad key, Katana gone)."""


def _settled(outcome: Outcome) -> bool:
    """Every row of a recorded resource reached a final outcome (else it is tried again)."""
    return not any(o[0] in (Status.FAILED.value, Status.UNVERIFIED.value) for o in outcome.values())


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def raise_if_unavailable(exc: KatanaError) -> None:
    if isinstance(exc, ApiUnavailableError):
        raise exc


def _name(res: Resource) -> str:
    return f"{res[0]} {res[1]}"
