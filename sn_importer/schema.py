"""The pandera schema of a sheet's rows, built from the template.

Every check is vectorised over a column of stripped text and carries a message
template; validation is lazy, so pandera gathers every failure of every row at
once, and :func:`failure_messages` turns its failure cases into one plain-words
message per row in the sheet's own words ("Order ID 'abc' is not a whole
number" where the column is headed "Order ID"; resource types as the blank
sheet's drop-down names them).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .resource_types import staff_label, staff_labels
from .textbytes import arrow_text, holding, made_of, starting_with
from .template import BY_ORDER_NO, FIELDS, Template, normalise_key

#: How a message names a field when no column of the sheet feeds it.
PLAIN_WORDS = {"resource_type": "resource type", "resource_id": "resource id", "order_no": "order number",
               "sku": "SKU", "serial_id": "serial id", "serial_number": "serial number"}

SERIAL_MAX_LENGTH = 32
# Ids are written in the digits 0-9 (``\d`` would also take ١٠٠٧ or full-width １００８, and then call
# them "not greater than 0").
WHOLE = r"[+-]?[0-9]+(?:\.0*)?"
POSITIVE = r"\+?0*[1-9][0-9]*(?:\.0*)?"
SIZED = r"[+-]?0*[0-9]{1,15}(?:\.0*)?"
# Scientific notation as spreadsheets show a damaged number (1.23E+12, 1.5e3); a bare
# "1E5" or "2020E01" has neither a sign nor a decimal part and may be a real label.
SCIENTIFIC = r"\d+[.,]\d+[eE][+-]?\d+|\d+[eE][+-]\d+"
EXCEL_DOT_ZERO = r"\d+\.0"
#: What a cell shows when its formula cannot be worked out: Excel's error values (#N/A, #DIV/0!, ...),
#: as the .xlsx, .xls and .ods readers give them and as a CSV saved from such a sheet holds them,
#: and LibreOffice's own (Err:502).
EXCEL_ERROR = r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!|BUSY!|UNKNOWN!|EXTERNAL!|PYTHON!)|Err:[0-9]{3}"
#: What Katana allows in a serial number; the pattern and the byte check below both come from it.
SERIAL_CHARACTERS = string.ascii_letters + string.digits + " -_/,."
SERIAL_CHARS = "[" + re.escape(SERIAL_CHARACTERS) + "]+"


@dataclass(frozen=True)
class RowCheck:
    """One named check and the message a failing value gets.

    The message names fields as ``{resource_id}`` (the sheet's header of that
    column, see :func:`field_words`) and the failing value as ``{value}``.
    """

    column: str | None
    name: str
    message: str

    def render(self, values: pd.Series, words: dict[str, str]) -> pd.Series:
        head, _, tail = self.message.partition("{value}")
        head, tail = _worded(head, words), _worded(tail, words)
        if self.column is None:
            return pd.Series(head, index=values.index)
        return head + values.astype(str) + tail


def _worded(text: str, words: dict[str, str]) -> str:
    for name, word in words.items():
        text = text.replace("{" + name + "}", word)
    return text


def field_words(columns: dict[str, str]) -> dict[str, str]:
    """How messages name each field for one sheet: its header there ("Order ID"), else in plain
    words; plus the two sentences whose grammar depends on which columns the sheet has."""
    words = {name: columns.get(name) or PLAIN_WORDS[name] for name in FIELDS}
    serials = [words[n] for n in ("serial_id", "serial_number") if n in columns] or \
        [words["serial_id"], words["serial_number"]]
    words["serial_blank"] = _blank_sentence(serials)
    resource = [words[n] for n in ("resource_id", "order_no") if n in columns] or [words["resource_id"]]
    words["resource_blank"] = _blank_sentence(resource)
    return words


def _blank_sentence(names: list[str]) -> str:
    if len(names) == 1:
        return f"{names[0]} is blank"
    return f"{names[0]} and {names[1]} are both blank; give one of them"


def build_schema(template: Template) -> tuple[pa.DataFrameSchema, dict[str, RowCheck]]:
    """The schema for the field columns, and its checks by name (in message order)."""
    aliases = template.resource_type_aliases
    once = _Once()
    matches = once.matches
    error = lambda s: matches(s, EXCEL_ERROR)  # noqa: E731

    def canonical(s: pd.Series) -> pd.Series:  # the API's spelling of each type, "" where unknown
        return once(s, "canonical", lambda column: _canonical(column, aliases))

    specs = {
        "resource_type": [
            _required("resource_type"),
            _shows_error("resource_type", error),
            (RowCheck("resource_type", "resource_type.known",
                      f"unknown resource type '{{value}}'; pick one of: {staff_labels()} "
                      "(or a short name such as MO or SO row)"),
             lambda s: _blank(s) | (canonical(s) != "") | error(s)),
        ],
        "resource_id": _id_checks("resource_id", required=False, matches=matches),
        "order_no": [_shows_error("order_no", error)],
        "sku": [_shows_error("sku", error)],
        "serial_id": _id_checks("serial_id", required=False, matches=matches),
        "serial_number": _serial_number_checks(matches),
    }
    frame_specs = _resource_checks(canonical)
    checks: dict[str, RowCheck] = {}
    columns = {}
    for column, pairs in specs.items():
        column_checks = []
        for row_check, fn in pairs:
            checks[row_check.name] = row_check
            column_checks.append(pa.Check(fn, name=row_check.name))
        columns[column] = pa.Column(checks=column_checks, nullable=False, required=True)
        if column == "resource_type":  # said right after the type, before the id's own problems
            checks.update({row_check.name: row_check for row_check, _ in frame_specs})
    either = RowCheck(None, "serial.either", "{serial_blank}")
    checks[either.name] = either
    frame_checks = [pa.Check(fn, name=row_check.name) for row_check, fn in frame_specs]
    frame_checks.append(pa.Check(lambda df: (df["serial_id"] != "") | (df["serial_number"] != ""), name=either.name))
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False), checks


def _resource_checks(canonical):
    """How a row names its resource: ``resource_id``, or ``order_no`` (a ManufacturingOrder),
    or ``order_no`` + ``sku`` (a SalesOrderRow or PurchaseOrderRow)."""
    by_order = list(BY_ORDER_NO)
    with_sku = [t for t, needs_sku in BY_ORDER_NO.items() if needs_sku]
    kinds = [staff_label(t).lower() for t in by_order]

    def by_number(df: pd.DataFrame) -> pd.Series:
        return (df["resource_id"] == "") & (df["order_no"] != "")

    return [
        (RowCheck(None, "resource.required", "{resource_blank}"),
         lambda df: (df["resource_id"] != "") | (df["order_no"] != "")),
        (RowCheck(None, "order_no.type",
                  f"{{order_no}} names only a {', '.join(kinds[:-1])} or {kinds[-1]}; "
                  "give {resource_id} for other resource types"),
         lambda df: ~by_number(df) | (canonical(df["resource_type"]) == "")
         | canonical(df["resource_type"]).isin(by_order)),
        (RowCheck(None, "sku.required", "{sku} is blank: a sales or purchase order row is found by its "
                                        "{order_no} and {sku} (or give {resource_id})"),
         lambda df: ~by_number(df) | (df["sku"] != "") | ~canonical(df["resource_type"]).isin(with_sku)),
    ]


def _blank(s: pd.Series) -> pd.Series:
    return s == ""


class _Once:
    """What a check works out of a column (which cells match a pattern, the types in the API's
    spelling), worked out once per schema.

    pandera hands every check a new Series over the same array, and checks share work (an id is
    tested against ``WHOLE`` by three of them; two checks need the canonical types); on a million
    rows each pass costs a tenth of a second or more. The schema is built per validation, so what
    is kept here lives exactly as long.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[int, str], tuple[object, object]] = {}

    def __call__(self, s: pd.Series, what: str, work) -> pd.Series:
        return pd.Series(self._kept(s, what, lambda c: _as_array(work(c))), index=s.index, copy=False)

    def _kept(self, s: pd.Series, what: str, work):
        """``work(s)``, worked out once per column array."""
        key = (id(s.array), what)
        kept = self._done.get(key)
        if kept is None or kept[0] is not s.array:  # the array is held, so its id is never reused
            kept = (s.array, work(s))
            self._done[key] = kept
        return kept[1]

    def matches(self, s: pd.Series, pattern: str) -> pd.Series:
        return self(s, pattern, lambda c: self._match(c, pattern))

    def _match(self, s: pd.Series, pattern: str) -> np.ndarray:
        """Which cells match ``pattern``: tested once per distinct value when the column repeats
        itself (ids of a few thousand resources over a million rows, a column left blank)."""
        codes, uniques = self._distinct(s)
        if codes is None:
            return _fullmatch(s, pattern)
        return np.append(_fullmatch(pd.Series(uniques), pattern), False)[codes]

    def _distinct(self, s: pd.Series) -> tuple[np.ndarray | None, object]:
        return self._kept(s, "distinct", _distinct)


