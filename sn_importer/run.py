"""Running a job against Katana: connection, sandbox, journal, engine → a run result.

``run_remote`` is what ``Job.preview`` and ``Job.apply`` call. It starts a
:class:`~sn_importer.result.RunResult` from the job's validation result,
resolves the base URL and key (or starts the built-in sandbox), opens the
journal for ``apply``, tells the caller how many requests the run needs and
about how long the quota makes that take, resolves order numbers and SKUs
through Katana (:mod:`sn_importer.katana.lookups`), runs the engine over the result's
own rows and leaves every row with a true status, even when the key is
refused, Katana goes away or the user presses Ctrl-C. The job is never
written to. What it shares with an undo (connecting, the shared quota, the
locked journal, running async from sync code) is in :mod:`sn_importer.remote`.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from .katana.client import KatanaClient
from .clock import iso
from .engine import Engine, Progress
from .estimate import apply_estimate, lookup_estimate, run_estimate, wait_text
from .errors import KatanaError, StorageError
from .interrupt import Interrupt
from .journal import Journal, PastRun, run_key
from .katana.lookups import Lookups, resolve
from .references import by_order_mask, lookup_requests, references
from .plan import build_plan
from .remote import NO_KEY, connect, open_journal, run_sync, with_ledger
from .result import RunResult
from .settings import resolve_quota_share
from .strategy import ListingPlan, upfront_requests
from .truth import Ask, Earlier, Unfinished
from .validate import sheet_words
from .status import UNSETTLED, Mode, Origin, StopKind, count_statuses

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .job import Job

#: Seconds a serial still listed after its DELETE is checked again before it is ``still_present``.
RECHECK = 15.0


def run_remote(job: Job, mode: Mode, *, base_url: str | None = None, api_key: str | None = None,
               sandbox: bool = False, sandbox_seed: str | Path | None = None, state_dir: str | Path | None = None,
               fresh: bool = False, progress: Callable[[Progress], None] | None = None,
               announce: Callable[[str], None] | None = None, client_options: dict | None = None,
               concurrency: int = 4, listing: str = "auto", interrupt: Interrupt | None = None,
               quota_share: float | str | None = None, env_file: str | Path | None = None,
               recheck: float = RECHECK, origin: Origin | str | None = None) -> RunResult:
    """Preview or apply ``job``: a new result; the job itself is left as it was read.

    ``listing`` is ``"auto"`` (list a resource type whole where that is
    cheaper) or ``"per_resource"`` (always resource by resource).
    ``interrupt`` stops the run the way Ctrl-C does when requested (from a
    signal handler or another thread): nothing more is sent, what is in
    flight settles, every row keeps a true status.
    ``quota_share`` is the share of the tenant's window the run may use
    (else ``KATANA_QUOTA_SHARE``, else 80 %); the budget is shared with every
    sn-importer process on this host through ``state_dir``. ``recheck`` is
    how long a serial still listed after its DELETE is checked again before
    it is called ``still_present`` (a DELETE may take effect late). ``origin``: where it was started
    or resumed (the journal keeps it for History; a notebook when not given)."""
    mode = Mode(mode)
    share = resolve_quota_share(quota_share, env_file=env_file)
    clock = (client_options or {}).get("clock")
    result = RunResult.begin(job, mode, clock, origin)
    with ExitStack() as stack:
        connection = connect(stack, sandbox=sandbox, sandbox_seed=sandbox_seed, base_url=base_url, api_key=api_key,
                             env_file=env_file)
        result.base_url, result.sandbox = connection.base_url, sandbox
        if not connection.api_key:
            result.halt(StopKind.NO_KEY, NO_KEY)
            return result
        journal, key, earlier, unfinished = _journal_for(result, stack, state_dir, fresh, connection.api_key)
        if result.stop:
            return result
        options = with_ledger(result, stack, state_dir, connection, share, client_options)
        client = KatanaClient(connection.base_url, connection.api_key, **options)

        lookups = lookup_requests(job.rows)

        def planned(plan: ListingPlan) -> None:  # the probes have answered: say what the run will cost
            client.ledger.expect(plan.requests)  # the other runs on the tenant count it in their estimates
            result.estimate = _estimate(plan.requests, lookups, client.ledger)
            if announce and plan.requests:
                announce(run_estimate(mode, client.ledger, plan))

        start = partial(Engine, client=client, mode=mode, ids_per_request=job.template.ids_per_request,
                        journal=journal, run_key=key, progress=progress, concurrency=concurrency,
                        listing=listing, on_plan=planned, interrupt=interrupt, earlier=earlier, recheck=recheck,
                        unfinished=unfinished)
        _run_engine(result, start, client, _requests_up_front(job, mode, client, announce, lookups))
        result.notes.extend(getattr(client.ledger, "notes", []))
        if journal and key and _complete(result):
            try:
                journal.finish_run(key, result.finished_at, result.counts())
            except StorageError as exc:  # every row is settled: the next run re-checks them
                result.halt(exc.stop_kind, str(exc))
    return result


def _estimate(requests: int, lookups: int, ledger) -> str:
    """The Summary's "Estimated before sending": the run's requests and the lookups before them."""
    looked = f" and {lookups} at most to look up resources by order number" if lookups else ""
    return f"{requests} requests{looked}; {wait_text(ledger, requests)}"


def _requests_up_front(job: Job, mode: Mode, client: KatanaClient,
                       announce: Callable[[str], None] | None, lookups: int) -> int:
    """What the run will ask of Katana before the probes answer (the order-number lookups said
    first, as they are sent first): the total its progress counts against."""
    named = references(job.rows)
    if announce and lookups:
        announce(lookup_estimate(client.ledger, lookups, len(named)))
    resources = job.plan_detail.sizes() + [(ref.resource_type, len(rows)) for ref, rows in named.items()]
    return lookups + upfront_requests(resources, job.template.ids_per_request, mode)


def _run_engine(result: RunResult, start: Callable[..., Engine], client: KatanaClient, total: int) -> None:
    """Run to the end, or to a stop that leaves every row with a true status."""
    run = _Run(result, start)
    try:
        run_sync(run.go(client, total))
    except KeyboardInterrupt:
        run.stop(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
    except StorageError as exc:
        run.stop(exc.stop_kind, str(exc))
    except Exception as exc:  # a bug must not leave rows with a false status
        run.stop(StopKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        log.exception("run stopped by an internal error")
    finally:
        result.requests = client.stats.as_dict()
        run.finish()
        result.finished_at = iso(client.clock.now())
        if result.mode == Mode.PREVIEW:  # what applying it costs: the same words on the page and the command line
            result.apply_estimate = apply_estimate(client.ledger, result.requests_needed(Mode.APPLY))


class _Run:
    """One run's two steps over one client: order numbers and SKUs resolved
    through Katana (when the sheet has any), then the engine over the plan."""

    def __init__(self, result: RunResult, start: Callable[..., Engine]):
        self.result, self.start = result, start
        self.engine: Engine | None = None

    async def go(self, client: KatanaClient, total: int) -> None:
        async with client:
            job, plan = self.result.job, self.result.job.plan_detail
            if by_order_mask(job.rows).any():
                try:
                    resolution = await resolve(job.rows, Lookups(client), sheet_words(job.source))
                except (KatanaError, StorageError) as exc:
                    if exc.stop_kind is None:
                        raise
                    return self.stop(exc.stop_kind, str(exc))
                self.result.resolution = resolution
                plannable = job.rows.drop(index=list(resolution.problems))
                plan = self.result.resolved_plan = build_plan(plannable, job.template.ids_per_request,
                                                              resolution.resource_ids())
            counts = Counter(self.result.counts())
            self.engine = self.start(asks_for(job.rows, plan.members), counts=counts)
            await self.engine.run(total)

    def stop(self, kind: StopKind, reason: str) -> None:
        """Stop with every row true: the engine's resources unverified or skipped, or
        (stopped while looking up) every open row skipped."""
        if self.engine is None:
            self.result.halt(kind, reason)
            return
        self.engine.findings.stopped(kind, reason)
        self.engine.finalise()

    def finish(self) -> None:
        if self.engine is not None:
            self.result.record(self.engine.findings, self.engine.listing)


def asks_for(rows: pd.DataFrame, members: dict) -> dict[tuple[str, int], list[Ask]]:
    """What each planned row asks of its resource: the engine's input, read from the rows frame."""
    part = rows[["sheet", "row", "serial_id", "serial_number"]]
    asks = {}
    for res, positions in members.items():
        asks[res] = [Ask(int(p), int(row), str(sheet), None if pd.isna(sid) else int(sid),
                         serial if isinstance(serial, str) and serial else None)
                     for p, (sheet, row, sid, serial) in zip(positions, part.loc[positions].itertuples(index=False))]
    return asks


