"""Logging in and out: the one-time link, the login form, the pauses after wrong passwords.

The ways to log in and the sessions they open are :mod:`.sessions`; here are
the routes. A try is judged by :class:`~.sessions.LoginThrottle` per client
address before its password is looked at; a refused try says why in plain
words, with ``Retry-After`` when it must wait.
"""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .csrf import posted
from .guard import secure_cookies
from .present import plural
from .server import Server
from .sessions import SESSION_COOKIE


def login_page(server: Server):
    """The login form; with ``?token=``, the one-time link ``serve`` printed."""

    async def page(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            verdict, seconds, who = server.throttle.attempt(_address(request), lambda: server.logins.redeem(given))
            if verdict == "in":
                return _logged_in(server, request, who)
            return _login_refused(server, request, verdict, seconds)
        if server.sessions.valid(request.cookies.get(SESSION_COOKIE)):
            return RedirectResponse("/", status_code=303)
        return server.render(request, "login.html", problem=None, kind=server.logins.kind)

    return page


def login_form(server: Server):
    @posted()
    async def login(request: Request, form) -> Response:
        name, given = form.get("name", ""), form.get("password", "")
        if server.logins.kind == "link" or not isinstance(given, str) or not isinstance(name, str):
            return _login_refused(server, request, "wrong", 0.0)
        verdict, seconds, who = await run_in_threadpool(
            server.throttle.attempt, _address(request), lambda: server.logins.check(name, given))
        if verdict != "in":
            return _login_refused(server, request, verdict, seconds)
        return _logged_in(server, request, who)

    return login


def _address(request: Request) -> str:
    """The client's address (behind a proxy on this computer, the one the proxy names)."""
    return request.client.host if request.client else "unknown"


def _logged_in(server: Server, request: Request, who: str) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, server.sessions.open(who), httponly=True, samesite="lax",
                        max_age=int(server.sessions.seconds), secure=secure_cookies(request))
    return response


def _login_refused(server: Server, request: Request, verdict: str, seconds: float) -> Response:
    """A wrong password or a spent link (403), or a try inside a pause (429, the password not looked at)."""
    wait = f"Wait {plural(math.ceil(seconds), 'second')}, then try again."
    if verdict == "wrong" and server.logins.kind == "link":
        status, problem = 403, ("This link is spent or wrong: the link sn-importer serve printed logs in once. "
                                "Restart the server for a new one, or serve with --password-env or --users-file.")
    elif verdict == "wrong":
        status, problem = 403, "That is not the password." + (f" {wait}" if seconds >= 2 else "")
    else:
        status, problem = 429, f"Too many wrong passwords were tried. {wait}"
    response = server.render(request, "login.html", status=status, problem=problem, kind=server.logins.kind)
    if seconds:
        response.headers["retry-after"] = str(math.ceil(seconds))
    return response


def logout(server: Server):
    @posted()
    async def logout(request: Request, form) -> Response:
        server.sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return logout


__all__ = ["login_form", "login_page", "logout"]
