"""A job: one input file read, mapped, validated and planned, and then left alone.

This is the library face of sn-importer, used alike by the command line, the
watcher, the web page and notebooks. :func:`read` builds a :class:`Job`; the
job holds what was read (rows with their validation status, the column
mapping, the plan) and never changes afterwards. Each run is its own value:
:meth:`Job.preview` and :meth:`Job.apply` return a
:class:`~sn_importer.result.RunResult`, and :meth:`Job.validation` the
result of the offline check, which :meth:`Job.write` writes out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .clock import Clock, now_iso
from .fold import fold
from .plan import Plan, build_plan
from .reader import SourceFile, read_file
from .result import RunResult
from .status import GOAL, Mode, count_statuses
from .template import Template, load_template
from .validate import validate
from .words import plural


class Job:
    """An input file read, validated and planned. Runs of it return results; the job stays as read."""

    def __init__(self, path: str | Path, template: str | Path | Template | None = None,
                 display_name: str | None = None, clock: Clock | None = None):
        self.template = template if isinstance(template, Template) else load_template(template)
        self.path = Path(path)
        #: How the input is named in reports (an upload is stored under a server-chosen name).
        self.display_name = display_name or str(self.path)
        self.clock = clock
        self.source: SourceFile = read_file(self.path, self.template)
        checked = validate(self.source, self.template)
        self.plan_detail: Plan = build_plan(checked, self.template.ids_per_request)
        self._rows: pd.DataFrame = fold(checked, requests=self.plan_detail.labels)
        self._counts: dict[str, int] | None = None
        #: When the file was read (the validation result's time).
        self.read_at = now_iso(clock)
        #: What reading noticed (a second column that looks like a field, ...); every result repeats them.
        self.notes: tuple[str, ...] = tuple(self.source.notes) + tuple(
            w for sheet in self.source.sheets for w in sheet.mapping.warnings(sheet.name))
        #: What is said first about the sheets read, before anything is sent (rows a sheet hides, a
        #: header with no rows under it, lines read as Windows-1252): the console's first lines, the
        #: Summary's "Read this first", the page's check and the watch log say the same sentences.
        self.sheet_notes: tuple[str, ...] = tuple(self.source.sheet_notes)

    # --- what it holds -------------------------------------------------------

    @property
    def rows(self) -> pd.DataFrame:
        """Every input row with its validation status and message, and its request once planned.

        A view of its own each time (copy on write: nothing is copied until it is changed), so a
        notebook that edits or drops rows of it changes its own frame, never what runs send."""
        return self._rows.copy(deep=False)

    @property
    def plan(self) -> pd.DataFrame:
        """The requests: one row per resource with its serial and request counts (a view of its own)."""
        return self.plan_detail.resources.copy(deep=False)

    def mapping(self) -> list[tuple[str, str, str]]:
        """(sheet, field, where it is read from) for every sheet read."""
        fixed = self.template.fixed_fields
        return [(sheet.name, name, where) for sheet in self.source.sheets
                for name, where in sheet.mapping.describe(fixed).items()]

    def counts(self) -> dict[str, int]:
        """Rows by validation status (counted once: the rows stay as read, and a million of them
        take a tenth of a second to count)."""
        if self._counts is None:
            self._counts = count_statuses(self.rows)
        return dict(self._counts)

    @property
    def row_count(self) -> int:
        """Non-blank rows: every one of them has a status."""
        return sum(self.counts().values())

    @property
    def exit_code(self) -> int:
        """The offline check's exit code: 0 every row is valid (or a duplicate), 1 some need attention."""
        return 0 if set(self.counts()) <= set(GOAL[Mode.VALIDATE]) else 1

    # --- runs -----------------------------------------------------------------

    def validation(self) -> RunResult:
        """The offline check as a result of its own (what ``sn-importer validate`` writes)."""
        result = RunResult.begin(self, Mode.VALIDATE, self.clock)
        result.started_at = result.finished_at = self.read_at
        return result

    def write(self, path: str | Path | None = None) -> Path:
        """Write the validation result (default beside the input) and return its path."""
        return self.validation().write(path)

    def summary(self) -> dict:
        """The ``--json`` object of the offline check."""
        return self.validation().summary()

    def preview(self, base_url: str | None = None, api_key: str | None = None, sandbox: bool = False,
                sandbox_seed: str | Path | None = None, **options) -> RunResult:
        """Read-only against Katana: a result whose rows are ``planned`` or ``not_on_resource``."""
        from .run import run_remote  # the Katana side loads only for a run that talks to Katana

        return run_remote(self, Mode.PREVIEW, base_url=base_url, api_key=api_key, sandbox=sandbox,
                          sandbox_seed=sandbox_seed, **options)

    def apply(self, base_url: str | None = None, api_key: str | None = None, sandbox: bool = False,
              sandbox_seed: str | Path | None = None, **options) -> RunResult:
        """Detach the serials and verify every row: a result with ``deleted``, ``still_present``, ..."""
        from .run import run_remote

        return run_remote(self, Mode.APPLY, base_url=base_url, api_key=api_key, sandbox=sandbox,
                          sandbox_seed=sandbox_seed, **options)

    # --- showing it ------------------------------------------------------------------

    def _repr_html_(self) -> str:
        """How a job shows itself in Jupyter: its validation result."""
        from .notebook import result_html

        return result_html(self.validation())

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in sorted(self.counts().items(), key=lambda kv: (-kv[1], kv[0])))
        return (f"<Job {self.path.name}: {plural(self.row_count, 'row')}{f' ({counts})' if counts else ''}, "
                f"{plural(self.plan_detail.resource_count, 'resource')}, template {self.template.name}>")


def read(path: str | Path, template: str | Path | Template | None = None) -> Job:
    """Read, map and validate ``path``: the first step of every run."""
    return Job(path, template)


__all__ = ["Job", "read"]