def _complete(result: RunResult) -> bool:
    """A run is finished in the journal only when every resource reached a final outcome:
    what failed, went unverified or was skipped is tried again next time. Rows of a sheet
    that was not read are skipped whatever the run does, so they do not count."""
    unread = [sheet.name for sheet in result.source.sheets if sheet.unread]
    rows = result.rows[~result.rows["sheet"].isin(unread)] if unread else result.rows
    return not result.stop and not {s.value for s in UNSETTLED} & set(count_statuses(rows))


def _journal_for(result: RunResult, stack: ExitStack, state_dir, fresh: bool, api_key: str) -> tuple[
        Journal | None, str | None, dict[int, Earlier], dict[tuple[str, int], Unfinished]]:
    """An apply's journal (locked), its key and what an earlier run did to its rows; a preview's notes
    from the journal, what the file's finished apply did to its rows and what an unfinished one set
    out to detach (the journal only read)."""
    linked = {} if fresh else _earlier_apply(result, state_dir, api_key)
    if result.mode == Mode.APPLY:
        journal, key, earlier = _open_journal(result, stack, state_dir, fresh, api_key)
        return journal, key, {**linked, **earlier}, {}
    earlier, unfinished = ({}, {}) if fresh else _note_applied_before(result, state_dir, api_key)
    return None, None, {**linked, **earlier}, unfinished


