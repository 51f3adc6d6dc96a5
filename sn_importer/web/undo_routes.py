"""The undo's routes: "Undo this run" on a finished apply, and the undo's confirm button.

Both are POST routes made through :func:`~.csrf.posted` (the form token checked
before the handler runs); what they start runs on the server's one queue
(see :mod:`.undo`).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .csrf import posted
from .routes import _submit_if
from .runs import Phase, Run, new_id
from .server import Server
from .undo import UNDO, UNDO_CHECK, offer


def start(server: Server):
    """``POST /runs/{id}/undo``: a new undo run of this apply, its check queued."""

    @posted()
    async def start(request: Request, form) -> Response:
        run = server.find(request)
        offered = offer(server, run)
        if offered is None or offered["page"]:
            return RedirectResponse(offered["page"] if offered else f"/runs/{run.id}", status_code=303)
        undo_run = server.registry.add(Run(id=new_id(), filename=run.filename, template=run.template,
                                           upload=run.output, kind="undo", undoes=run.id,
                                           view={"filename": run.filename, "template": run.template}))
        run.undone_by = undo_run.id
        record = server.registry.record(run.id)
        if record is not None:  # the link survives a restart
            server.registry.save(run, {**record, "undone_by": undo_run.id})
        server.queue.submit(undo_run, UNDO_CHECK)
        return RedirectResponse(f"/runs/{undo_run.id}", status_code=303)

    return start


def confirm(server: Server):
    """``POST /runs/{id}/undo/confirm``: the undo checked and its button pressed: queue it once."""

    @posted()
    async def confirm(request: Request, form) -> Response:
        run = server.find(request)
        if run.kind != "undo":
            raise HTTPException(404, "There is no undo at this address.")
        who = server.who(request)
        _submit_if(server, run, UNDO, Phase.WAITING,
                   lambda: run.phase == Phase.READY and run.view and run.view["confirm"]["serials"] > 0,
                   before=lambda: setattr(run, "confirmed_by", who))
        return RedirectResponse(f"/runs/{run.id}", status_code=303)

    return confirm


__all__ = ["confirm", "start"]
