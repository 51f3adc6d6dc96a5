"""Where a run was started and resumed, in History; the page's sandbox named as the command line names it.

A run confirmed on the page is cut off by a "restart" (the server stops in the
middle), then resumed on the page or from the command line (``sn-importer
apply`` on the same sheet and state folder): the journal keeps where it was
started and each place it was resumed, and History says so. Against the real
sandbox on a loopback port, through Starlette's test client and typer's.
"""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from sn_importer.cli import app as cli
from sn_importer.history import read_history
from test_web import BASE, SAMPLE, Page, apply_until_the_server_stops, run_url, settings_for, text
from test_web import sandbox  # noqa: F401  (the fixture)

from starlette.testclient import TestClient

from sn_importer.web import create_app


def cut_off(settings) -> tuple[str, str]:
    """Upload the sample on the page, confirm it, and stop the server after three resources.
    The run's page address and the stored sheet's path."""
    with TestClient(create_app(settings), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        apply_until_the_server_stops(page, url)
        return url, str(client.app.state.server.registry.get(url.rsplit("/", 1)[1]).upload)


def history_row(page: Page, url: str) -> str:
    """The History row of the run at ``url``: its visible words."""
    rows = re.findall(r"<tr>.*?</tr>", page.get("/history").text, flags=re.S)
    mine = [row for row in rows if f'href="{url}"' in row]
    assert len(mine) == 1, rows
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", mine[0]))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_run_started_and_resumed_on_the_page_says_so_in_history(sandbox, tmp_path):  # noqa: F811
    settings = settings_for(sandbox, tmp_path)
    url, _ = cut_off(settings)
    with TestClient(create_app(settings), base_url=BASE) as client:
        page = Page(client)
        assert "Started from this page" in history_row(page, url)
        page.post(f"{url}/resume")
        page.wait(url, "done")
        row = history_row(page, url)
        assert "Started from this page; resumed from this page" in row, row
        assert "command line" not in row
        assert "built-in sandbox" in row and "127.0.0.1" not in row
    [past] = read_history(settings.state_dir).runs
    assert (past["started_from"], past["resumed_from"]) == ("web page", ["web page"])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_run_started_on_the_page_and_resumed_from_the_command_line_says_so(sandbox, tmp_path):  # noqa: F811
    settings = settings_for(sandbox, tmp_path)
    url, upload = cut_off(settings)
    env = {"KATANA_API_KEY": settings.api_key, "COLUMNS": "200", "NO_COLOR": "1"}
    done = CliRunner().invoke(cli, ["apply", upload, "--base-url", sandbox.base_url, "--state-dir",
                                    str(settings.state_dir), "-o", str(tmp_path / "out.xlsx"), "--json"], env=env)
    assert done.exit_code == 1, done.output  # the sample's invalid rows, by design
    with TestClient(create_app(settings), base_url=BASE) as client:
        row = history_row(Page(client), url)
        assert "Started from this page; resumed from the command line" in row, row


def test_the_page_names_its_sandbox_built_in_sandbox_everywhere(sandbox, tmp_path):  # noqa: F811
    settings = settings_for(sandbox, tmp_path)
    port = sandbox.base_url.split(":")[2].split("/")[0]
    with TestClient(create_app(settings), base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        check = text(page.get(url))
        assert "built-in sandbox" in check and port not in check
        page.post(f"{url}/apply")
        page.wait(url, "done")
        done = page.get(url)
        facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", done.text))
        assert facts["Base URL"] == "built-in sandbox (started with the page&#39;s server)", facts
        assert port not in text(done)
        history = text(page.get("/history"))
        assert "built-in sandbox" in history and port not in history
        workbook = tmp_path / "result.xlsx"
        workbook.write_bytes(page.get(f"{url}/download").content)
        summary = {r[0]: r[1] for r in load_workbook(workbook)["Summary"].iter_rows(values_only=True) if r[0]}
        assert summary["Base URL"] == "built-in sandbox (started with the page's server)"
    # restarted: its sandbox has another port now, and the earlier run still went to "built-in sandbox"
    restarted = settings_for(sandbox, tmp_path, base_url="http://127.0.0.1:9/v1")
    with TestClient(create_app(restarted), base_url=BASE) as client:
        row = history_row(Page(client), url)
        assert "built-in sandbox" in row and port not in row, row


def test_the_favicon_is_served(sandbox, tmp_path):  # noqa: F811
    with TestClient(create_app(settings_for(sandbox, tmp_path)), base_url=BASE) as client:
        page = Page(client)
        assert 'rel="icon"' in page.get("/").text
        icon = page.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.content.lstrip().startswith(b"<svg")
        assert page.get("/static/favicon.svg").content == icon.content


def test_a_journal_from_before_origins_gains_them_and_keeps_its_runs(tmp_path):
    """A journal written before these columns opens, keeps its runs, and records origins from then on."""
    import sqlite3

    from sn_importer.journal import Journal

    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "journal.sqlite3")
    old.executescript("""
        CREATE TABLE runs (run_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, input TEXT NOT NULL,
            template TEXT NOT NULL, base_url TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, statuses TEXT);
        CREATE TABLE past_runs (run_key TEXT NOT NULL, run_id TEXT PRIMARY KEY, input TEXT NOT NULL,
            template TEXT NOT NULL, base_url TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, statuses TEXT);
        INSERT INTO runs VALUES ('k', 'old1', 'a.xlsx', 'default', 'https://x', '2026-01-01T00:00:00Z',
            '2026-01-01T00:01:00Z', '{"deleted": 1}');
    """)
    old.commit()
    old.close()
    journal = Journal(state)
    try:
        journal.start_run("k", "new1", "a.xlsx", "default", "https://x", "2026-02-01T00:00:00Z", origin="web page")
        journal.resumed("k", "command line")
        runs = {r["run_id"]: r for r in journal.history()}
    finally:
        journal.close()
    assert (runs["old1"]["started_from"], runs["old1"]["statuses"]) == (None, {"deleted": 1})
    assert (runs["new1"]["started_from"], runs["new1"]["resumed_from"]) == ("web page", ["command line"])
