"""One estimate: the command line, the web page and the Summary say the same for the same plan and tenant.

All three ask the tenant's ledger in the state directory (what the last run
learnt of the window, what the other runs still plan) through
:mod:`sn_importer.estimate`; nothing else estimates.
"""

from __future__ import annotations

from pathlib import Path

from sn_importer.clock import FakeClock
from sn_importer.estimate import run_estimate, tenant_ledger, wait_text
from sn_importer.katana.quota import SharedLedger
from sn_importer.sandbox import running_sandbox
from sn_importer.strategy import ListingPlan, per_type
from sn_importer.web.app import Server, WebSettings

import sn_importer as sn

BASE, KEY = "http://127.0.0.1:9/v1", "the-key"
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "serials.csv"


def learnt(state: Path, clock: FakeClock) -> None:
    """A run on the tenant learnt its window: 20 per 60 s, 5 left, the window resetting in 30 s."""
    ledger = SharedLedger(state, BASE, KEY, clock=clock)
    ledger.finish(ledger.try_reserve(), (20, 5, int((clock.now() + 30) * 1000)), clock.now() + 30)
    ledger.close()


def test_the_page_and_the_command_line_say_the_same_estimate_for_the_same_plan_and_tenant(tmp_path):
    clock = FakeClock()
    state = tmp_path / "state"
    learnt(state, clock)
    plan = ListingPlan("apply", tuple(per_type([("ManufacturingOrder", 2, 1)] * 30).values()))
    page = Server(WebSettings(base_url=BASE, api_key=KEY, state_dir=state, clock=clock)).estimate(plan.requests)
    ledger = tenant_ledger(state, BASE, KEY, 0.8, clock)
    try:
        line = run_estimate("apply", ledger, plan)
    finally:
        ledger.close()
    # 90 requests: 1 left in this window (resetting in 30 s), then 16 a window: 30 s + 5 windows of 60 s
    assert page == "about 6 min at 16 of 20 requests per 60 s (80% of the tenant's quota)"
    assert f"{plan.requests} requests at most for 30 resources" in line and page in line


def test_the_summary_shows_the_estimate_said_before_sending(tmp_path):
    said = []
    with running_sandbox() as server:
        result = sn.read(SAMPLE).apply(base_url=server.base_url, api_key="sandbox", state_dir=tmp_path / "state",
                                       announce=said.append)
    estimate = dict(result.report_facts().facts)["Estimated before sending"]
    requests, words = estimate.split("; ", 1)
    assert any(line.startswith("Apply: ") and f"{requests} at most" in line and words in line for line in said)
    ledger = tenant_ledger(tmp_path / "state", server.base_url, "sandbox", 0.8)
    try:
        assert wait_text(ledger, 0).endswith(words.split(" at ", 1)[1])  # the tenant's quota, as the run saw it
    finally:
        ledger.close()


def test_the_summary_estimate_counts_the_order_number_lookups_too(tmp_path):
    said = []
    with running_sandbox() as server:
        result = sn.read(SAMPLE.with_name("by-order.xlsx")).apply(
            base_url=server.base_url, api_key="sandbox", state_dir=tmp_path / "state", announce=said.append)
    estimate = dict(result.report_facts().facts)["Estimated before sending"]
    lookups = next(line for line in said if line.startswith("First "))
    assert estimate.startswith("9 requests and 10 at most to look up resources by order number; ")
    assert lookups.startswith("First 10 requests at most to look up")
    assert sum(result.requests[m] for m in ("GET", "DELETE")) <= 19


def test_the_page_check_and_the_command_line_preview_print_the_same_estimate(tmp_path):
    """The same sheet checked on the page and previewed on the command line, against the same sandbox and
    state folder (so the same tenant's ledger): the sentence beside the page's confirm button is the line
    ``preview`` prints, and the preview's Summary keeps it."""
    import re

    from starlette.testclient import TestClient
    from typer.testing import CliRunner

    from sn_importer.cli import app as cli
    from sn_importer.web import create_app
    from test_web import BASE as PAGE, Page, run_url

    state, xlsx = tmp_path / "state", Path(__file__).resolve().parent.parent / "samples" / "serials.xlsx"
    with running_sandbox(api_key=KEY, rate_limit=(1000, 60.0)) as sandbox:
        env = {"KATANA_API_KEY": KEY, "SN_IMPORTER_STATE_DIR": str(state), "COLUMNS": "400", "NO_COLOR": "1"}
        done = CliRunner().invoke(cli, ["preview", str(xlsx), "--base-url", sandbox.base_url,
                                        "-o", str(tmp_path / "preview.xlsx")], env=env)
        assert done.exit_code == 1, done.output  # the sample's invalid rows, by design
        printed = [line for line in done.stdout.splitlines() if line.startswith("Up to ")]
        settings = WebSettings(base_url=sandbox.base_url, api_key=KEY, state_dir=state)
        with TestClient(create_app(settings), base_url=PAGE) as client:
            page = Page(client)
            url = run_url(page.upload(xlsx))
            page.wait(url, "ready")
            shown = re.search(r"<p class=\"hint\" data-estimate>(.*?)</p>", page.get(url).text, re.S).group(1)
    assert printed == [shown.replace("&#39;", "'")], (printed, shown)
    assert "no waiting at 800 of 1000 requests per 60 s (80% of the tenant's quota)" in printed[0]
    from openpyxl import load_workbook

    facts = {r[0]: r[1] for r in load_workbook(tmp_path / "preview.xlsx")["Summary"].iter_rows(values_only=True)}
    assert f"{facts['Applying it']}." == printed[0]
