"""Reading what an apply removed: its results workbook's ``Removed`` sheet, or its removed-records CSV.

The first stage of an undo. An apply's results carry the records of every
serial it detached, as they were before (:data:`~sn_importer.mapping.REMOVED_COLUMNS`);
those records are all an undo needs. A file that is not an apply's results
(a preview's, an undo's own report, any other sheet) is refused in one
sentence before anything is sent. The input guard looks at the file first,
as it does for every input. Each record that cannot be used as it stands
(a hand-edited sheet: a blank serial, a type Katana does not know) is kept
with the reason, and becomes ``cannot_restore``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import formats, guard
from ..errors import InputError
from ..mapping import REMOVED_COLUMNS, is_removed_sheet
from ..report.paths import PROPERTY_INPUT, PROPERTY_MODE, UNDO_MODE, recorded, removed_path, undo_output_path
from ..resource_types import NAMES
from ..status import Mode

#: The Summary rows of a results workbook that say which run made it.
_FACTS = {"Run id": "run_id", "Mode": "mode", "Input": "input"}
#: What a CSV writer put before text a spreadsheet would run as a formula.
_DEFUSED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
_NOT_APPLY = ("give an apply's results: the workbook sn-importer apply wrote (<name>.results.xlsx) or its "
              "removed-records CSV (<name>.results.removed.csv)")


@dataclass(frozen=True)
class Wanted:
    """One removed record to put back: its position in the records, the serial string and the
    record id it had, and the resource it was on."""

    position: int
    serial: str
    old_id: int | None
    resource: tuple[str, int]


@dataclass
class RemovedRecords:
    """The records an apply removed, as read, and where they come from."""

    records: pd.DataFrame
    display_name: str
    path: Path | None = None
    apply_run_id: str | None = None
    apply_input: str | None = None
    #: ``excel`` or ``csv``: the undo report's default format.
    kind: str = "excel"
    #: Where the report goes by default (beside the results, ``.undo`` before the extension).
    default_output: Path | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def wanted(self) -> tuple[dict[tuple[str, int], list[Wanted]], dict[int, str]]:
        """The usable records grouped by resource (in order of first appearance), and why the others
        cannot be used (position → reason)."""
        groups: dict[tuple[str, int], list[Wanted]] = {}
        problems: dict[int, str] = {}
        for position, record in enumerate(self.records.to_dict("records")):
            wanted = usable(position, record)
            if isinstance(wanted, str):
                problems[position] = wanted
            else:
                groups.setdefault(wanted.resource, []).append(wanted)
        return groups, problems

    def key(self, base_url: str, api_key: str) -> str:
        """The same records against the same Katana account (base URL and key) give the same key,
        whichever file held them (the workbook and the CSV of one apply are one undo)."""
        from ..katana.quota import tenant_key

        rows = [[_plain(r.get(c)) for c in ("id", "serial_number", "resource_type", "resource_id")]
                for r in self.records.to_dict("records")]
        digest = hashlib.sha256(json.dumps(rows, default=str).encode())
        digest.update(b"\0undo\0" + tenant_key(base_url, api_key).encode())
        return digest.hexdigest()


def read_removed(path: str | Path) -> RemovedRecords:
    """The removed records of an apply's results file (.xlsx/.xlsm or CSV), or InputError saying
    why the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "is not a file")
    fmt = formats.for_name(path)
    if fmt is not None and fmt.key in ("xlsx", "xlsm"):
        return _from_workbook(path, fmt)
    if fmt is not None and fmt.kind == "csv":
        return _from_csv(path, fmt)
    raise InputError(path, f"is not an apply's results; {_NOT_APPLY}")


def from_frame(removed: pd.DataFrame, display_name: str, **facts) -> RemovedRecords:
    """Records already in memory (an apply's :class:`~sn_importer.result.RunResult`)."""
    return RemovedRecords(removed.reindex(columns=list(REMOVED_COLUMNS)).astype(object).reset_index(drop=True),
                          display_name, **facts)


def usable(position: int, record: dict) -> Wanted | str:
    """A record as an undo can use it, or why it cannot."""
    serial = record.get("serial_number")
    rtype = record.get("resource_type")
    rid = _whole(record.get("resource_id"))
    if isinstance(serial, (int, float)) and not isinstance(serial, bool) and serial == serial:
        shown = int(serial) if float(serial).is_integer() else serial
        return (f"the serial number is stored as a number ({shown}), which may have lost leading zeros; type it "
                "as text, as the apply wrote it; nothing was sent for it")
    if not isinstance(serial, str) or not serial.strip():
        return "the record has no serial number; nothing can be sent for it"
    if rtype not in NAMES:
        return f"resource type {rtype!r} is not one Katana knows; nothing can be sent for it"
    if rid is None:
        return f"resource id {record.get('resource_id')!r} is not a whole number; nothing can be sent for it"
    return Wanted(position, serial, _whole(record.get("id")), (str(rtype), rid))


# --------------------------------------------------------------------------- a results workbook


