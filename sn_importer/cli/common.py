"""What the commands share: option types, error handling, how a result ends a command.

Errors of the library become one line on stderr and exit code 2 (with
``--json`` also the one JSON object scripts expect); otherwise the exit code
comes from the run result (0 all rows reached the goal, 1 some need
attention). Nothing heavy is imported at load time.
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .. import formats
from ..errors import SnImporterError

if TYPE_CHECKING:
    from ..result import RunResult

FileArg = Annotated[Path, typer.Argument(help=f"The sheet to import ({formats.short_list()}).", show_default=False,
                                         readable=False, metavar="FILE")]
TemplateOpt = Annotated[Optional[str], typer.Option("--template", "-t",
                                                    help="A shipped template's name (see templates/), or the path of a .toml file of "
                                                         "your own (./mine.toml).")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Where to write the annotated copy (.xlsx or .csv). Default: beside the input.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object with the run's figures on stdout.")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Start the built-in simulated Katana on a free loopback port for this run.")]
SeedOpt = Annotated[Optional[Path], typer.Option(
    "--sandbox-seed", help="JSON records for --sandbox (default: the samples' dataset).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(
    "--base-url", help="Katana API base URL (else KATANA_BASE_URL, else the env file, else production); plain "
                       "http:// only for a Katana on this computer.")]
QuotaShareOpt = Annotated[Optional[str], typer.Option(
    "--quota-share", help="Share of the tenant's rate-limit window sn-importer may use, e.g. 0.5 or 50% (else "
                          "KATANA_QUOTA_SHARE, else 80%); the rest is left to the tenant's other integrations.")]
EnvFileOpt = Annotated[Optional[Path], typer.Option(
    "--env-file", metavar="PATH",
    help="Read KATANA_API_KEY (and KATANA_BASE_URL, KATANA_QUOTA_SHARE) from this file, which must be yours and "
         "writable by you alone. Default: .env in your config folder (~/.config/sn-importer/.env); never the "
         "current folder.")]
StateOpt = Annotated[Optional[Path], typer.Option(
    "--state-dir", help="Where the crash-safety journal lives (default: the user's state directory).")]
MaxWaitOpt = Annotated[Optional[float], typer.Option(
    "--max-wait", metavar="SECONDS", min=0,
    help="The longest wait Katana may ask for (Retry-After, quota reset) before the run stops resumably. "
         "Default: one quota window.")]
StallOpt = Annotated[float, typer.Option(
    "--stall", metavar="SECONDS", min=1,
    help="Stop the run resumably when no request has succeeded for this long.")]


class PlainCommand(TyperCommand):
    """Help that reads like its peers': ``FILE`` in the usage line (not ``{file}``)
    and switches shown without a value placeholder (not ``--force <bool>``)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def get_params(self, ctx) -> list:
        return plain_flags(super().get_params(ctx))


class PlainGroup(TyperGroup):
    """The top level: ``--version`` and ``--help`` shown as the switches they are."""

    def get_params(self, ctx) -> list:
        return plain_flags(super().get_params(ctx))


def plain_flags(params: list) -> list:
    """Switches take no value, so their help shows none (typer would show ``<bool>``)."""
    for param in params:
        if param.param_type_name == "option" and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


#: Command functions whose name is not the command's (``template`` is also an option's name).
_COMMAND_NAMES = {"template_sheet": "template"}


def fail(message: str, command: str, kwargs: dict) -> None:
    """One line on stderr, exit 2; with --json also the one JSON object scripts expect."""
    from .. import console
    from ..result import failure_summary

    from rich.markup import escape

    console.err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True, highlight=False)
    if kwargs.get("as_json"):
        command = _COMMAND_NAMES.get(command, command)
        summary = failure_summary(kwargs.get("file"), command, message, kwargs.get("template"))
        sys.stdout.write(json.dumps(summary) + "\n")
    raise typer.Exit(2)


#: What a command that reads a sheet loads before it starts (see ``memory.loaded``).
_LOADS = {name: ("sn_importer.job", "sn_importer.console") for name in ("validate", "preview", "apply", "undo")}
#: The commands whose ``file`` is the sheet they read: a workbook is parsed while they load (workbook_cells.py).
_READ_AHEAD = {"validate", "preview", "apply"}
#: Whether this process ran one of ``_LOADS``'s commands: once done, it ends without tearing down (app.py).
sheet_command_ran = False


