"""One dropped file, run and filed: the runner behind each file of ``sn-importer watch``.

:class:`FileRunner` runs one file claimed into ``processing/`` the way the
``apply`` command would (:class:`~sn_importer.job.Job`, the choices in
:class:`Settings`) and files it with its annotated results and
``<stem>.summary.json`` in ``done/``, or in ``failed/`` when it could not be
read or its run stopped on an internal error; a run stopped for a reason
about the run, not the file (:data:`LEFT_FOR_LATER`), leaves it in
``processing/`` for the next run. A file removed from ``processing/`` by hand
before its run was filed can be neither filed nor resumed: its summary (and
its results when they can be made without it) go to ``failed/``, its line
says so (:func:`removed_sentence`), and the other files go on. What became of it is a :class:`FileResult`,
which :mod:`sn_importer.watchlog` turns into the file's log line. The folder
itself is :mod:`sn_importer.dropfolder`; the session, :mod:`sn_importer.watch`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .clock import SYSTEM, Clock
from .dropfolder import Layout, digest_of, file_away, forget_claim, masked_summary, same_content, write_json_atomic
from .errors import InputError, SnImporterError, UsageError
from .filesafety import NotRegular, open_regular
from .interrupt import Interrupt
from .job import Job
from .report import default_output_path
from .result import RunResult, failure_summary
from .settings import Connection
from .status import Mode, Origin, StopKind
from .template import Template
from .watchlog import detached_before

#: Why a run may stop (``RunResult.stop_kind``) that is about the run, not the file: the file
#: stays in processing/, the pass stops, and the next run resumes it. Any other stop
#: (an internal error) files it in failed/, so one file that triggers a bug cannot jam
#: every later drop.
LEFT_FOR_LATER = frozenset(kind for kind in StopKind if kind.about_the_run)


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
        except FileNotFoundError:
            return self.removed(path, None, extras, started)
        except OSError:
            pass  # unreadable: Job says why in plain words just below
        try:
            return self._run(path, extras, started)
        except OSError as exc:
            if _gone(path):
                return self.removed(path, None, extras, started)
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
        except Exception as exc:  # noqa: BLE001 - a bad file must never stop the other files
            if _gone(path):
                return self.removed(path, None, extras, started)
            why = _why(exc) if isinstance(exc, SnImporterError) else f"unexpected error reading the file: {exc!r}"
            return self._unreadable(path, why, extras, started)
        result, broke = self._run_job(job)
        if _gone(path):  # removed by hand while it ran: it can be neither filed nor resumed
            return self.removed(path, result, extras, started, broke)
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

    def removed(self, path: Path, result: RunResult | None, extras: dict, started: float,
                broke: bool = False) -> FileResult:
        """``path`` was removed from processing/ before its run was filed (by hand, while it ran or
        while it waited to be resumed). Nothing brings it back, so this is its last word: a summary
        in failed/ (with the results when they can be written without the file) and a line saying
        so; the pass goes on with the other files."""
        folder = self.layout.failed
        if result is not None:
            result.origin = Origin.WATCH
            try:
                result.write(folder / default_output_path(path, result.source.kind).name)
            except Exception:  # noqa: BLE001 - a workbook's annotated copy is made from the workbook
                pass
        why = removed_sentence(path.name, self.settings.mode, result)
        summary = (result.summary() if result is not None
                   else unreadable_summary(folder / path.name, self.settings, self.template, why))
        summary = self._masked(summary | extras | {"input": None, "place": "failed", "error": why})
        try:
            write_json_atomic(folder / f"{path.stem}.summary.json", summary)
        except OSError:
            pass  # the log line still says what became of it
        forget_claim(path)
        counts = detached_before(result) if result is not None else (0, False)
        left = result is not None and not broke and result.stop_kind in LEFT_FOR_LATER  # interrupted: the pass ends
        return FileResult(path.name, "failed", 2, summary, self.clock.now() - started, left, *counts)

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


def removed_sentence(name: str, mode: Mode, result: RunResult | None = None) -> str:
    """What a file removed from processing/ before it was filed comes to, in the words of its log
    line: a run already under way goes on with the rows it had read (a resumed one, or one stopped,
    is not taken up again)."""
    sent = "what was sent is in the journal" if mode == Mode.APPLY else ""
    if result is not None and not result.stop:
        made = "its results are filed without it" if result.output else "its results could not be made without it"
        return "; ".join(filter(None, (f"{name} was removed from processing/ while it ran; the run went on with "
                                       "the rows it had read", made, sent)))
    if mode == Mode.APPLY:
        return (f"{name} was removed from processing/ before its run finished; nothing more is sent for it; "
                f"{sent} (drop the file again to finish it)")
    return f"{name} was removed from processing/ before its run finished; drop it again to run it"


def _gone(path: Path) -> bool:
    return not os.path.lexists(path)


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


__all__ = ["LEFT_FOR_LATER", "FileResult", "FileRunner", "Settings", "removed_sentence", "unreadable_summary"]
