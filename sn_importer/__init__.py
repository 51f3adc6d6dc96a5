"""sn-importer: detach serial numbers from Katana MRP resources listed in a spreadsheet.

    import sn_importer as sn
    job = sn.read("serials.xlsx")      # read, map, validate, plan: the job never changes after this
    job.rows                           # every input row with its validation status and message
    result = job.preview(sandbox=True) # a run returns its own result (rows, counts, requests, ...)
    result.write()                     # the annotated copy beside the input
    undone = result.undo()             # on an apply's result: put back what it removed
    sn.undo("serials.results.xlsx")    # the same from an apply's results file

``read``, ``Job`` and ``RunResult`` are loaded on first use, so importing the
package (and starting the command line) does not load pandas.
"""

import typing

from .errors import (
    ApiRequestError,
    ApiUnavailableError,
    AuthError,
    FolderBusy,
    HeaderNotFoundError,
    InputError,
    JournalError,
    KatanaError,
    LockHeld,
    LockUnavailable,
    ResumeLaterError,
    RunInProgress,
    SnImporterError,
    StalledError,
    StorageError,
    TemplateError,
    UntrustedListError,
    UsageError,
    WaitTooLongError,
)
from .outcome import Cause, Outcome, Stop
from .status import Mode, Status, StopKind
from .template import Template, load_template

if typing.TYPE_CHECKING:
    from .job import Job, read
    from .restore import UndoResult, undo
    from .result import RunResult

__version__ = "0.1.0"

#: Public names loaded on first use, and the module each lives in.
_LAZY = {"Job": "job", "read": "job", "RunResult": "result", "UndoResult": "restore", "undo": "restore"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ApiRequestError",
    "ApiUnavailableError",
    "AuthError",
    "Cause",
    "FolderBusy",
    "HeaderNotFoundError",
    "InputError",
    "Job",
    "JournalError",
    "KatanaError",
    "LockHeld",
    "LockUnavailable",
    "Mode",
    "Outcome",
    "ResumeLaterError",
    "RunInProgress",
    "RunResult",
    "SnImporterError",
    "StalledError",
    "Status",
    "Stop",
    "StopKind",
    "StorageError",
    "Template",
    "TemplateError",
    "UndoResult",
    "UntrustedListError",
    "UsageError",
    "WaitTooLongError",
    "load_template",
    "read",
    "undo",
]
