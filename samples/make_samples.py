"""Regenerate the sample sheets and the sandbox dataset that matches them.

Run ``python samples/make_samples.py`` from the repository root. The sample
workbook is what an operations person would hand over: a title above the
header, staff spellings of resource types, a second sheet, a hidden sheet, an
instructions sheet, and a few rows with mistakes in them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
DATE = "2026-11-20T09:30:00.000Z"


def record(id_, serial, rtype, rid, qty=1):
    return {"id": id_, "transaction_id": f"tx-{rtype[:2].lower()}-{rid}", "serial_number": serial,
            "resource_type": rtype, "resource_id": rid, "transaction_date": DATE, "quantity_change": qty}


def seed_records() -> list[dict]:
    records = []
    for n in range(6):  # MO 3001: KNF000001001..06
        records.append(record(1001 + n, f"KNF00000{1001 + n}", "ManufacturingOrder", 3001))
    for n in range(4):  # MO 3002
        records.append(record(1101 + n, f"KNF00000{1101 + n}", "ManufacturingOrder", 3002))
    records.append(record(1201, "000123", "ManufacturingOrder", 3003))
    records.append(record(1202, "000124", "ManufacturingOrder", 3003))
    # one serial made to order: on the production, the MO and the sales-order row at once
    for rtype, rid in (("Production", 4001), ("ManufacturingOrder", 3004), ("SalesOrderRow", 5001)):
        records.append(record(2001, "KNF000002001", rtype, rid))
    records.append(record(2002, "KNF000002002", "SalesOrderRow", 5001))
    for n in range(3):
        records.append(record(3001 + n, f"PO-77-{n + 1:03d}", "PurchaseOrderRow", 7001))
    records.append(record(4001, "ADJ 2026/11", "StockAdjustmentRow", 8001, qty=-1))
    records.append(record(4101, "KNF000004101", "StockTransferRow", 9001))
    records.append(record(4201, "KNF000004201", "SalesOrderFulfillmentRow", 9501))
    # MO-3001 (id 8301): order numbers are not ids. KNF000001006 also sits on the MO whose id is 3001.
    for n in range(3):
        records.append(record(5001 + n, f"KNF00000{5001 + n}", "ManufacturingOrder", 8301))
    records.append(record(1006, "KNF000001006", "ManufacturingOrder", 8301))
    for n in range(2):  # two rows of KNF-02 on SO-1042: only a row id can say which
        records.append(record(2101 + n, f"KNF00000{2101 + n}", "SalesOrderRow", 5002 + n))
    return records


#: The orders the records sit on, as Katana numbers them: ids are not the order numbers staff see.
ORDER_TABLES = {
    "manufacturing_orders": [{"id": 3001, "order_no": "MO-2917"}, {"id": 3002, "order_no": "MO-2918"},
                             {"id": 3003, "order_no": "MO-2919"}, {"id": 3004, "order_no": "MO-2920"},
                             {"id": 8301, "order_no": "MO-3001"}],
    "sales_orders": [{"id": 601, "order_no": "SO-1042"}],
    "sales_order_rows": [{"id": 5001, "sales_order_id": 601, "variant_id": 201},
                         {"id": 5002, "sales_order_id": 601, "variant_id": 202},
                         {"id": 5003, "sales_order_id": 601, "variant_id": 202}],
    "purchase_orders": [{"id": 701, "order_no": "PO-77"}],
    "purchase_order_rows": [{"id": 7001, "purchase_order_id": 701, "variant_id": 301}],
    "variants": [{"id": 201, "sku": "KNF-01"}, {"id": 202, "sku": "KNF-02"}, {"id": 301, "sku": "STL-304"}],
}


ORDERS = [
    ("ManufacturingOrder", 3001, 1001, "", "first article"),
    ("Manufacturing order", 3001, 1002, "", ""),
    ("MO", "3001", "", "KNF000001003", "by label"),
    (" manufacturing-order ", 3001, 1004, "KNF000001004", "id and label"),
    ("MO", 3001, 1999, "", "not on this order"),
    ("MO", 3002, "", "KNF000001101", ""),
    ("MO", 3002, "", "KNF000001102", "=HYPERLINK(\"http://example.com\")"),
    ("MO", 3003, "", "000123", "leading zeros"),
    ("Production", 4001, 2001, "", "made to order"),
    ("Invoice", 3001, 1005, "", "not a resource type"),
    ("MO", "abc", 1006, "", "typo in order id"),
    ("MO", 3002, "", "1.23E+12", "Excel damaged"),
    ("MO", -4, 1103, "", "negative id"),
    ("MO", 3001, 1001, "", "repeated"),
    (None, None, None, None, None),
    ("MO", 3002, "", "", "no serial"),
]

SALES = [
    ("Sales order row", 5001, 2001, "", "detach from the SO row only"),
    ("SO row", 5001, "", "KNF000002002", ""),
    ("PO row", 7001, 3001, "", ""),
    ("Purchase order row", 7001, "", "PO-77-002", ""),
    ("Stock adjustment row", 8001, "", "ADJ 2026/11", ""),
    ("Stock transfer", 9001, 4101, "", ""),
    ("Sales order fulfillment row", 9501, 4201, "", ""),
    ("SO row", 5001, 4201, "", "sits on a fulfillment row"),
]

HEADER = ["Resource type", "Resource ID", "Serial ID", "Serial number", "Note"]

#: The same job as staff know it: order numbers and SKUs, resolved through Katana.
BY_ORDER_HEADER = ["Resource type", "Order number", "SKU", "Serial number", "Note"]
BY_ORDER = [
    ("MO", "MO-3001", "", "KNF000005001", ""),
    ("MO", "MO-3001", "", "KNF000001006", "also on MO-2917: only MO-3001's is detached"),
    ("Sales order row", "SO-1042", "KNF-01", "KNF000002002", ""),
    ("PO row", "PO-77", "STL-304", "PO-77-003", ""),
    ("Sales order row", "SO-1042", "KNF-02", "KNF000002101", "two rows of KNF-02 on SO-1042"),
    ("MO", "MO-404", "", "KNF000005002", "no such order"),
]


def write_workbook(path: Path) -> None:
    wb = Workbook()
    orders = wb.active
    orders.title = "Orders"
    orders.append(["Serial numbers to detach — week 48"])
    orders.append([])
    orders.append(HEADER)
    for row in ORDERS:
        orders.append(list(row))
    for cell in orders["D"][3:]:
        cell.number_format = "@"
    for cell in orders["E"]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"  # text a person typed, not a live formula
    sales = wb.create_sheet("Sales and purchasing")
    sales.append(HEADER)
    for row in SALES:
        sales.append(list(row))
    hidden = wb.create_sheet("Old")
    hidden.append(HEADER)
    hidden.append(["MO", 3001, 1006, "", "hidden sheets are not read"])
    hidden.sheet_state = "hidden"
    notes = wb.create_sheet("Instructions")
    notes.append(["Fill one row per serial. Ask operations if unsure."])
    wb.save(path)


def write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in ORDERS + SALES:
            writer.writerow(["" if v is None else v for v in row])


def write_by_order(path: Path) -> None:
    wb = Workbook()
    sheet = wb.active
    sheet.title = "By order number"
    sheet.append(BY_ORDER_HEADER)
    for row in BY_ORDER:
        sheet.append(list(row))
    for column in "BCD":
        for cell in sheet[column]:
            cell.number_format = "@"
    wb.save(path)


def main() -> None:
    seed = {"serial_numbers": seed_records(), **ORDER_TABLES}
    (HERE / "katana-seed.json").write_text(json.dumps(seed, indent=1) + "\n")
    write_workbook(HERE / "serials.xlsx")
    write_by_order(HERE / "by-order.xlsx")
    write_csv(HERE / "serials.csv")


if __name__ == "__main__":
    main()
