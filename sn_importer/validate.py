"""Validation: from sheets of raw cells to one frame of checked rows.

Pulls the mapped fields out of every sheet as stripped text, runs the pandera
schema lazily (every problem of every row at once), marks repeats of the same
serial on the same resource as ``duplicate`` naming the earlier row, and
converts what passed into typed values the plan and the API stages use. All
vectorised: a million rows is a few column operations, not a Python loop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .cell_text import as_id_text, as_text, text_by_code
from .footer import ignored_rows
from .reader import Sheet, SourceFile
from .source import only_closing_rows_note
from .schema import build_schema, failure_messages, field_words
from .status import Status, is_one_of
from .template import FIELDS, Template, normalise_key

_DOT_ZEROS = r"\.0*$"
#: Rows that are not read as data: their sheet was not read, or they are a total or a note.
_NOT_DATA = (Status.SKIPPED.value, Status.IGNORED.value)
#: Fields holding ids: a workbook's number there is read in all its digits (its size is what is judged).
_ID_FIELDS = ("resource_id", "serial_id")

#: The fields' values as the sheet gave them (stripped text), kept for display: an invalid
#: row's typed ``resource_id``/``serial_id`` are empty, but a person needs to see what was written.
GIVEN_COLUMNS = {name: f"given_{name}" for name in FIELDS}

#: The columns of the rows frame, in order. ``serial_id`` is the given or resolved id;
#: ``resource_id`` is given, or resolved from ``order_no`` (+ ``sku``) before a run.
ROW_COLUMNS = ("sheet", "row", "resource_type", "resource_id", "order_no", "sku", "serial_id", "serial_number",
               "status", "message", "request", "checked_at", *GIVEN_COLUMNS.values())


def validate(source: SourceFile, template: Template) -> pd.DataFrame:
    """The rows frame for ``source``: one row per input row, with status and message."""
    fields = extract_fields(source, template)
    # the serial strings' codes (for repeats) are Arrow's work, outside the GIL: made beside the checks
    with ThreadPoolExecutor(1) as beside:
        serial_texts = beside.submit(_text_codes, fields["serial_number"])
        return _validated(source, template, fields, serial_texts.result)


def _validated(source: SourceFile, template: Template, fields: pd.DataFrame, serial_texts) -> pd.DataFrame:
    blank = fields.pop("_blank").to_numpy()
    problems = fields.pop("_problem")
    remarks = fields.pop("_remark")
    unread = fields.pop("_unread")
    skipped = (unread != "").to_numpy() & ~blank
    message = pd.Series("", index=fields.index, dtype=object)
    passed_over = blank | skipped
    checked = fields[~passed_over] if passed_over.any() else fields  # no copy of every row when none is passed over
    if len(checked):
        schema, checks = build_schema(template)
        try:
            schema.validate(checked[list(FIELDS)], lazy=True)
        except pa.errors.SchemaErrors as error:
            found = failure_messages(error, checks, fields["sheet"], sheet_words(source))
            message.loc[found.index] = found.to_numpy()
    message = _with_reader_problems(message, problems)
    status = pd.Series(Status.VALID.value, index=fields.index, dtype=object)
    status[~is_one_of(message, "")] = Status.INVALID.value
    status[skipped] = Status.SKIPPED.value
    message[skipped] = unread[skipped]
    status[blank] = ""
    _mark_ignored(source, fields, blank, status, message)
    # notes, not problems: after the status is set, and only on rows that are read as data
    message = _with_remarks(message, remarks, blank | is_one_of(status, *_NOT_DATA))
    rows = _typed(fields, template, is_one_of(status, Status.VALID.value))
    for name, given in GIVEN_COLUMNS.items():
        rows[given] = fields[name]
    rows["status"] = status
    rows["message"] = message
    _mark_duplicates(rows, serial_texts)
    rows["request"] = ""
    rows["checked_at"] = ""
    return rows[list(ROW_COLUMNS)]


def sheet_words(source: SourceFile) -> dict[str, dict[str, str]]:
    """Each sheet's words for the fields in messages: its own headers ("Order ID")."""
    return {sheet.name: field_words({name: label for name in FIELDS if (label := sheet.mapping.label(name))})
            for sheet in source.sheets}


