"""Runs started from the web page: where each one stands, and the one queue.

Everything that talks to Katana (a preview or an apply) becomes a task in one
first-in, first-out queue served by one worker thread. So runs against the
tenant go one at a time through its shared quota, and the others wait in a
queue the page shows. Pages never wait for a run: they read its state here
(and poll it while it moves), so leaving the page does not stop anything.

Finished runs are also kept as small JSON records under the state directory,
so the history page can offer their workbooks again after a restart. A run
dropped from memory without such a record leaves its file name behind, so its
page says it is gone instead of "not found".
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..clock import SYSTEM
from ..filesafety import private_dir, private_file
from ..report import atomic_path

if TYPE_CHECKING:
    from ..engine import Progress
    from ..job import Job
    from ..result import RunResult
    from ..template import Template

log = logging.getLogger("sn_importer.web")

#: Why the server stops a run in progress (the words its report and the page give).
STOPPING = "the server is stopping"


class Phase(StrEnum):
    """Where a run stands; the page shows one view per phase."""

    CHECK_WAITING = "check-waiting"  # uploaded; its read-only check waits in the queue
    CHECKING = "checking"            # the read-only check is running
    READY = "ready"                  # previewed: waits for the person to confirm
    WAITING = "waiting"              # confirmed; waits in the queue
    RUNNING = "running"              # detaching and verifying
    DONE = "done"                    # finished (the result may still need attention)
    BROKEN = "broken"                # could not be done at all; ``error`` says why
    INTERRUPTED = "interrupted"      # confirmed, but the server stopped during the run; it can be resumed

    @property
    def moving(self) -> bool:
        """In the queue or running: the page keeps polling."""
        return self in (Phase.CHECK_WAITING, Phase.CHECKING, Phase.WAITING, Phase.RUNNING)


@dataclass
class Live:
    """The figures a progress callback last reported, plus live counts by status."""

    requests_done: int = 0
    requests_total: int = 0
    rows_done: int = 0
    rows_total: int = 0
    resources_done: int = 0
    resources_total: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Run:
    """One uploaded sheet on its way through preview and apply."""

    id: str
    filename: str                    # as the person named it: shown, never used as a path
    template: str
    upload: Path
    job: "Job | None" = None
    #: The job as the worker read it, still pickled, while it waits for its turn in the queue: handed
    #: to the check's own process, or unpickled for the apply; read again from the upload when it is
    #: confirmed (a check shown holds no sheet in the server), let go once the run is done.
    sheet: bytes | None = field(default=None, repr=False)
    #: What the sheet was read as: the template then (a later read uses it again), and the rows'
    #: fingerprint, so the job applied is the job checked.
    template_read: "Template | None" = field(default=None, repr=False)
    fingerprint: str | None = None
    result: "RunResult | None" = None   # the latest apply of the job (a check's stays in its own process)
    ran: str | None = None              # what the latest run was: "preview" or "apply"
    child: int | None = None            # the process the latest check ran in (it has exited once shown)
    phase: Phase = Phase.CHECK_WAITING
    created: float = field(default_factory=SYSTEM.now)  # epoch seconds, on the server's clock
    live: Live = field(default_factory=Live)
    messages: list[str] = field(default_factory=list)  # what the library announced, and its notes
    error: str | None = None
    output: Path | None = None       # the latest annotated workbook
    view: dict | None = None         # what the page shows, kept once the phase is over
    confirmed_by: str | None = None  # who pressed the button (a login, or the proxy's user header)
    kind: str = "apply"              # "apply", or "undo": putting back what an apply removed (see undo.py)
    undoes: str | None = None        # an undo: the page id of the apply it undoes
    undone_by: str | None = None     # an apply: the page id of its undo
    #: Why the run stands still and until when (the server clock's epoch seconds), as the client last said.
    wait: "tuple[float, str] | None" = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, report: "Progress") -> None:
        """The library's progress callback (called on the worker thread, once per resource).
        The report carries the counts by status, kept up to date by the engine as it goes."""
        with self.lock:
            self.live = Live(report.requests_done, report.requests_total, report.rows_done, report.rows_total,
                             report.resources_done, report.resources_total, dict(report.statuses))

    def waiting(self, until: float, reason: str) -> None:
        """The client's ``on_wait``: the run stands still until ``until`` for ``reason`` (a quota
        window, a ``Retry-After``, a backoff), so the page can say why instead of going quiet."""
        with self.lock:
            self.wait = (until, reason)

    def wait_now(self, now: float) -> "tuple[float, str] | None":
        """The wait in force at ``now`` (seconds left, reason); None when nothing holds the run."""
        with self.lock:
            wait = self.wait
        if wait is None or wait[0] <= now:
            return None
        return wait[0] - now, wait[1]

    def count_now(self) -> None:
        """Bring the live counts up to date (when a run ended, wherever it stopped)."""
        counts = self.result.counts() if self.result is not None else {}
        with self.lock:
            self.live.counts = counts

    def snapshot(self) -> Live:
        with self.lock:
            return Live(**{**asdict(self.live), "counts": dict(self.live.counts)})


def new_id() -> str:
    """A server-chosen, URL-safe id (also the stem of the files the run keeps)."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Place:
    """Where a run stands in the queue."""

    running: bool  # it is the task the worker has in hand
    ahead: int     # tasks that go before it starts (the one in hand included)


