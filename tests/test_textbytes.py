"""Answers read from a text column's bytes agree with the patterns and searches they stand in for.

Each fast path (a cell needs quoting, starts like a formula, is an id of plain digits, a serial of
allowed characters, cannot be a damaged number) is compared with the slow, plain answer on cells
made of every kind of character that matters: ASCII digits and signs, the characters that need
quoting, letters beyond ASCII, a digit of another script (which a pattern's ``\\d`` takes),
emoji, blanks and missing cells, in each text dtype and on a slice (an Arrow array with an offset).
"""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pandas as pd
import pytest

from sn_importer import schema
from sn_importer.report.csv_out import csv_lines
from sn_importer.report.rows import defuse_formulas
from sn_importer.textbytes import arrow_text, holding, made_of, starting_with

ALPHABET = list("0123456789") + ["0"] * 4 + list("+-.eE,;|aZ _/=@\"") + ["\t", "\r", "\n", "é", "٣", "😀"]


def _cells(seed: int, count: int = 4000) -> list[str | None]:
    rng = random.Random(seed)
    cells = [None if rng.random() < 0.03 else "".join(rng.choice(ALPHABET) for _ in range(rng.choice(
        [0, 1, 2, 3, 5, 8, 15, 16, 17, 20]))) for _ in range(count)]
    return cells + ["0" * 16, "0" * 15 + "1", "1" * 15, "1" * 16, "0", "00", "+0", "1.0", "1.23E+12", "12345.0",
                    "", "KNF000001", "٣" * 3, "٣.0", "٣e+5", "#N/A", "#DIV/0!", "#n/a", "Err:502", "E", "#"]


@pytest.fixture(params=["str", "string", object], ids=["str", "string", "object"])
def columns(request):
    whole = pd.Series(_cells(7), dtype=request.param)
    return [whole, whole.iloc[5:-3]]


def test_each_shortcut_answers_as_its_pattern(columns):
    for column in columns:
        for pattern in schema._SHORTCUTS:
            slow = column.str.fullmatch(pattern).fillna(False).astype(bool).to_numpy()
            fast = schema._fullmatch(column, pattern)
            wrong = np.flatnonzero(slow != fast)
            assert not len(wrong), (pattern, column.iloc[wrong[:5]].tolist())


def test_byte_questions_answer_as_python_does(columns):
    for column in columns:
        text = arrow_text(column)
        values = [v if isinstance(v, str) else None for v in column.tolist()]
        found = holding(text, ',"\r\n')
        expected = [v is not None and any(c in v for c in ',"\r\n') for v in values]
        assert (found if found is not None else np.zeros(len(values), bool)).tolist() == expected
        assert starting_with(text, "=+-").tolist() == [bool(v) and v[0] in "=+-" for v in values]
        assert starting_with(text, "0123456789", or_beyond_ascii=True).tolist() == \
            [bool(v) and (v[0] in "0123456789" or ord(v[0]) > 127) for v in values]
        assert made_of(text, "0123456789").tolist() == [bool(v) and all(c in "0123456789" for c in v) for v in values]


def test_a_column_nothing_needs_quoting_in_says_so_without_an_array():
    assert holding(arrow_text(pd.Series(["a", "b", None, ""], dtype="str")), ',"\r\n') is None
    assert holding(arrow_text(pd.Series([], dtype="str")), ",") is None


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_lines_quote_as_pythons_csv_module(delimiter):
    rng = random.Random(11)
    rows = [["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(3)] for _ in range(3000)]
    rows = [r for r in rows if any(r)]  # Python's csv quotes a row of one empty field; ours never has one
    columns = [pd.Series([r[i] for r in rows], dtype="str") for i in range(3)]
    expected = io.StringIO(newline="")
    csv.writer(expected, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    assert bytes(csv_lines(columns, delimiter)).decode() == expected.getvalue()


def test_formula_like_text_is_defused_alike_in_every_text_dtype():
    cells = _cells(3, 2000)
    plain = defuse_formulas(pd.Series(cells, dtype=object))
    for dtype in ("str", "string"):
        fast = defuse_formulas(pd.Series(cells, dtype=dtype))
        assert [v if isinstance(v, str) else None for v in fast.tolist()] == \
            [v if isinstance(v, str) else None for v in plain.tolist()]
    assert defuse_formulas(pd.Series(["=1+1", "-4", "@x", "ok"], dtype="str")).tolist() == ["'=1+1", "-4", "'@x", "ok"]
