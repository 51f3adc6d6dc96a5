"""Header matching: which input column feeds which field.

The template lists the spellings of each field's header; matching ignores
case, spaces, punctuation and symbols (``Order no.`` is ``order_no``, ``S/N``
is ``SN``) and reads a grouped two-row header ("Resource" merged over "Type |
ID") as "Resource Type | Resource ID". The result is shown to the user
(console and ``Summary`` sheet) so a wrong automatic match is seen before
anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .columns import RESULT_NAMES
from .template import FIELDS, Template, normalise_key


def quoted(text: str) -> str:
    """A sheet's text quoted in a message as a person sees it in the sheet: Python's quoting (so a
    stray tab or an invisible character still shows), but a non-breaking space shown as the space
    it looks like."""
    return repr(str(text).replace("\u00a0", " "))

#: Columns that sn-importer appends to its output; a results file fed back in
#: carries them at its end, and they are dropped so the file can be re-run.
RESULT_COLUMNS = RESULT_NAMES  # from the one table of result columns (columns.py)

#: The header of the ``Removed`` sheet of a results workbook: serials already
#: detached, kept for the record. Fed back in, that sheet is not rows to import.
REMOVED_COLUMNS = ("id", "serial_number", "resource_type", "resource_id", "transaction_id",
                   "transaction_date", "quantity_change", "sheet_rows")
#: The columns an undo's report adds right of each removed record's. Fed back in, such a sheet (or
#: CSV) is serials put back, not rows to detach: read as rows, it would take them off again.
UNDO_COLUMNS = ("status", "message", "new_serial_id", "request", "checked_at")


@dataclass(frozen=True)
class ColumnMapping:
    """Field name → column position in the sheet (fixed-value fields are absent)."""

    columns: dict[str, int]
    #: Each column's name as the sheet gives it ("Resource ID" under a grouped header).
    header: tuple[str, ...]
    #: Columns that would also have matched a field but were not used (field → positions).
    passed_over: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: What the header lacks to be read, in plain words ("serial"); empty when complete.
    missing: tuple[str, ...] = ()
    #: Where an earlier run's result columns start when a column was added right of them (so they
    #: are not the header's last and are kept as columns of the sheet's own), else None.
    earlier_results: int | None = None

    def label(self, name: str) -> str | None:
        """The sheet's own header of a field's column ("Order ID"), or None when no column feeds it."""
        position = self.columns.get(name)
        return None if position is None else self.header[position]

    def warnings(self, sheet: str) -> list[str]:
        """Plain-words notes on columns that look like a field but were not read."""
        notes = [f"Sheet {quoted(sheet)}: column {quoted(self.header[p])} also looks like {name}; "
                 f"only column {quoted(self.header[self.columns[name]])} was read."
                 for name, positions in self.passed_over.items() for p in positions]
        at = self.earlier_results
        if at is not None:
            after = self.header[at + len(RESULT_COLUMNS)]
            notes.append(f"Sheet {quoted(sheet)}: columns {quoted(self.header[at])} to "
                         f"{quoted(self.header[at + len(RESULT_COLUMNS) - 1])} are an earlier run's results with "
                         f"column {quoted(after)} right of them, so none of them was read and they are kept as "
                         f"they are; this run's results are added at the end. To have them replaced instead, "
                         f"move {quoted(after)} and the columns after it left of {quoted(self.header[at])}.")
        return notes

    def describe(self, fixed: dict[str, str | int]) -> dict[str, str]:
        """Field → human description of where it comes from, for reports."""
        out = {}
        for name in FIELDS:
            if name in self.columns:
                out[name] = f"column {quoted(self.header[self.columns[name]])}"
            elif name in fixed:
                out[name] = f"fixed value {fixed[name]!r}"
        return out


#: What a header must name, in plain words, and the fields that name it (either will do).
NEEDS = (("resource type", ("resource_type",)), ("resource id or order number", ("resource_id", "order_no")),
         ("serial", ("serial_id", "serial_number")))


def read_header(cells: list[object], template: Template, above: list[object] | None = None) -> ColumnMapping:
    """The fields a candidate header row names, complete or not (``missing`` says what it lacks).

    With ``above``, the row over it is a group row ("Resource" merged over
    "Type | ID"): a group's text carries right over the empty cells of its
    merge, and a column is read by "Resource ID" as well as by "ID".
    """
    labels = _column_labels(cells, above)
    keys = [[normalise_key(text) for text in texts] for texts in labels]
    earlier = earlier_results_block([texts[-1] for texts in labels])
    for position in range(earlier, earlier + len(RESULT_COLUMNS)) if earlier is not None else ():
        keys[position] = []  # an earlier run's ``serial_id`` is what it resolved, not what staff gave
    columns: dict[str, int] = {}
    shown = [texts[0] for texts in labels]
    for name, spec in template.fields.items():
        if spec.value is not None:
            continue
        found = _first_column(keys, spec.header_keys, set(columns.values()))
        if found is not None:
            position, choice = found
            columns[name] = position
            shown[position] = labels[position][choice]
    used = set(columns.values())
    passed_over = {}
    for name in columns:
        wanted = set(template.fields[name].header_keys)
        others = tuple(p for p, options in enumerate(keys) if wanted & set(options) and p not in used)
        if others:
            passed_over[name] = others
    return ColumnMapping(columns, tuple(shown), passed_over, _missing(columns, template), earlier)


def _column_labels(cells: list[object], above: list[object] | None) -> list[tuple[str, ...]]:
    """Each column's possible names, the most telling first: "Resource ID" then "ID"."""
    own = ["" if c is None else str(c).strip() for c in cells]
    if above is None:
        return [(text,) for text in own]
    groups, group = [], ""
    for position in range(len(own)):
        cell = above[position] if position < len(above) else None
        text = "" if cell is None else str(cell).strip()
        group = text or group  # a merged group's text sits in its first cell only
        groups.append(group)
    return [((f"{g} {t}", t) if g and t else (t or g,)) for g, t in zip(groups, own)]


