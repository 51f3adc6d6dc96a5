"""``sn-importer watch DIR``: the command over :mod:`sn_importer.watch`.

It parses the options (the shared ones come from :mod:`sn_importer.cli`),
runs a :class:`~sn_importer.watch.Watcher` whose log lines go to stderr, and
exits with the worst exit code of the files. A folder another watcher holds
is not an error for cron: one line on stderr, exit code 0.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer


def _log(line: str) -> None:
    """Log lines go to stderr unwrapped and unstyled, one per line, flushed at once."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    """Add the ``watch`` command to ``app`` (cli.py calls this for every subcommand module)."""
    # Imported here, not at the top: cli.py imports this module while it is itself being loaded.
    # (No ``from __future__ import annotations`` in this module: typer evaluates the option
    # annotations against the module's globals, where these local names do not exist.)
    from .cli import BaseUrlOpt, SandboxOpt, SeedOpt, StateOpt, TemplateOpt, friendly
    from .errors import UsageError
    from .watch import FolderBusy, Settings, Watcher, logfmt

    @app.command()
    @friendly
    def watch(
        folder: Annotated[Path, typer.Argument(metavar="DIR", show_default=False,
                                               help="The folder to watch; inbox/, processing/, done/ and failed/ are created in it.")],
        once: Annotated[bool, typer.Option("--once", help="Process what is there and exit (the cron form).")] = False,
        apply: Annotated[bool, typer.Option("--apply", help="Detach the serials (DELETE). Without it the files are previewed.")] = False,
        offline: Annotated[bool, typer.Option("--offline", help="Only read and validate the files; never touch the network.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between looks at the inbox (without --once).")] = 10.0,
        settle: Annotated[float, typer.Option(help="Seconds a file must have been unchanged before it is claimed.")] = 5.0,
        template: TemplateOpt = None,
        sandbox: SandboxOpt = False,
        sandbox_seed: SeedOpt = None,
        base_url: BaseUrlOpt = None,
        state_dir: StateOpt = None,
    ) -> None:
        """Process spreadsheets dropped into DIR/inbox: preview (or --apply) each, file it with its results in done/ or failed/."""
        if apply and offline:
            raise UsageError("--apply and --offline do not go together: --offline never touches the network")
        mode = "apply" if apply else "validate" if offline else "preview"
        settings = Settings(mode=mode, template=template, base_url=base_url, sandbox=sandbox,
                            sandbox_seed=sandbox_seed, state_dir=state_dir, settle=settle, interval=interval)
        watcher = Watcher(folder, settings, log=_log)
        try:
            code = watcher.run(once=once)
        except FolderBusy as busy:  # not an error under cron: the other run does the work
            _log(logfmt(level="info", event="busy", dir=busy.root, pid=busy.holder or None, msg=str(busy)))
            raise typer.Exit(0) from None
        raise typer.Exit(code)
