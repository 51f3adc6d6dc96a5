"""The state folder's SQLite files opened by several commands at the same moment (cron and a
person, two drops at once): each one opens, none is called "not a usable journal".

The openers are threads released together by a barrier: SQLite locks its connections against
each other within one process as it does across processes, and threads start in microseconds,
so thirty rounds cost less than one round of processes would.
"""

import threading

from sn_importer.journal import Journal
from sn_importer.katana.quota import SharedLedger


def test_commands_opening_a_new_state_folder_together_all_open_it(tmp_path):
    said: list[str] = []
    for attempt in range(30):
        state = tmp_path / f"state{attempt}"
        together = threading.Barrier(6)

        def open_both() -> None:
            together.wait()
            try:
                Journal(state).close()
                SharedLedger(state, "http://127.0.0.1:1/v1", "key").close()
                said.append("opened")
            except Exception as exc:  # what a command would have stopped with
                said.append(f"{type(exc).__name__}: {exc}")

        openers = [threading.Thread(target=open_both) for _ in range(together.parties)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
    assert [s for s in said if s != "opened"] == [] and len(said) == 30 * 6
