"""The ``sn-importer`` command line: a thin layer over the library.

Each command parses its options, calls the library, and renders the result.
Errors of the library become one line on stderr and exit code 2; the exit
code otherwise comes from the job (0 all rows reached the goal, 1 some need
attention).
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import console
from .errors import SnImporterError, UsageError
from .job import Job

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Detach serial numbers from Katana MRP resources listed in a spreadsheet, and verify every row.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileArg = Annotated[Path, typer.Argument(help="The sheet to import (.xlsx, .xlsm, .csv, .txt).", show_default=False)]
TemplateOpt = Annotated[Optional[str], typer.Option("--template", "-t", help="Template name (see templates/) or path to a .toml file.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the annotated copy (.xlsx or .csv). Default: beside the input.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object with the run's figures on stdout.")]


def _fail(message: str) -> None:
    console.err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


def friendly(command):
    """Turn library errors into one line on stderr and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SnImporterError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted")

    return wrapper


def finish(job: Job, output: Optional[Path], as_json: bool) -> None:
    """Write the output, show or print the result, exit with the job's code."""
    job.write(output)
    if as_json:
        sys.stdout.write(json.dumps(job.summary()) + "\n")
    else:
        console.show_counts(job)
    raise typer.Exit(job.exit_code)


@app.command()
@friendly
def validate(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False) -> None:
    """Offline: read, validate and plan FILE, and write the annotated copy. Never touches the network."""
    job = Job(file, template)
    if not as_json:
        console.show_mapping(job)
        console.show_plan(job)
    if job.source.row_count == 0 or not job.counts():
        console.err.print("Nothing to import: the sheet has a header but no data rows.")
    finish(job, output, as_json)


@app.command("template")
@friendly
def template_sheet(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the blank sheet.")] = Path("serial-numbers-template.xlsx"),
    template: TemplateOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a blank, ready-to-fill .xlsx for staff: headers, a drop-down of resource types, instructions."""
    from .blank import write_blank_sheet
    from .template import load_template

    if output.exists() and not force:
        raise UsageError(f"{output} exists already; pass --force to overwrite it")
    path = write_blank_sheet(output, load_template(template))
    console.out.print(f"Blank sheet written: {path}")


def main() -> None:
    app(prog_name="sn-importer")
