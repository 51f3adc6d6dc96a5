"""What the command line shows a person: mapping, plan, counts, where the output is.

Kept apart from the library so the notebook and the web page never import a
terminal toolkit; the library reports progress through callbacks instead.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .header import needs_attention, unread_sentence
from .status import COLOURS
from .words import plural

if TYPE_CHECKING:
    from .job import Job
    from .result import RunResult

#: No emoji codes, and every name, path and message from outside passed through ``escape``: a sheet
#: named "week:heart:" or a file "week[bold].csv" is printed as it is, and so is the path of its output.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


def show_mapping(job: Job) -> None:
    """Sheets that may hold rows but were not read come first, and what else is said of a sheet before
    anything is sent (rows it hides), then which column feeds which field."""
    from .report.summary import shown_skipped_sheets, unread_sheets

    for sentence in [*unread_sheets(job.source.skipped), *job.source.sheet_notes]:
        out.print(f"[bold yellow]{escape(sentence)}[/]", soft_wrap=True)
    table = Table(title="Columns read", title_justify="left", show_edge=False)
    for name in ("Sheet", "Field", "Read from"):
        table.add_column(name)
    for sheet, field, where in job.mapping():
        table.add_row(escape(sheet), field, escape(where))
    out.print(table)
    for name, why in shown_skipped_sheets(job.source.skipped):
        if not needs_attention(why):
            out.print(f"[dim]{escape(unread_sentence(name, why))}[/]", soft_wrap=True)


def show_plan(job: Job) -> None:
    from .references import references

    plan = job.plan_detail
    out.print(f"{plan.sentence}.")
    named = references(job.rows)
    if named:
        labels = [label for found in named.values() for label in found]
        both = int(job.rows.loc[labels, "resource_id"].notna().sum())  # counted in the plan above already
        if len(labels) > both:
            only = {ref for ref, found in named.items() if job.rows.loc[found, "resource_id"].isna().any()}
            out.print(f"      and {plural(len(labels) - both, 'row')} naming {plural(len(only), 'resource')} by order "
                      "number, to be looked up in Katana at preview and apply.")
        if both:
            out.print(f"      {plural(both, 'row gives', 'rows give')} both a resource id and an order number: at preview and apply "
                      "Katana is asked whether the two name the same resource.")


def show_counts(result: RunResult) -> None:
    table = Table(title="Rows by status", title_justify="left", show_edge=False)
    table.add_column("Status")
    table.add_column("Rows", justify="right")
    for status, count in sorted(result.counts().items(), key=lambda kv: -kv[1]):
        colour = COLOURS.get(status)
        table.add_row(f"[on #{colour}] [/] {status}" if colour else status, str(count))
    out.print(table)
    if result.error:
        err.print(f"[bold red]Stopped:[/] {escape(result.error)}", soft_wrap=True)
    if result.output:
        out.print(f"Output: {escape(str(result.output))}")


def tell_wait(seconds: float, reason: str) -> None:
    """Why nothing moves for a while: one line on stderr (above the progress bar)."""
    from .estimate import wait_line

    err.print(f"[dim]{escape(wait_line(seconds, reason))}[/]", soft_wrap=True)


def tell_stopping(signal_name: str) -> None:
    """A stop signal came: say what happens now, and how to stop at once."""
    err.print(f"[bold]{signal_name}:[/] stopping. Nothing more is sent; what is in flight is settled and the "
              f"report written. {signal_name} again stops at once.", soft_wrap=True)


@contextmanager
def progress_bar(enabled: bool = True):
    """A progress callback for the library: a bar on a terminal, silence in cron.

    The bar starts at the first update, so what the run announces before
    sending is printed above it rather than through it.
    """
    if not enabled or not err.is_terminal:
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("rows {task.fields[rows]}"), TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task("resources", total=None, rows="0")

    def update(p) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=p.resources_done, total=p.resources_total,
                   rows=f"{p.rows_done}/{p.rows_total}",
                   description=escape(p.message or f"requests {p.requests_done}"))

    try:
        yield update
    finally:
        bar.stop()
