"""What the reader gives the rest of the pipeline: sheets of rows as they were, and the file they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .header import HeaderRow
from .mapping import ColumnMapping, quoted
from .package import WorkbookFacts


@dataclass
class Sheet:
    """One sheet (or the CSV file) with a recognised header."""

    name: str
    header: list[str]
    mapping: ColumnMapping
    data: pd.DataFrame  # positional columns 0..n-1, values as read
    header_row: int  # 1-based row number of the header in the sheet
    dropped_result_columns: int = 0
    preamble: list[list] = field(default_factory=list)  # title rows above the header, as read
    #: Sheet row number of each data row, when rows were skipped (a sparse sheet read cell by cell).
    row_numbers: list[int] | None = None
    #: Data row position → why the reader finds it unusable (a cell over Excel's size); the row is invalid.
    problems: dict[int, str] = field(default_factory=dict)
    #: Column position → {data row position: text}: numbers as Excel shows them (their number format applied).
    shown: dict[int, dict[int, str]] = field(default_factory=dict)
    #: Data row position → a note for the row's message that does not make it invalid.
    remarks: dict[int, str] = field(default_factory=dict)
    #: Why the sheet's rows are not imported though its header was found (a needed column is
    #: missing); "" when they are. Such a sheet's rows are reported ``skipped``, saying this.
    unread: str = ""

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    def numbers(self) -> range | list[int]:
        """The sheet row number of every data row."""
        if self.row_numbers is not None:
            return self.row_numbers
        return range(self.first_row, self.first_row + len(self.data))


@dataclass
class SourceFile:
    """The input as read: its sheets and what was passed over, and why."""

    path: Path
    kind: str  # "csv" or "excel"
    sheets: list[Sheet]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    delimiter: str = ","
    encoding: str = "utf-8"
    #: What the reader noticed and the person should know (a sheet declaring far more than it holds).
    notes: list[str] = field(default_factory=list)
    #: A workbook's package as read once (sheets, kept parts, scans): what the writer patches.
    package: WorkbookFacts | None = None
    #: An .xls/.ods read whole (every sheet, formats, formulas): what the writer rewrites as .xlsx.
    office: object | None = None
    #: Sentences about sheets that were read, said first (with the sheets not read, before anything
    #: is sent): rows read that the sheet hides, a header with no rows under it (a workbook's sheet).
    sheet_notes: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(s.data) for s in self.sheets)



def sheet_under(name: str, found: HeaderRow, data: pd.DataFrame, rows: list[list], clip: bool = True) -> Sheet:
    """The sheet whose header ``found`` is, with ``data`` the rows under it; the title rows above
    it kept (a workbook's within the table's width, a CSV's whole)."""
    preamble = [list(r[: found.width] if clip else r) for r in rows[: found.index]]
    return Sheet(name, list(found.cells), found.mapping, data, found.index + 1, found.dropped, preamble,
                 unread=found.unread)


def hidden_rows_note(sheet: Sheet, hidden) -> str | None:
    """The sentence that says some data rows of ``sheet`` are hidden in it (``hidden``: sheet row
    numbers), or None when none that holds something is.

    Staff who filter a sheet down to the rows they mean may not expect the rows the filter hides to
    be sent too; every row gets a status, so they are read like the others, and this says so first.
    """
    if not hidden or not len(sheet.data):
        return None
    hidden, numbers = set(hidden), sheet.numbers()  # a filter can hide most of a long sheet
    if isinstance(numbers, range):
        positions = sorted(n - numbers.start for n in hidden if n in numbers)
    else:
        positions = [i for i, n in enumerate(numbers) if n in hidden]
    if not positions:
        return None
    filled = sheet.data.iloc[positions].map(_holds_something).any(axis=1).to_numpy()
    rows = [numbers[p] for p, kept in zip(positions, filled) if kept]
    if not rows:
        return None
    count, they = ("1 row is", "it is") if len(rows) == 1 else (f"{len(rows):,} rows are", "they are")
    return (f"Sheet {quoted(sheet.name)}: {count} hidden (by a filter or by hand; {row_spans(rows)}); "
            f"{they} read and checked like the others.")


def no_rows_note(sheet: Sheet) -> str | None:
    """The sentence that says ``sheet`` has a header and nothing under it, or None when some row
    holds something: a person who pasted the rows into another sheet sees which one is empty."""
    if any(_holds_something(v) for position in sheet.data.columns for v in sheet.data[position].dropna()):
        return None
    return f"Sheet {quoted(sheet.name)}: header found (row {sheet.header_row}), no rows below it."


def only_closing_rows_note(sheet: Sheet, positions) -> str:
    """The sentence for ``sheet`` when every row under its header closes the table (a total, a
    note: ``positions`` in its data): as empty of rows to run as a sheet with nothing under it."""
    numbers = sheet.numbers()
    rows = [numbers[p] for p in positions]
    return (f"Sheet {quoted(sheet.name)}: header found (row {sheet.header_row}), no rows below it "
            f"(only a total or a note: {row_spans(rows)}).")


def _holds_something(cell) -> bool:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return False
    return not (isinstance(cell, str) and not cell.strip())


def row_spans(numbers: list[int], most: int = 8) -> str:
    """Sheet row numbers as a person reads them: "row 7", "rows 3-14, 20" (the first ``most`` runs)."""
    spans: list[list[int]] = []
    for n in sorted(set(numbers)):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    words = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:most]]
    more = ", …" if len(spans) > most else ""
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(words) + more


__all__ = ["Sheet", "SourceFile", "hidden_rows_note", "no_rows_note", "only_closing_rows_note", "row_spans", "sheet_under"]