def _mark_ignored(source: SourceFile, fields: pd.DataFrame, blank: np.ndarray, status: pd.Series,
                  message: pd.Series) -> None:
    """Totals, subtotals and notes under a sheet's table become ``ignored``, saying what they are."""
    start = 0
    for sheet in source.sheets:
        end = start + len(sheet.data)
        invalid = is_one_of(status.iloc[start:end], Status.INVALID.value)
        if invalid.any() and not sheet.unread:
            found = ignored_rows(sheet.data, sheet.mapping, fields.iloc[start:end], invalid, blank[start:end])
            if found:
                positions = [start + p for p in found]
                status.iloc[positions] = Status.IGNORED.value
                message.iloc[positions] = list(found.values())
                if source.kind != "csv" and len(found) == int((~blank[start:end]).sum()):
                    # a workbook's sheet with nothing else under its header: said first, as an empty one is
                    source.sheet_notes.append(only_closing_rows_note(sheet, sorted(found)))
        start = end


def _with_reader_problems(message: pd.Series, problems: pd.Series) -> pd.Series:
    """The reader's findings (a cell over Excel's size) first, then the schema's."""
    has = problems != ""
    if not has.any():
        return message
    joined = problems + "; " + message.astype(str)
    return message.where(~has, problems.where(message == "", joined)).astype(object)


def _with_remarks(message: pd.Series, remarks: pd.Series, blank) -> pd.Series:
    """Notes that do not make a row invalid (a serial stored as a number) go after its message."""
    has = (remarks != "") & ~blank
    if not has.any():
        return message
    joined = message.astype(str) + "; " + remarks
    return message.where(~has, remarks.where(message == "", joined)).astype(object)


def extract_fields(source: SourceFile, template: Template) -> pd.DataFrame:
    """Stripped text of the fields from every sheet, plus sheet, row and blankness."""
    frames = [_sheet_fields(sheet, template) for sheet in source.sheets]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    frame["sheet"] = frame["sheet"].astype("category")
    return frame


def _sheet_fields(sheet: Sheet, template: Template) -> pd.DataFrame:
    data = sheet.data
    out = {"sheet": pd.Series(sheet.name, index=data.index, dtype=object),
           "row": pd.Series(sheet.numbers(), index=data.index)}
    for name in FIELDS:
        spec = template.fields[name]
        if name in sheet.mapping.columns:
            text = (as_id_text if name in _ID_FIELDS else as_text)(data[sheet.mapping.columns[name]])
            shown = sheet.shown.get(sheet.mapping.columns[name])
            if shown:
                text = text.copy()
                text.iloc[list(shown)] = [value.strip() for value in shown.values()]
            if spec.strip_prefixes:
                text = _strip_prefixes(text, spec.strip_prefixes)
        elif spec.value is not None:
            text = pd.Series(str(spec.value), index=data.index, dtype="str")
        else:
            text = pd.Series("", index=data.index, dtype="str")
        out[name] = text
    out["_blank"] = _blank_rows(data)
    # text columns (not object): "is there one?" is then a comparison in Arrow, not a million objects
    problems = pd.Series("", index=data.index, dtype="str")
    if sheet.problems:
        problems[data.index[list(sheet.problems)]] = list(sheet.problems.values())
    out["_problem"] = problems
    remarks = pd.Series("", index=data.index, dtype="str")
    if sheet.remarks:
        remarks[data.index[list(sheet.remarks)]] = list(sheet.remarks.values())
    out["_remark"] = remarks
    out["_unread"] = pd.Series(f"sheet not read: {sheet.unread}" if sheet.unread else "", index=data.index,
                               dtype="str")
    return pd.DataFrame(out)


def _strip_prefixes(text: pd.Series, prefixes: tuple[str, ...]) -> pd.Series:
    import re

    pattern = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")"
    return text.str.replace(pattern, "", regex=True, case=False).str.strip()


