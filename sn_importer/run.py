"""Running a job against Katana: connection, sandbox, journal, engine → a run result.

``run_remote`` is what ``Job.preview`` and ``Job.apply`` call. It starts a
:class:`~sn_importer.result.RunResult` from the job's validation result,
resolves the base URL and key (or starts the built-in sandbox), opens the
journal for ``apply``, tells the caller how many requests the run needs and
about how long the quota makes that take, resolves order numbers and SKUs
through Katana (:mod:`sn_importer.katana.lookups`), runs the engine over the result's
own rows and leaves every row with a true status, even when the key is
refused, Katana goes away or the user presses Ctrl-C. The job is never
written to.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
from contextlib import ExitStack, closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from .katana.client import KatanaClient
from .clock import iso
from .engine import Engine, Progress
from .errors import AuthError, JournalError, LockUnavailable, ResumeLaterError, RunInProgress
from .interrupt import Interrupt
from .journal import Detached, Journal, PastRun, run_key
from .katana.lookups import (Lookups, Resolution, annotate, apply_resolution, by_order_mask, lookup_requests, references,
                      resolve, unresolved_requests)
from .mapping import REMOVED_COLUMNS
from .plan import build_plan
from .katana.quota import open_budget
from .result import RunResult
from .settings import Connection, resolve_connection, resolve_quota_share
from .strategy import ListingPlan
from .status import UNSETTLED, Mode, StopKind, count_statuses

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .job import Job

NO_KEY = ("no API key: set KATANA_API_KEY in the environment or in the env file (--env-file, else .env in "
          "the user's config folder), or try the built-in sandbox with --sandbox")


def run_sync(coro):
    """Run a coroutine from sync code, also inside Jupyter's running event loop.

    Inside a running loop the coroutine gets a loop of its own in a worker
    thread; Ctrl-C (KeyboardInterrupt in the caller's thread) cancels it there
    and waits for it to wind down, so the run is reported as interrupted
    rather than left running behind the user's back.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)

    def work():
        try:
            return loop.run_until_complete(task)
        finally:
            loop.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        try:
            while True:  # wake up now and then, so a pending Ctrl-C is raised here promptly
                try:
                    return future.result(timeout=0.2)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already finished and closed
                pass
            concurrent.futures.wait([future])
            raise


def connect(stack: ExitStack, *, sandbox: bool = False, sandbox_seed: str | Path | None = None,
            base_url: str | None = None, api_key: str | None = None, env_file: str | Path | None = None) -> Connection:
    """The Katana to talk to: a built-in sandbox that lives as long as ``stack``,
    or the configured one (whose key may be missing: the caller decides)."""
    if sandbox:
        from .sandbox import running_sandbox

        server = stack.enter_context(running_sandbox(seed_path=sandbox_seed))
        return Connection(server.base_url, "sandbox")
    return resolve_connection(base_url, api_key, env_file=env_file)


def run_remote(job: Job, mode: Mode, *, base_url: str | None = None, api_key: str | None = None,
               sandbox: bool = False, sandbox_seed: str | Path | None = None, state_dir: str | Path | None = None,
               fresh: bool = False, progress: Callable[[Progress], None] | None = None,
               announce: Callable[[str], None] | None = None, client_options: dict | None = None,
               concurrency: int = 4, listing: str = "auto", interrupt: Interrupt | None = None,
               quota_share: float | str | None = None, env_file: str | Path | None = None) -> RunResult:
    """Preview or apply ``job``: a new result; the job itself is left as it was read.

    ``listing`` is ``"auto"`` (list a resource type whole where that is
    cheaper) or ``"per_resource"`` (always resource by resource).
    ``interrupt`` stops the run the way Ctrl-C does when requested (from a
    signal handler or another thread): nothing more is sent, what is in
    flight settles, every row keeps a true status.
    ``quota_share`` is the share of the tenant's window the run may use
    (else ``KATANA_QUOTA_SHARE``, else 80 %); the budget is shared with every
    sn-importer process on this host through ``state_dir``."""
    mode = Mode(mode)
    share = resolve_quota_share(quota_share, env_file=env_file)
    clock = (client_options or {}).get("clock")
    result = RunResult.begin(job, mode, clock)
    with ExitStack() as stack:
        connection = connect(stack, sandbox=sandbox, sandbox_seed=sandbox_seed, base_url=base_url, api_key=api_key,
                             env_file=env_file)
        result.base_url, result.sandbox = connection.base_url, sandbox
        if not connection.api_key:
            result.halt(StopKind.NO_KEY, NO_KEY)
            return result
        if mode == Mode.APPLY:
            journal, key, detached = _open_journal(result, stack, state_dir, fresh)
        else:
            journal, key, detached = None, None, {}
            _note_applied_before(result, state_dir)
        if result.stop:
            return result
        options = _with_budget(result, stack, state_dir, connection, share, client_options)
        client = KatanaClient(connection.base_url, connection.api_key, **options)

        def planned(plan: ListingPlan) -> None:  # the probes have answered: say what the run will cost
            if client.pacer.shared:
                client.pacer.shared.expect(plan.requests)  # the other runs on the tenant count it in their estimates
            if announce and plan.requests:
                announce(_estimate(mode, client, plan))

        start = partial(Engine, client=client, mode=mode, ids_per_request=job.template.ids_per_request,
                        journal=journal, run_key=key, progress=progress, concurrency=concurrency,
                        listing=listing, on_plan=planned, interrupt=interrupt, detached=detached)
        lookups = lookup_requests(result.rows)
        if announce and lookups:
            announce(_lookup_estimate(result, client, lookups))
        total = job.plan_detail.api_requests(with_delete=mode == Mode.APPLY) + lookups + unresolved_requests(
            result.rows, job.template.ids_per_request, with_delete=mode == Mode.APPLY)
        _run_engine(result, start, client, total)
        if journal and key and _complete(result):
            journal.finish_run(key, result.finished_at, result.counts())
    return result


def _with_budget(result: RunResult, stack: ExitStack, state_dir, connection: Connection, share: float,
                 client_options: dict | None) -> dict:
    """The client's options plus the tenant's budget shared through the state directory;
    if that directory cannot hold it, the run paces itself alone and says so."""
    options = dict(client_options or {})
    try:
        budget = open_budget(state_dir, connection.base_url, connection.api_key, share=share,
                             clock=options.get("clock"), initial_quota=options.get("initial_quota", (60, 60.0)))
    except (OSError, sqlite3.Error) as exc:
        result.notes.append(f"The shared quota in {state_dir or 'the state directory'} cannot be used ({exc}); "
                         "this run paced itself alone, blind to other sn-importer runs on this tenant.")
        return options
    stack.callback(budget.close)
    return options | {"budget": budget}


def _run_engine(result: RunResult, start: Callable[..., Engine], client: KatanaClient, total: int) -> None:
    """Run to the end, or to a stop that leaves every row with a true status."""
    run = _Run(result, start)
    try:
        run_sync(run.go(client, total))
    except KeyboardInterrupt:
        run.stop(StopKind.INTERRUPTED, "interrupted (Ctrl-C)")
    except Exception as exc:  # a bug must not leave rows with a false status
        run.stop(StopKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        log.exception("run stopped by an internal error")
    finally:
        result.requests = client.stats.as_dict()
        run.finish()
        result.finished_at = iso(client.clock.now())


class _Run:
    """One run's two steps over one client: order numbers and SKUs resolved
    through Katana (when the sheet has any), then the engine over the plan."""

    def __init__(self, result: RunResult, start: Callable[..., Engine]):
        self.result, self.start = result, start
        self.engine: Engine | None = None
        self.resolution = Resolution()

    async def go(self, client: KatanaClient, total: int) -> None:
        async with client:
            plan = self.result.job.plan_detail
            if by_order_mask(self.result.rows).any():
                try:
                    self.resolution = await resolve(self.result.rows, Lookups(client))
                except AuthError as exc:
                    return self.stop(StopKind.AUTH, str(exc))
                except ResumeLaterError as exc:  # a wait beyond --max-wait, or a stall: resumable
                    return self.stop(StopKind.WAIT, str(exc))
                self.result.rows = apply_resolution(self.result.rows, self.resolution)
                plan = self.result.resolved_plan = build_plan(self.result.rows, self.result.template.ids_per_request)
            self.engine = self.start(self.result.rows, plan.members)
            await self.engine.run(total)

    def stop(self, kind: StopKind, reason: str) -> None:
        """Stop with every row true: the engine's resources unverified or skipped, or
        (stopped while looking up) every open row skipped."""
        if self.engine is None:
            self.result.halt(kind, reason)
            return
        self.engine.state.stop(kind, reason)
        self.engine.finalise()

    def finish(self) -> None:
        if self.engine is not None:
            state = self.engine.state
            self.result.removed = pd.DataFrame(state.removed, columns=list(REMOVED_COLUMNS))
            self.result.stop = state.stop_cause
            self.result.listing = state.listing
            self.result.notes.extend(state.notes)
        annotate(self.result.rows, self.resolution)


def _complete(result: RunResult) -> bool:
    """A run is finished in the journal only when every resource reached a final outcome:
    what failed, went unverified or was skipped is tried again next time. Rows of a sheet
    that was not read are skipped whatever the run does, so they do not count."""
    unread = [sheet.name for sheet in result.source.sheets if sheet.unread]
    rows = result.rows[~result.rows["sheet"].isin(unread)] if unread else result.rows
    return not result.stop and not {s.value for s in UNSETTLED} & set(count_statuses(rows))


def _open_journal(result: RunResult, stack: ExitStack, state_dir,
                  fresh: bool) -> tuple[Journal | None, str | None, dict[int, Detached]]:
    """The journal, locked for this run, its key, and the rows an earlier finished run of the
    file detached. On failure the result is stopped with the reason."""
    try:
        journal = stack.enter_context(closing(Journal(state_dir)))
        key = run_key(result.path, result.template.path, result.base_url or "")
        stack.enter_context(journal.exclusive(key))
    except (OSError, JournalError, LockUnavailable) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        result.halt(StopKind.JOURNAL, f"cannot use the journal in {state_dir or 'the state directory'}: "
                                      f"{reason}; choose another --state-dir")
        return None, None, {}
    except RunInProgress as exc:
        result.halt(StopKind.BUSY, str(exc))
        return None, None, {}
    _prepare_journal(result, journal, key, fresh)
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
        return
    journal.start_run(key, result.run_id, result.display_name, result.template.name, result.base_url or "",
                      result.started_at, fresh=fresh)
    if past and past.finished_at and not fresh:
        result.notes.append(applied_before(past))


def applied_before(past: PastRun) -> str:
    """How a report notes that its file was applied before."""
    return (f"Applied before on {past.finished_at} (run {past.run_id}); Katana was checked again, so every row "
            "shows what is on its resource today.")


def _note_applied_before(result: RunResult, state_dir) -> None:
    """A preview of a file that was applied before says so, and when (the journal is only read)."""
    past = Journal.peek(state_dir, result.path, result.template.path, result.base_url or "")
    if past and past.finished_at:
        result.notes.append(f"This file was applied before on {past.finished_at} (run {past.run_id}); "
                            "this check shows what is on each resource today.")


def _estimate(mode: Mode, client: KatanaClient, plan: ListingPlan) -> str:
    """What the run will cost and how each resource type is listed, said before any DELETE
    (after at most one probe per type, the read-only first page of its type-wide list)."""
    wait = describe_wait(client.estimate_seconds(plan.requests))
    per = plan.requests / plan.resources if plan.resources else 0.0
    lines = [f"{mode.value.capitalize()}: {plan.requests} requests at most for {plan.resources} resources "
             f"({per:.2f} per resource); {wait} at {_quota_words(client)} "
             "(the quota Katana reports is followed once it answers)."]
    return "\n".join(lines + [f"  {line}" for line in plan.describe()])


def _lookup_estimate(result: RunResult, client: KatanaClient, lookups: int) -> str:
    """What looking up order numbers and SKUs costs, said before the first lookup."""
    wait = describe_wait(client.estimate_seconds(lookups))
    return (f"First {lookups} requests at most to look up {len(references(result.rows))} resources "
            f"named by order number and SKU in Katana; {wait}.")


def _quota_words(client: KatanaClient) -> str:
    """The quota a run paces by: its share of the tenant's window, and the other runs drawing from it now."""
    shared = client.pacer.shared
    limit, window = client.pacer.limit, client.pacer.window
    if not shared:
        return f"{limit} requests per {_seconds(window)} s"
    limit, cap, window = shared.quota()
    words = f"{cap} of {limit} requests per {_seconds(window)} s ({shared.share:.0%} of the tenant's quota)"
    running = shared.others_active()
    if running:
        words += (f", shared with {running} other sn-importer run{'s' if running > 1 else ''} "
                  "on this tenant drawing from the same budget now")
    return words


def _seconds(window: float) -> str:
    return f"{round(window) if window >= 2 else window:g}"


def describe_wait(seconds: float) -> str:
    """How long the quota makes a run wait, in the words the command line and the page use."""
    if seconds < 1:
        return "no waiting"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


__all__ = ["NO_KEY", "connect", "describe_wait", "run_remote", "run_sync"]
