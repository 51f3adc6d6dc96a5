"""The stable codes the code decides on: row statuses, run modes, stop kinds.

Their values are part of the contract: scripts filter on the statuses, the
``--json`` object and the Summary sheet name the mode, and the journal and
watch's summaries record them, so they never change spelling. Each enum is a
``StrEnum``: a member *is* its string, so sheets, JSON and the journal keep
today's spellings.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    VALID = "valid"
    PLANNED = "planned"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    NOT_ON_RESOURCE = "not_on_resource"
    DELETED = "deleted"
    STILL_PRESENT = "still_present"
    UNVERIFIED = "unverified"
    FAILED = "failed"
    SKIPPED = "skipped"
    IGNORED = "ignored"
    # what ``undo`` found for each removed record (see sn_importer.restore)
    RESTORED = "restored"
    ALREADY_THERE = "already_there"
    NOT_RESTORED = "not_restored"
    CANNOT_RESTORE = "cannot_restore"


class Mode(StrEnum):
    """What a run does: read only, ask Katana, or detach."""

    VALIDATE = "validate"  # offline: read, validate, plan
    PREVIEW = "preview"    # read-only against Katana: everything but DELETE
    APPLY = "apply"        # detach and verify


class StopKind(StrEnum):
    """Why a run stopped early. All but ``INTERNAL`` are about the run, not the
    file: the same file can be run again once the cause is gone."""

    NO_KEY = "no_key"            # no API key configured
    AUTH = "auth"                # 401/403: the key was refused
    UNREACHABLE = "unreachable"  # Katana did not answer
    BASE_URL = "base_url"        # the base URL is not Katana's API
    INTERRUPTED = "interrupted"  # Ctrl-C
    JOURNAL = "journal"          # the crash-safety journal cannot be used
    BUSY = "busy"                # another apply of the same file is running
    WAIT = "wait"                # a wait beyond --max-wait, or a stall: resume later
    STORAGE = "storage"          # the state or output folder is full or refuses files: resume with room
    INTERNAL = "internal"        # a bug

    @property
    def about_the_run(self) -> bool:
        """True when the file is not to blame: try it again later, as it is."""
        return self is not StopKind.INTERNAL


class Origin(StrEnum):
    """Where a run was started: what the Summary's advice tells the person to do next."""

    COMMAND_LINE = "command line"
    WEB = "web page"
    WATCH = "watch folder"
    NOTEBOOK = "notebook"  # the Python library: a notebook or a script


#: The statuses that count as "reached the goal" for each mode (exit code 0). An ``ignored``
#: row (a total or note below the table) is not an import row: it never asks for attention.
GOAL = {
    Mode.VALIDATE: frozenset({Status.VALID, Status.DUPLICATE, Status.IGNORED}),
    Mode.PREVIEW: frozenset({Status.PLANNED, Status.DUPLICATE, Status.IGNORED}),
    Mode.APPLY: frozenset({Status.DELETED, Status.DUPLICATE, Status.IGNORED}),
}

#: Statuses a run may still change: the row has not reached a final outcome yet.
OPEN = frozenset({Status.VALID, Status.PLANNED})
#: Final outcomes of rows that were never sent (a run that stops leaves them as they are).
NEVER_SENT = frozenset({Status.NOT_ON_RESOURCE, Status.INVALID, Status.DUPLICATE, Status.IGNORED})
#: Outcomes a later run tries again (the resource is not settled).
UNSETTLED = frozenset({Status.FAILED, Status.UNVERIFIED, Status.SKIPPED})

#: Fill colours of status cells in the annotated workbook (RGB hex).
COLOURS = {
    Status.VALID: "C6EFCE",
    Status.PLANNED: "DDEBF7",
    Status.DELETED: "C6EFCE",
    Status.DUPLICATE: "EDEDED",
    Status.INVALID: "FFC7CE",
    Status.NOT_ON_RESOURCE: "FFEB9C",
    Status.STILL_PRESENT: "FFC7CE",
    Status.UNVERIFIED: "FFEB9C",
    Status.FAILED: "FFC7CE",
    Status.SKIPPED: "EDEDED",
    Status.IGNORED: "F2F2F2",
    Status.RESTORED: "C6EFCE",
    Status.ALREADY_THERE: "E2EFDA",
    Status.NOT_RESTORED: "FFC7CE",
    Status.CANNOT_RESTORE: "FFEB9C",
}


def count_statuses(rows) -> dict[str, int]:
    """Rows by status, for a frame with a ``status`` column (blank rows have none and are not counted)."""
    return {str(k): int(v) for k, v in rows["status"].value_counts().items() if k != ""}


def is_one_of(column, *values: str):
    """Where a status (or message) column holds one of ``values``, as a boolean array.

    numpy compares the column's objects three to four times faster than pandas does (pandas checks
    every cell for a missing value first): on a million rows, 20 ms against 70, and a check makes
    several such masks."""
    cells = column.to_numpy()
    found = cells == values[0]
    for value in values[1:]:
        found |= cells == value
    return found
