"""Validation: every message kind, several problems on a row, duplicates, blank rows."""

from __future__ import annotations

import pandas as pd
import pytest

import sn_importer as sn
from sn_importer.resource_types import TABLE

from conftest import read_back, write_csv, write_xlsx

HEADER = "resource_type,resource_id,serial_id,serial_number\n"


def check(tmp_path, *lines):
    """Validate CSV data lines under the standard header; return [(status, message)]."""
    job = sn.read(write_csv(tmp_path, HEADER + "".join(line + "\n" for line in lines)))
    return list(zip(job.rows["status"], job.rows["message"]))


#: The drop-down's words, as the blank sheet offers them.
UNKNOWN_INVOICE = ("unknown resource type 'Invoice'; pick one of: " + ", ".join(t.label for t in TABLE)
                   + " (or a short name such as MO or SO row)")


def values(series):
    return [None if pd.isna(v) else v for v in series]


def test_unknown_resource_type_names_the_expected_ones(tmp_path):
    [(status, message)] = check(tmp_path, "Invoice,3001,1,")
    assert status == "invalid"
    assert message == UNKNOWN_INVOICE
    assert "ManufacturingOrder" not in message and "Manufacturing order, Production, Stock adjustment row" in message


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("MO", "ManufacturingOrder"), ("Manufacturing order", "ManufacturingOrder"), (" manufacturing-order ", "ManufacturingOrder"),
    ("SO row", "SalesOrderRow"), ("sales_order_row", "SalesOrderRow"), ("Stock transfer", "StockTransferRow"),
    ("Sales order fulfilment row", "SalesOrderFulfillmentRow"), ("PurchaseOrderRow", "PurchaseOrderRow"),
])
def test_resource_type_spellings(tmp_path, spelling, canonical):
    job = sn.read(write_csv(tmp_path, HEADER + f"{spelling},3001,1,\n"))
    assert job.rows["resource_type"].tolist() == [canonical]
    assert job.rows["status"].tolist() == ["valid"]


@pytest.mark.parametrize(("cell", "message"), [
    ("abc", "resource_id 'abc' is not a whole number"),
    ("3001.5", "resource_id '3001.5' is not a whole number"),
    ("-4", "resource_id '-4' must be greater than 0"),
    ("0", "resource_id '0' must be greater than 0"),
    ("", "resource_id is blank"),
    ("1234567890123456", "resource_id '1234567890123456' is too large to be an id (at most 15 digits)"),
    ("١٠٠٧", "resource_id '١٠٠٧' is not a whole number"),  # digits other than 0-9: not "not greater than 0"
    ("１００８", "resource_id '１００８' is not a whole number"),
])
def test_resource_id_problems(tmp_path, cell, message):
    assert check(tmp_path, f"MO,{cell},1,") == [("invalid", message)]


@pytest.mark.parametrize(("cell", "expected"), [("3001", 3001), ("3001.0", 3001), (" 3001 ", 3001), ("003001", 3001),
                                                ("999999999999999", 999999999999999)])
def test_resource_id_accepted_forms(tmp_path, cell, expected):
    job = sn.read(write_csv(tmp_path, HEADER + f"MO,{cell},1,\n"))
    assert job.rows["status"].tolist() == ["valid"]
    assert values(job.rows["resource_id"]) == [expected]


def test_an_id_a_workbook_holds_as_a_huge_number_is_too_large_not_a_fraction(tmp_path):
    """Excel shows 2**63 as 9.22337E+18; judged by that spelling it was "not a whole number"."""
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", float(2 ** 63), 17.0],
                                       ["MO", 3001.0, 1e20], ["MO", "note", 1e15], ["MO", 999999999999999.0, 18]]})
    assert sn.read(path).rows["message"].tolist() == [
        "resource_id '9223372036854775808' is too large to be an id (at most 15 digits)",
        "serial_id '100000000000000000000' is too large to be an id (at most 15 digits)",
        "resource_id 'note' is not a whole number; serial_id '1000000000000000' is too large to be an id "
        "(at most 15 digits)",
        ""]