def _blank_rows(data: pd.DataFrame) -> pd.Series:
    """True where every cell is empty or only spaces (a number, even 0, is not blank).

    Vectorised per column: a cell is blank when it is missing or a string that
    strips to nothing; non-string cells of a workbook count as filled.
    """
    blank = np.ones(len(data), dtype=bool)
    for position in data.columns:
        column = data[position]
        empty = column.isna().to_numpy().copy()
        if column.dtype == object:
            if pd.api.types.infer_dtype(column, skipna=True) in ("string", "mixed", "mixed-integer"):
                codes, values = pd.factorize(column)  # each distinct cell judged once (code -1: missing)
                spaces = np.array([isinstance(v, str) and not v.strip() for v in values] + [False])
                empty |= spaces[codes]
        else:
            empty |= (column.astype("str").str.strip() == "").to_numpy(dtype=bool)
        blank &= empty
        if not blank.any():
            break
    return pd.Series(blank, index=data.index)


def _typed(fields: pd.DataFrame, template: Template, valid: np.ndarray) -> pd.DataFrame:
    """Resource types in the API's spelling and ids as integers, where the row is valid."""
    rows = fields[["sheet", "row"]].copy()
    codes, uniques = pd.factorize(fields["resource_type"])
    canonical = [template.resource_type_aliases.get(normalise_key(u), u) for u in uniques]
    rows["resource_type"] = pd.Series(text_by_code(canonical, codes), index=fields.index).fillna("")
    rows["resource_id"] = _ids(fields["resource_id"], valid)
    rows["order_no"] = fields["order_no"]  # text columns stay text (no million Python strings)
    rows["sku"] = fields["sku"]
    rows["serial_id"] = _ids(fields["serial_id"], valid)
    rows["serial_number"] = fields["serial_number"]
    return rows


def _ids(text: pd.Series, valid: np.ndarray) -> pd.Series:
    """Ids of valid rows as Int64 (NA elsewhere).

    Valid ids already matched the whole-number pattern, so dropping a trailing
    '.0' and casting is exact and far cheaper than ``to_numeric`` on text.
    """
    usable = text.where(valid & (text != ""), None)
    if usable.isna().all():  # a column the sheet leaves blank
        return pd.Series(pd.NA, index=text.index, dtype="Int64")
    try:
        if usable.str.contains(".", regex=False).any():  # a literal search first: the pattern is ten times dearer
            usable = usable.str.replace(_DOT_ZEROS, "", regex=True)
        return usable.astype("int64[pyarrow]").astype("Int64")
    except (ValueError, TypeError, ArithmeticError, ImportError):  # a form the cast rejects
        return pd.to_numeric(usable, errors="coerce").astype("Int64")


def shown_fields(rows: pd.DataFrame) -> pd.DataFrame:
    """The four fields as a person should see them: the typed (or resolved) value, else what the
    sheet gave. Meant for the few rows a page or a notebook shows, not for a whole sheet."""
    out = {}
    for name, given in GIVEN_COLUMNS.items():
        typed = rows[name].astype(object)
        missing = typed.map(lambda v: v is None or v is pd.NA or v == "" or (isinstance(v, float) and v != v))
        out[name] = typed.where(~missing.astype(bool), rows[given]) if given in rows else typed
    return pd.DataFrame(out, index=rows.index)


def serial_keys(rows: pd.DataFrame) -> pd.Series:
    """What identifies a serial within its resource: its id if given, else its string."""
    by_id = "#" + rows["serial_id"].astype("string")
    return by_id.fillna("s:" + rows["serial_number"].astype("string"))


