"""File drops: process the sheets that land in a folder, unattended.

``sn-importer watch DIR`` (and :func:`watch` here) is the cron-friendly face of
the same pipeline the other commands run: every file dropped into
``DIR/inbox/`` is claimed by an atomic rename into ``processing/`` once it has
been still for ``settle`` seconds, read and validated, previewed or applied
through :class:`~sn_importer.job.Job`, and moved with its run result's
annotated copy and a ``<stem>.summary.json`` (the ``--json`` object) into ``done/``, or into
``failed/`` when it could not be read or its run stopped on an internal error.
One process works on a folder at a time (an OS lock on
``DIR/.sn-importer.lock``, :mod:`sn_importer.locks`). A file left in ``processing/`` by a crash, or by a
run-level problem such as Katana being unreachable (see :data:`LEFT_FOR_LATER`),
is taken up first the next time and resumed through the journal.

Layout::

    DIR/.sn-importer.lock       held while a watcher works on DIR (pid inside)
    DIR/inbox/                  drop files here (write them elsewhere, or under a
                                .name / *.tmp / *.part name, and rename when done)
    DIR/processing/             the file in hand, or one a crash left behind
    DIR/done/                   read and run: input, <stem>.results.*, <stem>.summary.json
    DIR/failed/                 could not be read, or its run hit an internal error:
                                input, <stem>.summary.json saying why (and <stem>.results.*
                                when the file was read)

Every finished file is reported through ``log`` as one logfmt line (see
:func:`logfmt`). The library never prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import FolderBusy, InputError, LockUnavailable, SnImporterError, UsageError
from .clock import SYSTEM, Clock, now_iso
from .filesafety import NotOwnFolder, NotRegular, kind_of, open_regular, own_folder
from .interrupt import Interrupt, stop_signals
from .job import Job
from .locks import acquire
from .report import atomic_path, default_output_path
from .result import RunResult, failure_summary
from .run import NO_KEY, connect
from .header import needs_attention, unread_sentence
from .settings import Connection, target_facts
from .status import Mode, Origin, Status, StopKind
from .template import Template, load_template

LOCK_NAME = ".sn-importer.lock"
#: Names that are still being written, or belong to someone else: never claimed.
IGNORED_PREFIXES = (".", "~$")
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".filepart",
                 ".swp", ".lock", "~")
#: Why a run may stop (``RunResult.stop_kind``) that is about the run, not the file: the file
#: stays in processing/, the pass stops, and the next run resumes it. Any other stop
#: (an internal error) files it in failed/, so one file that triggers a bug cannot jam
#: every later drop.
LEFT_FOR_LATER = frozenset(kind for kind in StopKind if kind.about_the_run)
#: How many :class:`FileResult` a :class:`Watcher` keeps (a polling one runs for months).
KEEP_RESULTS = 100
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


def scan(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The entries of ``folder`` worth looking at, oldest first, each with what ``lstat`` saw
    (nothing is followed). Sub-folders are left alone; links and other entries that only
    claim to be files are listed too, to be refused (see :func:`kind_of`)."""
    found = []
    for path in folder.iterdir():
        if is_ignored(path.name):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue  # vanished meanwhile
        if kind_of(info) != "a folder":
            found.append((info.st_mtime, path.name, path, info))
    return [(path, info) for _, _, path, info in sorted(found)]


def candidates(folder: Path) -> list[Path]:
    """The plain files in ``folder`` worth looking at, oldest first."""
    return [path for path, info in scan(folder) if kind_of(info) is None]


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
    return out


# --------------------------------------------------------------------------- settling


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass
class Settling:
    """Decides when a dropped file has been still long enough to claim.

    A file is still once neither its content nor its metadata changed for
    ``seconds``: ``max(mtime, ctime)`` is that old (ctime catches copies that
    preserve the source's mtime), or, across the polls of one process, its
    size and times were seen unchanged for that long (which also covers a
    file share whose clock runs ahead of ours).
    """

    seconds: float
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    seen: dict[str, tuple[tuple, float]] = field(default_factory=dict)

    def still(self, path: Path, stat: os.stat_result) -> bool:
        signature = _signature(stat)
        previous = self.seen.get(path.name)
        first_seen = previous[1] if previous and previous[0] == signature else self.monotonic()
        self.seen[path.name] = (signature, first_seen)
        quiet = self.clock() - max(stat.st_mtime, stat.st_ctime)
        return quiet >= self.seconds or self.monotonic() - first_seen >= self.seconds

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


