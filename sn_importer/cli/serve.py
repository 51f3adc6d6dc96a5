"""``sn-importer serve``: the web page for operations staff.

Parses the options, checks that the server may start (a key, a template, a
password when it listens beyond loopback), starts one sandbox for the
server's lifetime with ``--sandbox`` (so preview and apply see the same
tenant and share its quota), and serves :func:`sn_importer.web.create_app`
with uvicorn until Ctrl+C.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import BaseUrlOpt, EnvFileOpt, SeedOpt, StateOpt, TemplateOpt, friendly

HostOpt = Annotated[str, typer.Option(
    "--host", help="Address to listen on. Anything but loopback needs --password-env.")]
PortOpt = Annotated[int, typer.Option("--port", help="Port to listen on.")]
PasswordOpt = Annotated[Optional[str], typer.Option(
    "--password-env", metavar="VAR", help="Name of the environment variable that holds the shared login password.")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Start the built-in simulated Katana for the server's lifetime and send every run there.")]
UploadOpt = Annotated[int, typer.Option("--max-upload-mb", min=1, max=1024, help="Largest sheet accepted, in MB.")]
SecureOpt = Annotated[bool, typer.Option(
    "--secure-cookies", envvar="SN_IMPORTER_SECURE_COOKIES",
    help="Mark cookies Secure: the page is reached over HTTPS through a proxy (HTTPS seen directly does it anyway).")]
KeepOpt = Annotated[int, typer.Option(
    "--keep-days", min=1, envvar="SN_IMPORTER_KEEP_DAYS",
    help="Days uploaded sheets and annotated workbooks are kept, then removed.")]
KeepHistoryOpt = Annotated[int, typer.Option(
    "--keep-history-days", min=1, envvar="SN_IMPORTER_KEEP_HISTORY_DAYS",
    help="Days the page keeps a finished run's record (its page and History line).")]


@friendly
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, template: TemplateOpt = None,
          sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
          state_dir: StateOpt = None, password_env: PasswordOpt = None, max_upload_mb: UploadOpt = 20,
          secure_cookies: SecureOpt = False, keep_days: KeepOpt = 30, keep_history_days: KeepHistoryOpt = 365,
          env_file: EnvFileOpt = None) -> None:
    """Serve the web page: upload a sheet, review the check, confirm, download the annotated workbook.

    The key comes from KATANA_API_KEY or the env file, as for apply; it never reaches the browser.
    """
    import uvicorn

    from .. import console
    from ..journal import default_state_dir
    from ..web import WebSettings, create_app
    from ..web.address import announce

    password = _password(host, password_env)
    templates, chosen = _templates(template)
    with ExitStack() as stack:
        base_url, api_key = _connection(stack, sandbox, sandbox_seed, base_url, env_file)
        settings = WebSettings(base_url=base_url, api_key=api_key, state_dir=Path(state_dir or default_state_dir()),
                               template=chosen, templates=templates, max_upload_bytes=max_upload_mb * 2**20,
                               password=password, sandbox=sandbox, secure_cookies=secure_cookies,
                               keep_days=keep_days, keep_history_days=max(keep_history_days, keep_days))
        app = create_app(settings)
        console.out.print(f"sn-importer serve: {announce(host, port)}. Runs go to {settings.target}."
                          " Ctrl+C stops the server.", soft_wrap=True, markup=False)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
        stopped_by = _serve(server)
    if stopped_by:
        console.err.print(f"{stopped_by}: the server stopped; a run in progress stopped sending and was reported.")
        raise typer.Exit(2)


def _serve(server) -> str | None:
    """Serve until SIGINT, SIGTERM or SIGHUP (all three shut down gracefully: a run in progress
    stops sending and writes its report); the name of the signal that stopped it, if one did."""
    import signal

    from ..interrupt import STOP_SIGNALS, signal_name

    got: list[str] = []

    def on_signal(signum, frame) -> None:
        got.append(signal_name(signum))
        server.handle_exit(signum, frame)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return got[0] if got else None


def _password(host: str, password_env: str | None) -> str | None:
    from ..web.security import check_binding

    try:
        return check_binding(host, password_env, os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _templates(template: str | None) -> tuple[dict[str, Path], str]:
    """The templates offered on the page, and the one preselected (``--template``, checked now)."""
    from ..template import available_templates, load_template

    offered = available_templates()
    chosen = load_template(template)  # a broken template stops the server before it starts
    name = next((n for n, p in offered.items() if p.resolve() == chosen.path.resolve()), None)
    if name is None:
        name = chosen.name if chosen.name not in offered else f"{chosen.name} ({chosen.path.name})"
        offered[name] = chosen.path
    return offered, name


def _connection(stack: ExitStack, sandbox: bool, seed: Path | None, base_url: str | None,
                env_file: Path | None) -> tuple[str, str]:
    """The base URL and key: one sandbox for the server's lifetime, or the configured Katana
    (said on stderr before the server starts: ``Katana: api.katanamrp.com (https)``)."""
    from .. import console
    from ..run import NO_KEY, connect
    from ..settings import describe_target

    connection = connect(stack, sandbox=sandbox, sandbox_seed=seed, base_url=base_url, env_file=env_file)
    if not connection.api_key:
        raise UsageError(NO_KEY)
    console.err.print(describe_target(connection.base_url, sandbox), soft_wrap=True, markup=False, highlight=False)
    return connection.base_url, connection.api_key
