"""Files are what they claim, and the operator's folders are the operator's.

The importer holds a key with write access to the company's ERP, and some of
its folders are shared with others (a drop folder's ``inbox/``). So a file
it reads on someone else's behalf is opened without following links and
checked on the opened descriptor (a regular file with one name: not a
symbolic or hard link to a secret elsewhere), and a folder it writes into
must be a real folder of its own user, never a link another user planted.
Checks are made on what was opened (``fstat``), not on a name that could be
swapped between a check and a use.

What the importer keeps for itself (the state directory: the journal with
every removed record, the quota ledger, the page's uploads and run records)
is private: folders 0700, files 0600 (:func:`private_dir`, :func:`private_file`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class NotRegular(Exception):
    """A file that is not what it claims (a link, a hard-linked file, a pipe, a device);
    the message says which in plain words."""


class NotOwnFolder(Exception):
    """A folder that is a link, not a folder, or another user's; the message says which."""


def my_uid() -> int | None:
    """This process's user (None where the system has no such notion)."""
    return os.geteuid() if hasattr(os, "geteuid") else None


def kind_of(info: os.stat_result) -> str | None:
    """Why an entry is not a plain file of its own (None when it is one)."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    if info.st_nlink > 1:
        return f"a hard link (the file has {info.st_nlink} names)"
    return None


def open_regular(path: str | Path, expected: os.stat_result | None = None) -> int:
    """A read-only descriptor of ``path``, opened without following a link and checked on
    the descriptor: a regular file with one name (and, given ``expected``, the very file
    that was seen before). Raises :class:`NotRegular` with the reason."""
    why = kind_of(os.lstat(path))  # a pipe or a device is never even opened
    if why is not None:
        raise NotRegular(why)
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | NONBLOCK | CLOEXEC)
    except OSError:
        if os.path.islink(path):  # swapped for a link since the look above
            raise NotRegular("a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        why = kind_of(info)
        if why is None and expected is not None and (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino):
            why = "replaced while it was being claimed"
        if why is not None:
            raise NotRegular(why)
    except BaseException:
        os.close(fd)
        raise
    return fd


def operator_file_problem(info: os.stat_result) -> str | None:
    """Why a file that steers the key (an env file, a users file) cannot be trusted, or None:
    not a regular file, another user's, or writable by others."""
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    uid = my_uid()
    if uid is not None and info.st_uid != uid:
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"can be written by others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def own_folder(path: str | Path, create: bool = True) -> Path:
    """``path`` as a real folder of this user (created when missing). Raises
    :class:`NotOwnFolder` for a link, a file or another user's folder."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise
        path.mkdir()
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise NotOwnFolder(f"{path} is a symbolic link; use a real folder (remove the link)")
    if not stat.S_ISDIR(info.st_mode):
        raise NotOwnFolder(f"{path} is not a folder")
    uid = my_uid()
    if uid is not None and info.st_uid != uid:
        raise NotOwnFolder(f"{path} belongs to another user (uid {info.st_uid}); it must be a folder of the user "
                           "sn-importer runs as")
    return path


def private_dir(path: str | Path) -> Path:
    """``path`` as a folder only its user can enter (0700): created so, or narrowed when it
    is this user's and others may look in. Its parents are made as usual."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    _narrow(path, 0o700)
    return path


def private_file(path: str | Path) -> Path:
    """``path`` as a file only its user can read (0600): created empty so when missing (before
    SQLite opens it: its WAL and shared-memory files take the database's mode), narrowed when
    it is this user's and others may read it. A link is never followed."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o600)
    except OSError:
        return path  # the caller's own open says why, in its words
    os.close(fd)
    _narrow(path, 0o600)
    return path


def _narrow(path: Path, mode: int) -> None:
    try:
        info = os.stat(path)
        if my_uid() is not None and info.st_uid == my_uid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours to change: it stays as it is


__all__ = ["NotOwnFolder", "NotRegular", "kind_of", "my_uid", "open_regular", "operator_file_problem", "own_folder",
           "private_dir", "private_file"]
