"""What a run found, as values: one row's outcome, why a run stopped, what it removed.

The truth rules (:mod:`sn_importer.truth`) decide one :class:`Outcome` per
row; the engine gathers them into :class:`Findings`; the run result folds
them into its rows once (:mod:`sn_importer.fold`), and the journal stores
them (the JSON list ``[status, message, serial_id, checked_at, cause]``) so
a resumed run can show them again without asking Katana. ``cause`` is the
structured fact behind a status, for code that acts on it (the journal, a
re-run), so nothing ever has to read a message's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .status import Status, StopKind


class Cause(StrEnum):
    """Why a row has the status it has, where code needs to know more than the status."""

    NONE = ""
    #: ``deleted``: detached by an earlier run of the same file, and still absent now.
    EARLIER_RUN = "earlier_run"
    #: ``deleted``: an earlier run sent it and found it still there; gone now (the DELETE landed late).
    LANDED_LATE = "landed_late"
    #: ``deleted``: gone at the check after an interrupted attempt that sent it.
    RESUMED = "resumed"
    #: ``deleted``: this run's DELETE, verified.
    VERIFIED = "verified"
    #: ``still_present``: this run sent it, and it was still listed after every recheck.
    SENT_STILL_THERE = "sent_still_there"


#: ``deleted`` by an earlier run's DELETE (still gone, or landed after its check): this run sent nothing for it.
BY_EARLIER_RUN = frozenset({Cause.EARLIER_RUN, Cause.LANDED_LATE})


@dataclass(frozen=True)
class Outcome:
    """One row's result: its status, the message that explains it, the serial record's id
    (when one was found), when Katana was checked, and the structured cause."""

    status: Status
    message: str = ""
    serial_id: int | None = None
    checked_at: str = ""
    cause: Cause = Cause.NONE

    def to_json(self) -> list:
        """The journal's form of the record."""
        return [self.status.value, self.message, self.serial_id, self.checked_at, self.cause.value]

    @classmethod
    def from_json(cls, value: list) -> Outcome:
        status, message, serial_id, checked_at, *rest = value
        return cls(Status(status), message or "", None if serial_id is None else int(serial_id), checked_at or "",
                   Cause(rest[0]) if rest and rest[0] else Cause.NONE)


@dataclass(frozen=True)
class Stop:
    """Why a run stopped early: the kind (for code that acts on it) and the reason (for people)."""

    kind: StopKind
    reason: str


#: Row position (in the rows frame) → its outcome, for one resource.
Outcomes = dict[int, Outcome]


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
class Findings:
    """Everything an engine run found: outcomes by row, the records it detached (as they were
    before, for the Removed audit), how each type was listed, notes, and why it stopped."""

    outcomes: Outcomes = field(default_factory=dict)
    removed: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stop: Stop | None = None
    #: Rows shown again from the journal: an interrupted attempt of this run settled them, and this
    #: attempt neither listed nor sent anything for them (a log that counts per attempt counts them once).
    carried: set = field(default_factory=set)
    #: Lists an apply of the previewed rows will read twice, as a preview sees them: a resource the
    #: sheet empties (its list after comes back empty) or one listed empty before.
    second_reads: int = 0

    def stopped(self, kind: StopKind, reason: str) -> None:
        """Record the first reason the run stopped (later ones are consequences)."""
        if not self.stop:
            self.stop = Stop(StopKind(kind), reason)


__all__ = ["BY_EARLIER_RUN", "Cause", "Findings", "Outcome", "Outcomes", "Progress", "Stop"]
