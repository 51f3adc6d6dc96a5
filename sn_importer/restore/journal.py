"""The undo's crash-safety records, in the same SQLite journal as apply's (its own tables).

Every POST is committed *before* it is sent (which serials, to which
resource, which attempt) and its answer as soon as it comes, so an undo that
dies mid-POST is resumed without minting a serial twice: the resumed run
lists the resource first, waits for a POST that may still land, and sends
again only what is still missing. Each resource's outcomes are committed when
it is done; a resumed run shows those again without asking Katana. An undo is
identified by its records and the Katana it talks to
(:meth:`~sn_importer.restore.records.RemovedRecords.key`), so the workbook and
the CSV of one apply are one undo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..journal import Journal
from ..storage import writing
from .rules import NOT_SENT, UNKNOWN, Answer, Earlier, Found

Resource = tuple[str, int]

SCHEMA = """
CREATE TABLE IF NOT EXISTS undo_runs (
    run_id TEXT PRIMARY KEY,
    undo_key TEXT NOT NULL,       -- the records and the base URL (never the key)
    results TEXT NOT NULL,        -- the results file undone, as shown
    apply_run_id TEXT,            -- the apply whose removals are put back, when known
    base_url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    statuses TEXT
);
CREATE INDEX IF NOT EXISTS undo_runs_by_key ON undo_runs (undo_key, started_at);
CREATE TABLE IF NOT EXISTS undo_posts (
    run_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    serials TEXT NOT NULL,        -- JSON list of the strings, committed before the POST is sent
    answers TEXT,                 -- JSON {string: [kind, detail, request]} once answered (NULL: unknown)
    PRIMARY KEY (run_id, resource_type, resource_id, attempt)
);
CREATE TABLE IF NOT EXISTS undo_outcomes (
    run_id TEXT NOT NULL,
    position INTEGER NOT NULL,    -- the record's position among the removed records
    outcome TEXT NOT NULL,        -- JSON [status, message, new_id, request, checked_at]
    PRIMARY KEY (run_id, position)
);
"""


@dataclass(frozen=True)
class UndoRun:
    run_id: str
    started_at: str
    finished_at: str | None
    apply_run_id: str | None


class UndoJournal:
    """The undo's tables over an open :class:`~sn_importer.journal.Journal` (its file, its lock)."""

    def __init__(self, journal: Journal):
        self.journal, self.db = journal, journal.db
        with writing(journal.where):
            self.db.executescript(SCHEMA)

    def _write(self, sql: str, args: tuple) -> None:
        with writing(self.journal.where), self.db:
            self.db.execute(sql, args)

    # --- runs ------------------------------------------------------------------

    def latest(self, key: str) -> UndoRun | None:
        row = self.db.execute("SELECT run_id, started_at, finished_at, apply_run_id FROM undo_runs WHERE undo_key=? "
                              "ORDER BY started_at DESC, rowid DESC LIMIT 1", (key,)).fetchone()
        return UndoRun(*row) if row else None

    def start(self, key: str, run_id: str, results: str, apply_run_id: str | None, base_url: str,
              started_at: str) -> None:
        self._write("INSERT INTO undo_runs VALUES (?,?,?,?,?,?,NULL,NULL)",
                    (run_id, key, results, apply_run_id, base_url, started_at))

    def finish(self, run_id: str, finished_at: str, statuses: dict) -> None:
        self._write("UPDATE undo_runs SET finished_at=?, statuses=? WHERE run_id=?",
                    (finished_at, json.dumps(statuses), run_id))

    def runs_of(self, apply_run_id: str) -> list[dict]:
        """The undo runs of one apply, newest first (the web page's history links them)."""
        rows = self.db.execute("SELECT run_id, results, started_at, finished_at, statuses FROM undo_runs "
                               "WHERE apply_run_id=? ORDER BY started_at DESC", (apply_run_id,)).fetchall()
        return [{"run_id": r, "results": s, "started_at": a, "finished_at": f,
                 "statuses": json.loads(t) if t else None} for r, s, a, f, t in rows]

    def earlier(self, key: str, run_id: str) -> dict[int, Earlier]:
        """What the last finished undo of the same records (before ``run_id``) put back, by position."""
        row = self.db.execute("SELECT run_id FROM undo_runs WHERE undo_key=? AND finished_at IS NOT NULL AND "
                              "run_id<>? ORDER BY started_at DESC, rowid DESC LIMIT 1", (key, run_id)).fetchone()
        if row is None:
            return {}
        return {p: Earlier(f, row[0]) for p, f in self.outcomes(row[0]).items()}

    # --- posts -----------------------------------------------------------------

    def posting(self, run_id: str, res: Resource, serials: list[str]) -> int:
        """Commit a POST about to be sent; returns its attempt number (for :meth:`answered`)."""
        row = self.db.execute("SELECT COALESCE(MAX(attempt), 0) FROM undo_posts WHERE run_id=? AND resource_type=? "
                              "AND resource_id=?", (run_id, *res)).fetchone()
        attempt = int(row[0]) + 1
        self._write("INSERT INTO undo_posts VALUES (?,?,?,?,?,NULL)", (run_id, *res, attempt, json.dumps(serials)))
        return attempt

    def answered(self, run_id: str, res: Resource, attempt: int, answers: dict[str, Answer]) -> None:
        self._write("UPDATE undo_posts SET answers=? WHERE run_id=? AND resource_type=? AND resource_id=? AND "
                    "attempt=?", (json.dumps({s: [a.kind, a.detail, a.request] for s, a in answers.items()}),
                                  run_id, *res, attempt))

    def posts(self, run_id: str) -> dict[Resource, dict[str, Answer]]:
        """What an interrupted attempt of ``run_id`` sent, by resource: each string's last answer
        (``unknown`` where the POST was committed but no answer was: it may have landed)."""
        found: dict[Resource, dict[str, Answer]] = {}
        for rtype, rid, serials, answers in self.db.execute(
                "SELECT resource_type, resource_id, serials, answers FROM undo_posts WHERE run_id=? ORDER BY attempt",
                (run_id,)):
            got = json.loads(answers) if answers else {}
            mine = found.setdefault((rtype, int(rid)), {})
            for serial in json.loads(serials):
                kind, detail, request = got.get(serial, [UNKNOWN, "the attempt that sent it was interrupted", ""])
                if kind != NOT_SENT:
                    mine[serial] = Answer(kind, detail, request, resumed=True)
        return found

    # --- outcomes --------------------------------------------------------------

    def outcome(self, run_id: str, outcomes: dict[int, Found]) -> None:
        with writing(self.journal.where), self.db:
            self.db.executemany("INSERT OR REPLACE INTO undo_outcomes VALUES (?,?,?)",
                                [(run_id, p, json.dumps(f.to_json())) for p, f in outcomes.items()])

    def outcomes(self, run_id: str) -> dict[int, Found]:
        return {int(p): Found.from_json(json.loads(o)) for p, o in
                self.db.execute("SELECT position, outcome FROM undo_outcomes WHERE run_id=?", (run_id,))}


__all__ = ["SCHEMA", "UndoJournal", "UndoRun"]
