"""Per-person logins for the page: a file of names and password hashes (``--users-file``).

One line per person, ``name:scrypt$n$r$p$salt$hash`` (salt and hash in
base64). Make a line with ``python -m sn_importer.web.users NAME`` (it asks
for the password twice) and append it to the file. Passwords are hashed
with scrypt (``hashlib``), so the file holds nothing a reader could log in
with; still, like the env file, it must be the operator's own and writable
by nobody else, or ``serve`` refuses it: whoever could add a line could log in.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import sys
from pathlib import Path

from ..errors import UsageError

N, R, P = 2**14, 8, 1
#: Names are shown in History and the Summary: letters, digits and a few marks.
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-@'")
NAME_LIMIT = 64


def hash_password(password: str, salt: bytes | None = None, n: int = N, r: int = R, p: int = P) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        again = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again, base64.b64decode(digest))


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LIMIT or not set(name) <= NAME_CHARS:
        raise UsageError(f"a user name is 1 to {NAME_LIMIT} letters, digits, spaces or . _ - @ ', not {name!r}")
    return name


class Users:
    """The people who may log in, by name."""

    def __init__(self, hashes: dict[str, str]):
        self._hashes = dict(hashes)
        #: Compared against when the name is unknown, so a wrong name costs as long as a wrong password.
        self._decoy = hash_password(os.urandom(8).hex())

    def __len__(self) -> int:
        return len(self._hashes)

    def check(self, name: str, password: str) -> str | None:
        """The name, when the password is that person's; else None."""
        stored = self._hashes.get(name.strip())
        ok = _matches(password, stored or self._decoy)
        return name.strip() if ok and stored is not None else None

    @classmethod
    def load(cls, path: str | Path) -> Users:
        """Read the users file (refused, one line, unless it is the operator's own regular file)."""
        from ..settings import check_operator_file

        path = Path(path)
        try:
            with open(path, "rb") as handle:
                check_operator_file(path, os.fstat(handle.fileno()), what="users file")
                text = handle.read(1 << 20).decode("utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the users file {path}: {exc.strerror or exc}") from None
        hashes = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, stored = line.rpartition(":")
            if not name or not stored.startswith("scrypt$"):
                raise UsageError(f"the users file {path}, line {number}: expected name:scrypt$..., "
                                 "made with python -m sn_importer.web.users NAME")
            hashes[check_name(name)] = stored.strip()
        if not hashes:
            raise UsageError(f"the users file {path} names nobody; add a line with python -m sn_importer.web.users NAME")
        return cls(hashes)


def main(argv: list[str] | None = None) -> int:
    """``python -m sn_importer.web.users NAME``: print a users-file line for NAME."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sn_importer.web.users NAME  (asks for the password; prints the line to add)",
              file=sys.stderr)
        return 2
    name = check_name(args[0])
    password = getpass.getpass(f"Password for {name}: ")
    if len(password) < 8 or password != getpass.getpass("Again: "):
        print("the two passwords differ, or are shorter than 8 characters", file=sys.stderr)
        return 2
    print(f"{name}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
