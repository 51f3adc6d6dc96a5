"""How a job and a run result show themselves in Jupyter (``_repr_html_``).

A job shows its validation result; a preview or apply shows its own result.
One self-contained HTML fragment: what was read and in which mode, the rows
counted by status, which input column feeds which field, the rows that need
attention with their messages, and the plan of requests. Inline styles only
(notebook viewers and GitHub strip ``<style>`` blocks), every value escaped,
long tables cut with a line saying how much is not shown and where to find
it. Messages wrap in their cell rather than being cut: their advice comes
last. The rows counted are the rows of ``job.rows``, blank ones included.
Status colours are the workbook's (:data:`sn_importer.status.COLOURS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from .header import needs_attention, unread_sentence
from .report.summary import shown_skipped_sheets, unread_sheets
from .status import COLOURS, GOAL, Mode
from .words import plural
from .validate import shown_fields

if TYPE_CHECKING:
    from .result import RunResult

#: Rows shown per table before the rest is summarised in one line.
MAX_ROWS = 20
#: Characters of one cell shown before it is cut (the full text is in its tooltip); messages are not cut.
MAX_CELL = 160
#: A message longer than this (one quoting a huge cell) loses its middle, never its start or its advice.
MAX_MESSAGE = 1200

PROBLEM_COLUMNS = ("sheet", "row", "resource_type", "resource_id", "serial_id", "serial_number", "status", "message")

_BOX = "font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 13px; line-height: 1.4"
_TABLE = "border-collapse: collapse; margin: 4px 0 12px 0"
_CELL = "border: 1px solid #d0d0d0; padding: 2px 8px; text-align: left; vertical-align: top"
_WRAP = "min-width: 16em; max-width: 48em; white-space: normal; overflow-wrap: anywhere"
_HEAD = _CELL + "; background: #f3f3f3; font-weight: 600"
_TITLE = "font-weight: 600; margin: 10px 0 2px 0"
_MUTED = "color: #666666"


def result_html(result: RunResult) -> str:
    """The whole rendering of ``result`` as an HTML fragment."""
    parts = [_heading(result), _messages(result), _counts(result), _mapping(result), _problems(result),
             _plan(result)]
    return f'<div class="sn-importer-job" style="{_BOX}">' + "".join(p for p in parts if p) + "</div>"


# --------------------------------------------------------------------------- sections


def _heading(result: RunResult) -> str:
    facts = [result.mode.value, rows_words(result), f"template {result.template.name}", f"exit code {result.exit_code}"]
    if result.base_url:
        facts.append(result.base_url)
    return (f'<div style="font-size: 15px; font-weight: 600">{_e(result.path.name)}</div>'
            f'<div style="{_MUTED}">{_e(" · ".join(map(str, facts)))}</div>')


def _messages(result: RunResult) -> str:
    lines = [f'<div style="color: #9c5700; font-weight: 600">{_e(sentence)}</div>'
             for sentence in [*unread_sheets(result.source.skipped), *result.source.sheet_notes]]  # said first
    if result.error:
        lines.append(f'<div style="color: #9c0006; font-weight: 600">Stopped: {_e(result.error)}</div>')
    lines += [f'<div style="{_MUTED}">{_e(note)}</div>' for note in result.notes]
    return "".join(lines)


def rows_words(result: RunResult) -> str:
    """How many rows ``job.rows`` holds, the blank ones (which have no status) said apart."""
    blank = len(result.rows) - result.row_count
    return f"{len(result.rows)} rows" + (f" ({blank} blank)" if blank else "")


def _counts(result: RunResult) -> str:
    counts = sorted(result.counts().items(), key=lambda kv: (-kv[1], kv[0]))
    if not counts:
        return f'<div style="{_TITLE}">Rows by status</div><div style="{_MUTED}">No data rows.</div>'
    body = [[_status_cell(status), _cell(count, "text-align: right")] for status, count in counts]
    blank = len(result.rows) - result.row_count
    if blank:
        body.append([_cell("(blank: no status)", _MUTED), _cell(blank, "text-align: right")])
    return f'<div style="{_TITLE}">Rows by status</div>' + _table(["status", "rows"], body)


def _mapping(result: RunResult) -> str:
    body = [[_cell(sheet), _cell(field), _cell(where)] for sheet, field, where in result.mapping()]
    skipped = "".join(f'<div style="{_MUTED}">{_e(unread_sentence(name, why))}</div>'
                      for name, why in shown_skipped_sheets(result.source.skipped) if not needs_attention(why))
    return f'<div style="{_TITLE}">Columns read</div>' + _table(["sheet", "field", "read from"], body) + skipped


def _problems(result: RunResult) -> str:
    rows = result.rows
    goal = {s.value for s in GOAL[result.mode]}
    problems = rows[(rows["status"] != "") & ~rows["status"].isin(goal)]
    if problems.empty:
        return ""
    columns = [c for c in PROBLEM_COLUMNS if c in problems.columns]
    shown = problems.head(MAX_ROWS)
    shown = shown.assign(**shown_fields(shown))  # an invalid row shows what the sheet gave
    body = [[_status_cell(v) if c == "status" else _message_cell(v) if c == "message" else _cell(v)
             for c, v in zip(columns, record)]
            for record in shown[columns].itertuples(index=False, name=None)]
    title = f'<div style="{_TITLE}">Rows that need attention ({len(problems)})</div>'
    more = _more(len(problems) - len(shown), ".rows")
    return title + _table(columns, body) + more


def _plan(result: RunResult) -> str:
    plan = result.plan
    title = f'<div style="{_TITLE}">{_e(plan_title(result, plan))}</div>'
    if plan.empty:
        return title + f'<div style="{_MUTED}">Nothing to send.</div>'
    shown = plan.head(MAX_ROWS)
    body = [[_cell(v) for v in record] for record in shown.itertuples(index=False, name=None)]
    return title + _table(list(plan.columns), body) + _more(len(plan) - len(shown), ".plan")


def plan_title(result: RunResult, plan: pd.DataFrame) -> str:
    """What the plan table shows: the sheet's plan, or what the run found of it."""
    detail = result.plan_detail
    if result.mode == Mode.VALIDATE:
        return detail.sentence
    goal = plan.columns[-1]
    reached, resources = int(plan[goal].sum()), int((plan[goal] > 0).sum())
    found = f"{reached} of {detail.serial_count} serials on {resources} of {detail.resource_count} resources"
    if result.mode == Mode.PREVIEW:
        chunk = result.template.ids_per_request
        deletes = sum(-(-int(n) // chunk) for n in plan[goal])
        return f"Plan after the preview: {found} would be detached, {plural(deletes, 'DELETE request')}"
    return f"After the apply: {found} detached and verified"


# --------------------------------------------------------------------------- pieces


def _table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    head = "".join(f'<th style="{_HEAD}">{_e(h)}</th>' for h in header)
    rows = "".join("<tr>" + "".join(cells) + "</tr>" for cells in body)
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _cell(value, extra_style: str = "") -> str:
    text = cell_text(value)
    style = _CELL + (f"; {extra_style}" if extra_style else "")
    if len(text) > MAX_CELL:
        return f'<td style="{style}" title="{_e(text)}">{_e(cut(text, MAX_CELL))}</td>'
    return f'<td style="{style}">{_e(text)}</td>'


def _message_cell(value) -> str:
    """A message, whole and wrapped in its cell (only an enormous one loses its middle)."""
    text = cell_text(value)
    shown = shorten_middle(text, MAX_MESSAGE)
    title = f' title="{_e(text)}"' if shown != text else ""
    return f'<td style="{_CELL}; {_WRAP}"{title}>{_e(shown)}</td>'


def shorten_middle(text: str, limit: int) -> str:
    """At most about ``limit`` characters: the start and the end kept, " … " for the middle."""
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return text[:half].rstrip() + " … " + text[-half:].lstrip()


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters ending in "…", cut between words (a word longer than
    half the limit is cut where it must be)."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def _status_cell(status) -> str:
    colour = COLOURS.get(str(status))
    return _cell(status, f"background: #{colour}" if colour else "")


def _more(hidden: int, where: str) -> str:
    if hidden <= 0:
        return ""
    return f'<div style="{_MUTED}">… {hidden} more not shown (all of them: <code>{_e(where)}</code>)</div>'


def cell_text(value) -> str:
    """A cell as text: empty for None and NaN/NA (also used by the web page)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def _e(value) -> str:
    return escape(str(value), quote=True)


__all__ = ["MAX_ROWS", "cell_text", "result_html", "rows_words"]
