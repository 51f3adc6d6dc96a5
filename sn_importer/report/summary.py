"""What the ``Summary`` sheet says, written for the staff who open it.

Plain sentences first (what happened, counted by outcome, and what to do
next), then a legend of every status the sheet shows, which column was read as
which field, and only then the technical figures (run id, requests, base URL).
The content is built once here as a list of :class:`Line` values; the
workbook writers only style and place them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..status import Mode, Status

#: The first cell of the blank template's own instructions sheet (see ``blank.py``):
#: a sheet that starts with it is the template's help, not data that failed to read.
TEMPLATE_INSTRUCTIONS_TITLE = "How to fill in the Serials sheet"

#: What each status means, in the words the legend uses.
MEANINGS = {
    Status.VALID: "passed every check; ready for preview and apply",
    Status.PLANNED: "on that resource in Katana now; apply would detach it",
    Status.INVALID: "cannot be used as written; the message says which column and why",
    Status.DUPLICATE: "the same serial on the same resource is in an earlier row (named in the message); done there",
    Status.NOT_ON_RESOURCE: "not attached to that resource in Katana, so it was not sent",
    Status.DELETED: "was on the resource, was detached, and was checked gone afterwards",
    Status.STILL_PRESENT: "sent, but still attached when checked afterwards",
    Status.UNVERIFIED: "sent, but the check afterwards could not be made",
    Status.FAILED: "the request failed; the message says why",
    Status.SKIPPED: "not reached: the run stopped early",
}

#: One sentence per outcome for "What happened" ({n} rows, already worded).
_HAPPENED = {
    Status.VALID: "{n} ready to go (valid).",
    Status.PLANNED: "{n} on their resource now and would be detached by apply (planned).",
    Status.DELETED: "{n} detached and checked gone afterwards (deleted).",
    Status.DUPLICATE: "{n} repeating an earlier row, done there (duplicate).",
    Status.INVALID: "{n} that cannot be used as written (invalid).",
    Status.NOT_ON_RESOURCE: "{n} not on the resource given, so not sent (not_on_resource).",
    Status.STILL_PRESENT: "{n} sent but still attached afterwards (still_present).",
    Status.UNVERIFIED: "{n} sent but not checked afterwards (unverified).",
    Status.FAILED: "{n} whose request failed (failed).",
    Status.SKIPPED: "{n} not reached because the run stopped early (skipped).",
}

_OPENING = {
    Mode.VALIDATE: "{rows} checked offline; nothing was sent to Katana.",
    Mode.PREVIEW: "{rows} checked against Katana without changing anything.",
    Mode.APPLY: "{rows} processed against Katana.",
}

_EXIT_MEANING = {0: "every row reached the goal", 1: "some rows need attention", 2: "the run could not be completed"}


@dataclass
class ReportFacts:
    """What the Summary sheet tells besides the counts."""

    facts: list[tuple[str, object]]  # label → value, in order
    mapping: list[tuple[str, str, str]]  # sheet, field, source
    skipped_sheets: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def value(self, label: str, default=None):
        return next((v for k, v in self.facts if k == label), default)

    @property
    def mode(self) -> str:
        return str(self.value("Mode", Mode.VALIDATE))


@dataclass(frozen=True)
class Line:
    """One row of the Summary: ``kind`` says how it is styled.

    Kinds: ``title``, ``heading``, ``text`` (a sentence), ``header`` (a table
    header), ``status`` (status, rows, meaning; the status cell coloured),
    ``row`` (plain cells), ``fact`` (a bold label and its value), ``blank``.
    """

    kind: str
    cells: tuple = ()


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def summary_lines(rows: pd.DataFrame, facts: ReportFacts, file_notes: list[str] = ()) -> list[Line]:
    """The whole Summary, top to bottom. ``file_notes`` say how this file was
    made when that differs from the usual (rebuilt from values, macros left out)."""
    counts = status_counts(rows)
    lines = [Line("title", ("sn-importer results: " + facts.mode,)), Line("blank")]
    lines += _section("What happened", [Line("text", (s,)) for s in what_happened(facts, counts)])
    lines += _section("What to do next", [Line("text", (s,)) for s in what_next(facts.mode, counts)])
    if file_notes or facts.notes:
        lines += _section("Notes", [Line("text", (n,)) for n in [*file_notes, *facts.notes]])
    lines += _section("Statuses", [Line("header", ("Status", "Rows", "What it means"))]
                      + [Line("status", (s.value, n, MEANINGS[s])) for s, n in counts.items()])
    lines += _section("Columns read", [Line("header", ("Sheet", "Field", "Read from"))]
                      + [Line("row", m) for m in facts.mapping])
    others = shown_skipped_sheets(facts.skipped_sheets)
    if others:
        lines += _section("Sheets with no rows read (kept as they are)", [Line("header", ("Sheet", "Why"))]
                          + [Line("row", s) for s in others])
    lines += _section("Technical details", [Line("fact", _technical(label, value)) for label, value in facts.facts])
    return lines


def _section(title: str, body: list[Line]) -> list[Line]:
    return [Line("heading", (title,)), *body, Line("blank")]


def status_counts(rows: pd.DataFrame) -> dict[Status, int]:
    """Rows per status, in the order of the status table (blank rows have none)."""
    found = rows.loc[rows["status"] != "", "status"].value_counts()
    return {s: int(found[s.value]) for s in Status if s.value in found.index}


def what_happened(facts: ReportFacts, counts: dict[Status, int]) -> list[str]:
    total = sum(counts.values())
    if not total:
        return ["The sheet has a header but no rows to import."]
    opening = _OPENING.get(facts.mode, "{rows} read.").format(rows=plural(total, "row"))
    sentences = [opening[0].upper() + opening[1:]]
    sentences += ["• " + _HAPPENED[s].format(n=f"{n:,}") for s, n in counts.items()]
    stopped = facts.value("Stopped because")
    if stopped:
        sentences.append(f"The run stopped early: {stopped}")
    return sentences


def what_next(mode: str, counts: dict[Status, int]) -> list[str]:
    """Advice in the order staff would act on it; one line when all is well."""
    advice = []
    if Status.INVALID in counts:
        advice.append("Fix the rows marked invalid (the message column says what is wrong), then run validate again.")
    if Status.NOT_ON_RESOURCE in counts:
        advice.append("Check the rows marked not_on_resource: the resource type or id may be wrong, "
                      "or the serial was detached already.")
    if counts.keys() & {Status.STILL_PRESENT, Status.UNVERIFIED, Status.FAILED} or \
            (Status.SKIPPED in counts and mode == Mode.APPLY):
        advice.append("Run apply again on the same file: it checks Katana again and finishes what is left.")
    elif Status.SKIPPED in counts:
        advice.append(f"Run {mode} again once the cause above is fixed.")
    if advice:
        return advice
    if not counts:
        return ["Add rows under the header and run validate again."]
    return {
        Mode.VALIDATE: ["All rows are ready. Next: preview shows what apply would detach, without changing anything."],
        Mode.PREVIEW: ["All rows are ready. Next: apply detaches the planned serial numbers and checks each one."],
        Mode.APPLY: ["Nothing left to do. The Removed sheet lists every detached serial as it was before."],
    }.get(mode, [])


def shown_skipped_sheets(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Sheets worth naming as not read: not the blank template's own instructions."""
    return [(name, why) for name, why in skipped
            if TEMPLATE_INSTRUCTIONS_TITLE not in why
            and not (name == "Instructions" and why == "left out by the template")]


