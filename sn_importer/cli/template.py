"""``sn-importer template``: a blank, ready-to-fill workbook for staff."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import JsonOpt, TemplateOpt, friendly


@friendly
def template_sheet(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the blank sheet (.xlsx).")] = Path("serial-numbers-template.xlsx"),
    template: TemplateOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a blank, ready-to-fill .xlsx for staff: headers, a drop-down of resource types, instructions."""
    from .. import console
    from ..blank import write_blank_sheet
    from ..result import no_requests
    from ..template import load_template

    if output.suffix.lower() != ".xlsx":
        what = f"has the extension {output.suffix!r}" if output.suffix else "has no extension"
        raise UsageError(f"the output {str(output)!r} {what}; the blank sheet is an .xlsx workbook")
    if output.exists() and not force:
        raise UsageError(f"{output} exists already; pass --force to overwrite it")
    chosen = load_template(template)
    path = write_blank_sheet(output, chosen)
    if as_json:
        sys.stdout.write(json.dumps(_summary(path, chosen.name, no_requests())) + "\n")
    else:
        console.out.print(f"Blank sheet written: {path}", markup=False)


def _summary(path: Path, template: Optional[str], requests: dict) -> dict:
    """The ``--json`` object of ``template``: the keys every command prints, nothing read or sent."""
    return {"input": None, "output": str(path), "mode": "template", "template": template, "rows": 0,
            "statuses": {}, "requests": requests, "exit_code": 0}
