"""A check runs in a process of its own that exits: the page's server never builds its tables.

The real server (Starlette's test client, the real parse and check workers)
against the real sandbox on a loopback port. A check of a sheet of a few
thousand rows is made and shown without the server process ever making a
result (the library is watched in the server process; the check's process,
forked elsewhere, is not), in a process that has exited once the check is
shown. While a check waits for Katana's quota, its figures and the reason
it waits reach the page as they come; when the server stops, the check stops
as the command line does on Ctrl-C and is shown as interrupted, as it always
was. A check whose process is killed is a broken check with a plain
sentence, and the page goes on checking. Nothing here measures time: a
check is held mid-way by a gate in front of the sandbox, or by the quota.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sandbox_fixtures import many, serial

from conftest import wait_for, workbook_statuses
from sn_importer.result import RunResult
from sn_importer.sandbox.app import create_app as sandbox_app
from sn_importer.sandbox.server import SandboxServer
from sn_importer.web import create_app
from test_web import BASE, KEY, Page, TestClient, run_url, settings_for, text

PATIENCE_S = 100
MOS = range(1, 9)


class Gate:
    """In front of the sandbox: while shut, every request waits at it, so a check stands still
    mid-way however fast or slow the machine is; opened, they all go through."""

    def __init__(self, app):
        self.app, self.state = app, app.state
        self.opened, self.holding = threading.Event(), threading.Event()
        self.opened.set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not self.opened.is_set():
            self.holding.set()
            while not self.opened.is_set():
                await asyncio.sleep(0.02)
        await self.app(scope, receive, send)


@contextmanager
def gated_sandbox(records: list[dict], rate_limit=(100_000, 60.0)):
    gate = Gate(sandbox_app(records, api_key=KEY, rate_limit=rate_limit))
    server = SandboxServer(gate).start()
    try:
        yield server, gate
    finally:
        gate.opened.set()
        server.stop()


def eight_mos() -> list[dict]:
    """Two serials on each of eight MOs, and enough others of the type that each MO is listed on its own."""
    return [serial(100 * r + n, f"R{r}-{n}", resource_id=r) for r in MOS for n in range(2)] + \
        many(3000, resource_id=9999)


def eight_rows(folder: Path, name: str = "eight.csv") -> Path:
    path = folder / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Resource type", "Resource ID", "Serial number"])
        writer.writerows(("MO", r, f"R{r}-0") for r in MOS)
    return path


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_a_check_of_thousands_of_rows_is_made_in_a_process_that_exits(tmp_path, monkeypatch):
    rows, orders = 4000, 40
    records = [serial(50_000 + n, f"SN{n:06d}", resource_id=20_000 + n % orders) for n in range(rows)]
    sheet = tmp_path / "four-thousand.csv"
    with sheet.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Resource type", "Resource ID", "Serial number"])
        writer.writerows(("MO", 20_000 + n % orders, f"SN{n:06d}") for n in range(rows))
    made: list[str] = []  # every result the server process makes, by mode
    begin = RunResult.begin.__func__
    monkeypatch.setattr(RunResult, "begin", classmethod(lambda cls, job, mode, *a, **k: made.append(str(mode))
                                                         or begin(cls, job, mode, *a, **k)))
    with gated_sandbox(records) as (sandbox, _), \
            TestClient(create_app(settings_for(sandbox, tmp_path)), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(sheet))
        page.wait(url, "ready", timeout=PATIENCE_S)
        assert f"{rows:,} serial numbers would be detached from {orders} resources" in text(page.get(url))
        workbook = io.BytesIO(page.get(f"{url}/download").content)
        assert workbook_statuses(workbook, ("four-thousand",)) == {"planned": rows}
        run = client.app.state.server.registry.get(url.rsplit("/", 1)[1])
    assert made == [], "the server process made a check's result"
    assert run.child is not None and run.child != os.getpid()
    assert gone(run.child), "the check's process is still there after the check was shown"
    assert run.sheet is None and run.result is None and run.job is None


@pytest.fixture
def quota_site(tmp_path, monkeypatch):
    """The page against a sandbox that allows 4 requests per 100 s, used whole (share 1): a check of
    eight MOs goes part of the way, then waits for the next window (far longer than any test step)."""
    monkeypatch.setenv("KATANA_QUOTA_SHARE", "1")  # the server's environment; its checks' is minimal
    with gated_sandbox(eight_mos(), rate_limit=(4, 100.0)) as (sandbox, _):
        yield sandbox


def wait_seen(page: Page, url: str) -> dict:
    """The check's status once it says why it waits and its figures have moved (the engine's first
    figures may come just after the wait begins; the wait lasts far longer than this takes)."""
    def seen():
        state = page.get(f"{url}/status").json()
        return state if state["wait"] and state["requests"][0] > 0 else None

    return wait_for(seen, timeout=PATIENCE_S, what="the check to say why it waits, and how far it got")


def test_a_checks_figures_and_why_it_waits_reach_the_page_as_it_goes(quota_site, tmp_path):
    with TestClient(create_app(settings_for(quota_site, tmp_path)), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(eight_rows(tmp_path)))
        state = wait_seen(page, url)
        assert state["phase"] == "checking" and state["running"] is True
        assert state["wait"]["reason"] == "Katana's quota for this window is spent; waiting for it to reset"
        assert state["resources"][1] == 8 and state["rows"][1] == 8, state
        assert state["figures"].startswith("Checked: ") and " of 8 resources, " in state["figures"]
        words = text(page.get(url))
        assert "Checking the sheet against Katana" in words and "Waiting " in words
        assert "Katana's quota for this window is spent" in words


def test_stopping_the_server_during_a_check_shows_it_interrupted_with_its_workbook(quota_site, tmp_path):
    with TestClient(create_app(settings_for(quota_site, tmp_path)), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(eight_rows(tmp_path)))
        wait_seen(page, url)
        server = client.app.state.server
        run = server.registry.get(url.rsplit("/", 1)[1])
    # the server stopped: the check was asked to stop as Ctrl-C asks, settled, and was shown
    wait_for(lambda: run.phase.value == "broken", timeout=PATIENCE_S, what="the stopped check to end")
    assert run.error == ("interrupted (the server is stopping); nothing more was sent; "
                         "upload the sheet again after the restart to check it")
    counts = {s["status"]: s["count"] for s in run.view["statuses"]}
    assert counts.get("skipped", 0) > 0 and sum(counts.values()) == 8, counts
    assert run.output is not None and run.output.is_file()
    wait_for(lambda: gone(run.child), timeout=PATIENCE_S, what="the check's process to exit")


def test_a_check_whose_process_is_killed_is_broken_and_the_page_goes_on(tmp_path):
    with gated_sandbox(eight_mos()) as (sandbox, gate), \
            TestClient(create_app(settings_for(sandbox, tmp_path)), base_url=BASE) as client:
        page, server = Page(client), client.app.state.server
        gate.opened.clear()
        url = run_url(page.upload(eight_rows(tmp_path)))
        assert gate.holding.wait(PATIENCE_S), "the check never reached Katana"
        run = server.registry.get(url.rsplit("/", 1)[1])
        os.kill(run.child, signal.SIGKILL)  # as the kernel's out-of-memory killer would
        page.wait(url, "broken", timeout=PATIENCE_S)
        words = text(page.get(url))
        assert "The sheet could not be checked" in words
        assert "Checking “eight.csv” needed more than 1.5 GB of memory and was stopped." in words
        assert "Check again" in words
        gate.opened.set()
        again = run_url(page.upload(eight_rows(tmp_path, "again.csv")))
        page.wait(again, "ready", timeout=PATIENCE_S)
        assert "8 serial numbers would be detached from 8 resources" in text(page.get(again))
        page.post(f"{url}/check")  # and the broken one checks again
        page.wait(url, "ready", timeout=PATIENCE_S)
        assert server.registry.get(again.rsplit("/", 1)[1]).child != run.child
