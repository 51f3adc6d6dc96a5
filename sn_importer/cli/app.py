"""The ``sn-importer`` application: every command, registered here by name."""

from __future__ import annotations

from typing import Annotated

import typer

from . import apply, preview, sandbox, serve, template, undo, validate, watch
from .common import PlainCommand, PlainGroup

app = typer.Typer(
    cls=PlainGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Detach serial numbers from Katana MRP resources listed in a spreadsheet, and verify every row.",
    context_settings={"help_option_names": ["-h", "--help"]},
    # An uncaught error must never print local variables: they may hold the key or the password.
    pretty_exceptions_show_locals=False,
)


def _show_version(wanted: bool) -> None:
    if wanted:
        from .. import __version__

        typer.echo(f"sn-importer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Detach serial numbers from Katana MRP resources listed in a spreadsheet, and verify every row."""


for _name, _command in (("validate", validate.validate), ("preview", preview.preview), ("apply", apply.apply),
                        ("undo", undo.undo), ("sandbox", sandbox.sandbox),
                        ("template", template.template_sheet), ("watch", watch.watch), ("serve", serve.serve)):
    app.command(_name, cls=PlainCommand)(_command)


def main() -> None:
    from ..memory import pause_collector, tune_for_a_command

    tune_for_a_command()
    pause_collector()  # until the command has loaded what it needs (cli/common.py, ``friendly``)
    app(prog_name="sn-importer")
