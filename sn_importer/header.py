"""Finding a sheet's header row: where the table starts and which column is which field.

The reader hands over the first rows of a sheet (or of a CSV file) as plain
cells; :func:`locate` searches them for the row the template recognises and
says where it is, or says in plain words why no row is a header. Reading the
rows under it is the reader's work: this module only decides where the table
starts, so a change to how headers are recognised never touches how files
are read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .errors import HeaderNotFoundError
from .mapping import (NOTHING_TO_DETACH, REMOVED_REASON, UNDO_REASON, ColumnMapping, expected_headers, nearest,
                      needs, quoted, read_header, trailing_result_columns)
from .template import Template

#: The first cell of the blank template's own instructions sheet (see ``blank.py``): a
#: sheet that starts with it is the template's help, not data that failed to read.
INSTRUCTIONS_TITLE = "How to fill in the Serials sheet"
#: The same title for a blank sheet whose rows sheet bears the template's own sheet name.
INSTRUCTIONS_TITLE_WORDS = ("How to fill in the ", " sheet")
INSTRUCTIONS_REASON = "the blank template's instructions"
#: How the Summary sheet sn-importer writes begins ("sn-importer results: apply", "sn-importer undo"):
#: staff who fix the invalid rows of a results workbook and run it again do not get that sheet's
#: tables read as rows (its "Columns read" table has a field name and a sheet name on each row).
SUMMARY_TITLES = ("sn-importer results", "sn-importer undo")
SUMMARY_REASON = "the Summary of an earlier sn-importer run"
#: How every reason for "no row of this sheet is a header" begins.
NO_HEADER = "no recognisable header"
#: ... and how it goes on when some row names a field or two.
NEAREST = f"{NO_HEADER}: the nearest is"


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


#: How far below the rows searched a header is still looked for, only to say where it is: a sheet
#: whose table starts under a long block of notes is then said first, its rows ``skipped``, rather
#: than passed over as a sheet of notes while the run reports every row ready.
LOOK_BELOW = 500


def locate(rows: list[list], template: Template, numbers: list[int] | None = None) -> HeaderRow | str:
    """The header among ``rows`` (a sheet's first rows; ``template.search_rows`` are searched), or why
    there is none.

    A row is the header when it names every field the template needs, alone
    or under a group row above it. Failing that, the row that names most of
    them is the header of a sheet that is not read (``unread`` says what it
    lacks, and which columns come nearest) when it lacks one need only; else
    the answer is why no row is a header, quoting the row nearest to one.
    ``numbers`` are the sheet's row numbers of ``rows`` when some were left
    out (a sheet read cell by cell), so the reasons name the right rows.
    A full header in the :data:`LOOK_BELOW` rows after those searched is the
    header of a sheet that is not read, saying where it is.
    """
    texts = [[header_text(c) for c in r] for r in rows[: template.search_rows]]
    numbers = list(numbers) if numbers is not None else list(range(1, len(rows) + 1))
    filled = [i for i, cells in enumerate(texts) if any(cells)]
    if not filled:
        return "empty sheet"
    if is_instructions_title(texts[filled[0]][0]):
        return INSTRUCTIONS_REASON
    if texts[filled[0]][0].startswith(SUMMARY_TITLES):
        return SUMMARY_REASON
    best: tuple[tuple[int, int], HeaderRow] | None = None
    for index, cells in enumerate(texts):
        dropped = trailing_result_columns(cells)
        kept = cells[: len(cells) - dropped]
        for above in (None, texts[index - 1]) if index else (None,):
            mapping = read_header(kept, template, above)
            found = HeaderRow(index, tuple(kept), mapping, dropped)
            if not mapping.missing:
                return found
            strength = (len(needs(template)) - len(mapping.missing), len(mapping.columns))
            if mapping.columns and (best is None or strength > best[0]):
                best = strength, found
    below = _below(rows, template, numbers)
    if below is not None:
        return below
    return _unread(best[1], template, numbers) if best else _no_header_row(texts, filled[0], numbers)


def _below(rows: list[list], template: Template, numbers: list[int]) -> HeaderRow | None:
    """A header under the rows searched, as the header of a sheet not read, or None."""
    for index in range(template.search_rows, min(len(rows), template.search_rows + LOOK_BELOW)):
        cells = [header_text(c) for c in rows[index]]
        if not any(cells):
            continue
        kept = cells[: len(cells) - trailing_result_columns(cells)]
        mapping = read_header(kept, template, None)
        if not mapping.missing:
            row = f"row {numbers[index]} ({_cells(kept, set(mapping.columns.values()))})"
            return HeaderRow(index, tuple(kept), mapping, len(cells) - len(kept),
                             unread=f"its header {row} is below the first {template.search_rows} rows searched; "
                                    f"move the table up, or use a template (--template) whose [header] search_rows reaches it")
    return None


def _unread(found: HeaderRow, template: Template, numbers: list[int]) -> HeaderRow | str:
    """The nearest row to a header: a sheet not read when it lacks one need only, else why none is a header."""
    row = f"row {numbers[found.index]} ({_cells(found.cells, set(found.mapping.columns.values()))})"
    lacks = _lacks(found.mapping.missing)
    if len(found.mapping.missing) > 1:
        return f"{NEAREST} {row}, which has {lacks}"
    hints = "; ".join(f"{quoted(text)} ~ {name}" for text, name in nearest(found.mapping, template))
    why = f"its header {row} has {lacks}" + (f"; nearest: {hints}" if hints else "")
    return replace(found, unread=why)


def _no_header_row(texts: list[list[str]], first: int, numbers: list[int]) -> str:
    return f"{NO_HEADER} (row {numbers[first]}: {_cells(texts[first], set())})"


def _lacks(missing: tuple[str, ...]) -> str:
    """'no serial column', 'no resource type and no serial column'."""
    return "no " + " and no ".join(missing) + " column"


def _cells(cells: tuple[str, ...] | list[str], read: set[int], most: int = 8) -> str:
    """A header row as a person reads it: "Resource type | 'Order ref' | Serial". A cell read as a
    field is a name the template knows; any other is the file's content, so it is quoted (and
    front ends that show only a glimpse of a file's content can cut it)."""
    shown = [text if position in read else quoted(text) for position, text in enumerate(cells) if text]
    return " | ".join(shown[:most]) + (" | …" if len(shown) > most else "")


def is_instructions_title(text: str) -> bool:
    """The first cell of a blank sheet's instructions, whatever the rows sheet is called."""
    start, end = INSTRUCTIONS_TITLE_WORDS
    return text == INSTRUCTIONS_TITLE or (text.startswith(start) and text.endswith(end))


def needs_attention(why: str) -> bool:
    """Whether a sheet left unread may hold rows meant to be imported (said first, before the
    results): its header lacks a column, or some row names a field. A sheet where nothing looks
    like a header (notes, a chart's data), hidden, empty or left out by the template is not."""
    return why.startswith(("its header ", NEAREST))


def unread_sentence(sheet: str, why: str) -> str:
    """The sentence that says a sheet was not read: "Sheet 'Returns' was not read: its header row 3 (…)"."""
    return f"Sheet {quoted(sheet)} was not read: {why}"


def header_text(cell) -> str:
    """A header cell as text: a number as Excel shows it (``3`` not ``3.0``), spaces stripped."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def no_header(path: Path, template: Template, skipped: list[tuple[str, str]]) -> HeaderNotFoundError:
    """One plain sentence: what each sheet lacks, then what the template looks for."""
    if skipped and all(why == LEFT_OUT for _, why in skipped):
        return HeaderNotFoundError(path, _all_left_out(template, [name for name, _ in skipped]))
    if len(skipped) == 1 and skipped[0][0] == path.name:  # a CSV: its one "sheet" is the file
        found = skipped[0][1]
    else:
        found = "; ".join(f"sheet {quoted(name)}: {why}" for name, why in skipped) or "no sheet with data"
    if skipped and all(why in (SUMMARY_REASON, REMOVED_REASON, UNDO_REASON) for _, why in skipped):
        return HeaderNotFoundError(path, f"{found}: {NOTHING_TO_DETACH}")  # an earlier run's report, given by mistake
    return HeaderNotFoundError(
        path, f"{found}; expected headers like {expected_headers(template)} (template {template.name!r})")


#: Why a sheet the template's [sheets] table does not want is not read.
LEFT_OUT = "left out by the template"


def _all_left_out(template: Template, sheets: list[str]) -> str:
    """Every sheet left out by the template's [sheets] lists: say so, with the names on both sides (a
    sheet renamed, or a typo in the list), not the headers, which are not what is wrong."""
    names = ", ".join(quoted(name) for name in sheets)
    if template.include_sheets:
        listed = (f"reads only the sheets {', '.join(quoted(s) for s in template.include_sheets)} ([sheets] include), "
                  "and this workbook has none of them")
    else:
        listed = (f"leaves out the sheets {', '.join(quoted(s) for s in template.exclude_sheets)} ([sheets] exclude), "
                  "and this workbook has no other")
    return f"the template {template.name!r} ({template.path.name}) {listed}: its sheets are {names}"


__all__ = ["INSTRUCTIONS_TITLE", "INSTRUCTIONS_TITLE_WORDS", "LEFT_OUT", "LOOK_BELOW", "SUMMARY_REASON", "SUMMARY_TITLES", "HeaderRow", "header_text", "is_instructions_title", "locate",
           "needs_attention", "no_header", "unread_sentence"]
