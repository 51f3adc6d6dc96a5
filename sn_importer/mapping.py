"""Header matching: which input column feeds which field.

The template lists the spellings of each field's header; matching ignores
case, spaces, ``_`` and ``-``. The result is shown to the user (console and
``Summary`` sheet) so a wrong automatic match is seen before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .columns import RESULT_NAMES
from .template import FIELDS, Template, normalise_key

#: Columns that sn-importer appends to its output; a results file fed back in
#: carries them at its end, and they are dropped so the file can be re-run.
RESULT_COLUMNS = RESULT_NAMES  # from the one table of result columns (columns.py)

#: The header of the ``Removed`` sheet of a results workbook: serials already
#: detached, kept for the record. Fed back in, that sheet is not rows to import.
REMOVED_COLUMNS = ("id", "serial_number", "resource_type", "resource_id", "transaction_id",
                   "transaction_date", "quantity_change", "sheet_rows")


@dataclass(frozen=True)
class ColumnMapping:
    """Field name → column position in the sheet (fixed-value fields are absent)."""

    columns: dict[str, int]
    header: tuple[str, ...]
    #: Columns that would also have matched a field but were not used (field → positions).
    passed_over: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def warnings(self, sheet: str) -> list[str]:
        """Plain-words notes on columns that look like a field but were not read."""
        return [f"Sheet {sheet!r}: column {self.header[p]!r} also looks like {name}; "
                f"only column {self.header[self.columns[name]]!r} was read."
                for name, positions in self.passed_over.items() for p in positions]

    def describe(self, fixed: dict[str, str | int]) -> dict[str, str]:
        """Field → human description of where it comes from, for reports."""
        out = {}
        for name in FIELDS:
            if name in self.columns:
                out[name] = f"column {self.header[self.columns[name]]!r}"
            elif name in fixed:
                out[name] = f"fixed value {fixed[name]!r}"
        return out


def match_header(cells: list[object], template: Template) -> ColumnMapping | None:
    """Map a candidate header row, or None when it is not a recognisable header.

    A header is recognised when it names the resource (an id or an order
    number), a serial (id or number) and a resource type (unless the template
    fixes the type).
    """
    header = tuple("" if c is None else str(c).strip() for c in cells)
    keys = [normalise_key(c) for c in header]
    columns: dict[str, int] = {}
    for name, spec in template.fields.items():
        if spec.value is not None:
            continue
        for wanted in spec.header_keys:
            if wanted in keys:
                position = keys.index(wanted)
                if position not in columns.values():
                    columns[name] = position
                    break
    if not _is_complete(columns, template):
        return None
    used = set(columns.values())
    passed_over = {}
    for name, position in columns.items():
        wanted = set(template.fields[name].header_keys)
        others = tuple(p for p, key in enumerate(keys) if key in wanted and p not in used)
        if others:
            passed_over[name] = others
    return ColumnMapping(columns=columns, header=header, passed_over=passed_over)


def _is_complete(columns: dict[str, int], template: Template) -> bool:
    has_type = "resource_type" in columns or template.fields["resource_type"].value is not None
    has_id = any(name in columns or template.fields[name].value is not None for name in ("resource_id", "order_no"))
    has_serial = "serial_id" in columns or "serial_number" in columns
    return has_type and has_id and has_serial


def header_problem(cells: list[object], template: Template) -> str:
    """Why a row is not a header the template recognises, in plain words.

    When some of the needed columns are there, the missing one is named ("no
    serial column"), so a person fixes that column instead of guessing.
    """
    keys = {normalise_key("" if c is None else str(c).strip()) for c in cells}
    found = {name for name, spec in template.fields.items()
             if spec.value is None and any(key in keys for key in spec.header_keys)}
    needed = [("serial", {"serial_id", "serial_number"}), ("resource id", {"resource_id"}),
              ("resource type", {"resource_type"})]
    missing = [label for label, names in needed
               if not names & found and not any(template.fields[n].value is not None for n in names)]
    if found and missing:
        return f"no {' or '.join(missing)} column"
    return "no recognisable header"


def trailing_result_columns(header: list[str]) -> int:
    """How many columns at the end are a previous run's result columns (0 or 5)."""
    tail = [normalise_key(c) for c in header[-len(RESULT_COLUMNS):]]
    if tail == [normalise_key(c) for c in RESULT_COLUMNS] and len(header) > len(RESULT_COLUMNS):
        return len(RESULT_COLUMNS)
    return 0


def expected_headers(template: Template) -> str:
    """A plain-words list of the headers the template looks for."""
    parts = []
    for name, spec in template.fields.items():
        if spec.value is None:
            parts.append(" / ".join([name, *spec.aliases[:3]]))
    return "; ".join(parts)


def is_removed_sheet(header: list[str]) -> bool:
    """True for the ``Removed`` sheet of a previous run's results workbook."""
    return [normalise_key(c) for c in header if c] == [normalise_key(c) for c in REMOVED_COLUMNS]
