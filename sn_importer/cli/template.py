"""``sn-importer template``: a blank, ready-to-fill workbook for staff."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from .common import TemplateOpt, friendly


@friendly
def template_sheet(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the blank sheet.")] = Path("serial-numbers-template.xlsx"),
    template: TemplateOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a blank, ready-to-fill .xlsx for staff: headers, a drop-down of resource types, instructions."""
    from .. import console
    from ..blank import write_blank_sheet
    from ..template import load_template

    if output.exists() and not force:
        raise UsageError(f"{output} exists already; pass --force to overwrite it")
    path = write_blank_sheet(output, load_template(template))
    console.out.print(f"Blank sheet written: {path}")
