"""How an undo result shows itself in Jupyter: one self-contained HTML fragment.

What was undone and against which Katana, the records counted by status
(coloured as in the workbook), why it stopped if it did, its notes, and the
records that need attention with their messages. Built from the notebook's
own pieces (:mod:`sn_importer.notebook`), so it looks like a run's result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..notebook import MAX_ROWS, _BOX, _MUTED, _TITLE, _cell, _e, _message_cell, _more, _status_cell, _table

if TYPE_CHECKING:
    from .result import UndoResult

#: The columns of the records that need attention.
SHOWN = ("serial_number", "resource_type", "resource_id", "id", "status", "message", "new_serial_id")


def undo_html(result: UndoResult) -> str:
    parts = [_heading(result), _messages(result), _counts(result), _attention(result)]
    return f'<div class="sn-importer-undo" style="{_BOX}">' + "".join(parts) + "</div>"


def _heading(result: UndoResult) -> str:
    what = "undo preview" if result.preview else "undo"
    facts = [what, f"{result.row_count} removed records", f"exit code {result.exit_code}"]
    if result.apply_run_id:
        facts.append(f"apply run {result.apply_run_id}")
    if result.base_url:
        facts.append(result.base_url)
    return (f'<div style="font-size: 15px; font-weight: 600">{_e(Path(result.display_name).name)}</div>'
            f'<div style="{_MUTED}">{_e(" · ".join(map(str, facts)))}</div>')


def _messages(result: UndoResult) -> str:
    lines = [f'<div style="color: #9c0006; font-weight: 600">Stopped: {_e(result.error)}</div>'] if result.error else []
    return "".join(lines + [f'<div style="{_MUTED}">{_e(note)}</div>' for note in result.notes])


def _counts(result: UndoResult) -> str:
    counts = sorted(result.counts().items(), key=lambda kv: (-kv[1], kv[0]))
    if not counts:
        return f'<div style="{_TITLE}">Records by status</div><div style="{_MUTED}">Nothing to undo.</div>'
    body = [[_status_cell(status), _cell(count, "text-align: right")] for status, count in counts]
    return f'<div style="{_TITLE}">Records by status</div>' + _table(["status", "records"], body)


def _attention(result: UndoResult) -> str:
    rows = result.rows
    problems = rows[~rows["status"].isin([s.value for s in result.goal])]
    if problems.empty:
        return ""
    shown = problems.head(MAX_ROWS)
    body = [[_status_cell(v) if c == "status" else _message_cell(v) if c == "message" else _cell(v)
             for c, v in zip(SHOWN, record)] for record in shown[list(SHOWN)].itertuples(index=False, name=None)]
    return (f'<div style="{_TITLE}">Records that need attention ({len(problems)})</div>' + _table(SHOWN, body)
            + _more(len(problems) - len(shown), ".rows"))


__all__ = ["undo_html"]
