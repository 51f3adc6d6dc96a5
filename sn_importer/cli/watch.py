"""``sn-importer watch DIR``: the command over :mod:`sn_importer.watch`.

It parses the options, runs a :class:`~sn_importer.watch.Watcher` whose log
lines go to stderr, and exits with the worst exit code of the files. A folder
another watcher holds is not an error for cron: one line on stderr, exit code 0.
Every other stop (a missing key, a bad option, a stop signal) is one logfmt
line too, with ``exit=2``, so ``grep 'exit=[12]'`` finds it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import FolderBusy, SnImporterError, UsageError
from ..status import Mode
from .common import BaseUrlOpt, EnvFileOpt, MaxWaitOpt, SandboxOpt, SeedOpt, StallOpt, StateOpt, TemplateOpt

DirArg = Annotated[Path, typer.Argument(metavar="DIR", show_default=False,
                                        help="The folder to watch; inbox/, processing/, done/ and failed/ are created in it.")]
OnceOpt = Annotated[bool, typer.Option("--once", help="Process what is there and exit (the cron form).")]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="Detach the serials (DELETE). Without it the files are previewed.")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Only read and validate the files; never touch the network.")]
IntervalOpt = Annotated[float, typer.Option(help="Seconds between looks at the inbox (without --once).")]
SettleOpt = Annotated[float, typer.Option(help="Seconds a file must have been unchanged before it is claimed.")]


def _log(line: str) -> None:
    """Log lines go to stderr unwrapped and unstyled, one per line, flushed at once."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def watch(folder: DirArg, once: OnceOpt = False, apply: ApplyOpt = False, offline: OfflineOpt = False,
          interval: IntervalOpt = 10.0, settle: SettleOpt = 5.0, template: TemplateOpt = None,
          sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
          state_dir: StateOpt = None, max_wait: MaxWaitOpt = None, stall: StallOpt = 120.0,
          env_file: EnvFileOpt = None) -> None:
    """Process spreadsheets dropped into DIR/inbox: preview (or --apply) each, file it with its results in done/ or failed/."""
    from ..watch import logfmt

    try:
        code = _watch(folder, once, apply, offline, interval, settle, template, sandbox, sandbox_seed, base_url,
                      state_dir, max_wait, stall, env_file)
    except FolderBusy as busy:  # not an error under cron: the other run does the work
        _log(logfmt(level="info", event="busy", dir=busy.root, pid=busy.holder or None, msg=str(busy)))
        raise typer.Exit(0) from None
    except (SnImporterError, OSError, KeyboardInterrupt) as exc:
        _log(logfmt(level="error", event="stopped", dir=folder, exit=2, error=_words(exc)))
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _watch(folder, once, apply, offline, interval, settle, template, sandbox, sandbox_seed, base_url, state_dir,
           max_wait, stall, env_file) -> int:
    from ..watch import Settings, Watcher, logfmt

    if apply and offline:
        raise UsageError("--apply and --offline do not go together: --offline never touches the network")
    mode = Mode.APPLY if apply else Mode.VALIDATE if offline else Mode.PREVIEW
    settings = Settings(mode=mode, template=template, base_url=base_url, sandbox=sandbox,
                        sandbox_seed=sandbox_seed, state_dir=state_dir, settle=settle, interval=interval,
                        client_options={"max_wait": max_wait, "stall_limit": stall}, env_file=env_file)
    watcher = Watcher(folder, settings, log=_log)
    code = watcher.run(once=once)
    if watcher.interrupt.requested:
        _log(logfmt(level="error", event="stopped", dir=folder, exit=code, reason=watcher.interrupt.reason,
                    detail="files in processing/ are resumed by the next run"))
    return code


def _words(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError) and not isinstance(exc, SnImporterError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc)
