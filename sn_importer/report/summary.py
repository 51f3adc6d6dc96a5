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

from ..header import INSTRUCTIONS_REASON, INSTRUCTIONS_TITLE, SUMMARY_TITLES, needs_attention, unread_sentence
from ..status import Mode, Origin, Status
from ..words import plural

#: The first cell of the blank template's own instructions sheet (see ``blank.py``).
TEMPLATE_INSTRUCTIONS_TITLE = INSTRUCTIONS_TITLE

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
    Status.SKIPPED: "not reached: the run stopped early, or the row's sheet was not read (the message says why)",
    Status.IGNORED: "a total, subtotal or note below the table, not a serial; no effect on the outcome",
    Status.RESTORED: "put back on its resource by undo, and checked there afterwards",
    Status.ALREADY_THERE: "on its resource already when undo looked; nothing was sent",
    Status.NOT_RESTORED: "not put back: Katana refused it, it was not on the resource afterwards, or the resource "
                         "could not be listed (the message says which)",
    Status.CANNOT_RESTORE: "Katana's API takes no serials back onto its resource type (a sales order fulfillment "
                           "row), or the record is incomplete or was not removed by that apply; nothing was sent: "
                           "re-attach it in Katana's screens",
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
    Status.SKIPPED: "{n} not reached because the run stopped early or their sheet was not read (skipped).",
    Status.IGNORED: "{n} below the table that are totals or notes, not serials (ignored).",
    Status.RESTORED: "{n} put back and checked on their resource afterwards (restored).",
    Status.ALREADY_THERE: "{n} on their resource already, so nothing was sent for them (already_there).",
    Status.NOT_RESTORED: "{n} not put back (not_restored): the message says why.",
    Status.CANNOT_RESTORE: "{n} that undo cannot put back, the message says why (cannot_restore).",
}

#: The same sentences, for other reports that count by status (the undo's).
HAPPENED = _HAPPENED

#: The statuses of rows Katana was asked about (the rest never left the sheet).
ASKED = frozenset({Status.PLANNED, Status.NOT_ON_RESOURCE, Status.DELETED, Status.STILL_PRESENT,
                   Status.UNVERIFIED, Status.FAILED})

_EXIT_MEANING = {0: "every row reached the goal", 1: "some rows need attention", 2: "the run could not be completed"}


@dataclass
class ReportFacts:
    """What the Summary sheet tells besides the counts."""

    facts: list[tuple[str, object]]  # label → value, in order
    mapping: list[tuple[str, str, str]]  # sheet, field, source
    skipped_sheets: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Where the run was started: the advice says what to do there.
    origin: Origin = Origin.NOTEBOOK
    #: Of the ``deleted`` rows, those an earlier run of the file detached (:meth:`RunResult.deleted_before`).
    deleted_before: int = 0
    #: What is said first about sheets that were read (:attr:`SourceFile.sheet_notes`).
    sheet_notes: list[str] = field(default_factory=list)
    #: A preview's: the run id of an apply of the same file that stopped part way.
    unfinished_run: str | None = None

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


def summary_lines(rows: pd.DataFrame, facts: ReportFacts, file_notes: list[str] = ()) -> list[Line]:
    """The whole Summary, top to bottom. ``file_notes`` say how this file was
    made when that differs from the usual (rebuilt from values, macros left out)."""
    counts = status_counts(rows)
    lines = [Line("title", (f"{SUMMARY_TITLES[0]}: {facts.mode}",)), Line("blank")]
    unread = unread_sheets(facts.skipped_sheets)
    if unread:
        lines += _section("Not read", [Line("text", (s,)) for s in unread])
    if facts.sheet_notes:
        lines += _section("Read this first", [Line("text", (s,)) for s in facts.sheet_notes])
    lines += _section("What happened", [Line("text", (s,)) for s in what_happened(facts, counts)])
    advice = what_next(facts.mode, counts, facts.origin, bool(unread), bool(facts.value("Stopped because")),
                       facts.unfinished_run)
    lines += _section("What to do next", [Line("text", (s,)) for s in advice])
    if file_notes or facts.notes:
        lines += _section("Notes", [Line("text", (n,)) for n in [*file_notes, *facts.notes]])
    lines += _section("Statuses", [Line("header", ("Status", "Rows", "What it means"))]
                      + [Line("status", (s.value, n, MEANINGS[s])) for s, n in counts.items()])
    lines += _section("Columns read", [Line("header", ("Sheet", "Field", "Read from"))]
                      + [Line("row", m) for m in facts.mapping])
    others = [(name, why) for name, why in shown_skipped_sheets(facts.skipped_sheets) if not needs_attention(why)]
    if others:
        lines += _section("Sheets with no rows read (kept as they are)", [Line("header", ("Sheet", "Why"))]
                          + [Line("row", s) for s in others])
    technical = [*facts.facts[:2], ("Started from", str(facts.origin)), *facts.facts[2:]]
    lines += _section("Technical details", [Line("fact", _technical(label, value)) for label, value in technical])
    return lines


def _section(title: str, body: list[Line]) -> list[Line]:
    return [Line("heading", (title,)), *body, Line("blank")]


def status_counts(rows: pd.DataFrame) -> dict[Status, int]:
    """Rows per status, in the order of the status table (blank rows have none)."""
    found = rows.loc[rows["status"] != "", "status"].value_counts()
    return {s: int(found[s.value]) for s in Status if s.value in found.index}


