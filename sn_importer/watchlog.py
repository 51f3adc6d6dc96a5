"""The drop folder's log lines: one logfmt line per file, per stop, per sheet not read.

``key=value`` lines, timestamp first (on the watcher's clock), values with
spaces quoted: what grep and log shippers (Loki, Vector, Datadog) read as
they are. ``grep 'exit=[12]'`` finds everything that needs a look.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .clock import SYSTEM, Clock, now_iso
from .header import needs_attention, unread_sentence
from .outcome import Cause
from .status import Status

if TYPE_CHECKING:
    from .result import RunResult
    from .dropfile import FileResult


def logfmt(*, clock: Clock = SYSTEM, **fields) -> str:
    """One ``key=value`` line (logfmt), timestamp first (on ``clock``): what grep and log shippers read best."""
    parts = [f"ts={now_iso(clock)}"]
    for key, value in fields.items():
        if value is None or value == "":
            continue
        text = str(value)
        if not text or any(c in text for c in ' "=\\\t\n\r'):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def detached_before(result: RunResult) -> tuple[int, bool]:
    """The rows ``deleted`` that this attempt did not detach (by an earlier run of the file, still
    gone; or by an interrupted attempt of this run, whose line counted them), and whether an
    earlier run had detached some."""
    earlier = result.deleted_before(frozenset({Cause.EARLIER_RUN}))  # a late DELETE was still_present on its line
    carried = {p for p, o in result.outcomes.items() if o.status == Status.DELETED and p in result.carried} - earlier
    return len(earlier) + len(carried), bool(earlier)


def file_line(result: FileResult, clock: Clock = SYSTEM) -> str:
    """One line per file. ``deleted`` counts the serials this attempt detached; an apply of a copy of
    a file already done says ``recheck=yes`` and counts what its earlier run detached as
    ``gone_before``, as a resumed attempt counts what its interrupted attempt's line counted. A file
    renamed on arrival (its name was taken) says the name it was dropped as (``dropped_as``)."""
    s = result.summary
    requests = s.get("requests") or {}
    statuses = dict(s.get("statuses") or {})
    if result.gone_before:
        statuses["deleted"] = statuses.get("deleted", 0) - result.gone_before
        statuses["gone_before"] = result.gone_before
    level = "info" if result.exit_code == 0 else ("warn" if result.exit_code == 1 else "error")
    return logfmt(clock=clock, level=level, event="file", file=result.name, result=result.place, mode=s.get("mode"), exit=result.exit_code,
                  rows=s.get("rows"), recheck="yes" if s.get("mode") == "apply" and (
                      s.get("same_content_as") or result.rechecked) else None,
                  **statuses,
                  requests=sum(requests.get(m, 0) for m in ("GET", "DELETE", "POST")),
                  seconds=f"{result.seconds:.1f}", resumed="yes" if s.get("resumed") else None,
                  same_content_as=Path((s.get("same_content_as") or {}).get("input") or "").name or None,
                  dropped_as=s.get("dropped_as") if s.get("dropped_as") != result.name else None,
                  output=s.get("output"), error=s.get("error"))


def unread_lines(result: FileResult, clock: Clock = SYSTEM) -> list[str]:
    """A warning per sheet that may hold rows but was not read, with its header row and nearest fields;
    then one per thing said first of a sheet that was read (rows it hides)."""
    unread = [logfmt(clock=clock, level="warn", event="sheet-not-read", file=result.name, sheet=item["sheet"],
                     reason=unread_sentence(item["sheet"], item["reason"]))
              for item in result.summary.get("sheets_skipped") or [] if needs_attention(item["reason"])]
    return unread + [logfmt(clock=clock, level="warn", event="sheet-note", file=result.name, note=note)
                     for note in result.summary.get("sheet_notes") or []]


__all__ = ["detached_before", "file_line", "logfmt", "unread_lines"]
