"""The drop folder: its layout, what may be taken from it, claiming, filing.

A watched folder ``DIR`` holds four sub-folders and a lock::

    DIR/.sn-importer.lock       held while a watcher works on DIR (pid inside)
    DIR/inbox/                  drop files here (write them elsewhere, or under a
                                .name / *.tmp / *.part name, and rename when done)
    DIR/processing/             the file in hand, or one a crash left behind (and, hidden
                                beside it, .<name>.claim: the name it was dropped as)
    DIR/done/                   read and run: input, <stem>.results.*, <stem>.summary.json
    DIR/failed/                 could not be read, or its run hit an internal error:
                                input, <stem>.summary.json saying why (and <stem>.results.*
                                when the file was read)

This module is the folder's side of ``sn-importer watch``; the runners
(:mod:`sn_importer.dropfile`, :mod:`sn_importer.watch`) decide what to do
with each file. The folders and the lock must be the watcher's own
(:func:`~sn_importer.filesafety.own_folder`); only regular files with one
name are taken (:func:`scan` lists the rest, to be refused unread); a file is
claimed by an atomic rename into processing/ once it has been still for
``settle`` seconds (:class:`Settling`, on an injected clock), with a hidden
record beside it of the name it was dropped as (:func:`remember_claim`: a
resumed run keeps that name, and a file removed from processing/ by hand is
still told of); it is filed with its summary, the summary first
(:func:`file_away`); and no summary quotes more than a glimpse of what a
file holds (:func:`masked_summary`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .clock import SYSTEM, Clock
from .errors import FolderBusy, LockUnavailable, UsageError
from .filesafety import NotOwnFolder, NotRegular, kind_of, open_regular, own_folder
from .locks import acquire
from .report import atomic_path
from .report.paths import is_undo_report

LOCK_NAME = ".sn-importer.lock"
#: Names that are still being written, or belong to someone else: never claimed.
IGNORED_PREFIXES = (".", "~$")
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".filepart",
                 ".swp", ".lock", "~")
#: A quoted excerpt of a file's content longer than this is masked in messages, summaries and log lines.
EXCERPT_CHARS = 12
#: How much of a masked excerpt is shown.
MASK_SHOWN = 4


# --------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class Layout:
    """The four sub-folders of a watched folder."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def folders(self) -> tuple[Path, Path, Path, Path]:
        return self.inbox, self.processing, self.done, self.failed

    @classmethod
    def create(cls, root: str | Path) -> Layout:
        """The sub-folders are created if missing; DIR itself must exist (a typo in a crontab
        should fail loudly, not watch a new empty folder for ever)."""
        layout = cls(Path(root).absolute())
        if not layout.root.is_dir():
            raise UsageError(f"{layout.root} is not a folder; create it first (watch makes its sub-folders)")
        layout.check()
        return layout

    def check(self) -> None:
        """Every sub-folder a real folder of this user (created when missing): one that is a
        link, or another user's, could send the results (or the lock's pid) anywhere."""
        try:
            for folder in self.folders:
                own_folder(folder)
        except NotOwnFolder as exc:
            raise UsageError(f"watch refuses {self.root}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"cannot create the folders of {self.root}: {exc.strerror or exc}") from None


@contextmanager
def folder_lock(root: Path) -> Iterator[None]:
    """Hold the OS lock on ``root/.sn-importer.lock`` (see :mod:`sn_importer.locks`) or raise
    :class:`FolderBusy`. The kernel releases it however the watcher ends, so a crash never
    leaves a stale lock behind."""
    try:
        lock = acquire(root / LOCK_NAME, lambda holder: FolderBusy(root, holder))
    except LockUnavailable as exc:
        raise UsageError(f"watch cannot lock its folder: {exc}") from None
    with lock:
        yield


def is_ignored(name: str) -> bool:
    """Hidden files, Office lock files (``~$x.xlsx``) and files still being downloaded or copied."""
    lower = name.lower()
    return lower.startswith(IGNORED_PREFIXES) or lower.endswith(TEMP_SUFFIXES)


def scan(folder: Path, left: list[Path] | None = None) -> list[tuple[Path, os.stat_result]]:
    """The entries of ``folder`` worth looking at, oldest first, each with what ``lstat`` saw
    (nothing is followed). Sub-folders are left alone; links and other entries that only
    claim to be files are listed too, to be refused (see :func:`kind_of`). Undo reports (named
    ``*.undo.*``, or recording the undo mode in their document properties) are left where they are,
    and added to ``left`` when given, so the watcher can say so."""
    found = []
    for path in folder.iterdir():
        if is_ignored(path.name):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue  # vanished meanwhile
        if kind_of(info) is None and is_undo_report(path):
            if left is not None:
                left.append(path)
            continue  # an undo's report: not a sheet to run (it would undo nothing and detach nothing)
        if kind_of(info) != "a folder":
            found.append((info.st_mtime, path.name, path, info))
    return [(path, info) for _, _, path, info in sorted(found)]


def candidates(folder: Path) -> list[Path]:
    """The plain files in ``folder`` worth looking at, oldest first."""
    return [path for path, info in scan(folder) if kind_of(info) is None]


# --------------------------------------------------------------------------- settling and claiming


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass
class Settling:
    """Decides when a dropped file has been still long enough to claim.

    A file is still once neither its content nor its metadata changed for
    ``seconds``: ``max(mtime, ctime)`` is that old (ctime catches copies that
    preserve the source's mtime), or, across the polls of one process, its
    size and times were seen unchanged for that long (which also covers a
    file share whose clock runs ahead of ours). Time comes from ``clock``.
    """

    seconds: float
    clock: Clock = SYSTEM
    seen: dict[str, tuple[tuple, float]] = field(default_factory=dict)

    def still(self, path: Path, stat: os.stat_result) -> bool:
        signature, now = _signature(stat), self.clock.now()
        previous = self.seen.get(path.name)
        first_seen = previous[1] if previous and previous[0] == signature else now
        self.seen[path.name] = (signature, first_seen)
        quiet = now - max(stat.st_mtime, stat.st_ctime)
        return quiet >= self.seconds or now - first_seen >= self.seconds

    def forget(self, name: str) -> None:
        self.seen.pop(name, None)


def claim(layout: Layout, path: Path, stat: os.stat_result, clock: Clock = SYSTEM) -> Path | None:
    """Move a still file into ``processing/`` (an atomic rename); None if it changed or went."""
    try:
        if _signature(os.lstat(path)) != _signature(stat):
            return None
        target = layout.processing / free_name(layout, path.name, clock)
        os.rename(path, target)
    except FileNotFoundError:
        return None
    remember_claim(target, path.name)
    return target


def free_name(layout: Layout, name: str, clock: Clock = SYSTEM) -> str:
    """``name``, or ``<stem>.<UTC time>[-n]<suffix>`` when an earlier drop of that name is kept."""
    stem, suffix = Path(name).stem, Path(name).suffix
    stamp = datetime.fromtimestamp(clock.now(), timezone.utc).strftime("%Y%m%d-%H%M%S")
    options = [name, f"{stem}.{stamp}{suffix}"] + [f"{stem}.{stamp}-{n}{suffix}" for n in range(2, 1000)]
    return next(option for option in options if not _taken(layout, option))


def _taken(layout: Layout, name: str) -> bool:
    stem = Path(name).stem
    return any((folder / name).exists() or (folder / f"{stem}.summary.json").exists()
               for folder in (layout.processing, layout.done, layout.failed))


# --------------------------------------------------------------------------- what a claimed file was dropped as

#: How much of a claim record is read (it holds one file name).
CLAIM_BYTES = 4096


def _claim_record(path: Path) -> Path:
    """Beside a claimed file in processing/, hidden (never listed as a file to run)."""
    return path.with_name(f".{path.name}.claim")


def remember_claim(path: Path, dropped_as: str) -> None:
    """Record beside the claimed ``path`` the name it was dropped as: a file renamed on arrival
    (its name was taken) and stopped mid-run keeps its dropped name when it is resumed, and a
    file removed from processing/ while it waited can still be told of. Best effort: without
    the record only the dropped name of a resumed file is lost."""
    try:
        write_json_atomic(_claim_record(path), {"dropped_as": dropped_as})
    except OSError:
        pass


def dropped_name(path: Path) -> str | None:
    """The name ``path`` (in processing/) was dropped as, from its claim record; None without one."""
    try:
        with os.fdopen(open_regular(_claim_record(path)), "rb") as handle:
            record = json.loads(handle.read(CLAIM_BYTES))
    except (OSError, NotRegular, ValueError):
        return None
    name = record.get("dropped_as") if isinstance(record, dict) else None
    return name if isinstance(name, str) and name and "/" not in name else None


def forget_claim(path: Path) -> None:
    """Drop the claim record of ``path`` once it is filed (or known to be gone)."""
    try:
        _claim_record(path).unlink(missing_ok=True)
    except OSError:
        pass


def removed_claims(layout: Layout) -> list[Path]:
    """Files claimed into processing/ that are gone from it without being filed: removed by hand
    after a stop, before the run that would have resumed them. A record whose file reached done/
    or failed/ (a crash between filing it and dropping the record) is dropped quietly."""
    gone = []
    for record in sorted(layout.processing.glob(".*.claim")):
        path = layout.processing / record.name[1:].removesuffix(".claim")
        if os.path.lexists(path):
            continue
        if any(os.path.lexists(folder / path.name) for folder in (layout.done, layout.failed)):
            forget_claim(path)
        else:
            gone.append(path)
    return gone


# --------------------------------------------------------------------------- filing


def file_away(path: Path, folder: Path, summary: dict) -> None:
    """File a claimed file in ``folder`` with its ``<stem>.summary.json``: the summary first, the
    input last, so a crash in between only repeats this file. A link is moved as it is."""
    write_json_atomic(folder / f"{path.stem}.summary.json", summary)
    os.replace(path, folder / path.name)
    forget_claim(path)


def write_json_atomic(path: Path, document: dict) -> None:
    """The summary, written the way the results are: temp file and rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "x", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")


def same_content(layout: Layout, digest: str) -> dict | None:
    """The newest earlier summary (done/ or failed/) of a file with this exact content.

    Only the watcher's own summaries count: ``<stem>.summary.json`` beside the file it names, in the
    same folder. A file dropped under such a name (filed in failed/ as it was dropped, with a
    summary of its own naming it) is content someone dropped, never an earlier run."""
    found = []
    for folder in (layout.done, layout.failed):
        summaries = {}
        for path in folder.glob("*.summary.json"):
            try:
                summaries[path.name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        dropped = {Path(str(s.get("input") or "")).name for s in summaries.values() if isinstance(s, dict)}
        for name, summary in summaries.items():
            if not isinstance(summary, dict) or name in dropped:
                continue
            named = Path(str(summary.get("input") or ""))
            if f"{named.stem}.summary.json" != name or named.parent.name != folder.name:
                continue
            if summary.get("sha256") == digest:
                found.append(summary)
    if not found:
        return None
    latest = max(found, key=lambda s: s.get("finished_at") or "")
    return {key: latest.get(key) for key in ("input", "finished_at", "mode", "exit_code", "statuses")}


def digest_of(fd: int) -> str:
    """SHA-256 of what an open descriptor holds (the descriptor is closed)."""
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- what summaries may say of a file


def mask_content(text: str, keep: tuple[str, ...] = ()) -> str:
    """``text`` with every quoted excerpt longer than :data:`EXCERPT_CHARS` cut to its first
    few characters: a message about a file never carries more than a glimpse of what the
    file holds (a first row that is a key, say). ``keep`` are strings known not to be content."""
    for pattern in _QUOTED:
        text = pattern.sub(lambda match: _masked(match, keep), text)
    return text


def _masked(match: re.Match, keep: tuple[str, ...]) -> str:
    inner, whole = match.group(1), match.group(0)
    if len(inner) <= EXCERPT_CHARS or inner in keep:
        return whole
    return f"{whole[0]}{inner[:MASK_SHOWN]}…{whole[-1]} ({len(inner)} characters)"


#: Quoted spans: 'single' (an apostrophe inside a word is not a quote), "double" and “curly”.
_QUOTED = (re.compile(r"(?<!\w)'([^'\n]*)'(?!\w)"), re.compile(r'(?<!\w)"([^"\n]*)"'), re.compile(r"“([^”\n]*)”"))


def masked_summary(summary: dict, keep: tuple[str, ...] = ()) -> dict:
    """A summary whose words about the file (error, notes, skipped sheets) are masked. Mapped
    headers are kept: a header is only mapped when it matches one of the template's names."""
    out = dict(summary)
    if isinstance(out.get("error"), str):
        out["error"] = mask_content(out["error"], keep)
    out["notes"] = [mask_content(str(note), keep) for note in out.get("notes") or []]
    out["sheets_skipped"] = [{**s, "reason": mask_content(str(s.get("reason", "")), keep)}
                             for s in out.get("sheets_skipped") or []]
    out["sheet_notes"] = [mask_content(str(note), keep) for note in out.get("sheet_notes") or []]
    return out


__all__ = ["EXCERPT_CHARS", "LOCK_NAME", "FolderBusy", "Layout", "Settling", "candidates", "claim", "digest_of",
           "dropped_name", "file_away", "folder_lock", "forget_claim", "free_name", "is_ignored", "mask_content",
           "masked_summary", "remember_claim", "removed_claims", "same_content", "scan", "write_json_atomic"]