def _distinct(s: pd.Series) -> tuple[np.ndarray | None, object]:
    """(codes, distinct values) of a column whose values repeat; (None, None) when matching every
    cell is as cheap."""
    head = s.iloc[:4096]
    if len(s) > 4 * len(head) and head.nunique() * 4 <= len(head):  # its first rows repeat
        codes, uniques = pd.factorize(s)
        if len(uniques) * 4 <= len(s):
            return codes, uniques
    return None, None


def _as_array(done):
    """A check's worked-out column as the array it is (a Series' own array is not turned into numpy
    objects and back)."""
    return done.array if isinstance(done, pd.Series) else np.asarray(done)


def _fullmatch(s: pd.Series, pattern: str) -> np.ndarray:
    """Which cells match ``pattern`` whole. Most cells of the common patterns are answered from their
    bytes (:mod:`.textbytes`): an id of plain digits, a serial of allowed characters, a serial that
    does not begin with a digit and so cannot be a damaged number; the pattern runs on the rest."""
    shortcut = _SHORTCUTS.get(pattern)
    if shortcut is None:
        return _pattern(s, pattern)
    known, found = shortcut(arrow_text(s))
    found = found & known
    rest = ~known
    if rest.any():
        found[rest] = _pattern(s[rest], pattern)
    return found