def test_resource_id_from_excel_float_cell(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id"], ["MO", 3001.0, 17.0], ["MO", 3001.5, 18]]})
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["valid", "invalid"]
    assert values(job.rows["resource_id"]) == [3001, None]
    assert values(job.rows["serial_id"]) == [17, None]
    assert job.rows["message"].tolist()[1] == "resource_id '3001.5' is not a whole number"


def test_serial_id_problems(tmp_path):
    assert check(tmp_path, "MO,1,x1,", "MO,1,-2,", "MO,1,0,") == [
        ("invalid", "serial_id 'x1' is not a whole number"),
        ("invalid", "serial_id '-2' must be greater than 0"),
        ("invalid", "serial_id '0' must be greater than 0"),
    ]


def test_serial_number_charset(tmp_path):
    lines = ["MO,1,,ADJ 2026/11", 'MO,1,,"a-b_c.d,e"', "MO,1,,SN#1", "MO,1,,Ünï"]
    assert check(tmp_path, *lines) == [
        ("valid", ""), ("valid", ""),
        ("invalid", "serial_number 'SN#1' has characters Katana does not allow (only letters, digits, spaces and - _ / , .)"),
        ("invalid", "serial_number 'Ünï' has characters Katana does not allow (only letters, digits, spaces and - _ / , .)"),
    ]


def test_serial_number_length_32(tmp_path):
    assert check(tmp_path, "MO,1,," + "A" * 32, "MO,1,," + "B" * 33) == [
        ("valid", ""), ("invalid", f"serial_number '{'B' * 33}' is longer than 32 characters")]


def test_both_serial_fields_blank(tmp_path):
    assert check(tmp_path, "MO,1,,") == [("invalid", "serial_id and serial_number are both blank; give one of them")]


def test_several_problems_on_one_row_all_reported(tmp_path):
    [(status, message)] = check(tmp_path, "Invoice,abc,-3,1.23E+12")
    assert status == "invalid"
    assert message == "; ".join([
        UNKNOWN_INVOICE,
        "resource_id 'abc' is not a whole number",
        "serial_id '-3' must be greater than 0",
        "serial_number '1.23E+12' was damaged by Excel (shown in scientific notation); format the column as Text and enter the serial again",
    ])


def test_blank_type_and_id_and_serials(tmp_path):
    [(status, message)] = check(tmp_path, " ,  ,,x")
    assert status == "invalid"
    assert message == "resource_type is blank; resource_id is blank"


def test_duplicate_names_the_earlier_row(tmp_path):
    result = check(tmp_path, "MO,3001,1,", "MO,3001,2,", "Manufacturing order,3001.0,1,", "MO,3001,,KNF-1", "MO,3001,, KNF-1 ")
    assert result == [
        ("valid", ""), ("valid", ""),
        ("duplicate", "the same serial on the same resource is already in row 2"),
        ("valid", ""),
        ("duplicate", "the same serial on the same resource is already in row 5"),
    ]


def test_same_serial_on_different_resources_is_valid(tmp_path):
    result = check(tmp_path, "MO,3001,2001,", "Production,4001,2001,", "SO row,5001,2001,", "MO,3004,2001,")
    assert result == [("valid", "")] * 4


def test_duplicate_of_an_invalid_row_is_not_a_duplicate(tmp_path):
    result = check(tmp_path, "MO,abc,5,", "MO,abc,5,")
    assert [s for s, _ in result] == ["invalid", "invalid"]


def test_duplicate_across_sheets_names_the_sheet(tmp_path):
    path = write_xlsx(tmp_path, {
        "Orders": [["Title"], ["resource_type", "resource_id", "serial_id"], ["MO", 3001, 7], ["MO", 3001, 8]],
        "More": [["resource_type", "resource_id", "serial_id"], ["MO", 3002, 7], ["MO", 3001, 8], ["MO", 3001, 8]],
    })
    job = sn.read(path)
    assert job.rows[["sheet", "row", "status", "message"]].astype(str).values.tolist() == [
        ["Orders", "3", "valid", ""],
        ["Orders", "4", "valid", ""],
        ["More", "2", "valid", ""],
        ["More", "3", "duplicate", "the same serial on the same resource is already in row 4 of sheet 'Orders'"],
        ["More", "4", "duplicate", "the same serial on the same resource is already in row 4 of sheet 'Orders'"],
    ]


def test_wholly_blank_rows_ignored_but_kept_in_order(tmp_path):
    path = write_xlsx(tmp_path, {"S": [["resource_type", "resource_id", "serial_id", "note"],
                                       ["MO", 1, 2, "a"], [None, None, None, None], [None, None, "", None],
                                       ["  ", None, "\t", " "], [None, None, None, 0], ["MO", 1, 3, "b"]]})
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["valid", "", "", "", "invalid", "valid"]
    assert job.counts() == {"valid": 2, "invalid": 1}
    assert job.exit_code == 1
    out = read_back(job.write())["S"]
    assert [r[:5] for r in out] == [
        ["resource_type", "resource_id", "serial_id", "note", "status"],
        ["MO", 1, 2, "a", "valid"],
        [None, None, None, None, None],
        [None, None, None, None, None],
        ["  ", None, "\t", " ", None],
        [None, None, None, 0, "invalid"],
        ["MO", 1, 3, "b", "valid"],
    ]


def test_blank_csv_rows_ignored(tmp_path):
    result = check(tmp_path, "MO,1,2,", ",,,", "", " , , , ", "MO,1,3,")
    assert [s for s, _ in result] == ["valid", "", "", "", "valid"]


def test_exit_code_zero_when_only_valid_and_duplicate(tmp_path):
    job = sn.read(write_csv(tmp_path, HEADER + "MO,1,2,\nMO,1,2,\n"))
    assert job.counts() == {"valid": 1, "duplicate": 1}
    assert job.exit_code == 0


def test_labels_that_only_look_like_exponents_are_valid(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("resource_type,resource_id,serial_number\nMO,1,1E5\nMO,1,2020E01\nMO,1,3E+8\n")
    job = sn.read(path)
    assert job.rows["status"].tolist() == ["valid", "valid", "invalid"]


def test_a_second_column_that_looks_like_a_field_is_named_in_the_notes(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("resource_type,resource_id,serial_number,Serial number\nMO,1,A,B\n")
    job = sn.read(path)
    assert job.rows["serial_number"].tolist() == ["A"]
    assert list(job.notes) == ["Sheet 'two': column 'Serial number' also looks like serial_number; "
                         "only column 'serial_number' was read."]


def test_a_long_sheet_of_few_ids_is_checked_row_by_row_all_the_same(tmp_path):
    """A long column of a few repeated values is checked once per value (the fast way): the
    mistakes far below the first rows, in types and ids, are still found on their own rows."""
    lines = [f"MO,{3000 + n % 40},{10_000 + n}," for n in range(20_000)]
    mistakes = {17_001: "MO,abc,1,", 18_002: "MO,-4,2,", 18_003: "Invoice,3001,3,", 19_004: "MO,12345678901234567,4,",
                19_500: "MO,3001,x9,"}
    for at, line in mistakes.items():
        lines[at] = line
    rows = check(tmp_path, *lines)
    assert {n for n, (status, _) in enumerate(rows) if status != "valid"} == set(mistakes)
    assert rows[17_001][1] == "resource_id 'abc' is not a whole number"
    assert rows[18_002][1] == "resource_id '-4' must be greater than 0"
    assert rows[18_003][1] == UNKNOWN_INVOICE
    assert rows[19_004][1] == "resource_id '12345678901234567' is too large to be an id (at most 15 digits)"
    assert rows[19_500][1] == "serial_id 'x9' is not a whole number"


def test_a_workbooks_numbers_made_text_at_once_read_as_one_by_one():
    """A column of floats (as calamine gives a workbook's numbers) is made text in one step: each
    cell reads as the cell-by-cell rule reads it (whole numbers without '.0', large ones in E
    notation, fractions as Python writes them, blanks empty)."""
    import math
    import random

    from sn_importer.cell_text import cell_text, cells_as_text

    pool = [0.0, -0.0, 1.0, -1.0, 3000.0, 1e15, 1e15 - 1, -1e15 + 1, 1.5, -2.25, 1e16, 1.2345678e20, 1e-7,
            math.inf, -math.inf, math.nan, None, 123456789012345.0, 0.1, 2.0 ** 53, 4503599627370495.5]
    chance = random.Random(19)
    for _ in range(200):
        cells = [chance.choice(pool) if chance.random() < 0.5 else chance.uniform(-1e16, 1e16) * chance.choice(
            [1, 1e-10, 1e-3]) for _ in range(chance.randint(1, 50))]
        if chance.random() < 0.4:
            cells = [float(round(c)) if isinstance(c, float) and math.isfinite(c) else c for c in cells]
        column = pd.Series(cells, dtype=object)
        if pd.api.types.infer_dtype(column, skipna=True) != "floating":
            continue
        assert cells_as_text(column).tolist() == ["" if c is None else cell_text(c) for c in cells], cells
