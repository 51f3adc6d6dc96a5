"""Older and other workbooks (.xls, .ods) read whole, as the application that made them shows them.

An .xls or .ods cannot be patched into an .xlsx; its results are a new .xlsx
that keeps its sheets (order, hidden state), merged cells, column widths,
number formats and formulas. So these readers take everything the writer
needs in one pass: each cell's value, its number format code (in Excel's
spelling), its formula (in Excel's spelling, with the value the file cached)
and, for numbers, the text the application showed. The reader finds the
header and rows in :attr:`OfficeSheet.rows` as it does for an .xlsx.

- .xls: ``xlrd`` (formatting information on) for values, formats, merges,
  widths and visibility, and its formula decompiler over the sheet's FORMULA
  and SHRFMLA records (xlrd itself keeps only the cached results).
- .ods: ``content.xml`` streamed with defusedxml (see :mod:`.ods`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OfficeSheet:
    """One sheet: values by row (positions from 0), and what the writer carries over."""

    name: str
    state: str = "visible"                                        # visible, hidden or veryHidden
    rows: list[list] = field(default_factory=list)                 # values as read (text, float, bool, datetime)
    codes: dict[tuple[int, int], str] = field(default_factory=dict)     # (row, col) → number format, if not General
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) → formula, "=..." in Excel's words
    shown: dict[tuple[int, int], str] = field(default_factory=dict)     # (row, col) → a number's text as shown
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # first row, first col, last row, last col
    widths: dict[int, float] = field(default_factory=dict)        # col → width in characters
    hidden_rows: set[int] = field(default_factory=set)            # rows hidden (by a filter or by hand) that hold something

    @property
    def visible(self) -> bool:
        return self.state == "visible"


@dataclass
class OfficeBook:
    """Every sheet of an .xls/.ods, in the workbook's order."""

    sheets: list[OfficeSheet] = field(default_factory=list)

    def sheet(self, name: str) -> OfficeSheet | None:
        return next((s for s in self.sheets if s.name == name), None)

    @property
    def formulas(self) -> int:
        return sum(len(s.formulas) for s in self.sheets)


__all__ = ["OfficeBook", "OfficeSheet"]
