"""The folders sn-importer writes to, and what a full one means: a clean, resumable stop.

A run writes to two places: the state folder (the journal, the shared quota)
and the output's folder (the report). Either can fill up, vanish or turn
read-only mid-run; SQLite then says ``database or disk is full``, the OS
``ENOSPC``. :func:`writing` turns those into one
:class:`~sn_importer.errors.StorageError` (its stop kind ``storage``), so
the run stops like any other stop: nothing more is sent, every row keeps a
true status, the report lands where there is room, exit code 2, and the same
command resumes once there is room again. :func:`reserve` proves a folder
can take a file of a given size before anything is sent, by reserving real
blocks (an empty probe file passes on a full disk).
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import StorageError

#: OS errors that mean "this folder cannot take the file now" rather than a bug.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOENT, errno.EACCES,
                            errno.EPERM, errno.ENOTDIR, errno.EEXIST})
#: What SQLite says when its file's folder cannot take a write.
_SQLITE_WORDS = ("disk is full", "disk i/o error", "unable to open database file", "readonly database",
                 "out of memory")


def storage_problem(exc: BaseException) -> str | None:
    """The reason in plain words when ``exc`` means a folder cannot take a write, else None."""
    if isinstance(exc, StorageError):
        return exc.reason
    if isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _SQLITE_WORDS):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return exc.strerror or str(exc)
    return None


@contextmanager
def writing(where: str) -> Iterator[None]:
    """Writes to ``where`` (e.g. "the journal in /var/lib/sn"): a full or refusing folder becomes a
    :class:`StorageError`; anything else passes through."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        reason = storage_problem(exc)
        if reason is None:
            raise
        raise StorageError(where, reason) from exc


def reserve(folder: str | Path, size: int, where: str | None = None) -> None:
    """Prove ``folder`` can take ``size`` more bytes now: reserve real blocks in a probe file, then
    give them back. Raises :class:`StorageError` when it cannot."""
    folder = Path(folder)
    probe = folder / f".sn-importer-room.{os.getpid()}.{secrets.token_hex(4)}"
    with writing(where or f"to {folder}"):
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _allocate(fd, max(1, size))
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)


class _ZipTarget:
    """The file a zip is written into, going quiet after its first error.

    A zip writer that fails part-way (a full disk) is left half-open, and
    when Python collects it, it tries to finish the file once more and prints
    "Exception ignored in ZipFile.__del__" with a traceback on stderr, after
    the command has already said what went wrong. Written through this
    object, the first error goes up to the caller as usual; after it, writes
    and seeks only move a position kept here (so the writer's sums of offsets
    still add up) and nothing reaches the disk.
    """

    def __init__(self, path: Path):
        self._file = open(path, "wb")  # noqa: SIM115 - closed by zip_target
        self._failed = False
        self._position = 0

    def _on_disk(self, name: str, *args) -> None:
        """The file's own ``name(*args)``, until the first error (which goes up, and marks the failure)."""
        if self._failed:
            return
        try:
            getattr(self._file, name)(*args)
        except OSError:
            self._failed = True
            raise

    def write(self, data) -> int:
        self._on_disk("write", data)
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError("a zip target seeks from its start only")
        self._on_disk("seek", offset)
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._on_disk("flush")

    def seekable(self) -> bool:
        return True

    def close(self, failed: bool = False) -> None:
        """Close the file; its error is raised unless the writing failed already (or ``failed``: the
        caller's own error is on its way up, and the writer's clean-up after it must stay quiet)."""
        self._failed = self._failed or failed
        try:
            self._file.close()
        except OSError:
            if not self._failed:
                raise


@contextmanager
def zip_target(path: Path) -> Iterator[_ZipTarget]:
    """A file to give a zip writer (``zipfile.ZipFile``, XlsxWriter) for ``path``: its errors reach the
    caller once, and nothing is printed when the writer is collected after a failure."""
    target = _ZipTarget(path)
    try:
        yield target
    except BaseException:
        target.close(failed=True)
        raise
    target.close()


def _allocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
            raise
    except AttributeError:  # no posix_fallocate here: write the bytes
        pass
    block = b"\0" * min(size, 1 << 20)
    left = size
    while left > 0:
        left -= os.write(fd, block[:left])
    os.fsync(fd)


__all__ = ["STORAGE_ERRNOS", "reserve", "storage_problem", "writing", "zip_target"]
