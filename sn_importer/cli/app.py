"""The ``sn-importer`` application: every command, registered here by name."""

from __future__ import annotations

import sys
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
    try:
        app(prog_name="sn-importer")
    except SystemExit as exc:
        _leave(exc)


def _leave(exc: SystemExit) -> None:
    """End the process of a command that read a sheet once it is done, without tearing the
    interpreter down.

    Tearing down frees every object of pandas, pandera and pyarrow one by one (about 40 ms of a
    command that checks ten rows) to hand memory back to a system that takes it all at exit anyway.
    What must happen still does: the output streams are flushed and the exit handlers run (log and
    temporary-file clean-up among them). The servers (``serve``, ``watch``, ``sandbox``), a process
    with a thread still working, and an exit that carries a message end the usual way."""
    import atexit
    import os
    import threading

    from . import common

    code = exc.code if exc.code is not None else 0
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if not common.sheet_command_ran or not isinstance(code, int) or others:
        raise exc
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away: nothing more can reach it
            pass
    atexit._run_exitfuncs()
    os._exit(code)
