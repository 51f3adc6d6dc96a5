"""The result of one run of a job: what ``validate``, ``preview`` or ``apply`` found.

A :class:`~sn_importer.job.Job` is the input as read and never changes; each
run returns a :class:`RunResult` of its own: the rows with their statuses
(its own frame), the counts, the requests sent, the records removed, why the
run stopped early if it did, its notes, and the times. The command line, the
watcher, the web page and a notebook all render this one object:
:meth:`RunResult.summary` is the ``--json`` object, :meth:`RunResult.write`
the annotated workbook or CSV, :meth:`RunResult.report_facts` the Summary
sheet, ``_repr_html_`` the view in Jupyter.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .clock import Clock, now_iso
from .columns import RESULT_COLUMNS
from .mapping import REMOVED_COLUMNS
from .estimate import waits_text
from .fold import fold
from .katana.stats import no_requests
from .outcome import BY_EARLIER_RUN, Findings, Outcomes, Stop
from .settings import base_url_words
from .words import plural
from .report import ReportFacts, default_output_path, keep_earlier_apply_report, keep_other_input_results, write_report
from .status import GOAL, Mode, Origin, Status, StopKind, count_statuses
from .strategy import ListingPlan

if TYPE_CHECKING:
    from .job import Job
    from .references import Resolution
    from .plan import Plan
    from .reader import SourceFile
    from .template import Template

#: What each mode's run sets out to reach for a row (the plan counts these).
GOAL_STATUS = {Mode.VALIDATE: Status.VALID, Mode.PREVIEW: Status.PLANNED, Mode.APPLY: Status.DELETED}

#: The columns a run writes; the rest of the rows frame is what was read.
RUN_COLUMNS = tuple(c.source for c in RESULT_COLUMNS)


@dataclass(eq=False, repr=False)
class RunResult:
    """One run of a job. Built by the runner; front ends read it and write it out.

    Its rows are not written row by row: the run keeps what it found as values
    (the lookups' :attr:`resolution`, the engine's :attr:`outcomes`, the
    :attr:`stop`) and :attr:`rows` folds them into a copy of the job's rows,
    once (:func:`sn_importer.fold.fold`)."""

    job: Job
    mode: Mode
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: str = ""
    finished_at: str = ""
    base_url: str | None = None
    #: The run talked to a built-in sandbox: True when started for it (its loopback URL is gone when the
    #: run ends), or who started it, in words ("with the page's server").
    sandbox: bool | str = False
    requests: dict[str, int] = field(default_factory=no_requests)
    removed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(REMOVED_COLUMNS)))
    stop: Stop | None = None
    #: How each resource type was listed (None: the run did not get that far, or sent nothing).
    listing: ListingPlan | None = None
    notes: list[str] = field(default_factory=list)
    #: Rows an interrupted attempt of this run settled, shown again from the journal (not sent again).
    carried: set = field(default_factory=set)
    #: Lists an apply of these rows reads twice, as this preview found them (see :class:`Findings`).
    second_reads: int = 0
    #: A preview's: the run id of an apply of the same file that stopped part way (the advice says to finish it).
    unfinished_run: str | None = None
    #: Where :meth:`write` last wrote the annotated output.
    output: Path | None = None
    #: The plan this run carried out when it differs from the job's: rows named by
    #: order number get their resources from Katana during the run.
    resolved_plan: Plan | None = None
    #: Where the run was started (the front end sets it before writing): the Summary's advice fits it.
    origin: Origin = Origin.NOTEBOOK
    #: What Katana said about the rows named by order number (None: the sheet has none, or not asked yet).
    resolution: Resolution | None = None
    #: The engine's outcome of each row it settled, by row position.
    outcomes: Outcomes = field(default_factory=dict)
    #: What the run was expected to cost and take, said before anything was sent (the one estimate).
    estimate: str = ""
    #: A preview's: what applying the sheet costs, as the page and the command line both say it.
    apply_estimate: str = ""
    _rows: pd.DataFrame | None = None
    _counts: tuple[pd.DataFrame, dict[str, int]] | None = None
    #: Who confirmed the run, when a front end knows (the web page's login or its proxy's user header).
    confirmed_by: str | None = None

    @classmethod
    def begin(cls, job: Job, mode: Mode, clock: Clock | None = None, origin: Origin | str | None = None) -> RunResult:
        """A run of ``job`` about to start (from ``origin``, else a notebook): rows as validation left
        them, its read notes."""
        stamp = now_iso(clock)
        return cls(job=job, mode=Mode(mode), started_at=stamp, finished_at=stamp, notes=list(job.notes),
                   origin=Origin(origin or Origin.NOTEBOOK))

    @property
    def rows(self) -> pd.DataFrame:
        """Every input row with this run's status, message, serial id, request and check time: the
        job's rows with what the run found folded in (computed once, when first asked)."""
        if self._rows is None:
            labels = self.resolved_plan.labels if self.resolved_plan is not None else None
            self._rows = fold(self.job.rows, requests=labels, resolution=self.resolution, outcomes=self.outcomes,
                              stop=self.stop)
        return self._rows

    # --- what it holds ---------------------------------------------------------

    @property
    def error(self) -> str | None:
        """Why the run stopped early, in words (the ``--json`` ``error``); None when it did not."""
        return self.stop.reason if self.stop else None

    @property
    def stop_kind(self) -> StopKind | None:
        return self.stop.kind if self.stop else None

    @property
    def template(self) -> Template:
        return self.job.template

    @property
    def source(self) -> SourceFile:
        return self.job.source

    @property
    def sheet_notes(self) -> tuple[str, ...]:
        """What is said first about the sheets read (the job's :attr:`~sn_importer.job.Job.sheet_notes`)."""
        return self.job.sheet_notes

    @property
    def path(self) -> Path:
        return self.job.path

    @property
    def display_name(self) -> str:
        return self.job.display_name

    @property
    def plan_detail(self) -> Plan:
        return self.resolved_plan if self.resolved_plan is not None else self.job.plan_detail

    @property
    def plan(self) -> pd.DataFrame:
        """The requests: one row per resource, as planned from the sheet; after a preview with
        how many of its serials would be detached (``planned``), after an apply how many were
        (``deleted``). Order numbers are resolved once the run has looked them up."""
        plan = self.plan_detail.resources
        if self.mode == Mode.VALIDATE:
            return plan
        goal = GOAL_STATUS[self.mode].value
        reached = self.rows.loc[self.rows["status"] == goal, ["resource_type", "resource_id"]]
        counts = Counter(zip(reached["resource_type"].astype(str), reached["resource_id"].astype(int)))
        keys = zip(plan["resource_type"].astype(str), plan["resource_id"].astype(int))
        return plan.assign(**{goal: [counts.get(key, 0) for key in keys]})

    def mapping(self) -> list[tuple[str, str, str]]:
        return self.job.mapping()

    def counts(self) -> dict[str, int]:
        """Rows by status (blank rows have no status and are not counted); counted once per folding
        of the rows, which several readers ask for in turn."""
        if self._counts is None or self._counts[0] is not self.rows:
            self._counts = (self.rows, count_statuses(self.rows))
        return dict(self._counts[1])

    @property
    def row_count(self) -> int:
        """Non-blank rows: every one of them has a status."""
        return sum(self.counts().values())

    @property
    def exit_code(self) -> int:
        """0 every non-blank row reached the mode's goal; 1 some need attention; 2 not completed."""
        if self.stop:
            return 2
        return 0 if set(self.counts()) <= set(GOAL[self.mode]) else 1

    # --- what the runner records ----------------------------------------------------

    def halt(self, kind: StopKind, reason: str) -> None:
        """Stop before (or instead of) running: rows still open become ``skipped``, saying why."""
        self.stop = Stop(StopKind(kind), reason)
        self._rows = None

    def record(self, findings: Findings, listing: ListingPlan | None) -> None:
        """What the engine found: outcomes, removed records, notes, how it listed, why it stopped."""
        self.outcomes = dict(findings.outcomes)
        self.carried = set(findings.carried)
        self.second_reads = findings.second_reads
        self.removed = pd.DataFrame(findings.removed, columns=list(REMOVED_COLUMNS))
        self.stop = findings.stop or self.stop
        self.listing = listing
        self.notes.extend(findings.notes)
        self._rows = None

    # --- writing it out ----------------------------------------------------------

    def write(self, path: str | Path | None = None) -> Path:
        """Write the annotated output (default beside the input) and return its path."""
        target = Path(path) if path else default_output_path(self.path, self.source.kind)
        if target.resolve() != self.path.resolve():  # (the input itself is refused in plain words below)
            kept = keep_earlier_apply_report(target)
            if kept:
                self.notes.append(f"The earlier apply report {target.name} was kept as {kept.name}.")
            elif kept := keep_other_input_results(target, self.path):
                self.notes.append(f"{target.name} already held another file; it was kept as {kept.name}.")
        removed = self.removed if self.mode == Mode.APPLY else None
        self.output = write_report(target, self.source, self.rows, self.report_facts(), removed)
        return self.output

    def undo(self, **options):
        """Put back what this apply removed (:func:`sn_importer.restore.undo_result`): an undo result
        of its own. By default against the Katana the apply ran on; ``preview=True`` sends no POST."""
        from .restore import undo_result

        return undo_result(self, **options)

    def summary(self) -> dict:
        """The ``--json`` object of this run."""
        detail = self.plan_detail
        return {
            "input": self.display_name,
            "output": str(self.output) if self.output else None,
            "mode": self.mode.value,
            "run_id": self.run_id,
            "template": self.template.name,
            "base_url": self.base_url,
            "rows": self.row_count,
            "statuses": self.counts(),
            "requests": dict(self.requests),
            "requests_per_resource": self.requests_per_resource,
            "plan": {"resources": detail.resource_count, "serials": detail.serial_count,
                     "delete_requests": detail.delete_requests,
                     "listing": self.listing.as_dict() if self.listing else {}},
            "mapping": [{"sheet": s, "field": f, "source": w} for s, f, w in self.mapping()],
            "sheets_skipped": [{"sheet": s, "reason": r} for s, r in self.source.skipped],
            "sheet_notes": list(self.source.sheet_notes),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "notes": list(self.notes),
            "exit_code": self.exit_code,
        }

    def deleted_before(self, causes: frozenset = BY_EARLIER_RUN) -> set:
        """The ``deleted`` rows (labels) an earlier run's DELETE took off, by the outcome's cause (by
        default: still gone since, or landed after that run's check); this run sent nothing for them."""
        return {p for p, o in self.outcomes.items() if o.status == Status.DELETED and o.cause in causes}

    def requests_needed(self, mode: Mode = Mode.APPLY) -> int:
        """Requests ``mode`` needs at most: by the listing this run chose once its probes
        answered, else (nothing asked yet) by the plan, each resource on its own."""
        if self.listing is not None:
            return self.listing.in_mode(Mode(mode).value).requests + (self.second_reads if Mode(mode) == Mode.APPLY
                                                                      else 0)
        return self.plan_detail.api_requests(with_delete=Mode(mode) == Mode.APPLY)

    @property
    def requests_per_resource(self) -> float:
        """GETs and DELETEs sent per resource in the plan (0 when nothing was planned)."""
        sent = self.requests.get("GET", 0) + self.requests.get("DELETE", 0)
        resources = self.plan_detail.resource_count
        return round(sent / resources, 2) if resources else 0.0

    def report_facts(self) -> ReportFacts:
        """What the Summary sheet (and the web page's summary) says about this run."""
        facts = [
            ("Run id", self.run_id),
            ("Mode", self.mode.value),
            ("Input", self.display_name),
            ("Template", f"{self.template.name} ({self.template.path.name})"),
            ("Base URL", base_url_words(self.base_url, self.sandbox)),
            ("Started", self.started_at),
            ("Finished", self.finished_at),
            ("Rows", self.row_count),
            ("Resources in plan", self.plan_detail.resource_count),
            ("Requests sent", ", ".join(f"{k} {v}" for k, v in self.requests.items() if not k.startswith("waited"))),
            ("Requests per resource", f"{self.requests_per_resource:.2f}"),
            ("Waited for the quota", waits_text(self.requests)),
            ("Exit code", self.exit_code),
        ]
        if self.estimate:
            facts.append(("Estimated before sending", self.estimate))
        if self.apply_estimate:
            facts.append(("Applying it", self.apply_estimate))
        if self.confirmed_by:
            facts.insert(2, ("Confirmed by", self.confirmed_by))
        if self.listing and self.listing.types:
            facts.append(("How each type was listed", "; ".join(self.listing.describe())))
        if self.error:
            facts.append(("Stopped because", self.error))
        return ReportFacts(facts, self.mapping(), list(self.source.skipped), list(self.notes), Origin(self.origin),
                           len(self.deleted_before()), list(self.source.sheet_notes), self.unfinished_run)

    # --- showing it ------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """How a run shows itself in Jupyter: counts, mapping, problems, plan."""
        from .notebook import result_html

        return result_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in sorted(self.counts().items(), key=lambda kv: (-kv[1], kv[0])))
        stopped = f"; stopped: {self.error}" if self.error else ""
        return (f"<RunResult {self.mode.value} of {self.path.name}: {plural(self.row_count, 'row')}"
                f"{f' ({counts})' if counts else ''}; exit code {self.exit_code}{stopped}>")


def failure_summary(input_path: str | Path | None, mode: Mode | str, error: str,
                    template: str | None = None, clock: Clock | None = None) -> dict:
    """The ``--json`` object of a run that could not start (unreadable file, bad
    options): the same keys as :meth:`RunResult.summary`, nothing run, exit code 2."""
    stamp = now_iso(clock)
    return {"input": str(input_path) if input_path else None, "output": None, "mode": str(mode), "run_id": None,
            "template": template, "base_url": None, "rows": 0, "statuses": {}, "requests": no_requests(),
            "requests_per_resource": 0.0, "plan": None, "mapping": [], "sheets_skipped": [], "sheet_notes": [], "started_at": stamp, "finished_at": stamp,
            "error": error, "notes": [], "exit_code": 2}


__all__ = ["RUN_COLUMNS", "RunResult", "failure_summary", "no_requests"]
