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

from . import console, formats
from .errors import SnImporterError, UsageError
from .job import Job, failure_summary

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Detach serial numbers from Katana MRP resources listed in a spreadsheet, and verify every row.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileArg = Annotated[Path, typer.Argument(help=f"The sheet to import ({formats.short_list()}).", show_default=False, readable=False)]
TemplateOpt = Annotated[Optional[str], typer.Option("--template", "-t", help="Template name (see templates/) or path to a .toml file.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the annotated copy (.xlsx or .csv). Default: beside the input.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object with the run's figures on stdout.")]


def _fail(message: str, command: str, kwargs: dict) -> None:
    """One line on stderr, exit 2; with --json also the one JSON object scripts expect."""
    console.err.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True, highlight=False)
    if kwargs.get("as_json"):
        summary = failure_summary(kwargs.get("file"), command, message, kwargs.get("template"))
        sys.stdout.write(json.dumps(summary) + "\n")
    raise typer.Exit(2)


def friendly(command):
    """Turn library and file-system errors into one line on stderr and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SnImporterError as exc:
            _fail(str(exc), command.__name__, kwargs)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}", command.__name__, kwargs)
        except KeyboardInterrupt:
            _fail("interrupted", command.__name__, kwargs)

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
        for note in job.notes:
            console.err.print(note, soft_wrap=True)
    if job.source.row_count == 0 or not job.counts():
        console.err.print("Nothing to import: the sheet has a header but no data rows.")
    finish(job, output, as_json)


SandboxOpt = Annotated[bool, typer.Option("--sandbox", help="Start the built-in simulated Katana on a free loopback port for this run.")]
SeedOpt = Annotated[Optional[Path], typer.Option("--sandbox-seed", help="JSON records for --sandbox (default: the samples' dataset).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option("--base-url", help="Katana API base URL (else KATANA_BASE_URL, else production).")]
StateOpt = Annotated[Optional[Path], typer.Option("--state-dir", help="Where the crash-safety journal lives (default: the user's state directory).")]


def _remote(mode: str, file: Path, template, output, as_json, sandbox, sandbox_seed, base_url, state_dir, fresh=False):
    if sandbox and base_url:
        raise UsageError("--sandbox and --base-url do not go together: the sandbox is a Katana of its own")
    job = Job(file, template)
    if not as_json:
        console.show_mapping(job)
        console.show_plan(job)
    announce = None if as_json else console.out.print
    with console.progress_bar(enabled=not as_json) as progress:
        runner = job.apply if mode == "apply" else job.preview
        runner(base_url=base_url, sandbox=sandbox, sandbox_seed=sandbox_seed, state_dir=state_dir,
               progress=progress, announce=announce, **({"fresh": fresh} if mode == "apply" else {}))
    for note in job.notes:
        if not as_json:
            console.err.print(note, soft_wrap=True)
    finish(job, output, as_json)


@app.command()
@friendly
def preview(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False,
            sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None) -> None:
    """Read-only against Katana: everything apply does except DELETE. Rows become planned or not_on_resource."""
    _remote("preview", file, template, output, as_json, sandbox, sandbox_seed, base_url, None)


@app.command()
@friendly
def apply(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False,
          sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
          state_dir: StateOpt = None,
          fresh: Annotated[bool, typer.Option("--fresh", help="Start over instead of resuming an unfinished run of the same file.")] = False) -> None:
    """Detach the serials listed in FILE: check before, DELETE per resource, verify after, report every row."""
    _remote("apply", file, template, output, as_json, sandbox, sandbox_seed, base_url, state_dir, fresh)


@app.command()
@friendly
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    seed: Annotated[Optional[Path], typer.Option(help="JSON array of SerialNumber records, or {\"data\": [...]}.")] = None,
    api_key: Annotated[str, typer.Option("--api-key", help="The one bearer key accepted.")] = "sandbox",
    rate_limit: Annotated[str, typer.Option("--rate-limit", help="Quota as N/SECONDS.")] = "60/60",
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Share of API requests that answer 500 or drop the connection.")] = 0.0,
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Added latency per request.")] = 0,
) -> None:
    """Run the built-in simulated Katana API on loopback."""
    from .sandbox import parse_rate_limit, serve_forever

    try:  # a bad quota, fail rate or latency is a usage error
        serve_forever(host=host, port=port, seed=seed, api_key=api_key, rate_limit=parse_rate_limit(rate_limit),
                      fail_rate=fail_rate, latency_ms=latency_ms)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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


# Subcommands that live in their own modules register themselves here.
for _module in ("cli_watch", "cli_serve"):
    try:
        __import__(f"{__package__}.{_module}", fromlist=["register"]).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__package__}.{_module}":
            raise


def main() -> None:
    app(prog_name="sn-importer")
