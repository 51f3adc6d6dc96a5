"""The History page: past applies and their undos, from the journal through the library, with what this server kept.

The journal is read through :func:`sn_importer.history.read_history` (no SQL
here); each run is joined with the record this server kept of it (its page,
its workbook while kept, who confirmed it), found by run id, or by the
journal key of a run confirmed here but cut off before its end.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..history import read_history
from . import present
from .server import Server


def history_page(server: Server):
    async def history(request: Request) -> Response:
        await run_in_threadpool(server.tidy)
        entries = await run_in_threadpool(_history_entries, server)
        return server.render(request, "history.html", entries=entries,
                             keep_days=f"{server.settings.keep_days:g}")

    return history


def _history_entries(server: Server) -> list[dict]:
    """Past applies from the journal, joined with the records (and workbooks) this server kept."""
    records = sorted(server.registry.records(), key=lambda r: r.get("finished_at") or "")
    cut_off = {r["journal_key"]: r for r in records if "view" not in r and "journal_key" in r}
    history = read_history(server.settings.state_dir, limit=200, keys=cut_off)
    kept = {r.get("run_id"): r for r in records if r.get("run_id") and r.get("kind", "apply") == "apply"}
    undos = {r["run_id"]: r for r in records if r.get("kind") == "undo" and r.get("run_id")}
    for key, past in history.by_key.items():  # confirmed but never finished: found by the journal's key
        kept.setdefault(past.run_id, cut_off[key])
    return [_history_entry(server, past, kept.get(past["run_id"])) | {
        "undos": [_undo_entry(u, undos.get(u["run_id"])) for u in history.undos.get(past["run_id"], [])]}
        for past in history.runs]


def _undo_entry(past: dict, record: dict | None) -> dict:
    """An undo of an apply, as the journal recorded it, linked to its page and saying who confirmed it
    when this server kept it (an undo puts serials back: who pressed the button matters as for the apply)."""
    from .undo import statuses

    return {"run_id": past["run_id"], "finished_at": past["finished_at"], "statuses": statuses(past["statuses"] or {}),
            "page": f"/runs/{record['id']}" if record else None,
            "confirmed_by": record.get("confirmed_by") if record else None}


#: Where a run was started or resumed (the journal keeps :class:`~sn_importer.status.Origin`'s words).
PLACES = {"command line": "the command line", "web page": "this page", "watch folder": "the watched folder",
          "notebook": "a notebook or script"}


def where(past: dict, from_page: bool) -> str | None:
    """'Started from this page; resumed from the command line': where the journal says the run was
    started and resumed. A run a version before these were recorded started is from this page when
    this server kept its record, else unknown (None)."""
    started = past.get("started_from") or ("web page" if from_page else None)
    resumed = [PLACES.get(place, place) for place in past.get("resumed_from") or []]
    if started is None and not resumed:
        return None
    words = f"Started from {PLACES.get(started, started)}" if started else "Started"
    return words + (f"; resumed from {', then '.join(resumed)}" if resumed else "")


def target(server: Server, base_url: str) -> str:
    """Where a run went, as the page names it: the server's own sandbox is "built-in sandbox"."""
    if server.settings.sandbox and base_url == server.settings.base_url:
        return "built-in sandbox"
    return urlsplit(base_url).netloc or base_url


def _history_entry(server: Server, past: dict, record: dict | None) -> dict:
    return {
        "run_id": past["run_id"], "started_at": past["started_at"], "finished_at": past["finished_at"],
        "file": record["filename"] if record else Path(past["input"]).name,
        "template": past["template"],
        # a run of a --sandbox server went to that server's sandbox, whatever port the sandbox has now
        "target": "built-in sandbox" if record and record.get("sandbox") else target(server, past["base_url"]),
        "where": where(past, record is not None),
        "statuses": present.statuses(past["statuses"] or {}),
        "download": f"/runs/{record['id']}/download" if record and _kept(server, record) else None,
        "page": f"/runs/{record['id']}" if record else None,
        "from_page": record is not None,
        "confirmed_by": record.get("confirmed_by") if record else None,
        "interrupted": record is not None and ("view" not in record or bool(record.get("interrupted")))
                       and not past["finished_at"],
    }


def _kept(server: Server, record: dict) -> bool:
    return bool(record.get("output")) and (server.results / Path(record["output"]).name).is_file()


__all__ = ["history_page"]
