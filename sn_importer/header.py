"""Finding a sheet's header row: where the table starts and which column is which field.

The reader hands over the first rows of a sheet (or of a CSV file) as plain
cells; :func:`locate` searches them for the row the template recognises and
says where it is, or says in plain words why no row is a header. Reading the
rows under it is the reader's work: this module only decides where the table
starts, so a change to how headers are recognised never touches how files
are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import HeaderNotFoundError
from .mapping import ColumnMapping, expected_headers, header_problem, match_header, trailing_result_columns
from .template import Template


@dataclass(frozen=True)
class HeaderRow:
    """A header found among a sheet's first rows."""

    index: int                # 0-based position of the header row among the rows searched
    cells: tuple[str, ...]    # the header row's texts (a previous run's result columns left out)
    mapping: ColumnMapping
    dropped: int = 0          # result columns of a previous run at the row's end, left out
    #: Why the rows under this header are not imported (a needed column is missing); "" when they are.
    unread: str = ""

    @property
    def width(self) -> int:
        """How many columns the table has (without a previous run's result columns)."""
        return len(self.cells)


def locate(rows: list[list], template: Template) -> HeaderRow | str:
    """The header among ``rows`` (the first ``template.search_rows`` of a sheet), or why there is none."""
    for index, cells in enumerate(rows[: template.search_rows]):
        texts = [header_text(c) for c in cells]
        dropped = trailing_result_columns(texts)
        kept = texts[: len(texts) - dropped]
        mapping = match_header(kept, template)
        if mapping is not None:
            return HeaderRow(index, tuple(mapping.header), mapping, dropped)
    return _why_not(rows[: template.search_rows], template)


def _why_not(rows: list[list], template: Template) -> str:
    """Why none of ``rows`` is a header: an empty sheet, or what the first filled row lacks."""
    if not any(any(c not in (None, "") for c in r) for r in rows):
        return "empty sheet"
    first = next((r for r in rows if any(c not in (None, "") for c in r)), [])
    found = ", ".join(repr(header_text(c)) for c in first if c not in (None, ""))
    return f"{header_problem(first, template)} (first row: {found})"


def header_text(cell) -> str:
    """A header cell as text: a number as Excel shows it (``3`` not ``3.0``), spaces stripped."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def no_header(path: Path, template: Template, skipped: list[tuple[str, str]]) -> HeaderNotFoundError:
    """One plain sentence: what each sheet lacks, then what the template looks for."""
    if len(skipped) == 1 and skipped[0][0] == path.name:  # a CSV: its one "sheet" is the file
        found = skipped[0][1]
    else:
        found = "; ".join(f"sheet {name!r}: {why}" for name, why in skipped) or "no sheet with data"
    return HeaderNotFoundError(
        path, f"{found}; expected headers like {expected_headers(template)} (template {template.name!r})")


__all__ = ["HeaderRow", "header_text", "locate", "no_header"]
