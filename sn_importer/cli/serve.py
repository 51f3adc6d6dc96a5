"""``sn-importer serve``: the web page for operations staff.

Parses the options, checks that the server may start (a key, a template, a
secret always: a one-time link on loopback, else a password or per-person
logins, and TLS or an HTTPS proxy beyond loopback), starts one sandbox for
the server's lifetime with ``--sandbox`` (so preview and apply see the same
tenant and share its quota), and serves :func:`sn_importer.web.create_app`
with uvicorn until Ctrl+C.
"""

from __future__ import annotations

import os
import secrets
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import BaseUrlOpt, EnvFileOpt, SeedOpt, StateOpt, TemplateOpt, friendly

HostOpt = Annotated[str, typer.Option(
    "--host", help="Address to listen on. Anything but loopback needs a password (--password-env or --users-file) "
                   "and TLS (--ssl-certfile, or --behind-https-proxy).")]
PortOpt = Annotated[int, typer.Option("--port", help="Port to listen on.")]
PasswordOpt = Annotated[Optional[str], typer.Option(
    "--password-env", metavar="VAR", help="Name of the environment variable that holds the shared login password. "
                                          "Without it (or --users-file), a one-time login link is printed.")]
UsersOpt = Annotated[Optional[Path], typer.Option(
    "--users-file", metavar="PATH", help="A login each: lines of name:hash made with "
                                          "'python -m sn_importer.web.users NAME'. Your own file, chmod 600.")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Start the built-in simulated Katana for the server's lifetime and send every run there.")]
UploadOpt = Annotated[int, typer.Option("--max-upload-mb", min=1, max=1024, help="Largest sheet accepted, in MB.")]
CertOpt = Annotated[Optional[Path], typer.Option(
    "--ssl-certfile", metavar="PATH", help="Serve HTTPS with this certificate (PEM; may hold the key too).")]
KeyFileOpt = Annotated[Optional[Path], typer.Option(
    "--ssl-keyfile", metavar="PATH", help="The certificate's private key (PEM), when not in --ssl-certfile.")]
ProxyOpt = Annotated[bool, typer.Option(
    "--behind-https-proxy", envvar="SN_IMPORTER_BEHIND_HTTPS_PROXY",
    help="An HTTPS proxy in front speaks to the browsers: cookies Secure, answers with HSTS; lets a non-loopback "
         "--host go without --ssl-certfile.")]
UserHeaderOpt = Annotated[Optional[str], typer.Option(
    "--trusted-user-header", metavar="NAME",
    help="The header in which the proxy names the logged-in person (e.g. X-Remote-User), recorded with each "
         "confirmed run. Only with --behind-https-proxy.")]
AllowedHostOpt = Annotated[Optional[list[str]], typer.Option(
    "--allowed-host", metavar="NAME", help="A host name the page answers to (the proxy's public name); repeatable. "
                                           "localhost, IP addresses and the bound name always are.")]
IdleOpt = Annotated[float, typer.Option(
    "--idle-minutes", min=1, help="Log a browser out after this many minutes without a request.")]
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
          state_dir: StateOpt = None, password_env: PasswordOpt = None, users_file: UsersOpt = None,
          max_upload_mb: UploadOpt = 20, ssl_certfile: CertOpt = None, ssl_keyfile: KeyFileOpt = None,
          behind_https_proxy: ProxyOpt = False, trusted_user_header: UserHeaderOpt = None,
          allowed_host: AllowedHostOpt = None, idle_minutes: IdleOpt = 30, secure_cookies: SecureOpt = False,
          keep_days: KeepOpt = 30, keep_history_days: KeepHistoryOpt = 365, env_file: EnvFileOpt = None) -> None:
    """Serve the web page: upload a sheet, review the check, confirm, download the annotated workbook.

    The key comes from KATANA_API_KEY or the env file, as for apply; it never reaches the browser.
    """
    import uvicorn

    from .. import console
    from ..settings import default_state_dir
    from ..web import WebSettings, create_app
    from ..web.address import announce
    from ..web.guard import allowed_hosts

    tls = _tls(ssl_certfile, ssl_keyfile)
    access = _access(host, password_env, users_file, tls, behind_https_proxy, trusted_user_header)
    templates, chosen = _templates(template)
    with ExitStack() as stack:
        base_url, api_key = _connection(stack, sandbox, sandbox_seed, base_url, env_file)
        settings = WebSettings(base_url=base_url, api_key=api_key, state_dir=Path(state_dir or default_state_dir()),
                               template=chosen, templates=templates, max_upload_bytes=max_upload_mb * 2**20,
                               sandbox=sandbox, secure_cookies=secure_cookies or bool(tls),
                               behind_https_proxy=behind_https_proxy, trusted_user_header=trusted_user_header,
                               allowed_hosts=tuple(allowed_hosts(host, tuple(allowed_host or ()))),
                               idle_seconds=idle_minutes * 60, keep_days=keep_days,
                               keep_history_days=max(keep_history_days, keep_days), **access)
        app = create_app(settings)
        link = f"login?token={settings.token}" if settings.token else ""
        console.out.print(f"sn-importer serve: {announce(host, port, 'https' if tls else 'http', link)}. Runs go "
                          f"to {settings.target}. Ctrl+C stops the server.", soft_wrap=True, markup=False)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                               **tls))
        stopped_by = _serve(server)
    if stopped_by:
        what = ("a run in progress stopped sending and was reported; resume it from its page after the restart"
                if app.state.server.stopped_a_run else "no run was in progress")
        console.err.print(f"{stopped_by}: the server stopped; {what}.")
        raise typer.Exit(2)


def _tls(certfile: Path | None, keyfile: Path | None) -> dict:
    """uvicorn's TLS options, the files checked now (a typo should not wait for the first browser)."""
    if keyfile and not certfile:
        raise UsageError("--ssl-keyfile needs --ssl-certfile (the certificate it belongs to)")
    if not certfile:
        return {}
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use the certificate {certfile}{f' and key {keyfile}' if keyfile else ''}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    return {"ssl_certfile": str(certfile), **({"ssl_keyfile": str(keyfile)} if keyfile else {})}


def _access(host: str, password_env: str | None, users_file: Path | None, tls: dict, behind_proxy: bool,
            trusted_user_header: str | None) -> dict:
    """Who may log in: the shared password, per-person logins, or (neither) a one-time link."""
    from ..web.guard import check_binding
    from ..web.users import Users

    if password_env and users_file:
        raise UsageError("--password-env and --users-file do not go together: give one way to log in")
    users = Users.load(users_file) if users_file else None
    try:
        password = check_binding(host, password_env, os.environ, users=users is not None, tls=bool(tls),
                                 behind_proxy=behind_proxy, trusted_user_header=trusted_user_header)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    token = None if password or users else secrets.token_urlsafe(32)
    return {"password": password, "users": users, "token": token}


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
