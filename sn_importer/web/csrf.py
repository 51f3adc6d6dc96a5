"""Cross-site request forgery: every form carries a token, every POST names this server.

Double submit: the token lives in a ``SameSite=Strict`` cookie (set by the
guard, :mod:`.guard`) and in a hidden field of every form; a POST must carry
both, equal, and an ``Origin`` (else ``Referer``) that names this server. POST
routes are only made through :func:`posted`, which checks the token before
the handler runs, so none can forget it.
"""

from __future__ import annotations

import hmac
from functools import wraps
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "sn_csrf"
CSRF_FIELD = "csrf"


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


def same_origin(request: Request) -> bool:
    """The Origin (else the Referer) names this server; requests with neither rely on the token alone."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return True
    if claimed == "null":
        return False
    return urlsplit(claimed).netloc.lower() == request.headers.get("host", "").lower()


def looks_like_token(token: str) -> bool:
    return 32 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def token_cookie(token: str, secure: bool) -> str:
    return f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")


__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CsrfRefused", "csrf_token", "looks_like_token", "posted", "read_form",
           "same_origin", "token_cookie"]
