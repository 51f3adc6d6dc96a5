"""What a run found: one row's outcome (decided by the engine, kept by the journal), why a run stopped.

The engine builds one :class:`Outcome` per row it settles; the run result
writes them into its rows, and the journal stores them (as the JSON list
``[status, message, serial_id, checked_at]``, the format it always had) so a
resumed run can show them again without asking Katana.
"""

from __future__ import annotations

from dataclasses import dataclass

from .status import Status, StopKind


@dataclass(frozen=True)
class Outcome:
    """One row's result: its status, the message that explains it, the serial
    record's id (when one was found) and when Katana was checked."""

    status: Status
    message: str = ""
    serial_id: int | None = None
    checked_at: str = ""

    def to_json(self) -> list:
        """The journal's form of the record."""
        return [self.status.value, self.message, self.serial_id, self.checked_at]

    @classmethod
    def from_json(cls, value: list) -> Outcome:
        status, message, serial_id, checked_at = value
        return cls(Status(status), message or "", None if serial_id is None else int(serial_id), checked_at or "")


@dataclass(frozen=True)
class Stop:
    """Why a run stopped early: the kind (for code that acts on it) and the reason (for people)."""

    kind: StopKind
    reason: str


#: Row position (in the rows frame) → its outcome, for one resource.
Outcomes = dict[int, Outcome]
