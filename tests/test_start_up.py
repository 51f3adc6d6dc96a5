"""A command starts without garbage collection and collects again once it has loaded what it needs.

Each case runs in a fresh interpreter: pausing and freezing the collector is what the command
line's process does to itself, and this test process must keep its own collector as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _in_a_fresh_process(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command, loads_the_library", [("validate", True), ("serve", False)])
def test_a_command_runs_with_the_collector_on_after_loading_quietly(command, loads_the_library):
    seen = _in_a_fresh_process(f"""
import gc, json, sys
from sn_importer.memory import pause_collector
from sn_importer.cli.common import friendly
pause_collector()
paused = not gc.isenabled()
def {command}():
    return {{"paused": paused, "on": gc.isenabled(), "frozen": gc.get_freeze_count() > 0,
            "library": "sn_importer.job" in sys.modules}}
print(json.dumps(friendly({command})()))
""")
    assert seen == {"paused": True, "on": True, "frozen": True, "library": loads_the_library}


def test_a_process_that_did_not_pause_keeps_its_collector_as_it_was():
    seen = _in_a_fresh_process("""
import gc, json
from sn_importer.memory import loaded
gc.set_threshold(700, 10, 10)
loaded("sn_importer.status")
print(json.dumps({"on": gc.isenabled(), "frozen": gc.get_freeze_count()}))
""")
    assert seen == {"on": True, "frozen": 0}


def test_the_installed_command_checks_a_sheet_and_exits_cleanly(tmp_path):
    sheet = tmp_path / "few.csv"
    sheet.write_text("resource_type,resource_id,serial_number_id\nmanufacturing_order,1,2\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "sn_importer", "validate", str(sheet)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "few.results.csv").exists()


_ENDING = """
import atexit, json, sys, threading, time
from pathlib import Path
import sn_importer.cli.app
cli = sys.modules["sn_importer.cli.app"]  # the package's ``app`` is the application itself

sheet, marks = Path(sys.argv[1]), Path(sys.argv[2])
class Noisy:  # says so when the interpreter is torn down and frees it
    def __del__(self, open=open, mark=str(marks / "torn down")):
        open(mark, "w").close()
kept = Noisy()
atexit.register(lambda: (marks / "exit handler ran").touch())
leaving = threading.Event()
if sys.argv[3] == "with a thread":
    def work():  # a thread still at work when the command is done: the process waits for it
        leaving.wait()
        time.sleep(0.2)
        (marks / "thread finished").touch()
    threading.Thread(target=work).start()
leave = cli._leave
def leave_and_say(exc):
    leaving.set()
    leave(exc)
cli._leave = leave_and_say
sys.argv = ["sn-importer", "validate", str(sheet), "--json"]
cli.main()
"""


@pytest.mark.parametrize("threads", ["alone", "with a thread"])
def test_a_finished_command_ends_without_tearing_down_yet_runs_exit_handlers(tmp_path, threads):
    """After the command is done the process ends at once (tearing the interpreter down would only
    free what the system takes back anyway), but its output is flushed, its exit code kept and its
    exit handlers run; a thread still working makes it end the usual way, after that thread."""
    sheet = tmp_path / "few.csv"
    sheet.write_text("resource_type,resource_id,serial_number_id\nmanufacturing_order,1,2\n"
                     "manufacturing_order,x,3\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", _ENDING, str(sheet), str(tmp_path), threads], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # one row is invalid
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["exit_code"] == 1 and (tmp_path / "few.results.csv").exists()
    marks = {p.name for p in tmp_path.iterdir()} - {"few.csv", "few.results.csv"}
    if threads == "alone":
        assert marks == {"exit handler ran"}
    else:
        assert {"exit handler ran", "thread finished"} <= marks