def _first_column(keys: list[list[str]], wanted: tuple[str, ...], used: set[int]) -> tuple[int, int] | None:
    """The first column (and which of its names) matching the most preferred spelling."""
    for key in wanted:
        for position, options in enumerate(keys):
            if position not in used and key in options:
                return position, options.index(key)
    return None


def _missing(columns: dict[str, int], template: Template) -> tuple[str, ...]:
    return tuple(need for need, names in NEEDS
                 if not any(n in columns or template.fields[n].value is not None for n in names))


def needs(template: Template) -> tuple[str, ...]:
    """What a header must name under ``template`` (a fixed value names it already)."""
    return _missing({}, template)


def match_header(cells: list[object], template: Template, above: list[object] | None = None) -> ColumnMapping | None:
    """Map a candidate header row, or None when it is not a complete header.

    A header is complete when it names the resource (an id or an order
    number), a serial (id or number) and a resource type (unless the template
    fixes the type).
    """
    mapping = read_header(cells, template, above)
    return None if mapping.missing else mapping


def header_problem(cells: list[object], template: Template) -> str:
    """Why a row is not a header the template recognises, in plain words.

    When some of the needed columns are there, the missing one is named ("no
    serial column"), so a person fixes that column instead of guessing.
    """
    mapping = read_header(cells, template)
    if mapping.columns and mapping.missing:
        return f"no {' or '.join(mapping.missing)} column"
    return "no recognisable header"


def nearest(mapping: ColumnMapping, template: Template, limit: int = 3) -> list[tuple[str, str]]:
    """Columns not read that look most like a missing field: ('Order ref', 'order_no'), best first."""
    wanted = [name for need, names in NEEDS if need in mapping.missing for name in names]
    used = set(mapping.columns.values())
    scored = []
    for position, text in enumerate(mapping.header):
        key = normalise_key(text)
        if position in used or not key:
            continue
        score, name = max((_likeness(text, key, template.fields[n]), n) for n in wanted) if wanted else (0, "")
        if score >= 0.6:
            scored.append((-score, position, text, name))
    return [(text, name) for _, _, text, name in sorted(scored)[:limit]]


