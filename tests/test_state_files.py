"""The state folder's SQLite files opened by several processes at the same moment (cron and a
person, two drops at once): each one opens, none is called "not a usable journal"."""

import subprocess
import sys
import time

OPEN_AT_THE_SIGNAL = """
import sys, time
from pathlib import Path
from sn_importer.journal import Journal
from sn_importer.katana.quota import SharedLedger
state, go = Path(sys.argv[1]), Path(sys.argv[2])
Path(f"{go}.{sys.argv[3]}").touch()
while not go.exists():
    time.sleep(0.001)
try:
    Journal(state).close()
    SharedLedger(state, "http://127.0.0.1:1/v1", "key").close()
    print("opened")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_processes_opening_a_new_state_folder_together_all_open_it(tmp_path):
    for attempt in range(4):
        state, go = tmp_path / f"state{attempt}", tmp_path / f"go{attempt}"
        runs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_THE_SIGNAL, str(state), str(go), str(n)],
                                 stdout=subprocess.PIPE, text=True) for n in range(5)]
        while len(list(tmp_path.glob(f"go{attempt}.*"))) < len(runs):
            time.sleep(0.02)
        go.touch()
        said = [run.communicate(timeout=60)[0].strip() for run in runs]
        assert said == ["opened"] * len(runs)
