"""The blank sheet staff fill in: the template's headers, a drop-down of
resource types, the serial column formatted as text (so Excel cannot damage
serials), and an instructions sheet.

The sheet is built so that its results read well too: the serial record id
column is headed ``Serial record id`` (the results add their own resolved
``serial_id``, so a file made from it never has two columns of that name);
the instructions sheet opens with the title the report recognises, so it is
never listed as a sheet that could not be read; and the instructions name
the resource types exactly as the drop-down offers them.
"""

from __future__ import annotations

from pathlib import Path

from .report import atomic_path
from .header import INSTRUCTIONS_TITLE_WORDS
from .report.summary import TEMPLATE_INSTRUCTIONS_TITLE
from .resource_types import NAMES
from .storage import zip_target
from .resource_types import label as type_label
from .mapping import header_label
from .template import BY_ORDER_NO, Template, normalise_key

SHEET = "Serials"
INSTRUCTIONS_SHEET = "Instructions"

#: Columns formatted as text, so Excel cannot turn "00042" or "1E5" into a number.
TEXT_FIELDS = ("order_no", "sku", "serial_number")

#: Rows the drop-down and the whole-number checks cover.
ROWS = 5000


def choices(template: Template) -> list[str]:
    """The drop-down's entries: each type in words where the template reads those words
    as that type, else as the API spells it."""
    return [type_label(t) if template.resolve_resource_type(type_label(t)) == t else t for t in NAMES]


def headers(template: Template) -> list[tuple[str, str]]:
    """(field, header) of the columns staff fill in, plus a free note column.

    A ``serial_id`` column is headed by a spelling the template reads as
    serial_id but that differs from the results' own ``serial_id`` column;
    when the template knows none, the column is left out (the serial number
    serves).
    """
    out = []
    for name, spec in template.fields.items():
        if spec.value is not None or not _names_fixed_type(template, name):
            continue
        label = header_label(template, name)
        if name == "serial_id" and normalise_key(label) == normalise_key(name):
            label = next((a for a in spec.aliases if normalise_key(a) != normalise_key(name)), None)
            if label is None:
                continue
        out.append((name, label))
    return out + [("note", "Note")]


def _names_fixed_type(template: Template, name: str) -> bool:
    """False for order_no / sku when the template's fixed resource type cannot be named by them."""
    fixed = template.fields["resource_type"].value
    canonical = template.resolve_resource_type(str(fixed)) if fixed is not None else None
    if canonical is None or name not in ("order_no", "sku"):
        return True
    return canonical in BY_ORDER_NO and (name == "order_no" or BY_ORDER_NO[canonical])


#: What each column of the blank sheet means, in the order the instructions list them.
FIELD_HELP = {
    "resource_id": "the id of that order or row in Katana, a whole number (seen in Katana's addresses).",
    "order_no": "instead of the id, the order number as Katana shows it (MO-3001, SO-1042, PO-77); "
                "it is looked up in Katana when the sheet is checked.",
    "sku": "with the order number of a sales or purchase order, the item's SKU: it says which row of the order.",
    "serial_number": "the serial as printed on the label (kept as text: leading zeros are safe).",
    "serial_id": "the serial number's record id in Katana, if you know it; else leave it blank.",
}


def rows_sheet(template: Template) -> str:
    """The name of the sheet staff fill in: one the template reads. A template that reads only
    the sheets it lists ([sheets] include) gets the first of them, so its own blank sheet reads
    back; a name Excel would not take is no sheet of any workbook, and is not used."""
    if template.include_sheets:
        name = template.include_sheets[0].strip()
        if 0 < len(name) <= 31 and not set(name) & set("[]:*?/\\") and not name.startswith("'"):
            return name
    return SHEET


def instructions(template: Template, columns: list[tuple[str, str]], sheet: str = SHEET) -> list[str]:
    """The instructions sheet, line by line; it names exactly what the sheet offers."""
    labels = dict(columns)
    title = TEMPLATE_INSTRUCTIONS_TITLE if sheet == SHEET else sheet.join(INSTRUCTIONS_TITLE_WORDS)
    lines = [title, "", "One row per serial number to detach from a resource in Katana."]
    if "resource_type" in labels:
        lines.append(f"{labels['resource_type']}: pick from the list: {', '.join(choices(template))}.")
    else:
        fixed = str(template.fields["resource_type"].value)
        lines.append(f"Every row is a {type_label(template.resolve_resource_type(fixed) or fixed).lower()} "
                     f"(template {template.name}).")
    lines += [f"{labels[name]}: {help_text}" for name, help_text in FIELD_HELP.items() if name in labels]
    if "serial_id" in labels:
        lines.append(f"Give {labels['serial_id']} or {labels.get('serial_number', 'Serial number')} "
                     "(or both: they must then be the same serial).")
    lines += ["Note, and any column you add, is kept as it is in the results file.", "", *NEXT_STEPS]
    return lines


#: What to do with the filled sheet, for people using the web page and for the command line.
NEXT_STEPS = (
    "When the sheet is filled in:",
    "On the web page: upload this file. The page checks it against Katana and shows each row's status and "
    "what would be detached; nothing changes until you press the confirm button. Download the results "
    "there when it is done.",
    "Or on the command line: sn-importer validate FILE checks the sheet offline; sn-importer preview FILE "
    "shows what would be detached, changing nothing; sn-importer apply FILE detaches and checks every row.",
    "Either way, the results file has a status and a message on every row, and a Summary sheet that says "
    "what to do next.",
)


def write_blank_sheet(path: Path, template: Template) -> Path:
    import xlsxwriter

    columns = headers(template)
    with atomic_path(Path(path)) as tmp:
        with zip_target(tmp) as target, xlsxwriter.Workbook(target) as book:
            bold = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
            text = book.add_format({"num_format": "@"})
            rows_name = rows_sheet(template)
            sheet = book.add_worksheet(rows_name)
            for col, (name, label) in enumerate(columns):
                sheet.write_string(0, col, label, bold)
                sheet.set_column(col, col, 24, text if name in TEXT_FIELDS else None)
                _validation(sheet, col, name, label, template)
            sheet.freeze_panes(1, 0)
            notes = book.add_worksheet(INSTRUCTIONS_SHEET)
            notes.set_column(0, 0, 110)
            title = book.add_format({"bold": True, "font_size": 14})
            for row, line in enumerate(instructions(template, columns, rows_name)):
                notes.write_string(row, 0, line, title if row == 0 else None)
        return Path(path)


def _validation(sheet, col: int, name: str, label: str, template: Template) -> None:
    if name == "resource_type":
        sheet.data_validation(1, col, ROWS, col, {
            "validate": "list", "source": choices(template),
            "error_title": "Unknown resource type",
            "error_message": "Pick a resource type from the list.",
        })
    elif name in ("resource_id", "serial_id"):
        sheet.data_validation(1, col, ROWS, col, {
            "validate": "integer", "criteria": ">", "value": 0,
            "error_message": f"{label} is a whole number above 0.",
        })
