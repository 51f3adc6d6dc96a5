"""The blank sheet staff fill in: the template's headers, a drop-down of
resource types, the serial column formatted as text (so Excel cannot damage
serials), and an instructions sheet."""

from __future__ import annotations

from pathlib import Path

from .report import atomic_path
from .template import RESOURCE_TYPES, Template

INSTRUCTIONS = [
    "One row per serial number to detach from a resource.",
    "resource_type: pick from the list (Manufacturing order, Sales order row, ...).",
    "resource_id: the id of the order or row in Katana, a whole number.",
    "serial_id: the serial-number record id, if you know it; else leave it blank.",
    "serial_number: the serial as printed on the label (kept as text: leading zeros are safe).",
    "Give serial_id or serial_number (or both: they must then be the same serial).",
    "Other columns are kept as they are in the results file.",
    "Check the sheet first: sn-importer validate FILE; then sn-importer preview FILE.",
]


def write_blank_sheet(path: Path, template: Template) -> Path:
    import xlsxwriter

    fields = [f for f, spec in template.fields.items() if spec.value is None]
    headers = fields + ["note"]
    with atomic_path(Path(path)) as tmp:
        with xlsxwriter.Workbook(str(tmp)) as book:
            bold = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
            text = book.add_format({"num_format": "@"})
            sheet = book.add_worksheet("Serials")
            for col, name in enumerate(headers):
                sheet.write_string(0, col, name, bold)
                sheet.set_column(col, col, 24, text if name == "serial_number" else None)
            if "resource_type" in fields:
                col = fields.index("resource_type")
                sheet.data_validation(1, col, 5000, col, {
                    "validate": "list", "source": list(RESOURCE_TYPES),
                    "error_title": "Unknown resource type",
                    "error_message": "Pick a resource type from the list.",
                })
            for name in ("resource_id", "serial_id"):
                if name in fields:
                    col = fields.index(name)
                    sheet.data_validation(1, col, 5000, col, {
                        "validate": "integer", "criteria": ">", "value": 0,
                        "error_message": f"{name} is a whole number above 0.",
                    })
            sheet.freeze_panes(1, 0)
            notes = book.add_worksheet("Instructions")
            notes.set_column(0, 0, 100)
            for row, line in enumerate(INSTRUCTIONS):
                notes.write_string(row, 0, line)
        return Path(path)