def _pattern(s: pd.Series, pattern: str) -> np.ndarray:
    return s.str.fullmatch(pattern).fillna(False).astype(bool).to_numpy()


def _plain_digits(text) -> tuple[np.ndarray, np.ndarray]:
    digits = made_of(text, string.digits)
    return digits, digits


def _positive_digits(text) -> tuple[np.ndarray, np.ndarray]:
    nonzero = holding(text, "123456789")
    return made_of(text, string.digits), nonzero if nonzero is not None else np.zeros(len(text), dtype=bool)


def _sized_digits(text) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.compute as pc

    short = pc.binary_length(text).fill_null(0).to_numpy(zero_copy_only=False) <= 15
    known = made_of(text, string.digits) & short
    return known, known


def _not_an_error(text) -> tuple[np.ndarray, np.ndarray]:
    known = ~starting_with(text, "#E")
    return known, np.zeros(len(text), dtype=bool)


def _not_a_number(text) -> tuple[np.ndarray, np.ndarray]:
    known = ~starting_with(text, string.digits, or_beyond_ascii=True)
    return known, np.zeros(len(text), dtype=bool)


#: Pattern → the cells its answer can be read from the bytes for, and those answers. Each must
#: agree with the pattern exactly (the tests compare them on every kind of cell).
_SHORTCUTS = {
    WHOLE: _plain_digits,        # digits alone are a whole number
    POSITIVE: _positive_digits,  # digits alone are positive when one of them is not 0
    SIZED: _sized_digits,        # up to 15 digits fit an id, leading zeros or not
    SCIENTIFIC: _not_a_number,   # both begin with a digit (ASCII or not: the pattern's \d takes both)
    EXCEL_DOT_ZERO: _not_a_number,
    EXCEL_ERROR: _not_an_error,  # both spellings begin with "#" or "E"
    SERIAL_CHARS: lambda text: (np.ones(len(text), dtype=bool), made_of(text, SERIAL_CHARACTERS)),
}


def _canonical(s: pd.Series, aliases: dict[str, str]) -> pd.Series:
    """Resource types in the API's spelling ("" where unknown), one lookup per distinct value.

    Categorical: the checks compare and look these up a few times each, and on a million rows
    comparing codes is a hundred times cheaper than comparing a million strings."""
    codes, uniques = pd.factorize(s)
    names = [aliases.get(normalise_key(u), "") for u in uniques] + [""]  # the last: a missing cell
    name_codes, categories = pd.factorize(np.asarray(names, dtype=object))
    return pd.Series(pd.Categorical.from_codes(name_codes[codes], categories=categories), index=s.index)