def what_happened(facts: ReportFacts, counts: dict[Status, int]) -> list[str]:
    """Rows by outcome; the ``deleted`` rows an earlier run of the file detached (this run sent nothing
    for them) said apart from what this run detached."""
    earlier = facts.deleted_before
    total = sum(counts.values())
    if not total:
        return ["The sheet has a header but no rows to import."]
    sentences = [opening(facts.mode, counts)]
    for status, n in counts.items():
        if status == Status.DELETED and earlier:
            if n > earlier:
                sentences.append("• " + _HAPPENED[status].format(n=f"{n - earlier:,}"))
            sentences.append(f"• {earlier:,} detached by an earlier run of this file and still gone (deleted).")
        else:
            sentences.append("• " + _HAPPENED[status].format(n=f"{n:,}"))
    stopped = facts.value("Stopped because")
    if stopped:
        sentences.append(f"The run stopped early: {stopped}")
    return sentences


def opening(mode: str, counts: dict[Status, int]) -> str:
    """What the run did with the rows, counting only what it says: rows Katana was asked about
    are told apart from rows that never left the sheet."""
    total = plural(sum(counts.values()), "row")
    if mode == Mode.VALIDATE:
        return f"{total} checked offline; nothing was sent to Katana."
    asked = sum(n for s, n in counts.items() if s in ASKED)
    verb = "checked against Katana without changing anything" if mode == Mode.PREVIEW else "checked against Katana"
    if asked == sum(counts.values()):
        return f"{total[0].upper()}{total[1:]} read; all of them {verb}."
    kept = sum(counts.values()) - asked
    return (f"{total[0].upper()}{total[1:]} read; {asked:,} of them {verb}, "
            f"{kept:,} never sent (they are counted below).")


#: How each front end says "check the file again" and "finish what is left".
_AGAIN = {
    Origin.COMMAND_LINE: ("then run sn-importer {mode} on it again", "Run sn-importer apply on the same file again"),
    Origin.WEB: ("then upload it again on the page", "Upload the same file on the page again and detach"),
    Origin.WATCH: ("then drop it into the watched folder again", "Drop the same file into the watched folder again"),
    Origin.NOTEBOOK: ("then read it again (sn.read) and run {mode}", "Call apply() on the job again"),
}

#: What to do when every row reached its goal, by where the run was started and its mode.
_NEXT = {
    (Origin.COMMAND_LINE, Mode.VALIDATE): "Next: sn-importer preview shows what apply would detach, without changing "
                                          "anything.",
    (Origin.COMMAND_LINE, Mode.PREVIEW): "Next: sn-importer apply detaches the planned serial numbers and checks each "
                                         "one.",
    (Origin.WEB, Mode.VALIDATE): "Next: the page checks the sheet against Katana and shows what would be detached.",
    (Origin.WEB, Mode.PREVIEW): "Next: press the confirm button on the page to detach the planned serial numbers; "
                                "each one is checked afterwards.",
    (Origin.WATCH, Mode.VALIDATE): "Next: a watcher run with --apply (or sn-importer apply) detaches them.",
    (Origin.WATCH, Mode.PREVIEW): "Next: a watcher run with --apply (or sn-importer apply) detaches the planned "
                                  "serial numbers.",
    (Origin.NOTEBOOK, Mode.VALIDATE): "Next: job.preview() shows what apply would detach, without changing anything.",
    (Origin.NOTEBOOK, Mode.PREVIEW): "Next: job.apply() detaches the planned serial numbers and checks each one.",
}


def what_next(mode: str, counts: dict[Status, int], origin: Origin = Origin.COMMAND_LINE,
              unread: bool = False, stopped: bool | None = None, unfinished: str | None = None) -> list[str]:
    """Advice in the order staff would act on it, in the words of where the run was started
    (the command line, the web page, the watched folder, a notebook); one line when all is well.
    ``unread``: some sheet was not read (its rows are ``skipped`` for that); ``stopped``: the run
    stopped early (by default, when rows are ``skipped`` and no sheet was left unread);
    ``unfinished``: a preview found an apply of the same file that stopped part way (its run id)."""
    again, finish = _AGAIN[Origin(origin)]
    again = again.format(mode=mode)
    if stopped is None:
        stopped = Status.SKIPPED in counts and not unread
    advice = []
    if unfinished:
        advice.append(f"An apply of this file (run {unfinished}) stopped part way. {finish} to finish it: it "
                      "checks Katana again and sends only what is left.")
    if unread:
        advice.append(f"Add or rename the missing column of each sheet not read (named above), {again}.")
    if Status.INVALID in counts:
        advice.append(f"Fix the rows marked invalid (the message column says what is wrong), {again}.")
    if Status.NOT_ON_RESOURCE in counts:
        advice.append("Check the rows marked not_on_resource: the resource type or id may be wrong, "
                      "or the serial was detached already.")
    if counts.keys() & {Status.STILL_PRESENT, Status.UNVERIFIED, Status.FAILED} or (stopped and mode == Mode.APPLY):
        advice.append(f"{finish}: it checks Katana again and finishes what is left.")
    elif stopped:
        advice.append(f"Once the cause above is fixed, {again.removeprefix('then ')}.")
    if advice:
        return advice
    if not counts:
        return [f"Add rows under the header, {again}."]
    if mode == Mode.APPLY:
        return ["Nothing left to do. The Removed sheet lists every detached serial as it was before."]
    return ["All rows are ready. " + _NEXT.get((Origin(origin), Mode(mode)), "")]


def unread_sheets(skipped: list[tuple[str, str]]) -> list[str]:
    """The sentences that say which sheets that may hold rows were not read, and why (said first)."""
    return [unread_sentence(name, why) for name, why in skipped if needs_attention(why)]


def shown_skipped_sheets(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Sheets worth naming as not read: not the blank template's own instructions."""
    return [(name, why) for name, why in skipped
            if why != INSTRUCTIONS_REASON and TEMPLATE_INSTRUCTIONS_TITLE not in why
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
