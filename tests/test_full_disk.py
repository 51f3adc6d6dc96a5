"""A full disk never costs the report: the state folder or the output's, full before or mid-run.

Each test mounts a small tmpfs of its own (the suite runs as root here and in
CI; elsewhere these tests are skipped and say why), fills it before the run
or from a gateway in front of the sandbox at the fifth DELETE, and runs the
command as a user would. The run stops cleanly (one line, exit 2, ``--json``'s
``exit_code`` the process's), the report lands where there is room, every
row tells the truth the server holds, and the run resumes once there is room
again, with the Removed records of both attempts.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import run_cli, run_installed, write_xlsx
from openpyxl import load_workbook
from sandbox_fixtures import grid

from sn_importer.sandbox import create_app
from sn_importer.sandbox.server import SandboxServer

MO = "ManufacturingOrder"
RESOURCES = 12


@pytest.fixture
def tiny(tmp_path):
    """``tiny(name)``: a fresh 256 KiB filesystem mounted at ``tmp_path/name``."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (the suite runs as root in CI)")
    mounted: list[Path] = []

    def mount(name: str, kib: int = 256) -> Path:
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Take every free byte of ``folder``'s filesystem; the file that does it (delete it to make room)."""
    filler = folder / f".filler-{uuid.uuid4().hex}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


class FillsAtTheFifthDelete:
    """The sandbox, and a disk that fills up just as its fifth DELETE is answered."""

    def __init__(self, app, folder: Path):
        self.app, self.folder, self.state = app, folder, app.state
        self.deletes, self.filler = 0, None

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] == "DELETE":
            self.deletes += 1
            if self.deletes == 5:
                self.filler = fill(self.folder)


def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "orders.csv"
    path.parent.mkdir()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_id"])
        for n in range(RESOURCES):
            writer.writerows([("ManufacturingOrder", 6000 + n, 100_000 + n * 1000 + k) for k in (0, 1)])
    return path


def serve(app):
    return SandboxServer(app).start()


def held(app) -> set[int]:
    return {r["id"] for r in app.state.store.find(MO)}


def truthful(rows: list[dict], app) -> None:
    left = held(app)
    for row in rows:
        if row["status"] == "deleted":
            assert int(row["serial_id"]) not in left, row
        if row["status"] == "skipped":
            assert int(row["serial_id"]) in left, row