def _technical(label: str, value) -> tuple:
    if label == "Exit code" and isinstance(value, int):
        return label, f"{value} ({_EXIT_MEANING.get(value, 'unknown')})"
    if isinstance(value, (list, dict)):
        return label, str(value)
    return label, value


class SheetNames:
    """Excel sheet names: at most 31 characters, unique, no []:*?/\\.

    Sheets the report adds (``Summary``, ``Removed``) never take an input
    sheet's name: they become ``Summary (sn-importer)`` instead.
    """

    def __init__(self, inputs: list[str]):
        self.used: set[str] = set()
        self.inputs = {n.casefold() for n in inputs}

    def own(self, name: str) -> str:
        """An input sheet's name, made valid (a CSV's file name may hold any character)."""
        return self._free("".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet", set())

    def take(self, name: str) -> str:
        """A name for a sheet the report adds, clear of every input sheet's."""
        return self._free(name if name.casefold() not in self.inputs else f"{name} (sn-importer)", self.inputs)

    def keep(self, name: str) -> str:
        """An input sheet's name as it is (annotating in place)."""
        self.used.add(name.casefold())
        return name

    def _free(self, name: str, avoid: set[str]) -> str:
        candidate, n = name, 1
        while candidate.casefold() in self.used or candidate.casefold() in avoid:
            n += 1
            candidate = f"{name[:27]} ({n})"
        self.used.add(candidate.casefold())
        return candidate
