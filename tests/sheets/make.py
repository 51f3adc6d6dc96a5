"""How the workbooks in this folder were made: as LibreOffice Calc saves them.

Each case is laid out with openpyxl (merged cells, formulas without values),
then opened and saved by LibreOffice, which computes the formulas and writes
the file the way a person's spreadsheet application does. The tests read the
saved files and need no office suite; run this only to make them again::

    python tests/sheets/make.py        # needs soffice on the PATH
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def punctuated_headers(book: Workbook) -> None:
    """Headers written with punctuation and symbols; a Total row under the first table."""
    orders = book.active
    orders.title = "Orders"
    for row in (["Returns week 12"], [], ["Resource type", "Order no.", "Item SKU", "S/N", "Note"],
                ["Manufacturing order", "MO-3001", None, "A-001", "first"],
                ["Sales order row", "SO-1042", "KNF-01", "B-001", None],
                ["PO row", "PO-77", "STL-304", "C-001", None],
                [], ["Total", None, None, "=COUNTA(D4:D6)", None]):
        orders.append(row)
    stock = book.create_sheet("Stock")
    for row in (["Resource type", "Resource #", "Serial #"], ["Stock adjustment row", 5001, "SN-1"]):
        stock.append(row)
    by_id = book.create_sheet("By id")
    for row in (["Type", "Order ID", "SN"], ["MO", "abc", "X-1"], ["Manufacturing order", 3001, "X-2"],
                ["Invoice", 3001, "X-3"]):
        by_id.append(row)


def grouped_header(book: Workbook) -> None:
    """'Resource' merged over 'Type | ID', 'Serial' over 'ID | Number', 'Note' merged down."""
    ws = book.active
    ws.title = "Serials"
    for row in (["Serials to detach"], ["Resource", None, "Serial", None, "Note"],
                ["Type", "ID", "ID", "Number", None],
                ["MO", 3001, 1001, None, "first"], ["Production", 4001, None, "P-7", None],
                ["SO row", 5001, None, "S-1", "boxed"], ["MO", "30x1", 1002, None, None]):
        ws.append(row)
    ws.merge_cells("A2:B2")
    ws.merge_cells("C2:D2")
    ws.merge_cells("E2:E3")


def skipped_sheet(book: Workbook) -> None:
    """A sheet read whole beside one whose header names no resource: that one is not read."""
    orders = book.active
    orders.title = "Orders"
    for row in (["Resource type", "Resource id", "Serial number"], ["MO", 3001, "A-1"], ["MO", 3001, "A-2"]):
        orders.append(row)
    returns = book.create_sheet("Returns")
    for row in (["Returns to check"], ["from the warehouse"], ["Resource type", "Order ref", "Serial"],
                ["MO", "MO-3001", "R-1"], ["MO", "MO-3002", "R-2"], [], ["SO row", "SO-1042", "R-3"]):
        returns.append(row)


def no_serial_column(book: Workbook) -> None:
    """The only sheet has a title row, and a header that lacks the serial."""
    ws = book.active
    ws.title = "Count"
    for row in (["Stock count March"], [], ["Resource type", "Resource id", "Qty"], ["MO", 3001, 4]):
        ws.append(row)


def totals(book: Workbook) -> None:
    """Two groups with a Subtotal between them, then a Total and a note under the table."""
    ws = book.active
    ws.title = "Serials"
    for row in (["Resource type", "Resource id", "Serial number", "Note"],
                ["MO", 3001, "A-1", None], ["MO", 3001, "A-2", None], ["MO", 3001, "A-3", None],
                ["Subtotal", None, "=COUNTA(C2:C4)", None],
                ["SO row", 5001, "B-1", None], ["SO row", 5001, "B-2", "boxed"],
                [], ["Total", "=SUM(B2:B4)", "=COUNTA(C2:C4)+COUNTA(C6:C7)", None],
                ["Notes: checked by Ann on Monday"]):
        ws.append(row)


def totals_with_a_gap(book: Workbook) -> None:
    """As :func:`totals`, with an incomplete data row inside the table and one at its end."""
    ws = book.active
    ws.title = "Serials"
    for row in (["Resource type", "Resource id", "Serial number", "Note"],
                ["MO", 3001, "A-1", None], ["MO", None, "A-2", "id to look up"], ["MO", 3001, "A-3", None],
                ["SO row", None, "B-1", None],
                [], ["Total", None, "=COUNTA(C2:C5)", None]):
        ws.append(row)


CASES = {"punctuated_headers": punctuated_headers, "grouped_header": grouped_header,
         "skipped_sheet": skipped_sheet, "no_serial_column": no_serial_column, "totals": totals,
         "totals_with_a_gap": totals_with_a_gap}
#: Saved by LibreOffice as CSV as well (its own export of the first sheet).
AS_CSV = ("grouped_header",)


def convert(source: Path, target_dir: Path, to: str) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", to, "--outdir", str(target_dir), str(source)],
                   check=True, capture_output=True, timeout=120)
    return target_dir / f"{source.stem}.{to.split(':')[0]}"


def main() -> int:
    if not shutil.which("soffice"):
        print("soffice (LibreOffice) is not on the PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        laid_out, saved = Path(scratch) / "laid_out", Path(scratch) / "saved"
        laid_out.mkdir()
        saved.mkdir()
        for name, build in CASES.items():
            book = Workbook()
            build(book)
            book.save(laid_out / f"{name}.xlsx")
            made = convert(laid_out / f"{name}.xlsx", saved, "xlsx:Calc MS Excel 2007 XML")
            shutil.copyfile(made, HERE / made.name)
            if name in AS_CSV:
                text = convert(made, laid_out, "csv:Text - txt - csv (StarCalc):44,34,76")
                shutil.copyfile(text, HERE / text.name)
            print(f"made tests/sheets/{name}.xlsx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
