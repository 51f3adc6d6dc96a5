"""Rows that name their resource by order number (and SKU): headers, combinations, duplicates.

Offline only: validation checks the shapes; Katana says which id an order number
is at preview and apply (tests/test_apply_orders.py).
"""

from __future__ import annotations

import pytest

import sn_importer as sn
from sn_importer.blank import write_blank_sheet
from sn_importer.template import load_template

from conftest import write_csv, write_xlsx

HEADER = "Resource type,Resource ID,Order number,SKU,Serial number\n"


def rows_of(tmp_path, *lines, header=HEADER):
    job = sn.read(write_csv(tmp_path, header + "".join(line + "\n" for line in lines)))
    return job


@pytest.mark.parametrize(("line", "status", "message"), [
    ("MO,,MO-3001,,A", "valid", ""),
    ("MO,,MO-3001,KNF-01,A", "valid", ""),  # a SKU beside a manufacturing order is not needed; kept
    ("SO row,,SO-1042,KNF-01,A", "valid", ""),
    ("PO row,,PO-77,STL-304,A", "valid", ""),
    ("MO,3001,MO-3001,,A", "valid", ""),  # both: Katana is asked whether they agree
    ("Sales order row,5001,,,A", "valid", ""),
    ("PO row,,PO-77,,A", "invalid",
     "SKU is blank: a sales or purchase order row is found by its Order number and SKU (or give Resource ID)"),
    ("Production,,P-1,,A", "invalid",
     "Order number names only a manufacturing order, purchase order row or sales order row; "
     "give Resource ID for other resource types"),
    ("MO,,,,A", "invalid", "Resource ID and Order number are both blank; give one of them"),
    ("MO,abc,MO-3001,,A", "invalid", "Resource ID 'abc' is not a whole number"),  # the sheet's own header
])
def test_which_combinations_name_a_resource(tmp_path, line, status, message):
    job = rows_of(tmp_path, line)
    assert list(zip(job.rows["status"], job.rows["message"])) == [(status, message)]


def test_order_rows_stay_unplanned_until_katana_resolves_them(tmp_path):
    job = rows_of(tmp_path, "MO,,MO-3001,,A", "MO,3001,,,B", "SO row,,SO-1042,KNF-01,C")
    assert job.rows["order_no"].tolist() == ["MO-3001", "", "SO-1042"]
    assert job.rows["sku"].tolist() == ["", "", "KNF-01"]
    assert job.rows["resource_id"].isna().tolist() == [True, False, True]
    assert job.plan.values.tolist() == [["ManufacturingOrder", 3001, 1, 1]]
    assert job.rows["request"].tolist() == ["", "DELETE ManufacturingOrder 3001 (1/1)", ""]
    assert job.exit_code == 0


def test_duplicates_by_order_number_and_sku(tmp_path):
    job = rows_of(tmp_path, "MO,,MO-3001,,A", "MO,,MO-3002,,A", "MO,,MO-3001,,A",
                  "SO row,,SO-1042,KNF-01,B", "SO row,,SO-1042,KNF-02,B", "SO row,,SO-1042,KNF-01,B")
    assert job.rows["status"].tolist() == ["valid", "valid", "duplicate", "valid", "valid", "duplicate"]
    assert job.rows["message"].tolist()[2] == "the same serial on the same resource is already in row 2"
    assert job.rows["message"].tolist()[5] == "the same serial on the same resource is already in row 5"


@pytest.mark.parametrize(("order_header", "sku_header"), [
    ("Order number", "SKU"), ("MO number", "Item code"), ("SO number", "Variant code"), ("PO number", "sku"),
    ("Order #", "variant-code"), ("order_no", "SKU"),
])
def test_header_aliases(tmp_path, order_header, sku_header):
    path = write_xlsx(tmp_path, {"S": [["Type", order_header, sku_header, "Serial"], ["SO row", "SO-1", "K-1", "A"]]})
    job = sn.read(path)
    assert ("S", "order_no", f"column {order_header!r}") in job.mapping()
    assert ("S", "sku", f"column {sku_header!r}") in job.mapping()
    assert job.rows["status"].tolist() == ["valid"]


def test_a_sheet_by_order_number_alone_is_recognised(tmp_path):
    job = rows_of(tmp_path, "MO,MO-1,A", header="Resource type,Order number,Serial number\n")
    assert job.rows["status"].tolist() == ["valid"]


def test_blank_sheet_of_the_default_template_has_the_order_columns(tmp_path):
    from openpyxl import load_workbook

    path = write_blank_sheet(tmp_path / "blank.xlsx", load_template())
    book = load_workbook(path)
    assert [c.value for c in book["Serials"][1]][:4] == ["Resource type", "Resource id", "Order number", "SKU"]
    instructions = " ".join(str(c.value) for c in book["Instructions"]["A"])
    assert "Order number: instead of the id" in instructions and "SKU: with the order number" in instructions
    filled = write_xlsx(tmp_path, {"Serials": [[c.value for c in book["Serials"][1]],
                                               ["Sales order row", None, "SO-1042", "KNF-01", None, "A"]]})
    assert sn.read(filled).rows["status"].tolist() == ["valid"]  # the blank's own headers read back
