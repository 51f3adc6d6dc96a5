"""The web page: upload a sheet, see the check, confirm, watch it run, download the result.

A Starlette app over the same library calls as the command line
(``Job``, ``Job.preview``/``Job.apply`` and the ``RunResult`` they return, the journal); it has
no logic of its own beyond presentation. Every call that talks to Katana goes
through one :class:`~.runs.RunQueue`, so a tenant's runs go one at a time
through its shared quota. Pages are rendered on the server; a little
JavaScript (``static/app.js``) adds drag-and-drop and live progress.

This module only puts the parts together: the server (:mod:`.server`), the
routes (:mod:`.routes`, :mod:`.undo_routes`, :mod:`.history`, :mod:`.login`), the guard in front
of them all (:mod:`.guard`, with :mod:`.csrf`), and the error pages.
:func:`create_app` takes the connection ready made: ``sn-importer serve``
(``cli/serve.py``) starts one sandbox for the server's lifetime with
``--sandbox``, so preview and apply see the same tenant state.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import login, routes, undo_routes
from .csrf import CsrfRefused
from .guard import BodyTooLarge, Guard
from .runs import STOPPING
from .history import history_page
from .server import HERE, Server, WebSettings
from .uploads import too_large


def create_app(settings: WebSettings) -> Starlette:
    """The ASGI app. The queue's worker starts with the app and stops with it."""
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(server.tidy)
        server.queue.start()
        try:
            yield
        finally:
            server.stopped_a_run = server.queue.lineup()[0] is not None
            server.interrupt.request(STOPPING)
            server.queue.stop()
            server.settle()

    app = Starlette(routes=_routes(server), lifespan=lifespan, exception_handlers=_handlers(server))
    app.state.server = server
    app.state.render_error = server.render_error
    # The form around the file adds a little: the Guard allows for it, the upload is held to the limit itself.
    app.add_middleware(Guard, sessions=server.sessions, max_body=settings.max_upload_bytes + 64 * 1024,
                       limit=settings.max_upload_bytes, secure_cookies=settings.secure_cookies,
                       hosts=frozenset({"localhost", *(h.lower() for h in settings.allowed_hosts)}),
                       behind_proxy=settings.behind_https_proxy, trusted_user_header=settings.trusted_user_header)
    return app


async def favicon(request: Request) -> Response:
    """Browsers ask for ``/favicon.ico`` whatever the page links: the page's icon, not a 404."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


def _routes(server: Server) -> list:
    return [
        Route("/", routes.home(server), methods=["GET"], name="home"),
        Route("/upload", routes.upload(server), methods=["POST"], name="upload"),
        Route("/runs/{run_id:str}", routes.run_page(server), methods=["GET"], name="run"),
        Route("/runs/{run_id:str}/status", routes.status(server), methods=["GET"], name="status"),
        Route("/runs/{run_id:str}/apply", routes.confirm(server), methods=["POST"], name="apply"),
        Route("/runs/{run_id:str}/check", routes.check_again(server), methods=["POST"], name="check"),
        Route("/runs/{run_id:str}/resume", routes.resume(server), methods=["POST"], name="resume"),
        Route("/runs/{run_id:str}/download", routes.download(server), methods=["GET"], name="download"),
        Route("/runs/{run_id:str}/undo", undo_routes.start(server), methods=["POST"], name="undo"),
        Route("/runs/{run_id:str}/undo/confirm", undo_routes.confirm(server), methods=["POST"], name="undo-confirm"),
        Route("/history", history_page(server), methods=["GET"], name="history"),
        Route("/blank", routes.blank(server), methods=["GET"], name="blank"),
        Route("/login", login.login_page(server), methods=["GET"], name="login"),
        Route("/login", login.login_form(server), methods=["POST"], name="login-post"),
        Route("/logout", login.logout(server), methods=["POST"], name="logout"),
        Route("/favicon.ico", favicon, methods=["GET"], name="favicon"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _handlers(server: Server) -> dict:
    return {
        HTTPException: lambda request, exc: server.render_error(request, exc.status_code, exc.detail),
        CsrfRefused: lambda request, exc: server.render_error(
            request, 403, "Refused: this form did not come from this page, or your page is out of date. "
                          "Go back, reload the page and try again."),
        BodyTooLarge: lambda request, exc: server.render_error(
            request, 413, too_large(server.settings.max_upload_bytes)),
        MultiPartException: lambda request, exc: server.render_error(
            request, 400, f"The form could not be read: {exc}"),
    }


__all__ = ["WebSettings", "create_app"]
