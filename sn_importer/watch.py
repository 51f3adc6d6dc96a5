"""File drops, unattended: the runner behind ``sn-importer watch DIR``.

``sn-importer watch DIR`` (and :func:`watch` here) is the cron-friendly face of
the same pipeline the other commands run: every file dropped into
``DIR/inbox/`` is claimed into ``processing/`` once it has been still for
``settle`` seconds, read and validated, previewed or applied through
:class:`~sn_importer.job.Job`, and filed with its run result's annotated copy
and a ``<stem>.summary.json`` (the ``--json`` object) in ``done/``, or in
``failed/`` when it could not be read or its run stopped on an internal error.
A file left in ``processing/`` by a crash, or by a run-level problem such as
Katana being unreachable (see :data:`LEFT_FOR_LATER`), is taken up first the
next time and resumed through the journal.

The folder itself (layout, lock, what may be taken, claiming, filing) is
:mod:`sn_importer.dropfolder`; here are the runners of one file
(:class:`FileRunner`) and of a session (:class:`Watcher`), on the injected
clock (``Settings.clock``). Each file is one logfmt line through ``log``
(:mod:`sn_importer.watchlog`); the library never prints.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .clock import SYSTEM, Clock
from .dropfolder import (FolderBusy, Layout, Settling, claim, digest_of, file_away, folder_lock, free_name,
                         is_ignored, mask_content, masked_summary, same_content, scan)
from .errors import InputError, SnImporterError, UsageError
from .filesafety import NotRegular, kind_of, open_regular
from .interrupt import Interrupt, stop_signals
from .job import Job
from .report import default_output_path
from .result import RunResult, failure_summary
from .run import NO_KEY, connect, run_sync
from .settings import Connection, target_facts
from .status import Mode, Origin, StopKind
from .template import Template, load_template
from .watchlog import detached_before, file_line, logfmt, unread_lines

#: Why a run may stop (``RunResult.stop_kind``) that is about the run, not the file: the file
#: stays in processing/, the pass stops, and the next run resumes it. Any other stop
#: (an internal error) files it in failed/, so one file that triggers a bug cannot jam
#: every later drop.
LEFT_FOR_LATER = frozenset(kind for kind in StopKind if kind.about_the_run)
#: How many :class:`FileResult` a :class:`Watcher` keeps (a polling one runs for months).
KEEP_RESULTS = 100
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
    gone_before: int = 0  # rows ``deleted`` not by this attempt (see watchlog.detached_before)
    rechecked: bool = False  # an earlier run of the same file had detached some of its serials


class FileRunner:
    """Runs one claimed file through a Job and files the outcome."""

    def __init__(self, layout: Layout, settings: Settings, template: Template,
                 connection: Connection | None = None, interrupt: Interrupt | None = None):
        self.layout = layout
        self.settings = settings
        self.template = template
        #: A stop signal stops the file in hand the way it stops ``apply``.
        self.interrupt = interrupt
        self.clock = settings.clock
        #: Where preview and apply go (resolved once per session by the Watcher).
        self.connection = connection or Connection(settings.base_url, settings.api_key)

    def run(self, path: Path, resumed: bool = False, dropped_as: str | None = None,
            seen: os.stat_result | None = None) -> FileResult:
        """Run and file ``path``; a folder that cannot be written leaves it in processing/.

        The file is opened without following a link and must be a regular file with one
        name (and the very file ``seen`` in the inbox): anything else is refused unread."""
        started = self.clock.now()
        extras = {"file": path.name, "dropped_as": dropped_as or path.name, "sha256": None, "resumed": resumed,
                  "same_content_as": None}
        try:
            extras["sha256"] = digest = digest_of(open_regular(path, seen))
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
            return FileResult(path.name, "processing", 2, summary, self.clock.now() - started, stop_pass=True)

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
        options = {"origin": Origin.WATCH, **({"state_dir": s.state_dir} if s.mode == Mode.APPLY else {})}
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
        summary = (result.summary() | {"input": str(folder / path.name), "output": str(output)}
                   | extras | {"place": place})
        _note_same_content(summary)
        summary = self._finish(path, folder, summary)
        return FileResult(path.name, place, result.exit_code, summary, self.clock.now() - started, False,
                          *detached_before(result))

    def _unreadable(self, path: Path, why: str, extras: dict, started: float) -> FileResult:
        summary = unreadable_summary(self.layout.failed / path.name, self.settings, self.template, why)
        summary = self._finish(path, self.layout.failed, summary | extras | {"place": "failed"})
        return FileResult(path.name, "failed", 2, summary, self.clock.now() - started)

    def _left_for_later(self, path: Path, result: RunResult, extras: dict, started: float) -> FileResult:
        """Katana unreachable, key refused, interrupted: not the file's fault, so it stays in
        processing/ and is resumed first next time (``apply`` through the journal)."""
        summary = self._masked(result.summary() | extras | {"place": "processing"})
        return FileResult(path.name, "processing", 2, summary, self.clock.now() - started, True, *detached_before(result))

    def _finish(self, path: Path, folder: Path, summary: dict) -> dict:
        """File it with its summary; the summary as written (its words about the file's content
        masked) is returned."""
        summary = self._masked(summary)
        file_away(path, folder, summary)
        return summary

    def _masked(self, summary: dict) -> dict:
        return masked_summary(summary, keep=(self.template.name,))


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
        self.clock = self.settings.clock
        self.settling = Settling(self.settings.settle, clock=self.clock)
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
            self._log(level="info", event="stopping", reason=self._stop_reason, dir=self.layout.root)
        return self._stop_reason is not None

    def _sleep(self, seconds: float) -> None:
        """Wait between polls on the clock, in short steps, so a stop is seen within a tenth of a second."""
        run_sync(self._wait(seconds))

    async def _wait(self, seconds: float) -> None:
        end = self.clock.now() + seconds
        while not self.stopping and (left := end - self.clock.now()) > 0:
            await self.clock.sleep(min(0.1, left))

    def _log(self, **fields) -> None:
        self.log(logfmt(clock=self.clock, **fields))

    def run(self, once: bool = True) -> int:
        """Process the folder (once, or polling every ``interval`` s until stopped); the worst exit code."""
        with ExitStack() as stack:
            stack.enter_context(folder_lock(self.layout.root))
            self._connect(stack)
            stack.enter_context(stop_signals(self.interrupt, on_signal=self.stop))
            if not once:
                self._log(level="info", event="watching", dir=self.layout.root, mode=self.settings.mode,
                          interval=self.settings.interval, settle=self.settings.settle)
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
            for line in unread_lines(result, self.clock):  # said before the file's own line
                self.log(line)
            self.log(file_line(result, self.clock))
            if result.stop_pass:
                self._log(level="error", event="pass-stopped", reason=result.summary.get("error"),
                          detail="left in processing/ and in the inbox for the next run")
                break
        return done

    def _say_target(self) -> None:
        """Where the key goes, said once per session before the first file is run."""
        if self._connection is None or self._target_said:
            return
        self._target_said = True
        facts = target_facts(self._connection.base_url) or {}
        self._log(level="info", event="katana", host=facts.get("host"), scheme=facts.get("scheme"),
                  sandbox="yes" if self.settings.sandbox else None)

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
                self._log(level="info", event="waiting", file=path.name,
                          reason=f"changed less than {self.settings.settle:g} s ago")
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


__all__ = ["LEFT_FOR_LATER", "FileResult", "FileRunner", "FolderBusy", "Layout", "Settings", "Settling", "Watcher",
           "claim", "folder_lock", "free_name", "is_ignored", "logfmt", "mask_content", "watch"]