def _likeness(text: str, key: str, spec) -> float:
    """How much a header looks like one of a field's spellings: a shared word (of three letters
    or more) counts as 0.7, else the closest spelling's similarity; sharing a word with the
    field's own name ("Order ref", order_no) tips a tie."""
    from difflib import SequenceMatcher

    words = _words(text)
    best = 0.0
    for alias in spec.aliases:
        if words & _words(alias):
            best = max(best, 0.7)
        best = max(best, SequenceMatcher(None, key, normalise_key(alias)).ratio())
    own = spec.name.replace("_", " ")
    shared = 0.75 if words & _words(own) else 0.0
    return max(best, shared, SequenceMatcher(None, key, normalise_key(own)).ratio())


def _words(text: str) -> set[str]:
    return {w for w in (normalise_key(part) for part in text.replace("/", " ").split()) if len(w) >= 3}


def earlier_results_block(header: list[str]) -> int | None:
    """Where an earlier run's result columns (``status`` … ``checked_at``, side by side) start in a
    header that goes on right of them (a column staff added), or None: trailing, they are
    :func:`trailing_result_columns`, dropped on reading and replaced."""
    keys, block = [normalise_key(c) for c in header], [normalise_key(c) for c in RESULT_COLUMNS]
    last = max((p for p, key in enumerate(keys) if key), default=-1)
    for start in range(1, last - len(block) + 1):
        if keys[start:start + len(block)] == block:
            return start
    return None


def trailing_result_columns(header: list[str]) -> int:
    """How many columns at the end are a previous run's result columns (0 or 5)."""
    tail = [normalise_key(c) for c in header[-len(RESULT_COLUMNS):]]
    if tail == [normalise_key(c) for c in RESULT_COLUMNS] and len(header) > len(RESULT_COLUMNS):
        return len(RESULT_COLUMNS)
    return 0


#: The column headers staff see, per field: in the blank template, and where a message lists what
#: the template looks for (a field the table does not know keeps its name).
LABELS = {"resource_type": "Resource type", "resource_id": "Resource id", "order_no": "Order number",
          "sku": "SKU", "serial_id": "Serial record id", "serial_number": "Serial number"}


def header_label(template: Template, name: str) -> str:
    """The header offered to staff for a field: the usual words ("Order number") where the template
    reads them, else the template's own first alias ("N° OF"), else the field's name in words
    ("Order no", which every template reads as ``order_no``). Never a header the template would not read."""
    spec = template.fields[name]
    label = LABELS.get(name, name)
    if normalise_key(label) in spec.header_keys:
        return label
    return spec.aliases[0] if spec.aliases else name.replace("_", " ").capitalize()


def expected_headers(template: Template) -> str:
    """The headers the template looks for, in the blank template's words first and then a few of
    its other spellings: "Resource type (or resource, type, resource kind); …"."""
    parts = []
    for name, spec in template.fields.items():
        if spec.value is None:
            label = header_label(template, name)
            others = [alias for alias in spec.aliases if normalise_key(alias) != normalise_key(label)][:3]
            parts.append(label + (f" (or {', '.join(others)})" if others else ""))
    return "; ".join(parts)


def is_removed_sheet(header: list[str]) -> bool:
    """True for the ``Removed`` sheet of a previous run's results workbook."""
    return [normalise_key(c) for c in header if c] == [normalise_key(c) for c in REMOVED_COLUMNS]


def earlier_records(header: list[str] | tuple[str, ...]) -> str | None:
    """Why a sheet (or CSV) under ``header`` holds no rows to import, or None: an apply's ``Removed``
    records (its sheet, or the removed-records CSV beside a CSV report) or an undo's report of them."""
    keys = [normalise_key(c) for c in header if c]
    if keys == [normalise_key(c) for c in REMOVED_COLUMNS]:
        return REMOVED_REASON
    if keys == [normalise_key(c) for c in (*REMOVED_COLUMNS, *UNDO_COLUMNS)]:
        return UNDO_REASON
    return None


#: Why the records of an apply's ``Removed`` sheet, fed back in, are not read as rows.
REMOVED_REASON = "an apply's removed records (serials already detached)"
#: ... and those of an undo's report.
UNDO_REASON = "an undo's report (serials put back; applying it would detach them again)"
#: What is said when no sheet of a file was read and each was one of those, or an earlier Summary.
NOTHING_TO_DETACH = "no sheet of serials to detach; give the sheet you filled in, or its results file"
