"""A preview of a file whose apply stopped part way, against the sandbox over loopback HTTP.

The apply is stopped for real: the sandbox sits behind a gateway that stops
answering once two DELETEs got through (tests/busy_tenant.py), so one
resource is verified, one has its DELETE landed and unchecked, and the rest
fail. A preview then reads the unfinished run from the journal (read only) and
tells the rows that run took off from rows whose serial was never there.
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import load_workbook

from busy_tenant import Refusing, down_after_deletes
from conftest import FAST
from sandbox_fixtures import serial as rec

import sn_importer as sn
from sn_importer.sandbox import SandboxServer, create_app


def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_number"])
        writer.writerows([("MO", r, f"S{r}-1") for r in (1, 2, 3)] + [("MO", 1, "NEVER")])
    return path


def journal_files(state: Path) -> tuple[bytes, bytes]:
    """The journal's content: its file and what its write-ahead log holds (SQLite may leave an empty one)."""
    wal = state / "journal.sqlite3-wal"
    return (state / "journal.sqlite3").read_bytes(), wal.read_bytes() if wal.exists() else b""


def test_a_preview_after_an_unfinished_apply_names_the_rows_it_detached(tmp_path, state):
    records = [rec(10 * r + n, f"S{r}-{n}", resource_id=r) for r in (1, 2, 3) for n in (1, 2)]
    app = create_app(records, api_key="k", rate_limit=(1000, 1.0))
    down, stop = [True], down_after_deletes(2)
    server = SandboxServer(Refusing(app, lambda *request: down[0] and stop(*request))).start()
    path = sheet(tmp_path)
    try:
        run = dict(base_url=server.base_url, api_key="k", state_dir=state, client_options=FAST)
        first = sn.read(path).apply(**run, concurrency=1, listing="per_resource")
        assert first.rows["status"].tolist() == ["deleted", "unverified", "failed", "not_on_resource"]
        assert {r["id"] for r in app.state.store.find("ManufacturingOrder", 2)} == {22}, "the DELETE landed"
        down[0] = False
        kept = journal_files(state)
        preview = sn.read(path).preview(**run)
        assert journal_files(state) == kept, "a preview never writes to the journal"
        again = sn.read(path).apply(**run)
    finally:
        server.stop()
    rows = preview.rows
    assert rows["status"].tolist() == ["not_on_resource", "not_on_resource", "planned", "not_on_resource"]
    told = (f"detached by the unfinished apply run {first.run_id} started {first.started_at}; "
            "apply this file again to finish that run")
    assert rows.at[0, "message"] == f"serial 'S1-1' is not on Manufacturing order 1 now: {told}"
    assert rows.at[1, "message"] == f"serial 'S2-1' is not on Manufacturing order 2 now: {told}"
    assert rows.at[3, "message"] == ("serial 'NEVER' is not on Manufacturing order 1 (checked before any delete; "
                                     "nothing sent)")
    assert any(f"run {first.run_id}" in note and "did not finish" in note for note in preview.notes)
    # the Summary's advice begins with finishing that apply (a notebook's words: where this preview ran)
    advice = [str(r[0]) for r in load_workbook(preview.write(tmp_path / "p.xlsx"))["Summary"].iter_rows(values_only=True)
              if r[0]]
    first_advice = advice[advice.index("What to do next") + 1]
    assert first_advice == (f"An apply of this file (run {first.run_id}) stopped part way. Call apply() on the job "
                            "again to finish it: it checks Katana again and sends only what is left.")
    assert again.rows["status"].tolist() == ["deleted", "deleted", "deleted", "not_on_resource"]
    assert app.state.store.stats()["requests"]["DELETE"] == 3, "nothing sent twice"


def test_a_preview_after_a_finished_then_an_unfinished_apply_names_both(tmp_path, state):
    """Applied whole once, then again and stopped before anything was sent: a preview still tells the
    rows the finished apply took off from serials never there, beside the unfinished run's note."""
    path = tmp_path / "two.csv"
    path.write_text("resource_type,resource_id,serial_number\nMO,1,A\nMO,2,B\n")
    app = create_app([rec(1, "A", resource_id=1)], api_key="k", rate_limit=(1000, 1.0))
    down, stop = [False], down_after_deletes(0)
    server = SandboxServer(Refusing(app, lambda *request: down[0] and stop(*request))).start()
    try:
        run = dict(base_url=server.base_url, api_key="k", state_dir=state, client_options=FAST)
        first = sn.read(path).apply(**run)
        assert first.rows["status"].tolist() == ["deleted", "not_on_resource"]
        app.state.store.add(rec(2, "B", resource_id=2))  # B arrives; the next apply finds Katana gone
        down[0] = True
        stopped = sn.read(path).apply(**run)
        assert stopped.exit_code == 2
        down[0] = False
        preview = sn.read(path).preview(**run)
    finally:
        server.stop()
    assert any("did not finish" in note for note in preview.notes)
    assert preview.rows["status"].tolist() == ["not_on_resource", "planned"]
    assert preview.rows.at[0, "message"] == (f"serial 'A' is not on Manufacturing order 1 now: detached on "
                                             f"{first.rows.at[0, 'checked_at']} by run {first.run_id}, an apply of "
                                             "this file")
