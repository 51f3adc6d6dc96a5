"""The crash-safety journal: a small SQLite file in the state directory.

Before the first DELETE of a resource, the run commits that resource's plan
and its "before" records; each outcome is committed as it happens. Running
``apply`` again on the same file (same content, template and base URL) finds
the unfinished run and resumes it: finished resources are not sent again, and
a serial that was on its resource before the first attempt and is gone now is
reported ``deleted``. The API key is never stored here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import JournalError, RunInProgress, StorageError
from .filesafety import private_dir, private_file
from .locks import acquire
from .outcome import Cause, Outcome, Outcomes
from .settings import default_state_dir
from .sqlitefile import open_shared
from .status import Status
from .storage import storage_problem, writing
from .truth import Earlier

#: Columns the ``earlier`` table gained after its first release (added to older journals on open).
_EARLIER_COLUMNS = {"cause": "TEXT NOT NULL DEFAULT 'verified'", "record": "TEXT"}
#: Columns ``runs`` and ``past_runs`` gained after their first release: where a run was started, and
#: where it was resumed (a JSON list, in order), in :class:`~sn_importer.status.Origin`'s words.
_RUN_COLUMNS = {"started_from": "TEXT", "resumed_from": "TEXT"}
_RUN_FIELDS = "run_key, run_id, input, template, base_url, started_at, finished_at, statuses, started_from, resumed_from"
#: What an earlier run did to a row that a re-run needs to know: detached it, or sent it and saw it stay.
_KEPT = {Cause.VERIFIED, Cause.RESUMED, Cause.NONE, Cause.SENT_STILL_THERE}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    input TEXT NOT NULL,
    template TEXT NOT NULL,
    base_url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    statuses TEXT,
    started_from TEXT,            -- where the run was started: command line, web page, watch folder, notebook
    resumed_from TEXT             -- JSON list: where it was resumed, in order
);
CREATE TABLE IF NOT EXISTS resources (
    run_key TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id INTEGER NOT NULL,
    phase TEXT NOT NULL,          -- 'sending' (before DELETE) or 'done'
    before TEXT NOT NULL,         -- JSON list of the records on the resource before
    planned TEXT NOT NULL,        -- JSON list of the ids to detach
    outcome TEXT,                 -- JSON {row position: [status, message, serial_id, checked_at]}
    PRIMARY KEY (run_key, resource_type, resource_id)
);
CREATE TABLE IF NOT EXISTS earlier (
    run_key TEXT NOT NULL,
    position INTEGER NOT NULL,    -- the row's position in the file (same content, same positions)
    serial_id INTEGER,
    checked_at TEXT NOT NULL,     -- when that run checked it
    run_id TEXT NOT NULL,         -- the run that sent its DELETE
    PRIMARY KEY (run_key, position)
);
CREATE TABLE IF NOT EXISTS past_runs (
    run_key TEXT NOT NULL,
    run_id TEXT PRIMARY KEY,
    input TEXT NOT NULL,
    template TEXT NOT NULL,
    base_url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    statuses TEXT,
    started_from TEXT,
    resumed_from TEXT
);
"""


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A journal written by an earlier version gains the columns this one reads."""
    for table, columns in (("earlier", _EARLIER_COLUMNS), ("runs", _RUN_COLUMNS), ("past_runs", _RUN_COLUMNS)):
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def run_key(input_path: Path, template_path: Path, base_url: str, api_key: str) -> str:
    """The same file content, template and Katana account (base URL and key: every customer shares
    Katana's one base URL) give the same key. What a run of the file did on one account is never
    taken for what happened on another: its "before" records, its detached serials, its resume."""
    return run_key_of(file_digest(input_path), template_path, base_url, api_key)


def run_key_of(content_digest: str, template_path: Path, base_url: str, api_key: str) -> str:
    """:func:`run_key` from the file's content digest (:func:`file_digest`): an apply's results
    workbook records its input's, so a later run of that workbook finds the apply in the journal
    on this account and template only."""
    from .katana.quota import tenant_key

    digest = hashlib.sha256(content_digest.encode())
    digest.update(b"\0" + Path(template_path).read_bytes() + b"\0" + tenant_key(base_url, api_key).encode())
    return digest.hexdigest()


def _read(state_dir: Path | None, question):
    """``question(db)`` of the journal opened read-only (nothing created or locked); None when
    there is no journal or it cannot be read."""
    path = (Path(state_dir) if state_dir else default_state_dir()) / "journal.sqlite3"
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return question(db)
        finally:
            db.close()
    except (sqlite3.Error, OSError, ValueError, KeyError, TypeError):
        return None


def _resources(db: sqlite3.Connection, key: str) -> dict[tuple[str, int], ResourceRecord]:
    """What the run of ``key`` recorded for each resource: its phase, records before, plan and outcomes."""
    rows = db.execute("SELECT resource_type, resource_id, phase, before, planned, outcome "
                      "FROM resources WHERE run_key=?", (key,)).fetchall()
    return {(t, i): ResourceRecord(p, json.loads(b), json.loads(pl),
                                   {int(k): Outcome.from_json(v) for k, v in json.loads(o).items()} if o else None)
            for t, i, p, b, pl, o in rows}


def _detached(db: sqlite3.Connection, key: str) -> dict[int, Earlier]:
    """Row position → what the finished run of ``key`` did to it (detached it, or sent it and saw it stay)."""
    rows = db.execute("SELECT position, serial_id, checked_at, run_id, cause, record FROM earlier "
                      "WHERE run_key=?", (key,)).fetchall()
    return {int(p): Earlier(s, c, r, Cause(cause), json.loads(record) if record else None)
            for p, s, c, r, cause, record in rows}


def _carried(db: sqlite3.Connection, key: str) -> dict[int, Earlier] | None:
    """What the earlier runs of ``key`` did to its rows once its finished run is added (None when it has
    none): the rows it detached (the latest detachment wins; a row it only found still gone keeps the
    run that detached it), and the rows it sent and saw stay, with their records (a DELETE may land
    after its check). Only read: a new run writes it to ``earlier``, a preview reads it."""
    run = db.execute("SELECT run_id FROM runs WHERE run_key=? AND finished_at IS NOT NULL", (key,)).fetchone()
    if run is None:
        return None
    earlier = _detached(db, key)
    for before, outcome in db.execute("SELECT before, outcome FROM resources WHERE run_key=? AND "
                                      "outcome IS NOT NULL", (key,)).fetchall():
        records = {int(r["id"]): r for r in json.loads(before)}
        for position, value in json.loads(outcome).items():
            found, position = Outcome.from_json(value), int(position)
            if found.cause == Cause.LANDED_LATE:  # the earlier run's DELETE did it: now known gone
                if position in earlier:
                    earlier[position] = replace(earlier[position], cause=Cause.VERIFIED)
                continue
            if found.cause not in _KEPT or found.status not in (Status.DELETED, Status.STILL_PRESENT):
                continue
            cause = Cause.SENT_STILL_THERE if found.status == Status.STILL_PRESENT else Cause.VERIFIED
            earlier[position] = Earlier(found.serial_id, found.checked_at or "", run[0], cause,
                                        records.get(found.serial_id))
    return earlier


def _earlier(db: sqlite3.Connection, key: str) -> dict[int, Earlier]:
    """What the runs of ``key`` did to its rows as a new run would start from: the finished run's
    outcomes carried in, or, while a run is unfinished, what the runs before it did."""
    carried = _carried(db, key)
    return carried if carried is not None else _detached(db, key)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content, read in blocks (sheets can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class PastRun:
    run_id: str
    started_at: str
    finished_at: str | None
    statuses: dict | None
    started_from: str | None = None   # where it was started (None: by a version that did not record it)
    resumed_from: list[str] = field(default_factory=list)  # where it was resumed, in order


@dataclass
class ResourceRecord:
    phase: str
    before: list[dict]
    planned: list[int]
    outcome: Outcomes | None


class Journal:
    """One SQLite file; every write is its own committed transaction."""

    def __init__(self, state_dir: Path | None = None):
        self.dir = Path(state_dir) if state_dir else default_state_dir()
        self.where = f"the journal in {self.dir}"
        with writing(self.where):
            private_dir(self.dir)  # the journal keeps every removed record: the user's alone (0700, 0600)
            self.path = private_file(self.dir / "journal.sqlite3")
            try:
                self.db = open_shared(self.path, timeout=30, schema=SCHEMA, migrate=_add_missing_columns)
            except sqlite3.Error as exc:
                if storage_problem(exc):
                    raise StorageError(self.where, storage_problem(exc)) from None
                raise JournalError(f"{self.path} is not a usable journal ({exc}); move it away to start a new one") \
                    from None

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def peek(state_dir: Path | None, input_path: Path, template_path: Path, base_url: str,
             api_key: str) -> PastRun | None:
        """The run recorded for a file, read without creating or locking anything (for a preview)."""
        key = run_key(input_path, template_path, base_url, api_key)
        row = _read(state_dir, lambda db: db.execute("SELECT run_id, started_at, finished_at, statuses FROM runs "
                                                     "WHERE run_key=?", (key,)).fetchone())
        return PastRun(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None) if row else None

    @staticmethod
    def detached_before(state_dir: Path | None, input_path: Path, template_path: Path, base_url: str,
                        api_key: str) -> dict[int, Earlier]:
        """What the finished apply of a file on this account did to its rows, read without creating or
        locking anything (for a preview: a row that run took off is told from a serial never there)."""
        key = run_key(input_path, template_path, base_url, api_key)
        return _read(state_dir, lambda db: _earlier(db, key)) or {}

    @staticmethod
    def detached_by_run(state_dir: Path | None, content_digest: str, template_path: Path, base_url: str,
                        api_key: str, run_id: str) -> dict[int, Earlier]:
        """What the runs of a file (by its content digest) did to its rows, when its apply ``run_id``
        ran on this account with this template (else nothing): that apply's outcomes, those before
        it, and a later finished apply's of the same file (each names its own run). Read without
        creating or locking anything."""
        key = run_key_of(content_digest, template_path, base_url, api_key)

        def read(db: sqlite3.Connection) -> dict[int, Earlier]:
            ran = db.execute("SELECT 1 FROM runs WHERE run_key=? AND run_id=? UNION "
                             "SELECT 1 FROM past_runs WHERE run_key=? AND run_id=?", (key, run_id, key, run_id))
            if ran.fetchone() is None:
                return {}
            return _earlier(db, key)
        return _read(state_dir, read) or {}

    @staticmethod
    def unfinished(state_dir: Path | None, input_path: Path, template_path: Path, base_url: str,
                   api_key: str) -> tuple[PastRun, dict[tuple[str, int], ResourceRecord]] | None:
        """The unfinished apply of a file on this account and what it recorded for each resource (the
        records before its first DELETE, the ids it set out to detach), read the way a resumed apply
        reads them, without creating or locking anything (for a preview); None when there is none."""
        key = run_key(input_path, template_path, base_url, api_key)

        def read(db: sqlite3.Connection):
            row = db.execute("SELECT run_id, started_at FROM runs WHERE run_key=? AND finished_at IS NULL",
                             (key,)).fetchone()
            return (PastRun(row[0], row[1], None, None), _resources(db, key)) if row else None
        return _read(state_dir, read)

    @staticmethod
    def removed_by(state_dir: Path | None, run_id: str) -> dict[tuple[str, int], set[tuple[int, str]]] | None:
        """What the apply ``run_id`` took off each resource, as (record id, serial) pairs, when this
        computer's journal still holds that run (the latest run of its file); else None. Read only."""
        def read(db: sqlite3.Connection):
            run = db.execute("SELECT run_key FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if run is None:
                return None
            found: dict[tuple[str, int], set[tuple[int, str]]] = {}
            for rtype, rid, before, planned in db.execute(
                    "SELECT resource_type, resource_id, before, planned FROM resources WHERE run_key=?", run):
                sent = set(json.loads(planned))
                found.setdefault((rtype, int(rid)), set()).update(
                    (int(r["id"]), str(r["serial_number"])) for r in json.loads(before) if int(r["id"]) in sent)
            for (record,) in db.execute("SELECT record FROM earlier WHERE run_key=? AND record IS NOT NULL", run):
                r = json.loads(record)  # sent by an earlier run, gone by this one's check: in its Removed sheet
                found.setdefault((r["resource_type"], int(r["resource_id"])), set()).add(
                    (int(r["id"]), str(r["serial_number"])))
            return found
        return _read(state_dir, read)

    @contextmanager
    def exclusive(self, key: str, what: str = "apply of this file"):
        """Hold an OS lock for one run key, so two applies of one file (two undos of one apply) never
        both send. ``what`` names the run for the message of :class:`RunInProgress`.

        Raises :class:`RunInProgress` when another process holds it (see :mod:`sn_importer.locks`:
        the lock dies with its holder, so a crash never leaves a stale one).
        """
        locks = self.dir / "locks"
        locks.mkdir(exist_ok=True)
        path = locks / f"{key[:32]}.lock"
        with acquire(path, lambda holder: RunInProgress(path, holder, what)):
            yield

    # --- runs ----------------------------------------------------------------

    def past_run(self, key: str) -> PastRun | None:
        row = self.db.execute("SELECT run_id, started_at, finished_at, statuses, started_from, resumed_from "
                              "FROM runs WHERE run_key=?", (key,)).fetchone()
        if row is None:
            return None
        return PastRun(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4],
                       json.loads(row[5]) if row[5] else [])

    def resumed(self, key: str, origin: str) -> None:
        """The unfinished run of ``key`` goes on from ``origin`` (the command line, the page, ...):
        History says where each run was started and where it was resumed."""
        with writing(self.where), self.db:
            row = self.db.execute("SELECT resumed_from FROM runs WHERE run_key=?", (key,)).fetchone()
            places = json.loads(row[0]) if row and row[0] else []
            self.db.execute("UPDATE runs SET resumed_from=? WHERE run_key=?", (json.dumps([*places, str(origin)]), key))

    def start_run(self, key: str, run_id: str, input_path: str, template: str, base_url: str, started_at: str,
                  fresh: bool = False, origin: str | None = None) -> None:
        """Start a run for ``key``. A finished run it replaces goes to the history, and the rows it
        detached are kept as :meth:`detached` (a re-run reports them truthfully); ``fresh`` forgets them."""
        with writing(self.where), self.db:
            self.db.execute(f"INSERT OR IGNORE INTO past_runs ({_RUN_FIELDS}) SELECT {_RUN_FIELDS} FROM runs "
                            "WHERE run_key=? AND finished_at IS NOT NULL", (key,))
            if fresh:
                self.db.execute("DELETE FROM earlier WHERE run_key=?", (key,))
            else:
                self._keep_detached(key)
            self.db.execute("DELETE FROM resources WHERE run_key=?", (key,))
            self.db.execute(f"INSERT OR REPLACE INTO runs ({_RUN_FIELDS}) VALUES (?,?,?,?,?,?,NULL,NULL,?,NULL)",
                            (key, run_id, input_path, template, base_url, started_at,
                             str(origin) if origin else None))

    def finish_run(self, key: str, finished_at: str, statuses: dict) -> None:
        with writing(self.where), self.db:
            self.db.execute("UPDATE runs SET finished_at=?, statuses=? WHERE run_key=?",
                            (finished_at, json.dumps(statuses), key))

    def _keep_detached(self, key: str) -> None:
        """Carry what the finished run of ``key`` did to its rows into ``earlier`` (:func:`_carried`)."""
        carried = _carried(self.db, key)
        if carried is None:
            return
        self.db.execute("DELETE FROM earlier WHERE run_key=?", (key,))
        self.db.executemany("INSERT INTO earlier VALUES (?,?,?,?,?,?,?)", [
            (key, position, e.serial_id, e.checked_at, e.run_id, e.cause.value, json.dumps(e.record) if e.record else None)
            for position, e in carried.items()])

    def detached(self, key: str) -> dict[int, Earlier]:
        """Row position → what the earlier run did to it, for a re-run of a finished file."""
        return _detached(self.db, key)

    def history(self, limit: int = 50) -> list[dict]:
        names = ("run_id", "input", "template", "base_url", "started_at", "finished_at", "statuses", "started_from",
                 "resumed_from")
        fields = ", ".join(names)
        rows = self.db.execute(f"SELECT {fields} FROM runs UNION SELECT {fields} FROM past_runs "
                               "ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(names, r)) | {"statuses": json.loads(r[6]) if r[6] else None,
                                       "resumed_from": json.loads(r[8]) if r[8] else []} for r in rows]

    # --- resources -----------------------------------------------------------

    def resources(self, key: str) -> dict[tuple[str, int], ResourceRecord]:
        return _resources(self.db, key)

    def before_delete(self, key: str, resource: tuple[str, int], before: list[dict], planned: list[int]) -> None:
        """Commit the plan and the 'before' records of a resource ahead of its first DELETE."""
        with writing(self.where), self.db:
            self.db.execute("INSERT OR IGNORE INTO resources VALUES (?,?,?,?,?,?,NULL)",
                            (key, resource[0], resource[1], "sending", json.dumps(before), json.dumps(planned)))

    def outcome(self, key: str, resource: tuple[str, int], before: list[dict], planned: list[int],
                outcome: Outcomes) -> None:
        """Commit what happened to a resource's rows."""
        with writing(self.where), self.db:
            self.db.execute(
                "INSERT INTO resources VALUES (?,?,?,?,?,?,?) ON CONFLICT(run_key, resource_type, resource_id) "
                "DO UPDATE SET phase='done', outcome=excluded.outcome",
                (key, resource[0], resource[1], "done", json.dumps(before), json.dumps(planned),
                 json.dumps({str(k): v.to_json() for k, v in outcome.items()})))
