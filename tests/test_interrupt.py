"""Signals become one stop request; a report refused by its place lands in the state directory."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from sn_importer.interrupt import Interrupt, stop_signals
from sn_importer.landing import Landing, fallback_targets, write_landing


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that exists and refuses new files (as root, chmod does not stop us: /sys does)."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    if not os.access("/sys", os.W_OK) or _refuses(Path("/sys")):
        return Path("/sys")
    pytest.skip("no folder refuses files here")


def _refuses(folder: Path) -> bool:
    try:
        (folder / ".sn-importer-probe").touch()
    except OSError:
        return True
    (folder / ".sn-importer-probe").unlink()
    return False


@pytest.mark.parametrize("signum, name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"),
                                          (signal.SIGINT, "Ctrl-C")])
def test_each_stop_signal_requests_the_same_stop(signum, name):
    told = []
    before = signal.getsignal(signum)
    with stop_signals(on_signal=told.append) as interrupt:
        signal.raise_signal(signum)
        assert interrupt.requested and interrupt.reason == name and not interrupt.forced
        signal.raise_signal(signum)
        assert interrupt.forced and interrupt.reason == name  # the first reason stays
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signum)  # a third time: the user insists
    assert told == [name, name]
    assert signal.getsignal(signum) == before


def test_listeners_hear_every_request_until_they_stop_listening():
    interrupt, heard = Interrupt(), []
    stop = interrupt.listen(lambda: heard.append(interrupt.count))
    interrupt.request("web page")
    stop()
    interrupt.request("again")
    assert heard == [1] and interrupt.reason == "web page"
    assert interrupt.describe().startswith("interrupted (web page); nothing more was sent")


def test_a_report_that_cannot_land_goes_to_the_state_directory_then_beside_the_input(tmp_path):
    def write(path: Path) -> Path:
        path.write_text("report")
        return path

    gone = tmp_path / "removed-meanwhile" / "in.results.csv"
    source = tmp_path / "input" / "in.csv"
    landed = write_landing(lambda p: write(p or gone), None, gone, tmp_path / "state", "abc123", source)
    assert landed.where == fallback_targets(tmp_path / "state", gone, "abc123", source)[0]
    assert landed.where.parent == tmp_path / "state" / "reports" and landed.where.read_text() == "report"
    assert "No such file or directory" in landed.refused
    here = tmp_path / "in.results.csv"
    assert write_landing(write, here, here, tmp_path / "state", "x", source) == Landing(here, None)

    (tmp_path / "not-a-folder").write_text("a file where the state folder should be")
    source.parent.mkdir()
    beside = write_landing(lambda p: write(p or gone), None, gone, tmp_path / "not-a-folder", "abc123", source)
    assert beside.where == source.parent / "abc123-in.results.csv" and beside.refused

    def refuse(path):
        raise RuntimeError("nothing takes a file today")

    assert write_landing(refuse, None, gone, tmp_path / "state", "x", source) == Landing(
        None, "RuntimeError: nothing takes a file today")