def _earlier_apply(result: RunResult, state_dir, api_key: str) -> dict[int, Earlier]:
    """An apply's results workbook, fixed and run again: what that apply (and the runs of its input
    before it) did to the rows, from the journal, on this account and template only. Each is matched
    to a row by resource and serial, not by place: staff edit these files, and a row moved, added or
    changed is matched by what it names, or not at all."""
    from .report.paths import PROPERTY_INPUT_DIGEST, PROPERTY_MODE, PROPERTY_RUN, recorded

    if result.path.suffix.lower() not in (".xlsx", ".xlsm"):
        return {}
    made = recorded(result.path)
    run_id, digest = made.get(PROPERTY_RUN), made.get(PROPERTY_INPUT_DIGEST)
    if made.get(PROPERTY_MODE) != Mode.APPLY.value or not run_id or not digest:
        return {}
    done = Journal.detached_by_run(state_dir, digest, result.template.path, result.base_url or "", api_key, run_id)
    known = {}
    for earlier in done.values():
        record = earlier.record or {}
        where = (str(record.get("resource_type")), record.get("resource_id"))
        known[(*where, earlier.serial_id)] = known[(*where, str(record.get("serial_number")))] = earlier
    rows, found = result.job.rows, {}
    for position, rtype, rid, sid, serial in zip(rows.index, rows["resource_type"], rows["resource_id"],
                                                 rows["serial_id"], rows["serial_number"]):
        if not pd.isna(rid) and (hit := known.get((str(rtype), int(rid), int(sid) if not pd.isna(sid) else str(serial)))):
            found[int(position)] = hit
    if found:
        result.notes.append(f"These are the results of apply run {run_id}: the rows it detached are told as "
                            "detached by it, not as serials never on their resource.")
    return found


def _open_journal(result: RunResult, stack: ExitStack, state_dir, fresh: bool,
                  api_key: str) -> tuple[Journal | None, str | None, dict[int, Earlier]]:
    """The journal, locked for this run, its key, and what an earlier finished run of the file on
    the same Katana account did to its rows. On failure the result is stopped with the reason."""
    key = run_key(result.path, result.template.path, result.base_url or "", api_key)
    journal = open_journal(result, stack, state_dir, key, lambda j: _prepare_journal(result, j, key, fresh))
    if journal is None:
        return None, None, {}
    return journal, key, ({} if fresh else journal.detached(key))


def _prepare_journal(result: RunResult, journal: Journal, key: str, fresh: bool) -> None:
    """Resume the unfinished run recorded for this key, or start a new one.

    A file whose earlier run finished is checked again (a re-run re-checks:
    serials may have come back since); the report notes the earlier run."""
    past = journal.past_run(key)
    if past and not fresh and not past.finished_at:
        result.run_id = past.run_id
        result.notes.append(f"Resumed the unfinished run {past.run_id} started {past.started_at}: "
                            "resources already done were not sent again.")
        journal.resumed(key, result.origin)
        return
    journal.start_run(key, result.run_id, result.display_name, result.template.name, result.base_url or "",
                      result.started_at, fresh=fresh, origin=result.origin)
    if past and past.finished_at and not fresh:
        result.notes.append(applied_before(past))


def applied_before(past: PastRun) -> str:
    """How a report notes that its file was applied before."""
    return (f"Applied before on {past.finished_at} (run {past.run_id}); Katana was checked again, so every row "
            "shows what is on its resource today.")


def _note_applied_before(result: RunResult, state_dir, api_key: str) -> tuple[
        dict[int, Earlier], dict[tuple[str, int], Unfinished]]:
    """A preview of a file that was applied before (on this account) says so, and when, and gets what
    that run did to each row; one whose apply stopped part way says that apply finishes it, and gets
    what that run set out to detach on each resource. Either way its rows are told from serials never
    there (the journal is only read)."""
    where = (result.path, result.template.path, result.base_url or "", api_key)
    if unfinished := Journal.unfinished(state_dir, *where):
        past, resources = unfinished
        result.unfinished_run = past.run_id
        result.notes.append(f"An apply of this file started {past.started_at} (run {past.run_id}) did not finish; "
                            "apply this file again to finish it. Rows it detached are not on their resource now.")
        return Journal.detached_before(state_dir, *where), {
            res: Unfinished(past.run_id, past.started_at, stored.before, frozenset(stored.planned))
            for res, stored in resources.items()}
    past = Journal.peek(state_dir, *where)
    if past and past.finished_at:
        result.notes.append(f"This file was applied before on {past.finished_at} (run {past.run_id}); "
                            "this check shows what is on each resource today.")
        return Journal.detached_before(state_dir, *where), {}
    return {}, {}


__all__ = ["NO_KEY", "RECHECK", "connect", "run_remote", "run_sync"]
