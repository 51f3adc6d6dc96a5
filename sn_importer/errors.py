"""The one exception tree of sn-importer.

Every error a user can meet is one of these, so the command line can print a
single clear line and pick the exit code, and a notebook can catch the family
it cares about. An error that stops a run carries its :class:`StopKind`
(``stop_kind``), so no caller maps exceptions to stops by hand::

    SnImporterError                 base: exit code 2 on the command line
    ├── UsageError                  options that do not fit together
    ├── StorageError                the state or output folder cannot take a file (full, gone, refused)
    ├── InputError                  the file cannot be read as a serial-number sheet
    │   └── HeaderNotFoundError     no sheet has a recognisable header
    ├── TemplateError               a template file is broken (file, key, problem)
    ├── JournalError                the crash-safety journal cannot be used (corrupt, not SQLite)
    ├── LockUnavailable             a lock cannot be taken (no lock on this system, file not openable)
    ├── LockHeld                    another process holds the lock (its pid when known)
    │   ├── RunInProgress           another apply of the same file against the same Katana is running
    │   └── FolderBusy              another watcher works on the folder (watch exits 0)
    └── KatanaError                 talking to the API went wrong
        ├── AuthError               401/403: the key is missing, wrong or revoked
        ├── ApiUnavailableError     no answer (connection refused, timeouts, 5xx) after retries
        ├── ApiRequestError         the API refused the request (other 4xx)
        ├── UntrustedListError      a list could not be read consistently (one resource or type)
        └── ResumeLaterError        the run must stop now and be run again later
            ├── WaitTooLongError    Katana asked to wait longer than --max-wait
            └── StalledError        no request has succeeded for the stall limit
"""

from __future__ import annotations

from pathlib import Path

from .status import StopKind


class SnImporterError(Exception):
    """Base of every error sn-importer raises on purpose."""

    #: What this error means for a run it stops (None: it concerns a row or a resource, not the run).
    stop_kind: StopKind | None = StopKind.INTERNAL


class StorageError(SnImporterError):
    """A folder sn-importer writes to (the state directory, the output's) cannot take a file:
    the disk is full, the folder is gone or refuses writing. Resumable once there is room."""

    stop_kind = StopKind.STORAGE

    def __init__(self, where: str, reason: str):
        self.where, self.reason = where, reason
        super().__init__(f"cannot write {where}: {reason}; make room there and run the same command again to resume")


class UsageError(SnImporterError):
    """The call itself is wrong (options that clash, missing arguments)."""


class InputError(SnImporterError):
    """The input cannot be read as a serial-number sheet; names the file (and sheet)."""

    def __init__(self, path: str | Path, problem: str, sheet: str | None = None):
        self.path = Path(path)
        self.sheet = sheet
        self.problem = problem
        where = f"{path}" + (f" (sheet {sheet!r})" if sheet else "")
        super().__init__(f"{where}: {problem}")


class HeaderNotFoundError(InputError):
    """No sheet has a header the template recognises."""


class TemplateError(SnImporterError):
    """A template is broken; the message names the file, the key and the problem."""

    def __init__(self, path: str | Path, key: str | None, problem: str):
        self.path = Path(path)
        self.key = key
        self.problem = problem
        where = f"template {str(path) or repr('')}" + (f", key {key!r}" if key else "")  # a blank name is not "."
        super().__init__(f"{where}: {problem}")


class JournalError(SnImporterError):
    """The journal file cannot be used (corrupt, locked by something else, not SQLite)."""

    stop_kind = StopKind.JOURNAL


class LockUnavailable(SnImporterError):
    """A lock cannot be taken here (no lock on this system, or the lock file cannot be
    opened); sn-importer refuses to run unlocked."""

    stop_kind = StopKind.JOURNAL

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot lock {self.path}: {reason}")


class LockHeld(SnImporterError):
    """Another process holds a lock; ``holder`` is its pid when it could be read."""

    def __init__(self, path: str | Path, holder: str = "", message: str | None = None):
        self.path = Path(path)
        self.holder = holder
        super().__init__(message or f"{self.path} is locked by another process{_pid(holder)}")


class RunInProgress(LockHeld):
    """Another process is applying the same file (or undoing the same apply) against the same Katana now."""

    stop_kind = StopKind.BUSY

    def __init__(self, path: str | Path, holder: str = "", what: str = "apply of this file"):
        super().__init__(path, holder, f"another {what} against this Katana is running{_pid(holder)}; "
                                       "wait for it to finish")


class FolderBusy(LockHeld):
    """Another watcher holds DIR's lock; nothing was done (the command exits 0)."""

    def __init__(self, root: str | Path, holder: str = ""):
        self.root = Path(root)
        super().__init__(self.root / ".sn-importer.lock", holder,
                         f"another sn-importer watch is already working on {root}{_pid(holder)}; nothing to do")


def _pid(holder: str) -> str:
    return f" (pid {holder})" if holder else ""


class KatanaError(SnImporterError):
    """Talking to the Katana API failed."""


class AuthError(KatanaError):
    """401/403: the key is wrong, missing or revoked. Retrying cannot help."""

    stop_kind = StopKind.AUTH

    def __init__(self, status_code: int, api_message: str = ""):
        self.status_code = status_code
        self.api_message = api_message
        super().__init__(
            f"Katana refused the API key ({status_code} {api_message or 'Unauthorized'}); "
            "check KATANA_API_KEY"
        )


class ApiUnavailableError(KatanaError):
    """The API could not be reached or kept failing after every retry."""

    stop_kind = StopKind.UNREACHABLE


class ApiRequestError(KatanaError):
    """The API answered a 4xx other than 401/403/429; carries its message. A run it stops (a 404
    on the list endpoint) is talking to something that is not Katana's API."""

    stop_kind = StopKind.BASE_URL

    def __init__(self, status_code: int, api_message: str, method: str = "", path: str = ""):
        self.status_code = status_code
        self.api_message = api_message
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} answered {status_code}: {api_message}".strip())


class UntrustedListError(KatanaError):
    """A list of serials could not be read so that it can be trusted (it kept changing,
    repeated a page, or would not end). Only that resource (or type) is given up."""

    stop_kind = None

    def __init__(self, resource_type: str | None, resource_id: int | None, reason: str):
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.reason = reason
        super().__init__(reason)


class ResumeLaterError(KatanaError):
    """The run has to stop now; running the same command again resumes it."""

    stop_kind = StopKind.WAIT

    resume = "nothing more was sent; run the same command again to resume"


class WaitTooLongError(ResumeLaterError):
    """Katana asked for a wait (Retry-After, or a quota reset) longer than the run may wait."""

    def __init__(self, seconds: float, max_wait: float, why: str = "Katana asked to wait"):
        self.seconds = seconds
        self.max_wait = max_wait
        super().__init__(f"{why} {seconds:.0f} s, longer than the {max_wait:g} s allowed (--max-wait); "
                         f"{self.resume}")


class StalledError(ResumeLaterError):
    """No request has succeeded for the stall limit."""

    def __init__(self, seconds: float, last_failure: str = "", limit: float | None = None):
        self.seconds = seconds
        self.last_failure = last_failure
        because = f" (last: {last_failure})" if last_failure else ""
        shown = f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"
        bound = f", and the next try would pass the {limit:g} s stall limit (--stall)" if limit else ""
        super().__init__(f"no request to Katana has succeeded for {shown} s{because}{bound}; {self.resume}")

