"""Who may reach the page at all: binding rules, host names, login, the proxy's header, headers.

- **Binding** (:func:`check_binding`, used by ``sn-importer serve`` before it
  starts): the page always needs a secret (a one-time link on loopback, else
  a password or per-person logins: :mod:`.sessions`); beyond loopback a
  password and TLS, its own (``--ssl-certfile``) or a proxy's
  (``--behind-https-proxy``).
- **Host names**: only names on an allow-list (:func:`allowed_hosts`) and IP
  literals are answered, so a web page whose own domain is pointed at this
  server (DNS rebinding) cannot reach it, not even its login form.
- **The guard** (:class:`Guard`, ASGI middleware): every request is checked
  for its host name, the origin of a POST (:mod:`.csrf`), a live session, and
  with ``--trusted-user-header`` (only behind a proxy) the proxy's name for the
  person; request bodies are counted as they stream in; every answer gets a
  strict Content-Security-Policy (this server only), no framing, no sniffing,
  no caching (only the static stylesheet and script may be cached), and over
  HTTPS HSTS and ``Secure`` cookies.

The API key never passes through here: pages are rendered from run views
that never hold it.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import is_loopback
from .csrf import CSRF_COOKIE, looks_like_token, same_origin, token_cookie
from .sessions import SESSION_COOKIE, Sessions
from .uploads import too_large

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_PATHS = ("/login", "/static/", "/favicon.ico")
#: How long a browser remembers to use HTTPS only (HSTS).
HSTS = "max-age=31536000"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


# --------------------------------------------------------------------------- binding


def check_binding(host: str, password_env: str | None, environ, *, users: bool = False, tls: bool = False,
                  behind_proxy: bool = False, trusted_user_header: str | None = None) -> str | None:
    """The shared password (None when there is none). ValueError says why the server cannot start.

    On loopback without a password or users the page is opened with a one-time
    link. Beyond loopback it needs a password (or per-person logins) and TLS:
    its own certificate, or an HTTPS proxy in front."""
    password = _password(password_env, environ) if password_env else None
    if trusted_user_header and not behind_proxy:
        raise ValueError("--trusted-user-header is trusted only from an HTTPS proxy in front of this server: "
                         "add --behind-https-proxy (and let only the proxy reach the server)")
    if is_loopback(host):
        return password
    if password is None and not users:
        raise ValueError(f"refusing to listen on {host} without a password: anyone who can reach it could detach "
                         "serial numbers with the Katana key this server holds. Put a shared password in an "
                         "environment variable and pass --password-env VAR (or give each person a login with "
                         "--users-file PATH), or bind to 127.0.0.1")
    if not tls and not behind_proxy:
        raise ValueError(f"refusing to listen on {host} without TLS: the password and the session cookie would "
                         "cross the network in clear. Give --ssl-certfile and --ssl-keyfile, or --behind-https-proxy "
                         "when an HTTPS proxy in front of this server speaks to the browsers")
    return password


def _password(password_env: str, environ) -> str:
    password = environ.get(password_env, "")
    if not password:
        raise ValueError(f"--password-env {password_env}: the environment variable {password_env} is not set "
                         "or empty; put the shared password in it")
    if len(password) < 8:
        raise ValueError(f"the password in {password_env} is shorter than 8 characters; choose a longer one")
    return password


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The names the page answers to: localhost, the bound name, this computer's names when it
    listens on every interface, and the operator's own (``--allowed-host``). IP literals are
    always answered (they cannot be rebound)."""
    import socket

    from .address import ANY

    names = {"localhost", *(name.lower() for name in extra)}
    if host in ANY:
        names.update({socket.gethostname().lower(), socket.getfqdn().lower()})
    elif not _is_ip(host):
        names.add(host.lower())
    return frozenset(n for n in names if n)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the guard


class BodyTooLarge(Exception):
    """The request body went over the limit while it streamed in."""