def friendly(command):
    """Turn library and file-system errors into one line on stderr and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        global sheet_command_ran
        from ..memory import loaded

        sheet_command_ran = sheet_command_ran or command.__name__ in _LOADS
        if command.__name__ in _READ_AHEAD and kwargs.get("file") is not None:
            from ..workbook_cells import read_ahead

            read_ahead(kwargs["file"], kwargs.get("template"))
        loaded(*_LOADS.get(command.__name__, ()))
        try:
            return command(*args, **kwargs)
        except SnImporterError as exc:
            fail(str(exc), command.__name__, kwargs)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}", command.__name__, kwargs)
        except KeyboardInterrupt:
            fail("interrupted", command.__name__, kwargs)

    return wrapper


def prove_output(job, output: Optional[Path]) -> Path:
    """The output path, proven usable before anything is run or sent (default: beside the input)."""
    from ..report import default_output_path, prove_writable

    target = output or default_output_path(job.path, job.source.kind)
    prove_writable(target, job.path)
    return target


def finish(result: RunResult, output: Optional[Path], as_json: bool, *, target: Optional[Path] = None,
           state_dir: Optional[Path] = None, interrupted: bool = False) -> None:
    """Write the output (where there is room when its place refuses it), show or print the result,
    exit with the result's code: 2 when the report is not where it should be, or a stop signal came.
    ``--json``'s ``exit_code`` is always the process's."""
    from .. import console
    from ..landing import row_statuses, write_landing
    from ..settings import target_facts
    from ..status import Origin

    result.origin = Origin.COMMAND_LINE
    aim = target or output or result.path
    said = len(result.notes)
    landed = write_landing(result.write, output, aim, state_dir, result.run_id, result.path)
    if not as_json:  # what writing did besides: a file found at the output's place and kept aside
        for note in result.notes[said:]:
            console.err.print(note, soft_wrap=True, markup=False)
    code = 2 if landed.refused or interrupted else result.exit_code
    if as_json or landed.where is None:
        summary = result.summary() | {"exit_code": code}
        if result.base_url:
            summary["katana"] = target_facts(result.base_url)
        if landed.where is None:  # nowhere took the report: every row's status goes to stdout instead
            summary["rows_status"] = row_statuses(result.rows)
        sys.stdout.write(json.dumps(summary) + "\n")
    if not as_json:
        console.show_counts(result)
    if landed.refused:
        went = f"it was written to {landed.where} instead" if landed.where else \
            "no folder would take it (the state folder and the input's were tried): every row's status is on stdout"
        from rich.markup import escape

        why = f"could not write the report to {aim}: {landed.refused}; {went}"
        console.err.print(f"[bold red]error:[/] {escape(why)}",
                          soft_wrap=True)
    raise typer.Exit(code)


def say_target(sandbox: bool, base_url: Optional[str], env_file: Optional[Path]) -> None:
    """Check where the key would go and say it on stderr before anything is sent:
    ``Katana: api.katanamrp.com (https)``. A refused env file or URL stops here."""
    from .. import console
    from ..settings import describe_target, resolve_connection

    if sandbox:
        line = "Katana: the built-in sandbox on 127.0.0.1 (http)"
    else:
        line = describe_target(resolve_connection(base_url, env_file=env_file).base_url)
    console.err.print(line, soft_wrap=True, markup=False, highlight=False)


def remote(mode: str, file: Path, template, output, as_json, sandbox, sandbox_seed, base_url, state_dir=None,
           fresh=False, max_wait: Optional[float] = None, stall: float = 120.0, quota_share=None,
           env_file: Optional[Path] = None, recheck: Optional[float] = None) -> None:
    """``preview`` and ``apply``: read, show what was read, prove the report's place writable, say
    where the key goes, run against Katana (SIGINT, SIGTERM and SIGHUP stop it gracefully), finish."""
    from .. import console
    from ..errors import UsageError
    from ..interrupt import stop_signals
    from ..job import Job
    from ..settings import resolve_quota_share
    from ..status import Mode, Origin

    mode = Mode(mode)
    if sandbox and base_url:
        raise UsageError("--sandbox and --base-url do not go together: the sandbox is a Katana of its own")
    share = resolve_quota_share(quota_share, env_file=env_file)
    job = Job(file, template)
    target = prove_output(job, output)
    say_target(sandbox, base_url, env_file)
    if not as_json:
        console.show_mapping(job)
        console.show_plan(job)
    announce = None if as_json else console.out.print
    extra = {"fresh": fresh, **({"recheck": recheck} if recheck is not None else {})} if mode == Mode.APPLY else {}
    options = {"max_wait": max_wait, "stall_limit": stall, "on_wait": console.tell_wait}
    with stop_signals(on_signal=console.tell_stopping) as interrupt:
        with console.progress_bar(enabled=not as_json) as progress:
            runner = job.apply if mode == Mode.APPLY else job.preview
            result = runner(base_url=base_url, sandbox=sandbox, sandbox_seed=sandbox_seed, progress=progress,
                            announce=announce, state_dir=state_dir, interrupt=interrupt, client_options=options,
                            quota_share=share, env_file=env_file, origin=Origin.COMMAND_LINE, **extra)
        if not as_json:
            for note in result.notes:
                console.err.print(note, soft_wrap=True, markup=False)
            if result.apply_estimate:  # the sentence the page shows beside its confirm button
                console.out.print(f"{result.apply_estimate}.", soft_wrap=True, markup=False, highlight=False)
        finish(result, output, as_json, target=target, state_dir=state_dir, interrupted=interrupt.requested)