# --------------------------------------------------------------------------- one file


@dataclass
class Settings:
    """How each file is run: the same choices as the ``apply`` command."""

    mode: Mode = Mode.PREVIEW
    template: str | Path | Template | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    sandbox: bool = False
    sandbox_seed: str | Path | None = None
    state_dir: str | Path | None = None
    settle: float = 5.0
    interval: float = 10.0
    client_options: dict | None = field(default=None, repr=False)  # passed to KatanaClient (timeouts, backoff)
    #: Where the key (and base URL) may come from besides the environment (see :mod:`sn_importer.settings`).
    env_file: str | Path | None = None
    #: Wall-clock time: when a dropped file has settled, the names of kept drops.
    clock: Clock = field(default=SYSTEM, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in set(Mode):
            raise UsageError(f"mode must be one of {', '.join(Mode)}, not {self.mode!r}")
        self.mode = Mode(self.mode)
        if self.settle < 0 or self.interval <= 0:
            raise UsageError("--settle must be 0 or more and --interval more than 0 seconds")


@dataclass
class FileResult:
    """What became of one claimed file."""

    name: str            # its name in done/, failed/ or processing/
    place: str           # "done", "failed" or "processing" (left for the next run)
    exit_code: int
    summary: dict
    seconds: float
    stop_pass: bool = False  # a run-level problem: leave the other files for later
    gone_before: int = 0  # rows ``deleted`` by an earlier run of the same file (still gone), not by this one


class FileRunner:
    """Runs one claimed file through a Job and files the outcome."""

    def __init__(self, layout: Layout, settings: Settings, template: Template,
                 connection: Connection | None = None, interrupt: Interrupt | None = None):
        self.layout = layout
        self.settings = settings
        self.template = template
        #: A stop signal stops the file in hand the way it stops ``apply``.
        self.interrupt = interrupt
        #: Where preview and apply go (resolved once per session by the Watcher).
        self.connection = connection or Connection(settings.base_url, settings.api_key)

    def run(self, path: Path, resumed: bool = False, dropped_as: str | None = None,
            seen: os.stat_result | None = None) -> FileResult:
        """Run and file ``path``; a folder that cannot be written leaves it in processing/.

        The file is opened without following a link and must be a regular file with one
        name (and the very file ``seen`` in the inbox): anything else is refused unread."""
        started = time.monotonic()
        extras = {"file": path.name, "dropped_as": dropped_as or path.name, "sha256": None, "resumed": resumed,
                  "same_content_as": None}
        try:
            extras["sha256"] = digest = _digest(open_regular(path, seen))
            extras["same_content_as"] = same_content(self.layout, digest)
        except NotRegular as exc:
            return self.refuse(path, str(exc), extras, started)
        except OSError:
            pass  # unreadable: Job says why in plain words just below
        try:
            return self._run(path, extras, started)
        except OSError as exc:
            summary = unreadable_summary(path, self.settings, self.template, f"cannot file the results: {exc}")
            summary = self._masked(summary | extras | {"place": "processing"})
            return FileResult(path.name, "processing", 2, summary, time.monotonic() - started, stop_pass=True)

    def refuse(self, path: Path, why: str, extras: dict, started: float) -> FileResult:
        """A link, a hard-linked file or a pipe: filed in failed/ as it is (the link itself, never
        its target), with a summary saying why; nothing of it is read."""
        return self._unreadable(path, f"refused: {path.name} is {why}; drop the file itself (a copy), "
                                      "never a link to it", extras, started)

    def _run(self, path: Path, extras: dict, started: float) -> FileResult:
        try:
            job = Job(path, self.template)
        except SnImporterError as exc:
            return self._unreadable(path, _why(exc), extras, started)
        except Exception as exc:  # noqa: BLE001 - a bad file must never stop the other files
            return self._unreadable(path, f"unexpected error reading the file: {exc!r}", extras, started)
        result, broke = self._run_job(job)
        if result.stop and not broke and result.stop_kind in LEFT_FOR_LATER:
            return self._left_for_later(path, result, extras, started)
        # An internal error (or any stop not known to be about the run) is filed with
        # the file: retrying it first on every later pass would jam the folder.
        failed = broke or bool(result.stop)
        try:
            return self._file(path, result, "failed" if failed else "done", extras, started)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug writing the results must not jam the folder either
            return self._unreadable(path, f"unexpected error writing the results: {exc!r}", extras, started)

    def _run_job(self, job: Job) -> tuple[RunResult, bool]:
        """Preview or apply (validate: the job's own result); True if it broke unexpectedly."""
        s, connection = self.settings, self.connection
        if s.mode == Mode.VALIDATE:
            return job.validation(), False
        runner = job.apply if s.mode == Mode.APPLY else job.preview
        options = {"state_dir": s.state_dir} if s.mode == Mode.APPLY else {}
        if s.client_options:
            options["client_options"] = s.client_options
        if self.interrupt is not None:
            options["interrupt"] = self.interrupt
        try:
            return runner(base_url=connection.base_url, api_key=connection.api_key, **options), False
        except Exception as exc:  # noqa: BLE001 - reported in the summary; the file goes to failed/
            result = RunResult.begin(job, s.mode)
            result.base_url = connection.base_url
            result.halt(StopKind.INTERNAL, f"unexpected error: {exc!r}")
            return result, True

    def _file(self, path: Path, result: RunResult, place: str, extras: dict, started: float) -> FileResult:
        folder = getattr(self.layout, place)
        result.origin = Origin.WATCH
        output = result.write(folder / default_output_path(path, result.source.kind).name)
        summary = result.summary() | {"input": str(folder / path.name), "output": str(output)}
        summary |= extras | {"place": place}
        _note_same_content(summary)
        summary = self._finish(path, folder, summary)
        deleted = result.rows.loc[result.rows["status"] == Status.DELETED.value, "message"]
        gone_before = int(deleted.str.startswith("detached on ").sum())  # by an earlier run, still gone
        return FileResult(path.name, place, result.exit_code, summary, time.monotonic() - started, False, gone_before)

    def _unreadable(self, path: Path, why: str, extras: dict, started: float) -> FileResult:
        summary = unreadable_summary(self.layout.failed / path.name, self.settings, self.template, why)
        summary = self._finish(path, self.layout.failed, summary | extras | {"place": "failed"})
        return FileResult(path.name, "failed", 2, summary, time.monotonic() - started)

    def _left_for_later(self, path: Path, result: RunResult, extras: dict, started: float) -> FileResult:
        """Katana unreachable, key refused, interrupted: not the file's fault, so it stays in
        processing/ and is resumed first next time (``apply`` through the journal)."""
        summary = self._masked(result.summary() | extras | {"place": "processing"})
        return FileResult(path.name, "processing", 2, summary, time.monotonic() - started, stop_pass=True)

    def _finish(self, path: Path, folder: Path, summary: dict) -> dict:
        """Summary first, the input last: a crash in between only repeats this file. The
        summary as written (its words about the file's content masked) is returned."""
        summary = self._masked(summary)
        write_json_atomic(folder / f"{path.stem}.summary.json", summary)
        os.replace(path, folder / path.name)
        return summary

    def _masked(self, summary: dict) -> dict:
        return masked_summary(summary, keep=(self.template.name,))


def _digest(fd: int) -> str:
    """SHA-256 of what an open descriptor holds (the descriptor is closed)."""
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _why(exc: SnImporterError) -> str:
    if isinstance(exc, InputError):
        return exc.problem + (f" (sheet {exc.sheet!r})" if exc.sheet else "")
    return str(exc)


def _note_same_content(summary: dict) -> None:
    earlier = summary.get("same_content_as")
    if earlier:
        summary["notes"].append(f"The same content was dropped before: {earlier['input']} "
                                f"(finished {earlier['finished_at']}, exit code {earlier['exit_code']}).")


def unreadable_summary(input_path: Path, settings: Settings, template: Template, why: str) -> dict:
    """The ``--json`` object of a file that could not be read or filed: same keys, nothing run."""
    return failure_summary(input_path, settings.mode, why, template.name)


def same_content(layout: Layout, digest: str) -> dict | None:
    """The newest earlier summary (done/ or failed/) of a file with this exact content."""
    found = []
    for folder in (layout.done, layout.failed):
        for path in folder.glob("*.summary.json"):
            try:
                summary = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if summary.get("sha256") == digest:
                found.append(summary)
    if not found:
        return None
    latest = max(found, key=lambda s: s.get("finished_at") or "")
    return {key: latest.get(key) for key in ("input", "finished_at", "mode", "exit_code", "statuses")}


def write_json_atomic(path: Path, document: dict) -> None:
    """The summary, written the way the results are: temp file and rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "x", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")


# --------------------------------------------------------------------------- log lines


def logfmt(**fields) -> str:
    """One ``key=value`` line (logfmt), timestamp first: what grep and log shippers read best."""
    parts = [f"ts={now_iso()}"]
    for key, value in fields.items():
        if value is None or value == "":
            continue
        text = str(value)
        if not text or any(c in text for c in ' "=\\\t\n\r'):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def file_line(result: FileResult) -> str:
    """One line per file. ``deleted`` counts the serials this run detached; a copy of a file already
    done says ``recheck=yes`` and counts what its earlier run detached as ``gone_before``."""
    s = result.summary
    requests = s.get("requests") or {}
    statuses = dict(s.get("statuses") or {})
    if result.gone_before:
        statuses["deleted"] = statuses.get("deleted", 0) - result.gone_before
        statuses["gone_before"] = result.gone_before
    return logfmt(level="info" if result.exit_code == 0 else ("warn" if result.exit_code == 1 else "error"),
                  event="file", file=result.name, result=result.place, mode=s.get("mode"), exit=result.exit_code,
                  rows=s.get("rows"), recheck="yes" if s.get("same_content_as") or result.gone_before else None,
                  **statuses,
                  requests=sum(requests.get(m, 0) for m in ("GET", "DELETE", "POST")),
                  seconds=f"{result.seconds:.1f}", resumed="yes" if s.get("resumed") else None,
                  same_content_as=Path((s.get("same_content_as") or {}).get("input") or "").name or None,
                  output=s.get("output"), error=s.get("error"))


def unread_lines(result: FileResult) -> list[str]:
    """A warning per sheet that may hold rows but was not read, with its header row and nearest fields."""
    return [logfmt(level="warn", event="sheet-not-read", file=result.name, sheet=item["sheet"],
                   reason=unread_sentence(item["sheet"], item["reason"]))
            for item in result.summary.get("sheets_skipped") or [] if needs_attention(item["reason"])]


# --------------------------------------------------------------------------- the watcher


class Watcher:
    """Works on one folder: resumes what a crash left, then claims and runs settled drops.

    ``stop()`` lets the file in hand finish and then ends the run, which
    returns the worst exit code of the session, as ``--once`` does. SIGINT,
    SIGTERM and SIGHUP (while :meth:`run` holds the main thread) do what
    Ctrl-C does to ``apply``: the file in hand stops sending, settles what is
    in flight and stays in processing/ for the next run to resume; the
    session ends with exit code 2. A second signal stops at once.
    """

    def __init__(self, root: str | Path, settings: Settings | None = None,
                 log: Callable[[str], None] | None = None):
        self.settings = settings or Settings()
        self.layout = Layout.create(root)
        self.template = _template(self.settings.template)
        self.log = log or (lambda line: None)
        self.settling = Settling(self.settings.settle, clock=self.settings.clock.now)
        #: The latest files' results (at most KEEP_RESULTS: a polling watcher runs for months).
        self.results: deque[FileResult] = deque(maxlen=KEEP_RESULTS)
        self.files_run = 0
        self._worst = 0
        self._connection: Connection | None = None
        self._stop_reason: str | None = None
        self._stop_logged = False
        #: Requested by SIGINT, SIGTERM and SIGHUP: the file in hand stops sending, and the session ends.
        self.interrupt = Interrupt()
        self._waiting_logged: set[str] = set()
        self._target_said = False

    @property
    def exit_code(self) -> int:
        """The worst exit code of every file run in this session (0 when there were none);
        2 when a stop signal ended it."""
        return max(self._worst, 2 if self.interrupt.requested else 0)

    def stop(self, reason: str = "asked to stop") -> None:
        """Finish the file in hand, then end. Only sets a flag: safe from a signal handler."""
        self._stop_reason = self._stop_reason or reason

    @property
    def stopping(self) -> bool:
        if self._stop_reason and not self._stop_logged:
            self._stop_logged = True
            self.log(logfmt(level="info", event="stopping", reason=self._stop_reason, dir=self.layout.root))
        return self._stop_reason is not None

    def _sleep(self, seconds: float) -> None:
        """Wait between polls in short steps, so a stop is seen within a tenth of a second."""
        end = time.monotonic() + seconds
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(0.1, left))

    def run(self, once: bool = True) -> int:
        """Process the folder (once, or polling every ``interval`` s until stopped); the worst exit code."""
        with ExitStack() as stack:
            stack.enter_context(folder_lock(self.layout.root))
            self._connect(stack)
            stack.enter_context(stop_signals(self.interrupt, on_signal=self.stop))
            if not once:
                self.log(logfmt(level="info", event="watching", dir=self.layout.root, mode=self.settings.mode,
                                interval=self.settings.interval, settle=self.settings.settle))
            while not self.stopping:
                self.run_pass()
                if once:
                    break
                self._sleep(self.settings.interval)
        return self.exit_code

    def run_pass(self) -> list[FileResult]:
        """Resume what is in processing/, then claim and run every settled file of the inbox."""
        self.layout.check()
        done: list[FileResult] = []
        runner = FileRunner(self.layout, self.settings, self.template, self._connection, self.interrupt)
        for path, resumed, dropped_as, seen in self._work():
            self._say_target()
            result = runner.run(path, resumed=resumed, dropped_as=dropped_as, seen=seen)
            self.results.append(result)
            self.files_run += 1
            self._worst = max(self._worst, result.exit_code)
            done.append(result)
            for line in unread_lines(result):  # said before the file's own line
                self.log(line)
            self.log(file_line(result))
            if result.stop_pass:
                self.log(logfmt(level="error", event="pass-stopped", reason=result.summary.get("error"),
                                detail="left in processing/ and in the inbox for the next run"))
                break
        return done

    def _say_target(self) -> None:
        """Where the key goes, said once per session before the first file is run."""
        if self._connection is None or self._target_said:
            return
        self._target_said = True
        facts = target_facts(self._connection.base_url) or {}
        self.log(logfmt(level="info", event="katana", host=facts.get("host"), scheme=facts.get("scheme"),
                        sandbox="yes" if self.settings.sandbox else None))

    def _work(self) -> Iterator[tuple[Path, bool, str | None, os.stat_result | None]]:
        """Files to run, claimed one at a time so a stop leaves the rest in the inbox. A link or
        any other entry that only claims to be a file is claimed at once, to be refused."""
        for path, _ in scan(self.layout.processing):
            if self.stopping:
                return
            yield path, True, None, None
        for path, _ in scan(self.layout.inbox):
            if self.stopping:
                return
            claimed, info = self._claim(path)
            if claimed:
                yield claimed, False, path.name, info

    def _claim(self, path: Path) -> tuple[Path | None, os.stat_result | None]:
        """The file claimed into processing/ and what ``lstat`` saw of it just before (the
        listing's look may be old by now: other files ran since)."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None, None
        if kind_of(info) is None and not self.settling.still(path, info):
            if path.name not in self._waiting_logged:
                self._waiting_logged.add(path.name)
                self.log(logfmt(level="info", event="waiting", file=path.name,
                                reason=f"changed less than {self.settings.settle:g} s ago"))
            return None, None
        claimed = claim(self.layout, path, info, self.settings.clock)
        if claimed:
            self.settling.forget(path.name)
            self._waiting_logged.discard(path.name)
        return claimed, info

    def _connect(self, stack: ExitStack) -> None:
        """One sandbox for the whole session (so reruns of a file hit the same base URL), or the
        configured Katana, whose key must be there before any file is touched."""
        s = self.settings
        if s.mode == Mode.VALIDATE:
            return
        connection = connect(stack, sandbox=s.sandbox, sandbox_seed=s.sandbox_seed, base_url=s.base_url,
                             api_key=s.api_key, env_file=s.env_file)
        if not connection.api_key:
            raise UsageError(NO_KEY)
        self._connection = connection
        stack.callback(setattr, self, "_connection", None)  # a sandbox's URL dies with the session


def _template(template: str | Path | Template | None) -> Template:
    """Loaded once up front: a broken template is a usage error, not a failure of every file."""
    return template if isinstance(template, Template) else load_template(template)


def watch(root: str | Path, *, once: bool = True, log: Callable[[str], None] | None = None, **settings) -> int:
    """Process the drops in ``root`` (see the module docstring); returns the worst exit code.

    ``settings`` are the fields of :class:`Settings` (mode, template, base_url,
    api_key, sandbox, sandbox_seed, state_dir, settle, interval, client_options, env_file).
    """
    return Watcher(root, Settings(**settings), log).run(once=once)


__all__ = ["LEFT_FOR_LATER", "FileResult", "FolderBusy", "Layout", "Settings", "Settling", "Watcher",
           "folder_lock", "is_ignored", "logfmt", "watch"]