class Guard:
    """ASGI middleware: host names, origin of POSTs, login, the proxy's user header, body size,
    security headers (HSTS over HTTPS), token cookie."""

    def __init__(self, app: ASGIApp, *, sessions: Sessions, max_body: int, limit: int | None = None,
                 secure_cookies: bool = False, hosts: frozenset[str] = frozenset({"localhost"}),
                 behind_proxy: bool = False, trusted_user_header: str | None = None):
        self.app = app
        self.sessions = sessions
        self.secure_cookies = secure_cookies or behind_proxy
        self.max_body = max_body       # the whole request body: the file plus the form around it
        self.limit = limit or max_body  # the file alone, as the refusal names it
        self.hosts = hosts
        self.behind_proxy = behind_proxy
        self.user_header = trusted_user_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request.cookies.get(CSRF_COOKIE, "")
        fresh = None if looks_like_token(token) else secrets.token_urlsafe(32)
        scope.setdefault("state", {})
        https = scope.get("scheme") == "https" or self.behind_proxy
        secure = self.secure_cookies or https
        scope["state"].update(csrf=fresh or token, secure_cookies=secure)
        cookie = token_cookie(fresh, secure) if fresh else None
        refusal = self._refusal(request)
        if refusal is not None:
            await _with_headers(refusal, cookie, https)(scope, receive, send)
            return
        if request.method not in SAFE_METHODS:
            receive = _limited(receive, self.max_body)
        await self.app(scope, receive, _headers_sender(send, cookie, scope["path"], https))

    def _refusal(self, request: Request) -> Response | None:
        if not self._known_host(request):
            return PlainTextResponse("This server answers only to its own names (see serve --allowed-host).",
                                     status_code=421)
        if request.method not in SAFE_METHODS:
            if not same_origin(request):
                return refuse_page(request, 403, "Refused: this request came from another site.")
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                return refuse_page(request, 413, too_large(self.limit))
        if request.url.path.startswith(PUBLIC_PATHS):
            return None
        if self.user_header and not user_from_header(request, self.user_header):
            return refuse_page(request, 403, f"Refused: the proxy in front of this server did not name you "
                                             f"({self.user_header}). Open the page through the proxy.")
        if not self.sessions.valid(request.cookies.get(SESSION_COOKIE)):
            if request.method in SAFE_METHODS:
                return RedirectResponse("/login", status_code=303)
            return refuse_page(request, 403, "Refused: log in first.")
        return None

    def _known_host(self, request: Request) -> bool:
        """A name on the allow-list, or an IP literal: a domain name could be rebound to this machine."""
        host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
        return host.lower() in self.hosts or _is_ip(host)


def user_from_header(request: Request, header: str) -> str | None:
    """The person the proxy names in ``header`` (printable, at most 100 characters), or None."""
    value = request.headers.get(header, "").strip()
    return value if value and len(value) <= 100 and value.isprintable() else None


def refuse_page(request: Request, status: int, message: str) -> Response:
    """A refusal before any route ran: the app's error page if it has one, else plain text."""
    render = getattr(request.app.state, "render_error", None) if "app" in request.scope else None
    return render(request, status, message) if render else PlainTextResponse(message, status_code=status)


def secure_cookies(request: Request) -> bool:
    """Whether this request's cookies get ``Secure`` (HTTPS seen, or the server was told it is behind it)."""
    return bool(request.scope.get("state", {}).get("secure_cookies"))


def _with_headers(response: Response, cookie: str | None, https: bool) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await response(scope, receive, _headers_sender(send, cookie, scope["path"], https))

    return app


def _headers_sender(send: Send, cookie: str | None, path: str, https: bool = False) -> Send:
    """Security headers on every answer; nothing but the static files may be kept in a cache
    (a downloaded workbook lists a tenant's serial numbers)."""
    cacheable = path.startswith("/static/")

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
            if not cacheable:
                headers["cache-control"] = "no-store"
            if https:
                headers["strict-transport-security"] = HSTS
            if cookie:
                headers.append("set-cookie", cookie)
        await send(message)

    return sender


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
        return message

    return counting


__all__ = ["BodyTooLarge", "Guard", "allowed_hosts", "check_binding", "refuse_page", "secure_cookies",
           "user_from_header"]