class RunQueue:
    """One worker thread that runs tasks one at a time, in the order they came."""

    def __init__(self, execute: Callable[[Run, str], None]):
        self._execute = execute
        self._pending: deque[tuple[Run, str]] = deque()
        self._current: Run | None = None
        self._cv = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._work, name="sn-web-runs", daemon=True)
                self._thread.start()

    def stop(self, wait: float = 10.0) -> None:
        """Take no more tasks; give the current one ``wait`` seconds to end (the journal covers the rest)."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(wait)

    def submit(self, run: Run, mode: str) -> None:
        self.start()  # also when served without lifespan events
        with self._cv:
            self._pending.append((run, mode))
            self._cv.notify_all()

    def position(self, run: Run) -> Place | None:
        """Running, next (nothing ahead), or n tasks ahead; None when it is not in the queue."""
        with self._cv:
            if self._current is run:
                return Place(running=True, ahead=0)
            for index, (queued, _) in enumerate(self._pending):
                if queued is run:
                    return Place(running=False, ahead=index + (self._current is not None))
        return None

    def lineup(self) -> tuple[Run | None, list[Run]]:
        """The run going now and the runs waiting, in order."""
        with self._cv:
            return self._current, [run for run, _ in self._pending]

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                run, mode = self._pending.popleft()
                self._current = run
            try:
                self._execute(run, mode)
            except Exception:  # a bug must not take the queue down with it
                log.exception("run %s (%s) failed", run.id, mode)
                run.error = "the run stopped on an unexpected error; the server log has the details"
                run.phase = Phase.BROKEN
            finally:
                with self._cv:
                    self._current = None


class Registry:
    """Runs by id: the live ones in memory, finished ones also as JSON records on disk."""

    def __init__(self, folder: Path, keep: int = 200, keep_gone: int = 10_000):
        self.folder = private_dir(folder)
        self._runs: dict[str, Run] = {}
        self._records: dict[str, dict] = self._load()
        #: Runs dropped from memory without a record (checks that broke): id → file name.
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._keep = keep
        self._keep_gone = keep_gone
        self._lock = threading.Lock()

    def add(self, run: Run) -> Run:
        with self._lock:
            self._runs[run.id] = run
            self._forget_old()
        return run

    def get(self, run_id: str) -> Run | None:
        """A run by the id in a URL: only ever a dictionary lookup, never a path."""
        with self._lock:
            return self._runs.get(run_id)

    def record(self, run_id: str) -> dict | None:
        with self._lock:
            return self._records.get(run_id)

    def gone(self, run_id: str) -> str | None:
        """The file name of a run that is no longer kept (and has no record), else None."""
        with self._lock:
            return self._gone.get(run_id)

    def records(self) -> list[dict]:
        with self._lock:
            return list(self._records.values())

    def busy_ids(self) -> set[str]:
        """Runs still in hand (checking, waiting for a confirmation, queued, running): their files stay."""
        with self._lock:
            return {r.id for r in self._runs.values() if r.phase.moving or r.phase == Phase.READY}

    def drop_records(self, run_ids: set[str]) -> None:
        """Forget records whose files were removed (past their retention)."""
        with self._lock:
            for run_id in run_ids:
                self._records.pop(run_id, None)

    def save(self, run: Run, record: dict) -> None:
        """Keep what the history page needs of a finished run."""
        record = {**record, "id": run.id}
        with atomic_path(self.folder / f"{run.id}.json") as tmp:
            private_file(tmp).write_text(json.dumps(record, default=str), encoding="utf-8")
        with self._lock:
            self._records[run.id] = record

    def _load(self) -> dict[str, dict]:
        records = {}
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("id") == path.stem:
                records[path.stem] = record
        return records

    def _forget_old(self) -> None:
        """Drop the oldest finished runs from memory: a record on disk keeps a finished apply's page;
        a run without one (a check that broke) leaves its file name, so its page can say it is gone."""
        if len(self._runs) <= self._keep:
            return
        finished = sorted((r for r in self._runs.values() if not r.phase.moving and r.phase != Phase.READY),
                          key=lambda r: r.created)
        for run in finished[: len(self._runs) - self._keep]:
            del self._runs[run.id]
            if run.id not in self._records:
                self._gone[run.id] = run.filename
        while len(self._gone) > self._keep_gone:
            self._gone.popitem(last=False)
