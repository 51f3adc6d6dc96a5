"""An undo that waits for Katana's quota says why on its page, and counts what is still to put back.

The sandbox allows 4 requests per 4 s, so both the apply and its undo really
stand still between windows. While the undo goes, its status (what its page
shows, polled every 0.7 s) carries the wait in the terminal's words and the
counts so far: records not reached yet are "pending", then "restored".
Through Starlette's test client against the real sandbox on loopback; the
status is sampled until what is asserted has been seen, never timed.
"""

from __future__ import annotations

import csv
import re
import time

import pytest
from sandbox_fixtures import serial
from starlette.testclient import TestClient

from sn_importer.sandbox import running_sandbox
from sn_importer.web import create_app
from test_web import BASE, KEY, Page, run_url, settings_for

RESOURCES = range(1, 5)
PATIENCE_S = 100
WAIT_LINE = re.compile(r"^Waiting \d+ s: Katana's quota for this window is spent; waiting for it to reset "
                       r"\(until \d\d:\d\d:\d\d UTC\)$")


@pytest.fixture
def slow_sandbox(monkeypatch):
    monkeypatch.setenv("KATANA_QUOTA_SHARE", "1")
    records = [serial(100 * r + n, f"R{r}-{n}", resource_id=r) for r in RESOURCES for n in range(2)]
    with running_sandbox(records=records, api_key=KEY, rate_limit=(4, 4.0)) as sandbox:
        yield sandbox


def test_an_undo_waiting_for_the_quota_says_why_and_counts_what_is_pending(slow_sandbox, tmp_path):
    sheet = tmp_path / "four.csv"
    with sheet.open("w", newline="") as handle:
        csv.writer(handle).writerows([("Resource type", "Resource ID", "Serial number"),
                                      *(("MO", r, f"R{r}-0") for r in RESOURCES)])
    with TestClient(create_app(settings_for(slow_sandbox, tmp_path)), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(sheet))
        page.wait(url, "ready", timeout=PATIENCE_S)
        page.post(f"{url}/apply")
        page.wait(url, "done", timeout=PATIENCE_S)
        undo = run_url(page.post(f"{url}/undo", follow_redirects=False))
        page.wait(undo, "ready", timeout=PATIENCE_S)
        page.post(f"{undo}/undo/confirm")
        waits, counts, limit = [], [], time.monotonic() + PATIENCE_S
        while time.monotonic() < limit:
            state = page.get(f"{undo}/status").json()
            if state["phase"] == "done":
                break
            if state["phase"] == "running":
                waits += [state["wait"]["text"]] if state["wait"] else []
                counts.append({c["status"]: c["count"] for c in state["counts"]})
            time.sleep(0.1)
        assert state["phase"] == "done", state
    assert waits and all(WAIT_LINE.match(w) for w in waits), waits
    assert any(c.get("pending") == 4 for c in counts), counts
    assert {c["status"]: c["count"] for c in state["counts"]} == {"restored": 4}
    assert not any("valid" in c for c in counts), counts
