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
:mod:`sn_importer.dropfolder`; the runner of one file (:class:`FileRunner`,
with :class:`Settings` and :class:`FileResult`) is :mod:`sn_importer.dropfile`;
here is the runner of a session (:class:`Watcher`), on the injected clock
(``Settings.clock``). Each file is one logfmt line through ``log``
(:mod:`sn_importer.watchlog`); the library never prints.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

from .dropfile import LEFT_FOR_LATER, FileResult, FileRunner, Settings
from .dropfolder import (FolderBusy, Layout, Settling, claim, dropped_name, folder_lock, free_name, is_ignored,
                         mask_content, removed_claims, scan)
from .errors import UsageError
from .filesafety import kind_of
from .interrupt import Interrupt, stop_signals
from .run import NO_KEY, connect, run_sync
from .settings import Connection, target_facts
from .status import Mode
from .template import Template, load_template
from .watchlog import file_line, logfmt, unread_lines

#: How many :class:`FileResult` a :class:`Watcher` keeps (a polling one runs for months).
KEEP_RESULTS = 100


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
        self._left_logged: set[str] = set()
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
            yield path, True, dropped_name(path), None
        for path in removed_claims(self.layout):  # removed by hand while they waited: said once, then forgotten
            if self.stopping:
                return
            yield path, True, dropped_name(path), None
        left: list[Path] = []
        found = scan(self.layout.inbox, left)
        self._say_left(left)
        for path, _ in found:
            if self.stopping:
                return
            claimed, info = self._claim(path)
            if claimed:
                yield claimed, False, path.name, info

    def _say_left(self, left: list[Path]) -> None:
        """Undo reports in the inbox are not run and stay where they are; each is said once while it
        stays there, so whoever dropped one is not left waiting for results that never come."""
        names = {path.name for path in left}
        for name in sorted(names - self._left_logged):
            self._log(level="warn", event="undo-report", file=name,
                      reason="an undo's report, not a sheet to run: left in the inbox untouched; to put serials "
                             "back, run sn-importer undo on the apply's results file")
        self._left_logged = names

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
