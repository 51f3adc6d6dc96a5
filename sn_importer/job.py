"""A job: one input file carried through the pipeline.

This is the library face of sn-importer, used alike by the command line, the
notebook API and the web page: ``read`` reads, maps, validates and plans;
``preview``/``apply`` talk to Katana; ``write`` writes the annotated output;
``summary`` is the ``--json`` object.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .plan import Plan, build_plan
from .reader import SourceFile, read_file
from .report import REMOVED_COLUMNS, ReportFacts, default_output_path, keep_earlier_apply_report, write_report
from .status import GOAL, Status
from .template import Template, load_template
from .validate import validate


#: The columns a run writes; the rest of the rows frame is what was read.
RUN_COLUMNS = ("status", "message", "serial_id", "request", "checked_at")


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Job:
    """An input file read, validated and planned; later previewed or applied."""

    def __init__(self, path: str | Path, template: str | Path | Template | None = None,
                 display_name: str | None = None):
        self.template = template if isinstance(template, Template) else load_template(template)
        self.path = Path(path)
        #: How the input is named in reports (an upload is stored under a server-chosen name).
        self.display_name = display_name or str(self.path)
        self.source: SourceFile = read_file(self.path, self.template)
        self.rows: pd.DataFrame = validate(self.source, self.template)
        self.plan_detail: Plan = build_plan(self.rows, self.template.ids_per_request)
        self.mode = "validate"
        self.run_id = uuid.uuid4().hex[:12]
        self.started_at = now_iso()
        self.finished_at = self.started_at
        self.base_url: str | None = None
        self.requests = {"GET": 0, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0}
        self.removed = pd.DataFrame(columns=list(REMOVED_COLUMNS))
        self.error: str | None = None
        #: Why a run stopped early (see engine.STOP_KINDS), for callers that act on it.
        self.stop_kind: str | None = None
        self._read_notes = [w for sheet in self.source.sheets for w in sheet.mapping.warnings(sheet.name)]
        self.notes: list[str] = list(self._read_notes)
        self.output: Path | None = None
        #: The result columns as validation left them: every run starts from these.
        self._validated = self.rows[list(RUN_COLUMNS)].copy()

    def reset(self, mode: str) -> None:
        """Start a run afresh from the validation result, whatever an earlier run of this job left."""
        for column in RUN_COLUMNS:  # fresh copies: the engine writes into them row by row
            self.rows[column] = self._validated[column].copy()
        self.mode = mode
        self.error = self.stop_kind = None
        self.notes = list(self._read_notes)
        self.output = None
        self.removed = pd.DataFrame(columns=list(REMOVED_COLUMNS))
        self.requests = {"GET": 0, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0}
        self.started_at = self.finished_at = now_iso()

    # --- what it holds -------------------------------------------------------

    @property
    def plan(self) -> pd.DataFrame:
        """The requests: one row per resource with its serial and request counts."""
        return self.plan_detail.resources

    def mapping(self) -> list[tuple[str, str, str]]:
        """(sheet, field, where it is read from) for every sheet read."""
        fixed = self.template.fixed_fields
        return [(sheet.name, name, where) for sheet in self.source.sheets
                for name, where in sheet.mapping.describe(fixed).items()]

    def counts(self) -> dict[str, int]:
        statuses = self.rows.loc[self.rows["status"] != "", "status"]
        return {str(k): int(v) for k, v in statuses.value_counts().items()}

    @property
    def exit_code(self) -> int:
        """0 every non-blank row reached the mode's goal; 1 some need attention; 2 not completed."""
        if self.error:
            return 2
        goal = {s.value for s in GOAL[self.mode]}
        return 0 if set(self.counts()) <= goal else 1

    # --- doing ---------------------------------------------------------------

    def write(self, path: str | Path | None = None) -> Path:
        """Write the annotated output (default beside the input) and return its path."""
        target = Path(path) if path else default_output_path(self.path, self.source.kind)
        if target.resolve() != self.path.resolve():
            kept = keep_earlier_apply_report(target)
            if kept:
                self.notes.append(f"The earlier apply report {target.name} was kept as {kept.name}.")
        removed = self.removed if self.mode == "apply" else None
        self.output = write_report(target, self.source, self.rows, self.report_facts(), removed)
        return self.output

    def preview(self, base_url: str | None = None, api_key: str | None = None, sandbox: bool = False,
                sandbox_seed: str | Path | None = None, **options) -> pd.DataFrame:
        """Read-only against Katana: rows become ``planned`` or ``not_on_resource``."""
        from .run import run_remote

        run_remote(self, "preview", base_url=base_url, api_key=api_key, sandbox=sandbox,
                   sandbox_seed=sandbox_seed, **options)
        return self.rows

    def apply(self, base_url: str | None = None, api_key: str | None = None, sandbox: bool = False,
              sandbox_seed: str | Path | None = None, **options) -> pd.DataFrame:
        """Detach the serials and verify every row (``deleted``, ``still_present``, ...)."""
        from .run import run_remote

        run_remote(self, "apply", base_url=base_url, api_key=api_key, sandbox=sandbox,
                   sandbox_seed=sandbox_seed, **options)
        return self.rows

    def summary(self) -> dict:
        """The ``--json`` object of this run."""
        return {
            "input": self.display_name,
            "output": str(self.output) if self.output else None,
            "mode": self.mode,
            "run_id": self.run_id,
            "template": self.template.name,
            "base_url": self.base_url,
            "rows": int((self.rows["status"] != "").sum()),
            "statuses": self.counts(),
            "requests": dict(self.requests),
            "plan": {"resources": self.plan_detail.resource_count,
                     "serials": self.plan_detail.serial_count,
                     "delete_requests": self.plan_detail.delete_requests},
            "mapping": [{"sheet": s, "field": f, "source": w} for s, f, w in self.mapping()],
            "sheets_skipped": [{"sheet": s, "reason": r} for s, r in self.source.skipped],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "notes": list(self.notes),
            "exit_code": self.exit_code,
        }

    def _repr_html_(self) -> str:
        """How a job shows itself in Jupyter: counts, mapping, problems, plan."""
        from .notebook import job_html

        return job_html(self)

    def report_facts(self) -> ReportFacts:
        """What the Summary sheet (and the web page's summary) says about this run."""
        facts = [
            ("Run id", self.run_id),
            ("Mode", self.mode),
            ("Input", self.display_name),
            ("Template", f"{self.template.name} ({self.template.path.name})"),
            ("Base URL", self.base_url or "(not contacted)"),
            ("Started", self.started_at),
            ("Finished", self.finished_at),
            ("Rows", int((self.rows["status"] != "").sum())),
            ("Resources in plan", self.plan_detail.resource_count),
            ("Requests sent", ", ".join(f"{k} {v}" for k, v in self.requests.items())),
            ("Exit code", self.exit_code),
        ]
        if self.error:
            facts.append(("Stopped because", self.error))
        return ReportFacts(facts, self.mapping(), list(self.source.skipped), list(self.notes))


def failure_summary(input_path: str | Path | None, mode: str, error: str, template: str | None = None) -> dict:
    """The ``--json`` object of a run that could not start (unreadable file, bad
    options): the same keys as :meth:`Job.summary`, nothing run, exit code 2."""
    stamp = now_iso()
    return {"input": str(input_path) if input_path else None, "output": None, "mode": mode, "run_id": None,
            "template": template, "base_url": None, "rows": 0, "statuses": {},
            "requests": {"GET": 0, "DELETE": 0, "POST": 0, "retries": 0, "rate_limited": 0},
            "plan": None, "mapping": [], "sheets_skipped": [], "started_at": stamp, "finished_at": stamp,
            "error": error, "notes": [], "exit_code": 2}


def read(path: str | Path, template: str | Path | Template | None = None) -> Job:
    """Read, map and validate ``path``: the first step of every run."""
    return Job(path, template)


__all__ = ["Job", "read", "Status"]