def _mark_duplicates(rows: pd.DataFrame, serial_texts) -> None:
    """Mark later valid rows with the same serial on the same resource as ``duplicate``.

    The (resource, serial) key is reduced to one integer code per row, so
    finding repeats, and the first row of each, is one sort of integers.
    """
    valid = is_one_of(rows["status"], Status.VALID.value)
    if not valid.any():
        return
    columns = ["resource_type", "resource_id", "order_no", "sku", "serial_id", "serial_number"]
    subset = rows[columns]  # copy-on-write: no copy; codes are worked out for every row, then the valid kept
    keys = [subset[c] for c in ("resource_type", "resource_id", "order_no", "sku") if not _constant(subset[c])]
    code, labels = _combined_codes(*keys, _serial_codes(subset, serial_texts)), subset.index.to_numpy()
    repeats = _later_repeats(code[valid], labels[valid]) if not valid.all() else _later_repeats(code, labels)
    if repeats is None:
        return
    earlier = repeats.to_numpy()
    same_sheet = rows["sheet"].loc[earlier].to_numpy() == rows["sheet"].loc[repeats.index].to_numpy()
    where = "row " + rows["row"].loc[earlier].astype(str).to_numpy()
    other = where + " of sheet '" + rows["sheet"].loc[earlier].astype(str).to_numpy() + "'"
    text = pd.Series(where, index=repeats.index).where(same_sheet, pd.Series(other, index=repeats.index))
    rows.loc[repeats.index, "status"] = Status.DUPLICATE.value
    rows.loc[repeats.index, "message"] = "the same serial on the same resource is already in " + text


def _later_repeats(code: np.ndarray, labels: np.ndarray) -> pd.Series | None:
    """Each row whose code an earlier row has, with the label of the first row of that code.

    Sort-based, not hashed (a million nearly unique keys cost a few arrays, not a hash table),
    and one stable sort with a few arrays of a row each: this is the read's peak of memory."""
    order = np.argsort(code, kind="stable")  # equal codes stay in row order: a group's first row leads
    ordered = code[order]
    later = np.zeros(len(code), dtype=bool)
    np.equal(ordered[1:], ordered[:-1], out=later[1:])
    del ordered
    if not later.any():
        return None
    leader = np.where(later, 0, np.arange(len(code)))  # the sorted position of each group's first row
    np.maximum.accumulate(leader, out=leader)
    return pd.Series(labels[order[leader[later]]], index=labels[order[later]]).sort_index()


def _constant(column: pd.Series) -> bool:
    """All one value (order_no and sku on a sheet that names resources by id): nothing to tell rows apart by."""
    first = column.iloc[0]
    if first is None or first is pd.NA or (isinstance(first, float) and first != first):
        return bool(column.isna().all())
    return bool((column == first).all())


def _serial_codes(rows: pd.DataFrame, serial_texts) -> np.ndarray:
    """An integer per row naming its serial: by id where given, else by its string (as :func:`serial_keys`).
    ``serial_texts()`` returns the strings' codes (:func:`_text_codes`, made beside the checks)."""
    by_text = serial_texts()
    if rows["serial_id"].isna().all():  # serials named by their string only
        return by_text
    by_id, ids = pd.factorize(rows["serial_id"])
    return np.where(by_id >= 0, by_id, len(ids) + by_text)


def _text_codes(column: pd.Series) -> np.ndarray:
    """Codes of a text column's values (equal text, equal code; missing: -1). Serial strings are
    nearly all distinct: pyarrow encodes them in its own buffers, where pandas would make a
    Python string of each of a million uniques."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pa.array(column.array)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
    except (TypeError, ValueError, pa.ArrowException):  # not text arrow can take as it is
        return pd.factorize(column)[0]
    return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _combined_codes(*columns) -> np.ndarray:
    """One integer code per row for the tuple of ``columns`` (equal tuples, equal codes)."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        part, uniques = (column, int(column.max()) + 1) if isinstance(column, np.ndarray) else _codes(column)
        if (int(code.max()) + 1) * (uniques + 1) >= 2**62:  # compact before the product could overflow
            code = np.unique(code, return_inverse=True)[1].astype(np.int64)
        code = code * (uniques + 1) + (part + 1)  # NA (-1) becomes 0
    return code


def _codes(column: pd.Series) -> tuple[np.ndarray, int]:
    part, uniques = pd.factorize(column)
    return part, len(uniques)
