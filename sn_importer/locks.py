"""One way to hold a file lock, the same on every system sn-importer runs on.

Two things need "only one process at a time": an apply of one file against
one Katana (the journal's run lock) and a watcher on one folder. Both hold an
OS lock on a small file rather than a pid file, because the system releases
an OS lock however the holder ends (SIGKILL and power loss included), so a
crash never leaves a stale lock behind. The lock file is never deleted:
unlinking it would let a later process lock a fresh inode while an older one
still holds the old one. The holder writes its pid into the file, so the
process that is refused can say who holds it.

POSIX systems lock with ``fcntl.flock``, Windows with ``msvcrt.locking``
(there the holder's pid cannot be read while it holds the lock). On a system
with neither, or when the lock file cannot be opened, :func:`acquire` raises
:class:`~sn_importer.errors.LockUnavailable` naming the file: nothing runs
unlocked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import LockHeld, LockUnavailable


class Lock:
    """A lock this process holds; :meth:`release` (or the end of a ``with`` block) lets it go."""

    def __init__(self, path: Path, handle, unlock: Callable):
        self.path = path
        self._handle = handle
        self._unlock = unlock

    def release(self) -> None:
        if self._handle.closed:
            return
        try:
            self._unlock(self._handle)
        finally:
            self._handle.close()  # closing releases the lock too

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(path: str | Path, held: Callable[[str], LockHeld] | None = None) -> Lock:
    """Take the exclusive lock on ``path`` (created if missing) without waiting.

    When another process holds it, raises ``held(its pid)`` (default
    :class:`~sn_importer.errors.LockHeld`; the pid is "" when it cannot be
    read). Errors come before anything is held, so ``with acquire(...):``
    never mistakes an error of the block for one of the lock.
    """
    path = Path(path)
    lock, unlock = _primitives(path)
    handle = _open_own(path)
    try:
        lock(handle)
    except OSError:
        holder = _holder(handle)
        handle.close()
        raise (held(holder) if held else LockHeld(path, holder)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return Lock(path, handle, unlock)


def _open_own(path: Path):
    """The lock file, opened without following a link and refused unless it is a regular file of
    this user (a link planted in its place would have the pid written over its target)."""
    from .filesafety import kind_of, my_uid

    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        reason = "it is a symbolic link" if os.path.islink(path) else exc.strerror or str(exc)
        raise LockUnavailable(path, reason) from None
    info = os.fstat(fd)
    why = kind_of(info)
    if why is None and my_uid() is not None and info.st_uid != my_uid():
        why = f"it belongs to another user (uid {info.st_uid})"
    if why is not None:
        os.close(fd)
        raise LockUnavailable(path, why if why.startswith("it ") else f"it is {why}")
    return open(fd, "a+", encoding="utf-8")  # noqa: SIM115 - owned by the Lock


def _holder(handle) -> str:
    try:
        handle.seek(0)
        return handle.read().strip()
    except OSError:  # Windows: the holder's locked byte cannot be read
        return ""


def _primitives(path: Path) -> tuple[Callable, Callable]:
    """(lock, unlock) for this system: non-blocking, exclusive, whole-file."""
    try:
        import fcntl
    except ImportError:
        pass
    else:
        return (lambda h: fcntl.flock(h, fcntl.LOCK_EX | fcntl.LOCK_NB)), (lambda h: fcntl.flock(h, fcntl.LOCK_UN))
    try:
        import msvcrt
    except ImportError:
        raise LockUnavailable(path, "this system has neither fcntl.flock nor msvcrt.locking") from None

    def lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

    return lock, unlock


__all__ = ["Lock", "acquire"]
