"""What makes a page that holds a Katana key safe to open on the office network.

- **Binding**: the page always needs a secret (a one-time link on loopback,
  else a password or per-person logins: :mod:`.sessions`); beyond loopback
  it needs a password and TLS, its own (``--ssl-certfile``) or a proxy's
  (``--behind-https-proxy``) (:func:`check_binding`, used by ``sn-importer
  serve`` before it starts).
- **Host names**: only names on an allow-list (and IP literals) are
  answered, so a web page whose own domain is pointed at this server (DNS
  rebinding) cannot reach it, not even its login form.
- **Login** (:mod:`.sessions`): constant-time checks, pauses per client
  address with a ceiling for the whole server; a session is a random id in an
  ``HttpOnly``, ``SameSite=Lax`` cookie (the CSRF token cookie is
  ``SameSite=Strict``); both are ``Secure`` when the page is served over
  HTTPS or the server is told it sits behind it. Over HTTPS the answers
  carry HSTS.
- **Who**: with ``--trusted-user-header`` (only behind a proxy) the proxy
  names the person on every request; a request without the name is refused.
- **CSRF**: every POST must name this server in ``Origin`` (or ``Referer``)
  and carry the form token that equals the token cookie (double submit). POST
  routes are only made through :func:`posted`, which checks the token before
  the handler runs, so none can forget it.
- **Uploads**: the body is counted while it streams in, and a file over the
  limit is refused with 413 whether the body or the stored file shows it; the
  file is then checked by its content (:func:`check_upload`): a workbook's zip directory
  must be small and honest (no zip bombs), a CSV must be text.
- **Headers**: a strict Content-Security-Policy (this server only: the page
  loads nothing from elsewhere), no framing, no sniffing, no caching of pages,
  JSON or downloads (only the static stylesheet and script may be cached).

The API key never passes through here: pages are rendered from run views
that never hold it.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from functools import wraps
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import formats
from ..settings import is_loopback
from .sessions import Sessions

CSRF_COOKIE = "sn_csrf"
SESSION_COOKIE = "sn_session"
CSRF_FIELD = "csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_PATHS = ("/login", "/static/")
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
        fresh = None if _looks_like_token(token) else secrets.token_urlsafe(32)
        scope.setdefault("state", {})
        https = scope.get("scheme") == "https" or self.behind_proxy
        secure = self.secure_cookies or https
        scope["state"].update(csrf=fresh or token, secure_cookies=secure)
        cookie = _token_cookie(fresh, secure) if fresh else None
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


def _token_cookie(token: str, secure: bool) -> str:
    return f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")


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


def _looks_like_token(token: str) -> bool:
    return 32 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def same_origin(request: Request) -> bool:
    """The Origin (else the Referer) names this server; requests with neither rely on the token alone."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    if claimed == "null":
        return False
    return urlsplit(claimed).netloc.lower() == request.headers.get("host", "").lower()


# --------------------------------------------------------------------------- CSRF token on forms


class CsrfRefused(Exception):
    """The form token is missing or does not match the cookie."""


def csrf_token(request: Request) -> str:
    return request.scope.get("state", {}).get("csrf", "")


async def read_form(request: Request, *, max_files: int = 0, max_fields: int = 10) -> FormData:
    """The posted form, after its token was checked against the cookie."""
    form = await request.form(max_files=max_files, max_fields=max_fields)
    given = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(given, str) or not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
        raise CsrfRefused()
    return form


def posted(max_files: int = 0, max_fields: int = 10):
    """Make a POST handler ``handler(request, form)`` that only runs with a valid token."""

    def decorate(handler):
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            form = await read_form(request, max_files=max_files, max_fields=max_fields)
            try:
                return await handler(request, form)
            finally:
                await form.close()

        endpoint.csrf_checked = True
        return endpoint

    return decorate


# --------------------------------------------------------------------------- uploads


class UploadRefused(Exception):
    """The upload is not a sheet this page takes; the message says why in plain words."""


class UploadTooLarge(UploadRefused):
    """The stored file is over the limit (answered with 413, like a body over it)."""


def too_large(limit: int) -> str:
    """The one refusal of every too-large upload, however it was noticed."""
    size = f"{limit // 2**20} MB" if limit % 2**20 == 0 else f"{limit / 2**20:.1f} MB"
    return f"The upload is larger than {size}, the most this server takes."


#: What the page accepts (from the one formats table): the name's ending → the ending of the stored copy.
ACCEPTED = {s: f.suffix for f in formats.FORMATS if f.web for s in f.suffixes}
WORKBOOK_SUFFIXES = {f.suffix for f in formats.FORMATS if f.web and f.container == "zip"}
ZIP_MAGIC = formats.ZIP_MAGIC
OLE_MAGIC = formats.OLE_MAGIC
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


#: The longest file name shown; a longer one is cut in its middle, its extension kept.
NAME_LIMIT = 120
#: The longest stem of a stored copy's name (the folder around it is server-chosen).
STORED_STEM_LIMIT = 80


def _base_name(filename: str | None) -> str:
    """The file's own name, without any folder a browser sent and without unprintable characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable()).strip()


def display_name(filename: str | None) -> str:
    """The file's own name, shortened for display only: a long one keeps its extension."""
    name = _base_name(filename) or "upload"
    if len(name) <= NAME_LIMIT:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 8 else ""
    return name[: NAME_LIMIT - len(suffix) - 1] + "…" + suffix


def stored_suffix(filename: str | None) -> str:
    """The stored copy's ending, from the name's own extension (looked at before any shortening)."""
    suffix = PurePosixPath(_base_name(filename).lower()).suffix
    if suffix not in ACCEPTED:
        raise UploadRefused(f"“{display_name(filename)}” is not a sheet this page reads: "
                            f"upload an {formats.describe(web_only=True)}.")
    return ACCEPTED[suffix]


def stored_name(filename: str | None, suffix: str) -> str:
    """The name of the stored copy inside its server-chosen folder: the person's own stem, made safe.

    A CSV's one sheet is named after its file, so keeping the stem keeps the
    page's, the workbook tab's and the Summary's sheet name the person's own.
    Only letters, digits and a few marks survive; no name can climb out of
    its folder or hide (no leading dot).
    """
    stem = PurePosixPath(_base_name(filename)).stem
    safe = "".join(c if c.isalnum() or c in " ._-()&+,'" else "_" for c in stem)
    safe = safe.strip(" .")[:STORED_STEM_LIMIT].strip(" .")
    return (safe or "upload") + suffix


def check_upload(path: Path, suffix: str) -> None:
    """Refuse (UploadRefused) an empty file, or text that is not text.

    Workbooks are judged by the input guard in the parse worker (zip directory,
    inflated size, DTDs, how far the sheets reach), with the same sentences as
    the command line.
    """
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head:
        raise UploadRefused("The file is empty.")
    if formats.for_name("x" + suffix).container == "text":
        check_text(head)


def check_text(head: bytes) -> None:
    if head.startswith(ZIP_MAGIC):
        raise UploadRefused("The file is named .csv but is an Excel workbook. Upload it with its .xlsx name.")
    if head.startswith(UTF16_BOMS):
        return
    if b"\x00" in head:
        raise UploadRefused("The file is named .csv but is not text. Save it from Excel as CSV, or upload the .xlsx.")


__all__ = [
    "BodyTooLarge", "CsrfRefused", "Guard", "UploadRefused", "UploadTooLarge", "allowed_hosts", "check_binding",
    "check_upload", "csrf_token", "display_name", "posted", "read_form", "same_origin", "secure_cookies",
    "stored_name", "stored_suffix", "too_large", "user_from_header",
]
