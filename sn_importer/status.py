"""The stable outcome codes written to the `status` column.

Their values are part of the contract: scripts filter on them, so they never
change spelling.
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


#: The statuses that count as "reached the goal" for each mode (exit code 0).
GOAL = {
    "validate": {Status.VALID, Status.DUPLICATE},
    "preview": {Status.PLANNED, Status.DUPLICATE},
    "apply": {Status.DELETED, Status.DUPLICATE},
}

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
}
