"""``sn-importer undo RESULTS``: put back what an apply removed, and verify every record."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .common import (BaseUrlOpt, EnvFileOpt, JsonOpt, MaxWaitOpt, QuotaShareOpt, SandboxOpt, SeedOpt, StallOpt,
                     StateOpt, friendly, say_target)

if TYPE_CHECKING:
    from ..restore import UndoResult

ResultsArg = Annotated[Path, typer.Argument(
    help="An apply's results: its workbook (<name>.results.xlsx) or its removed-records CSV "
         "(<name>.results.removed.csv).", show_default=False, readable=False, metavar="RESULTS")]
PreviewOpt = Annotated[bool, typer.Option(
    "--preview", help="Only check: list each resource and say what would be put back; send no POST.")]
UndoOutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Where to write the report (.xlsx or .csv). Default: beside RESULTS, with .undo "
                           "before the extension.")]
RecheckOpt = Annotated[float, typer.Option(
    "--recheck", metavar="SECONDS", min=0,
    help="How long a serial Katana said it put back (or whose POST got no answer) is listed again, with "
         "backoff, before it is reported or sent again: a POST may land late.")]


@friendly
def undo(file: ResultsArg, preview: PreviewOpt = False, output: UndoOutputOpt = None, as_json: JsonOpt = False,
         sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
         state_dir: StateOpt = None, max_wait: MaxWaitOpt = None, stall: StallOpt = 120.0,
         quota_share: QuotaShareOpt = None, env_file: EnvFileOpt = None, recheck: RecheckOpt = 15.0) -> None:
    """Put back what an apply removed: list each resource, POST the serials not on it, list again, report every record."""
    from .. import console
    from ..errors import UsageError
    from ..interrupt import stop_signals
    from ..report import prove_writable
    from ..restore.records import read_removed
    from ..restore.run import run_undo
    from ..settings import resolve_quota_share

    if sandbox and base_url:
        raise UsageError("--sandbox and --base-url do not go together: the sandbox is a Katana of its own")
    share = resolve_quota_share(quota_share, env_file=env_file)
    removed = read_removed(file)
    target = output or removed.default_output
    prove_writable(target, removed.path)
    say_target(sandbox, base_url, env_file)
    if not as_json:
        of = f" of apply run {removed.apply_run_id}" if removed.apply_run_id else ""
        console.out.print(f"{'Undo preview' if preview else 'Undo'}: {len(removed)} removed records{of} "
                          f"read from {removed.display_name}.", soft_wrap=True, markup=False)
    options = {"max_wait": max_wait, "stall_limit": stall, "on_wait": console.tell_wait}
    with stop_signals(on_signal=console.tell_stopping) as interrupt:
        with console.progress_bar(enabled=not as_json) as progress:
            result = run_undo(removed, preview=preview, base_url=base_url, sandbox=sandbox, sandbox_seed=sandbox_seed,
                              state_dir=state_dir, progress=progress, announce=None if as_json else console.out.print,
                              client_options=options, interrupt=interrupt, quota_share=share, env_file=env_file,
                              recheck=recheck)
        if not as_json:
            for note in result.notes:
                console.err.print(note, soft_wrap=True, markup=False)
        finish(result, output, target, as_json, state_dir, interrupt.requested)


def finish(result: UndoResult, output: Optional[Path], target: Path, as_json: bool, state_dir: Optional[Path],
           interrupted: bool) -> None:
    """Write the report (where there is room when its place refuses it), show the counts, exit
    with the undo's code (2 when the report is not where it should be, or a stop signal came)."""
    from .. import console
    from ..landing import write_landing
    from ..settings import target_facts
    from ..status import Origin

    result.origin = Origin.COMMAND_LINE
    landed = write_landing(result.write, output, target, state_dir, result.run_id, result.removed.path or target)
    code = 2 if landed.refused or interrupted else result.exit_code
    if as_json or landed.where is None:
        summary = result.summary() | {"exit_code": code}
        if result.base_url:
            summary["katana"] = target_facts(result.base_url)
        if landed.where is None:  # nowhere took the report: every record's status goes to stdout instead
            summary["records_status"] = records_status(result)
        sys.stdout.write(json.dumps(summary) + "\n")
    if not as_json:
        console.show_counts(result)
    if landed.refused:
        went = f"it was written to {landed.where} instead" if landed.where else \
            "no folder would take it: every record's status is on stdout"
        from rich.markup import escape

        why = f"could not write the report to {target}: {landed.refused}; {went}"
        console.err.print(f"[bold red]error:[/] {escape(why)}",
                          soft_wrap=True)
    raise typer.Exit(code)


def records_status(result: UndoResult) -> list[dict]:
    """Every record's status, for stdout when no folder takes the report."""
    import pandas as pd

    columns = ["serial_number", "resource_type", "resource_id", "status", "message", "new_serial_id"]
    return [{c: None if pd.isna(v) else v.item() if hasattr(v, "item") else v for c, v in zip(columns, record)}
            for record in result.rows[columns].astype(object).itertuples(index=False, name=None)]
