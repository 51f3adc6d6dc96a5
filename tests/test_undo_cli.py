"""``sn-importer undo`` on the command line: exit codes, --json, the report's name, --preview, a file
that is not an apply's results, and kill -9 at random moments of real undo processes, which never
sends a serial twice and ends with the tenant as it was before the apply.

The sandbox runs in this process on a loopback port, so its state outlives a killed importer; a
recorder in front of it keeps every POST Katana answered, to prove no serial went out twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from conftest import run_cli, wait_for
from sandbox_fixtures import serial

from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.sandbox import SandboxServer, create_app

COMMAND = shutil.which("sn-importer") or str(Path(sys.executable).with_name("sn-importer"))
KEY = {"KATANA_API_KEY": "sandbox"}
#: Six manufacturing orders and two sales-order rows, two serials each: mints and transfers.
RESOURCES = [("ManufacturingOrder", r) for r in range(1, 7)] + [("SalesOrderRow", r) for r in (7, 8)]


class Recorder:
    """An ASGI app in front of the sandbox that keeps the body of every POST Katana answered 200;
    with ``post_delay``, a POST is carried out that many seconds after it arrived (a slow queue
    behind the gateway: it lands even when its sender is gone by then)."""

    def __init__(self, app, post_delay: float = 0.0):
        self.app, self.state, self.posted, self.post_delay = app, app.state, [], post_delay
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:  # the whole request first: what arrived is carried out
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        self.in_flight += 1
        try:
            await asyncio.sleep(self.post_delay)
            await self.app(scope, self._replay(body), self._answering(body, send))
        finally:
            self.in_flight -= 1

    @staticmethod
    def _replay(body: bytes):
        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}
        return receive

    def _answering(self, body: bytes, send):
        async def answering(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.posted.append(json.loads(body))
            await send(message)
        return answering


def serve(post_delay: float = 0.0):
    records = [serial(100 * n + i, f"R{n}-{i}", rtype, n) for rtype, n in RESOURCES for i in range(2)]
    app = Recorder(create_app(records, rate_limit=(1000, 1.0), latency_ms=60), post_delay)
    return SandboxServer(app).start(), app


@pytest.fixture
def katana():
    server, app = serve()
    try:
        yield server, app
    finally:
        server.stop()


@pytest.fixture
def slow_posts():
    """A sandbox that carries out each POST 1.5 s after it arrives."""
    server, app = serve(post_delay=1.5)
    try:
        yield server, app
    finally:
        server.stop()


def tenant(server) -> dict:
    found: dict = {}
    for r in server.store.records:
        found.setdefault((r["resource_type"], r["resource_id"]), []).append(r["serial_number"])
    return {k: sorted(v) for k, v in found.items()}


def applied(tmp_path: Path, server) -> Path:
    """Every serial applied away through the command line; its results workbook."""
    sheet = tmp_path / "drop.csv"
    rows = [f"{t},{r['resource_id']},{r['serial_number']}" for r in server.store.records
            for t in [r["resource_type"]]]
    sheet.write_text("Resource type,Resource ID,Serial number\n" + "\n".join(rows) + "\n")
    done = run_cli("apply", sheet, "--base-url", server.base_url, "--state-dir", tmp_path / "state",
                   "-o", tmp_path / "drop.results.xlsx", env=KEY)
    assert done.returncode == 0, done.stderr
    assert server.store.records == []
    return tmp_path / "drop.results.xlsx"


def undo(tmp_path: Path, server, results: Path, *args):
    return run_cli("undo", results, "--base-url", server.base_url, "--state-dir", tmp_path / "state",
                   "--recheck", "0", *args, env=KEY)


def test_undo_on_the_command_line_exits_0_and_says_it_in_json(tmp_path, katana):
    server, _ = katana
    before = tenant(server)
    results = applied(tmp_path, server)
    looked = undo(tmp_path, server, results, "--preview", "--json")
    summary = json.loads(looked.stdout)
    assert looked.returncode == 0 and summary["statuses"] == {"planned": 16} and summary["preview"] is True
    assert server.store.stats()["requests"]["POST"] == 0
    done = undo(tmp_path, server, results, "--json")
    summary = json.loads(done.stdout)
    assert done.returncode == summary["exit_code"] == 0, done.stderr
    assert summary["statuses"] == {"restored": 16} and summary["mode"] == "undo" and summary["rows"] == 16
    assert summary["requests"]["POST"] == 8 and summary["output"] == str(tmp_path / "drop.results.undo.xlsx")
    assert summary["katana"]["host"].startswith("127.0.0.1")
    assert tenant(server) == before
    again = undo(tmp_path, server, results)
    assert again.returncode == 0 and "already_there" in again.stdout and "Undone before on" in again.stderr
    assert server.store.stats()["requests"]["POST"] == 8


def test_undo_says_what_it_will_cost_before_sending(tmp_path, katana):
    server, _ = katana
    results = applied(tmp_path, server)
    done = undo(tmp_path, server, results, "-o", tmp_path / "put-back.csv")
    assert done.returncode == 0, done.stderr
    assert "Undo: 16 removed records of apply run" in done.stdout
    assert "Undo: 32 requests at most for 16 removed records on 8 resources;" in done.stdout
    assert (tmp_path / "put-back.csv").read_text(encoding="utf-8-sig").count("restored") == 16


@pytest.mark.parametrize("what", ["input", "missing"])
def test_a_file_that_is_not_an_apply_results_is_one_line_and_exit_2(tmp_path, katana, what):
    server, _ = katana
    path = tmp_path / "sheet.csv"
    if what == "input":
        path.write_text("Resource type,Resource ID,Serial number\nMO,1,R1-0\n")
    done = undo(tmp_path, server, path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert ("not an apply's removed-records CSV" if what == "input" else "file not found") in done.stderr
    assert sum(server.store.stats()["requests"].values()) == 0


@pytest.mark.parametrize("report", ["xlsx", "csv"])
def test_an_undos_report_or_removed_records_given_to_apply_detach_nothing_again(tmp_path, katana, report):
    """Staff who apply an undo's report (or the removed records beside a CSV report) by mistake get one
    line saying what the file is, and exit 2: its rows are serials put back, which it would take off again."""
    server, _ = katana
    before = tenant(server)
    results = applied(tmp_path, server)
    done = undo(tmp_path, server, results, "-o", tmp_path / f"put-back.{report}")
    assert done.returncode == 0 and tenant(server) == before, done.stderr
    given = [tmp_path / f"put-back.{report}"]
    if report == "csv":  # the records an apply of a CSV keeps beside its report
        removed = tmp_path / "drop.results.removed.csv"
        removed.write_text(",".join(REMOVED_COLUMNS) + "\n100,R1-0,ManufacturingOrder,1,tx,2026-01-01T00:00:00Z,1,row 2\n")
        given.append(removed)
    said = {given[0]: "an undo's report (serials put back; applying it would detach them again)"}
    if report == "csv":
        said[given[1]] = "an apply's removed records (serials already detached)"
    for path in given:
        for mode in (("validate",), ("apply", "--base-url", server.base_url, "--state-dir", tmp_path / "state")):
            again = run_cli(mode[0], path, *mode[1:], env=KEY)
            assert again.returncode == 2, again.stdout
            assert "no sheet of serials to detach; give the sheet you filled in, or its results file" in again.stderr
            assert said[path] in again.stderr, (path, again.stderr)
    assert tenant(server) == before and server.store.stats()["requests"]["DELETE"] == 8


def test_an_undo_of_an_apply_of_fixed_results_puts_back_what_that_apply_detached(tmp_path, katana):
    """An apply's row not on its resource, fixed in the results workbook, which is applied again: the
    second apply's results hold its own Summary and Removed sheet (in the place of the first's), and an
    undo of them puts back what that apply detached, naming its run, not what the first one detached."""
    server, _ = katana
    sheet = tmp_path / "drop.csv"
    sheet.write_text("Resource type,Resource ID,Serial number\nMO,1,R1-0\nMO,1,R9-9\n")
    first = run_cli("apply", sheet, "--base-url", server.base_url, "--state-dir", tmp_path / "state",
                    "-o", tmp_path / "drop.xlsx", "--json", env=KEY)
    assert json.loads(first.stdout)["statuses"] == {"deleted": 1, "not_on_resource": 1}, first.stderr
    book = load_workbook(tmp_path / "drop.xlsx")
    book["drop"]["C3"] = "R1-1"  # the serial meant
    book.save(tmp_path / "drop.xlsx")
    second = run_cli("apply", tmp_path / "drop.xlsx", "--base-url", server.base_url, "--state-dir",
                     tmp_path / "state", "--json", env=KEY)
    summary = json.loads(second.stdout)
    # the first row, detached by the first apply, is told so (the results workbook names that apply)
    assert summary["statuses"] == {"deleted": 2}, second.stderr
    book = load_workbook(tmp_path / "drop.results.xlsx")
    assert book.sheetnames == ["drop", "Summary", "Removed"] and book.active.title == "Summary"
    assert [r[1] for r in book["Removed"].iter_rows(min_row=2, values_only=True)] == ["R1-1"]
    looked = undo(tmp_path, server, tmp_path / "drop.results.xlsx", "--preview", "--json")
    told = json.loads(looked.stdout)
    assert told["apply_run_id"] == summary["run_id"] and told["statuses"] == {"planned": 1}, looked.stderr


def requests_made(server) -> int:
    counts = server.store.stats()["requests"]
    return counts["GET"] + counts["POST"]


def test_kill_9_at_random_moments_never_sends_a_serial_twice(tmp_path, katana):
    server, recorder = katana
    before = tenant(server)
    results = applied(tmp_path, server)
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")} | KEY
    args = [COMMAND, "undo", str(results), "--base-url", server.base_url, "--state-dir", str(tmp_path / "state"),
            "--recheck", "2", "--json"]
    kills = 0
    for _ in range(3):
        start = requests_made(server)
        target = start + rng.randint(1, 12)
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        wait_for(lambda: requests_made(server) >= target or process.poll() is not None, timeout=60,
                 what=f"request {target} (seed {seed})")
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    last = run_cli("undo", results, "--base-url", server.base_url, "--state-dir", tmp_path / "state", "--json",
                   "--recheck", "2", env=KEY)
    summary = json.loads(last.stdout)
    sent = Counter((p["resource_type"], p["resource_id"], s) for p in recorder.posted for s in p["serial_numbers"])
    assert kills >= 1, f"no kill landed mid-undo (seed {seed})"
    assert max(sent.values()) == 1, f"a serial was sent twice: {sent.most_common(3)} (seed {seed})"
    assert len(sent) == 16 and tenant(server) == before, f"seed {seed}"
    assert summary["statuses"] == {"restored": 16} or set(summary["statuses"]) <= {"restored", "already_there"}, \
        f"{summary['statuses']} (seed {seed})"
    assert last.returncode == 0


def test_kill_9_while_a_post_is_in_flight_never_sends_it_again(tmp_path, slow_posts):
    """The POST the killed undo sent is still on its way when the resumed undo lists the resource:
    journalled before it left, it is waited for (--recheck), not sent a second time."""
    server, recorder = slow_posts
    before = tenant(server)
    results = applied(tmp_path, server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")} | KEY
    args = [COMMAND, "undo", str(results), "--base-url", server.base_url, "--state-dir", str(tmp_path / "state"),
            "--recheck", "4", "--json"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_for(lambda: recorder.in_flight > 0 or process.poll() is not None, timeout=60, what="a POST in flight")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not recorder.posted, "killed before Katana answered any POST"
    last = run_cli("undo", results, "--base-url", server.base_url, "--state-dir", tmp_path / "state", "--json",
                   "--recheck", "4", env=KEY)
    sent = Counter((p["resource_type"], p["resource_id"], s) for p in recorder.posted for s in p["serial_numbers"])
    assert max(sent.values()) == 1, f"a serial was sent twice: {sent.most_common(3)}"
    assert tenant(server) == before and last.returncode == 0, last.stderr
    statuses = json.loads(last.stdout)["statuses"]
    assert statuses == {"restored": 16}, "what the killed attempt sent counts as put back by this undo"