def report(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def apply(path: Path, server, *args) -> subprocess.CompletedProcess:
    return run_cli("apply", path, "--base-url", server.base_url, "--json", *args, env={"KATANA_API_KEY": "sandbox"})


def one_clean_line(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "OperationalError" not in done.stderr
    assert json.loads(done.stdout)["exit_code"] == done.returncode == 2


def test_a_state_folder_full_at_the_start_stops_before_sending_and_the_report_lands(tmp_path, tiny):
    state = tiny("state")
    fill(state)
    path = sheet(tmp_path)
    app = create_app(grid(RESOURCES, 2))
    server = serve(app)
    try:
        done = apply(path, server, "--state-dir", state)
    finally:
        server.stop()
    one_clean_line(done)
    error = json.loads(done.stdout)["error"]
    assert "cannot write the journal" in error and "make room there" in error
    assert app.state.store.stats()["requests"]["DELETE"] == 0
    rows = report(path.with_name("orders.results.csv"))
    assert len(rows) == 2 * RESOURCES and {r["status"] for r in rows} == {"skipped"}


def test_a_state_folder_that_fills_mid_run_stops_cleanly_and_the_rerun_keeps_every_removed_record(tmp_path, tiny):
    state = tiny("state", kib=4096)
    path = sheet(tmp_path)
    app = FillsAtTheFifthDelete(create_app(grid(RESOURCES, 2)), state)
    server = serve(app)
    try:
        done = apply(path, server, "--state-dir", state)
        one_clean_line(done)
        error = json.loads(done.stdout)["error"]  # the journal's or the shared quota's file, whichever wrote first
        assert error.startswith("cannot write the ") and "database or disk is full" in error
        rows = report(path.with_name("orders.results.csv"))
        truthful(rows, app)
        statuses = {r["status"] for r in rows}
        assert "deleted" in statuses and statuses <= {"deleted", "skipped", "unverified"}, statuses
        first_removed = report(path.with_name("orders.results.removed.csv"))
        assert {int(r["id"]) for r in first_removed} == {int(r["serial_id"]) for r in rows if r["status"] == "deleted"}

        app.filler.unlink()  # room again: the same command resumes
        again = apply(path, server, "--state-dir", state)
    finally:
        server.stop()
    assert again.returncode == 0, again.stderr
    rows = report(path.with_name("orders.results.csv"))
    assert {r["status"] for r in rows} == {"deleted"} and held(app) == set()
    removed = report(path.with_name("orders.results.removed.csv"))
    assert sorted(int(r["id"]) for r in removed) == sorted(int(r["serial_id"]) for r in rows)  # all 24, both runs


def test_an_output_folder_full_at_the_start_is_refused_before_anything_is_sent(tmp_path, tiny):
    out = tiny("out")
    fill(out)
    path = sheet(tmp_path)
    app = create_app(grid(RESOURCES, 2))
    server = serve(app)
    try:
        done = apply(path, server, "--state-dir", tmp_path / "state", "--output", out / "results.xlsx")
    finally:
        server.stop()
    assert done.returncode == 2 and "cannot write the output" in done.stderr and "Traceback" not in done.stderr
    assert app.state.store.stats()["requests"] == {"GET": 0, "DELETE": 0, "POST": 0}


def test_an_output_folder_that_fills_mid_run_sends_the_workbook_to_the_state_folder(tmp_path, tiny):
    out = tiny("out", kib=4096)
    path = sheet(tmp_path)
    app = FillsAtTheFifthDelete(create_app(grid(RESOURCES, 2)), out)
    server = serve(app)
    try:
        done = apply(path, server, "--state-dir", tmp_path / "state", "--output", out / "results.xlsx")
    finally:
        server.stop()
    one_clean_line(done)
    landed = list((tmp_path / "state" / "reports").glob("*-results.xlsx"))
    assert len(landed) == 1 and f"it was written to {landed[0]} instead" in " ".join(done.stderr.split())
    book = load_workbook(landed[0])
    assert {"Summary", "Removed"} <= set(book.sheetnames)
    assert json.loads(done.stdout)["statuses"] == {"deleted": 2 * RESOURCES}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_disk_that_fills_mid_run_costs_the_installed_command_one_line(tmp_path, tiny, kind):
    """In a process of its own: the report's half-written zip says nothing more when Python collects it
    (no "Exception ignored" traceback after the error line), and a full disk is not taken for a workbook
    that cannot be patched (no rebuild: the patched copy lands in the state folder)."""
    out = tiny("out", kib=4096)
    path = sheet(tmp_path)
    if kind == "xlsx":
        with path.open(newline="", encoding="utf-8") as handle:
            path = write_xlsx(tmp_path, {"Orders": [[int(c) if c.isdigit() else c for c in row]
                                                    for row in csv.reader(handle)]}, name="orders.xlsx")
    app = FillsAtTheFifthDelete(create_app(grid(RESOURCES, 2)), out)
    server = serve(app)
    try:
        done = run_installed("apply", path, "--base-url", server.base_url, "--state-dir", tmp_path / "state",
                             "--output", out / "results.xlsx", env={"KATANA_API_KEY": "sandbox"}, timeout=120)
    finally:
        server.stop()
    assert done.returncode == 2, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "No space left on device" in error[0], done.stderr
    landed = list((tmp_path / "state" / "reports").glob("*-results.xlsx"))
    assert len(landed) == 1
    summary = " ".join(str(c) for row in load_workbook(landed[0])["Summary"].iter_rows(values_only=True)
                       for c in row if c)
    assert "could not be annotated in place" not in summary


def test_when_no_folder_takes_the_report_every_rows_status_is_on_stdout(tmp_path, tiny):
    out, state, source = tiny("out", kib=4096), tiny("state", kib=4096), tiny("source", kib=4096)
    path = source / "orders.csv"
    path.write_bytes(sheet(tmp_path).read_bytes())

    class FillsEverything(FillsAtTheFifthDelete):
        async def __call__(self, scope, receive, send) -> None:
            await super().__call__(scope, receive, send)
            if self.deletes == 5 and not getattr(self, "all_full", False):
                self.all_full = [fill(state), fill(source)]

    app = FillsEverything(create_app(grid(RESOURCES, 2)), out)
    server = serve(app)
    try:
        done = apply(path, server, "--state-dir", state, "--output", out / "results.csv")
    finally:
        server.stop()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    assert summary["exit_code"] == 2 and len(summary["rows_status"]) == 2 * RESOURCES
    truthful([{"status": r["status"], "serial_id": r["serial_id"]} for r in summary["rows_status"]], app)
    assert "every row's status is on stdout" in " ".join(done.stderr.split())


def test_watch_leaves_a_file_whose_state_folder_is_full_for_the_next_run(tmp_path, tiny):
    """Not the file's fault: a full state folder leaves it in the drop folder (never in failed/),
    and once there is room the next run detaches and verifies it."""
    from sn_importer.watch import watch

    state = tiny("state", kib=4096)
    filler = fill(state)
    folder = tmp_path / "drops"
    (folder / "inbox").mkdir(parents=True)
    sheet(tmp_path).rename(folder / "inbox" / "orders.csv")
    app = create_app(grid(RESOURCES, 2))
    server = serve(app)
    try:
        lines: list[str] = []
        full = watch(folder, mode="apply", base_url=server.base_url, api_key="sandbox", settle=0,
                     state_dir=state, log=lines.append)
        assert full == 2
        assert not (folder / "failed").exists() or not any((folder / "failed").iterdir())
        waiting = {p.name for place in ("inbox", "processing") if (folder / place).is_dir()
                   for p in (folder / place).iterdir()}
        assert "orders.csv" in waiting, lines
        assert app.state.store.stats()["requests"]["DELETE"] == 0
        filler.unlink()
        again: list[str] = []
        later = watch(folder, mode="apply", base_url=server.base_url, api_key="sandbox", settle=0, state_dir=state,
                      log=again.append)
    finally:
        server.stop()
    assert later == 0, again
    done = json.loads((folder / "done" / "orders.summary.json").read_text())
    assert done["statuses"] == {"deleted": 2 * RESOURCES}
    assert held(app) == set()
