"""SIGTERM and SIGHUP stop apply the way Ctrl-C does: real processes against the real sandbox.

systemd, ``timeout`` and ``docker stop`` send SIGTERM; a closed SSH session
sends SIGHUP. Either one mid-run must leave a report whose every status is
what the sandbox holds, exit 2, and a journal from which the same command
resumes without sending any resource twice.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import _command, free_port, wait_for
from sandbox_fixtures import grid

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

RESOURCES = 12


def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_id"])
        for n in range(RESOURCES):
            writer.writerows([("ManufacturingOrder", 6000 + n, 100_000 + n * 1000 + k) for k in (0, 1)])
        writer.writerow(["ManufacturingOrder", 6000, 424242])  # never on it: never sent
    return path


def report(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def held(server, row: dict) -> bool:
    return int(row["serial_id"]) in {r["id"] for r in server.store.find(row["resource_type"], int(row["resource_id"]))}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_mid_apply_reports_the_truth_and_resumes(tmp_path, signum):
    path, state = sheet(tmp_path), tmp_path / "state"
    env = dict(os.environ, KATANA_API_KEY="sandbox", NO_COLOR="1", TERM="dumb", COLUMNS="200")
    with running_sandbox(records=grid(RESOURCES, 2), latency_ms=120, rate_limit=(1000, 1.0)) as server:
        process = subprocess.Popen([*_command(), "apply", str(path), "--base-url", server.base_url,
                                    "--state-dir", str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
        try:
            wait_for(lambda: server.store.stats()["requests"].get("DELETE", 0) >= 1, what="the first DELETE")
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
        deletes = server.store.stats()["requests"].get("DELETE", 0)
        assert process.returncode == 2, stderr
        assert "Traceback" not in stderr and f"{signal.Signals(signum).name}: stopping" in stderr
        rows = report(tmp_path / "orders.results.csv")
        assert len(rows) == 2 * RESOURCES + 1
        statuses = {row["status"] for row in rows}
        assert statuses <= {"deleted", "skipped", "unverified", "not_on_resource"}, statuses
        assert "skipped" in statuses and deletes < RESOURCES, "the run ended before the signal"
        for row in rows:
            if row["status"] == "deleted":
                assert not held(server, row), row
            if row["status"] == "skipped":
                assert held(server, row), row
        assert rows[-1]["status"] == "not_on_resource"
        assert f"interrupted ({signal.Signals(signum).name})" in {r["message"] for r in rows if r["status"] == "skipped"}.pop()

        resumed = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=state)
        assert resumed.counts() == {"deleted": 2 * RESOURCES, "not_on_resource": 1}
        assert server.store.stats()["requests"]["DELETE"] == RESOURCES  # none sent twice


def test_sighup_stops_serve_gracefully_with_exit_2(tmp_path):
    port = free_port()
    env = dict(os.environ, NO_COLOR="1", TERM="dumb")
    env.pop("KATANA_API_KEY", None)
    process = subprocess.Popen([*_command(), "serve", "--sandbox", "--port", str(port), "--state-dir",
                                str(tmp_path / "state")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/login"), what="the web page")
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 2, stderr
    assert "SIGHUP: the server stopped; no run was in progress." in stderr and "Traceback" not in stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
