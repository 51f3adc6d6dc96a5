"""The one file-lock helper: exclusive across processes, released however the holder ends,
refusals that say who holds it, and errors of the locked block left as they are."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sn_importer.errors import FolderBusy, LockHeld, LockUnavailable, RunInProgress
from sn_importer.journal import Journal
from sn_importer.locks import acquire
from sn_importer.watch import folder_lock

HOLDER = ("import sys\nfrom sn_importer.locks import acquire\n"
          "lock = acquire(sys.argv[1])\nprint('held', flush=True)\nsys.stdin.read()\n")


@pytest.fixture
def other_process(tmp_path):
    """Start a process that holds the lock on a path until its stdin closes (or it is killed)."""
    started = []

    def hold(path):
        child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        started.append(child)
        assert child.stdout.readline().strip() == "held"  # an event, not a sleep
        return child

    yield hold
    for child in started:
        child.kill()
        child.wait()


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    path = tmp_path / "x.lock"
    with acquire(path):
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}") as refused:
            acquire(path)
        assert refused.value.holder == str(os.getpid()) and refused.value.path == path
    with acquire(path):  # released at the end of the block
        pass
    assert path.exists(), "the lock file is never deleted"


def test_another_process_holds_it_until_it_ends_even_by_kill(tmp_path, other_process):
    path = tmp_path / "x.lock"
    child = other_process(path)
    with pytest.raises(LockHeld, match=f"pid {child.pid}"):
        acquire(path)
    child.kill()
    child.wait()
    with acquire(path):  # the system released it with the process
        pass


def test_the_refusal_is_the_callers_error(tmp_path):
    with folder_lock(tmp_path), pytest.raises(FolderBusy, match="already working on") as busy:
        with folder_lock(tmp_path):
            pass
    assert isinstance(busy.value, LockHeld) and busy.value.root == tmp_path
    journal = Journal(tmp_path / "state")
    with journal.exclusive("k" * 64), pytest.raises(RunInProgress, match="another apply of this file"):
        with journal.exclusive("k" * 64):
            pass
    journal.close()


def test_errors_inside_the_block_are_not_mistaken_for_the_lock(tmp_path):
    with pytest.raises(FileNotFoundError):
        with folder_lock(tmp_path):
            (tmp_path / "missing").read_text()
    with folder_lock(tmp_path):  # and the lock was let go
        pass


def test_a_lock_file_that_cannot_be_opened_is_named(tmp_path):
    with pytest.raises(LockUnavailable, match="cannot lock .*nowhere"):
        acquire(tmp_path / "nowhere" / "x.lock")