def _required(column: str):
    return (RowCheck(column, f"{column}.required", f"{{{column}}} is blank"), lambda s: ~_blank(s))


def _shows_error(column: str, error):
    """A cell showing a formula's error (#N/A): the formula is what to fix, not the characters."""
    return (RowCheck(column, f"{column}.error", f"{{{column}}} shows the Excel error '{{value}}' instead of a "
                                                "value; fix the formula (or the cells it uses) in the workbook"),
            lambda s: ~error(s))


def _id_checks(column: str, required: bool, matches):
    checks = [_required(column)] if required else []
    error = lambda s: matches(s, EXCEL_ERROR)  # noqa: E731
    return checks + [
        _shows_error(column, error),
        (RowCheck(column, f"{column}.whole", f"{{{column}}} '{{value}}' is not a whole number"),
         lambda s: _blank(s) | matches(s, WHOLE) | error(s)),
        (RowCheck(column, f"{column}.positive", f"{{{column}}} '{{value}}' must be greater than 0"),
         lambda s: _blank(s) | ~matches(s, WHOLE) | matches(s, POSITIVE)),
        (RowCheck(column, f"{column}.size", f"{{{column}}} '{{value}}' is too large to be an id (at most 15 digits)"),
         lambda s: _blank(s) | ~matches(s, WHOLE) | matches(s, SIZED)),
    ]


def _serial_number_checks(matches):
    column = "serial_number"
    damaged = lambda s: matches(s, SCIENTIFIC)  # noqa: E731
    error = lambda s: matches(s, EXCEL_ERROR)  # noqa: E731
    return [
        _shows_error(column, error),
        (RowCheck(column, f"{column}.scientific",
                  "{serial_number} '{value}' was damaged by Excel (shown in scientific notation); "
                  "format the column as Text and enter the serial again"),
         lambda s: ~damaged(s)),
        (RowCheck(column, f"{column}.dot_zero",
                  "{serial_number} '{value}' ends in '.0' as Excel writes numbers; "
                  "format the column as Text and enter the serial again"),
         lambda s: ~matches(s, EXCEL_DOT_ZERO)),
        (RowCheck(column, f"{column}.length", f"{{serial_number}} '{{value}}' is longer than {SERIAL_MAX_LENGTH} characters"),
         lambda s: s.str.len() <= SERIAL_MAX_LENGTH),
        (RowCheck(column, f"{column}.chars",
                  "{serial_number} '{value}' has characters Katana does not allow "
                  "(only letters, digits, spaces and - _ / , .)"),
         lambda s: _blank(s) | damaged(s) | matches(s, SERIAL_CHARS) | error(s)),
    ]


def failure_messages(error: pa.errors.SchemaErrors, checks: dict[str, RowCheck], sheets: pd.Series,
                     words: dict[str, dict[str, str]]) -> pd.Series:
    """One message per failing row (checks joined with '; '), indexed like the rows.

    ``sheets`` names each row's sheet and ``words`` each sheet's words for the
    fields (:func:`field_words`), so a message speaks of the row's own columns.
    """
    cases = error.failure_cases
    cases = cases[cases["index"].notna() & cases["check"].isin(checks.keys())]
    cases = cases.drop_duplicates(["index", "check"])
    parts = []
    for name, group in cases.groupby("check", sort=False):
        index = group["index"].astype("int64").to_numpy()
        of_sheet = sheets.loc[index].astype(str).to_numpy()
        rendered = np.empty(len(index), dtype=object)
        for sheet in pd.unique(of_sheet):
            mine = of_sheet == sheet
            values = group["failure_case"][mine]
            rendered[mine] = checks[name].render(values, words[sheet]).to_numpy()
        parts.append(pd.DataFrame({"index": index, "order": list(checks).index(name), "message": rendered}))
    if not parts:
        return pd.Series(dtype=object)
    merged = pd.concat(parts).sort_values(["index", "order"], kind="stable")
    return merged.groupby("index", sort=True)["message"].agg("; ".join)