def _from_workbook(path: Path, fmt: formats.Format) -> RemovedRecords:
    guard.check_file(path, fmt)
    guard.inspect_workbook(path, fmt)
    properties = recorded(path)
    _check_mode(path, properties.get(PROPERTY_MODE))
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a workbook openpyxl cannot open is no results of ours
        raise InputError(path, f"cannot be opened as a workbook ({type(exc).__name__}); {_NOT_APPLY}") from None
    try:
        facts = _summary_facts(book)
        _check_mode(path, properties.get(PROPERTY_MODE) or facts.get("mode"), known=True)
        rows = _removed_rows(path, book)
    finally:
        book.close()
    return RemovedRecords(_frame(rows), str(path), path, facts.get("run_id"),
                          properties.get(PROPERTY_INPUT) or facts.get("input"), "excel", undo_output_path(path))


def _check_mode(path: Path, mode: str | None, known: bool = False) -> None:
    """Refuse a results file some other run made: an undo's own report, a preview's, a validation's."""
    if mode == UNDO_MODE:
        raise InputError(path, f"is an undo's report, not an apply's results; {_NOT_APPLY}")
    if mode is not None and mode != Mode.APPLY:
        raise InputError(path, f"is the results of a {mode}, which removes nothing, so there is nothing to undo; "
                               f"{_NOT_APPLY}")
    if known and mode is None:
        raise InputError(path, f"is not a results workbook of sn-importer (it has no Summary naming its run); "
                               f"{_NOT_APPLY}")


def _summary_facts(book) -> dict[str, str]:
    for sheet in book.worksheets:
        if sheet.title.startswith("Summary"):
            found = {_FACTS[label]: str(value) for label, value, *_ in
                     sheet.iter_rows(max_col=2, values_only=True) if label in _FACTS and value}
            if found:
                return found
    return {}


def _removed_rows(path: Path, book) -> list[tuple]:
    for sheet in book.worksheets:
        if not sheet.title.startswith("Removed"):
            continue
        rows = sheet.iter_rows(values_only=True)
        header = [c for c in next(rows, ()) if c is not None]
        if is_removed_sheet([str(c) for c in header]):
            return [r[: len(REMOVED_COLUMNS)] for r in rows if any(c not in (None, "") for c in r)]
    raise InputError(path, "has no Removed sheet (the records an apply detached), so there is nothing to undo; "
                           f"{_NOT_APPLY}")


# --------------------------------------------------------------------------- a removed-records CSV


def _from_csv(path: Path, fmt: formats.Format, given: Path | None = None) -> RemovedRecords:
    """``given``: the results CSV named by the user, when its removed records are read from beside it
    (the report still goes beside what was named)."""
    guard.check_file(path, fmt)
    rows = _csv_rows(path)
    if rows and not is_removed_sheet(rows[0]) and removed_path(path).is_file() and given is None:
        return _from_csv(removed_path(path), fmt, path)  # the results CSV given: its removed records lie beside it
    if not rows or not is_removed_sheet(rows[0]):
        beside = f" (and no {removed_path(path).name} beside it)" if not path.stem.endswith(".removed") else ""
        raise InputError(path, f"is not an apply's removed-records CSV: its header is not "
                               f"{', '.join(REMOVED_COLUMNS)}{beside}; {_NOT_APPLY}")
    records = [tuple(_undefused(c) for c in r[: len(REMOVED_COLUMNS)]) for r in rows[1:] if any(c for c in r)]
    named = given or path
    return RemovedRecords(_frame(records), str(named), named, None, None, "csv", undo_output_path(named))


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    guard.check_text(path, raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, f"is not UTF-8 text; {_NOT_APPLY}") from None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(path, f"cannot be read as CSV ({exc}); {_NOT_APPLY}") from None


def _undefused(cell: str) -> str:
    """A CSV cell as it was before the writer made it safe from spreadsheets (a leading ``'``
    before ``=``, ``+``, ``-``, ``@``): serials never start with ``'``, so it is always ours."""
    return cell[1:] if cell.startswith(_DEFUSED) else cell


# --------------------------------------------------------------------------- values


def _frame(rows: list[tuple]) -> pd.DataFrame:
    padded = [tuple(r) + (None,) * (len(REMOVED_COLUMNS) - len(r)) for r in rows]
    frame = pd.DataFrame(padded, columns=list(REMOVED_COLUMNS), dtype=object)
    for column in ("id", "resource_id", "quantity_change"):
        frame[column] = [_whole(v) if _whole(v) is not None else (v if v not in ("",) else None)
                         for v in frame[column]]
    return frame


def _whole(value) -> int | None:
    """A whole number as a workbook or a CSV gives it (3001, 3001.0, "3001"), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else None
    except ValueError:
        return None


def _plain(value):
    """A value for the key: numbers as ints, missing as None, the rest as text."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, (int, str)) else str(value)


__all__ = ["RemovedRecords", "Wanted", "from_frame", "read_removed", "usable"]
