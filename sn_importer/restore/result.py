"""The result of one undo: each removed record with what putting it back found.

Like a run's :class:`~sn_importer.result.RunResult`, every front end renders
this one object: :meth:`UndoResult.summary` is the ``--json`` object,
:meth:`UndoResult.write` the report (one row per removed record, the
``Removed`` sheet's columns followed by ``status``, ``message``,
``new_serial_id``, ``request`` and ``checked_at``, and a Summary),
``_repr_html_`` the view in Jupyter. Its rows are folded once from what the
undo found (:attr:`outcomes`) and why it stopped (:attr:`stop`): nothing else
writes a record's status.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..clock import Clock, now_iso
from ..outcome import Stop
from ..katana.stats import no_requests
from ..status import Origin, Status, StopKind
from ..words import plural
from .records import RemovedRecords
from .rules import UNDO_COLUMNS, Found

#: The statuses that count as "reached the goal" (exit code 0).
GOAL = frozenset({Status.RESTORED, Status.ALREADY_THERE})
PREVIEW_GOAL = frozenset({Status.PLANNED, Status.ALREADY_THERE})
#: What is tried again when the same undo runs again (its run is not finished in the journal).
UNSETTLED = frozenset({Status.UNVERIFIED, Status.SKIPPED})


@dataclass(eq=False, repr=False)
class UndoResult:
    """One undo (or its preview) of the records an apply removed."""

    removed: RemovedRecords
    preview: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: str = ""
    finished_at: str = ""
    base_url: str | None = None
    #: The undo talked to a built-in sandbox: True when started for it, or who started it, in words.
    sandbox: bool | str = False
    requests: dict = field(default_factory=no_requests)
    #: What the undo found for each record, by position among the removed records.
    outcomes: dict[int, Found] = field(default_factory=dict)
    stop: Stop | None = None
    notes: list[str] = field(default_factory=list)
    #: Where :meth:`write` last wrote the report.
    output: Path | None = None
    origin: Origin = Origin.NOTEBOOK
    #: Requests the undo said it needs at most, before sending.
    requests_needed: int = 0
    #: What the undo was expected to cost and take, said before anything was sent (the one estimate).
    estimate: str = ""
    #: Who pressed the button (the web page: a login or the proxy's user header); None elsewhere.
    confirmed_by: str | None = None
    _rows: pd.DataFrame | None = None

    @classmethod
    def begin(cls, removed: RemovedRecords, preview: bool = False, clock: Clock | None = None) -> UndoResult:
        stamp = now_iso(clock)
        return cls(removed=removed, preview=preview, started_at=stamp, finished_at=stamp, notes=list(removed.notes))

    # --- what it holds -----------------------------------------------------------------

    @property
    def mode(self) -> str:
        return "undo"

    @property
    def display_name(self) -> str:
        return self.removed.display_name

    @property
    def apply_run_id(self) -> str | None:
        return self.removed.apply_run_id

    @property
    def rows(self) -> pd.DataFrame:
        """Every removed record with this undo's status, message, new serial id, request and check time."""
        if self._rows is None:
            self._rows = self._fold()
        return self._rows

    def _fold(self) -> pd.DataFrame:
        rows = self.removed.records.copy()
        found = [self.outcomes.get(p) or self._unreached() for p in range(len(rows))]
        rows["status"] = [f.status.value for f in found]
        rows["message"] = [f.message for f in found]
        rows["new_serial_id"] = pd.array([f.new_id for f in found], dtype="Int64")
        rows["request"] = [f.request for f in found]
        rows["checked_at"] = [f.checked_at for f in found]
        return rows

    def _unreached(self) -> Found:
        return Found(Status.SKIPPED, f"not reached: {self.stop.reason if self.stop else 'the undo stopped early'}")

    def counts(self) -> dict[str, int]:
        """Records by status."""
        return {str(k): int(v) for k, v in self.rows["status"].value_counts().items()}

    @property
    def row_count(self) -> int:
        return len(self.removed)

    @property
    def error(self) -> str | None:
        return self.stop.reason if self.stop else None

    @property
    def stop_kind(self) -> StopKind | None:
        return self.stop.kind if self.stop else None

    @property
    def goal(self) -> frozenset[Status]:
        return PREVIEW_GOAL if self.preview else GOAL

    @property
    def exit_code(self) -> int:
        """0 every record is back (or there already; in a preview, would be); 1 some are not; 2 stopped."""
        if self.stop:
            return 2
        return 0 if set(self.counts()) <= {s.value for s in self.goal} else 1

    @property
    def complete(self) -> bool:
        """Every record reached a final outcome: the journal marks the undo finished."""
        return not self.stop and not {s.value for s in UNSETTLED} & set(self.counts())

    @property
    def resources(self) -> int:
        return len(self.removed.wanted()[0])

    # --- what the runner records ------------------------------------------------------

    def halt(self, kind: StopKind, reason: str) -> None:
        """Stop before (or instead of) running: records not settled become ``skipped``, saying why."""
        self.stop = Stop(StopKind(kind), reason)
        self._rows = None

    def record(self, outcomes: dict[int, Found], stop: Stop | None, notes: list[str]) -> None:
        self.outcomes.update(outcomes)
        self.stop = stop or self.stop
        self.notes.extend(n for n in notes if n not in self.notes)
        self._rows = None

    # --- writing it out -----------------------------------------------------------------

    def default_output(self) -> Path:
        from ..report.paths import undo_output_path

        return self.removed.default_output or undo_output_path(Path(f"{self.display_name}.results.xlsx"))

    def write(self, path: str | Path | None = None) -> Path:
        """Write the report (default beside the results, ``.undo`` before the extension); its path."""
        from .report import write_undo_report

        self.output = write_undo_report(Path(path) if path else self.default_output(), self)
        return self.output

    def summary(self) -> dict:
        """The ``--json`` object of this undo."""
        return {
            "input": self.display_name,
            "output": str(self.output) if self.output else None,
            "mode": self.mode,
            "preview": self.preview,
            "run_id": self.run_id,
            "apply_run_id": self.apply_run_id,
            "base_url": self.base_url,
            "rows": self.row_count,
            "resources": self.resources,
            "statuses": self.counts(),
            "requests": dict(self.requests),
            "requests_needed": self.requests_needed,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "notes": list(self.notes),
            "exit_code": self.exit_code,
        }

    # --- showing it -----------------------------------------------------------------------

    def _repr_html_(self) -> str:
        from .show import undo_html

        return undo_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in sorted(self.counts().items(), key=lambda kv: (-kv[1], kv[0])))
        stopped = f"; stopped: {self.error}" if self.error else ""
        what = "undo preview" if self.preview else "undo"
        return (f"<UndoResult {what} of {Path(self.display_name).name}: {plural(self.row_count, 'removed record')}"
                f"{f' ({counts})' if counts else ''}; exit code {self.exit_code}{stopped}>")


__all__ = ["GOAL", "PREVIEW_GOAL", "UNDO_COLUMNS", "UNSETTLED", "UndoResult"]
