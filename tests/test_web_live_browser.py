"""A run that waits for Katana's quota, watched in a real browser (Debian's Chromium, Playwright).

The sandbox allows 4 requests per 4 s, so a run of eight resources really
stands still between windows. While it does, the page says why and for how
long in the terminal's words ("Waiting 3 s: Katana's quota …"), at 1280 px
and at 390 px, and its figures and counts by status move as resources finish
("pending" rows, never "valid" mid-run). Nothing here measures time: the
page is sampled until what is asserted has been seen, with generous limits.
"""

from __future__ import annotations

import csv
import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from sandbox_fixtures import many, serial
from test_web_browser import KEY, WAIT_MS, browser, expect, page, page_over  # noqa: F401

from sn_importer.sandbox import running_sandbox

RESOURCES = range(1, 9)
#: Sampling the page until something is seen; far longer than the run takes on a quiet machine.
PATIENCE_S = 100
WAIT_LINE = re.compile(r"^Waiting \d+ s: Katana's quota for this window is spent; waiting for it to reset "
                       r"\(until \d\d:\d\d:\d\d UTC\)$")


@pytest.fixture
def slow_site(tmp_path, monkeypatch):
    """The page against a sandbox whose quota is 4 requests per 4 s, used whole (share 1)."""
    monkeypatch.setenv("KATANA_QUOTA_SHARE", "1")
    # Two serials on each of eight MOs, and enough others of the type that each MO is listed on its own.
    records = [serial(100 * r + n, f"R{r}-{n}", resource_id=r) for r in RESOURCES for n in range(2)]
    records += many(3000, resource_id=9999)
    with running_sandbox(records=records, api_key=KEY, rate_limit=(4, 4.0)) as sandbox, \
            page_over(sandbox, tmp_path / "state") as served:
        yield served


def sheet(tmp_path):
    """One serial off each of the eight MOs (the other stays, a witness)."""
    path = tmp_path / "six.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Resource type", "Resource ID", "Serial number"])
        writer.writerows(("MO", r, f"R{r}-0") for r in RESOURCES)
    return path


#: The live box as the page shows it at one instant (one script, so the box cannot go between two reads
#: of it when the run ends): its figures, its counts, and the wait line if shown, with where it lies.
GLANCE = """() => {
  if (!document.querySelector("[data-live]")) return null;
  const text = (selector) => { const found = document.querySelector(selector); return found ? found.innerText : ""; };
  const wait = document.querySelector("[data-wait]");
  const box = wait ? wait.getBoundingClientRect() : null;
  const shown = !!wait && box.width > 0 && box.height > 0 && getComputedStyle(wait).visibility !== "hidden";
  return {figures: text("[data-figures]"), counts: text("[data-counts]"),
          wait: shown ? wait.innerText : null, x: shown ? box.x : 0, width: shown ? box.width : 0};
}"""


def sample_until(page, seen, done) -> None:
    """Read the live box over and over (as a person would glance at it) until ``done(seen)``."""
    limit = time.monotonic() + PATIENCE_S
    while not done(seen) and time.monotonic() < limit:
        try:
            glance = page.evaluate(GLANCE)
        except PlaywrightError:  # the page reloaded as the glance was taken (its phase changed): look again
            glance = None
        if glance is not None:
            seen["figures"].add(glance["figures"])
            seen["counts"].add(glance["counts"].replace("\n", " "))
            if glance["wait"] is not None:
                seen["waits"].append(glance["wait"])
                seen["on_screen"].add(glance["x"] >= 0 and glance["x"] + glance["width"]
                                      <= page.viewport_size["width"])
        page.wait_for_timeout(150)


def test_the_page_says_why_a_run_waits_and_its_counts_move(page, slow_site, tmp_path):  # noqa: F811
    slow_site.open(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_input_files("#file", str(sheet(tmp_path)))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("h1")).to_have_text("Check done: review before detaching", timeout=PATIENCE_S * 1000)
    page.locator("#confirm button.danger").click()
    expect(page.locator("h1")).to_have_text("Detaching serial numbers", timeout=WAIT_MS)

    seen = {"figures": set(), "counts": set(), "waits": [], "on_screen": set()}
    sample_until(page, seen, lambda s: s["waits"])
    assert seen["waits"], "the page never said why the run waits"
    assert seen["on_screen"] == {True}

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the reason is on screen there too
    phone = {"figures": set(), "counts": set(), "waits": [], "on_screen": set()}
    sample_until(page, phone, lambda s: s["waits"])
    assert phone["waits"], "at 390 px the page never said why the run waits"
    assert phone["on_screen"] == {True}

    page.set_viewport_size({"width": 1280, "height": 900})
    sample_until(page, seen, lambda s: not page.locator("[data-live]").count())
    expect(page.locator("h1")).to_have_text("Done: 8 serial numbers detached and verified",
                                            timeout=PATIENCE_S * 1000)
    waits = seen["waits"] + phone["waits"]
    assert all(WAIT_LINE.match(text) for text in waits), waits
    figures, counts = seen["figures"] | phone["figures"], seen["counts"] | phone["counts"]
    assert len(figures) >= 3, f"the figures did not move: {figures}"
    assert len(counts) >= 2, f"the counts by status did not move: {counts}"
    assert any("pending" in c for c in counts) and any("deleted" in c for c in counts), counts
    assert not any(re.search(r"\bvalid\b", c) for c in counts), counts


def test_the_page_says_when_the_server_cannot_be_reached_mid_run(page, slow_site, tmp_path):  # noqa: F811
    """Not "Running now" with a countdown while nothing answers its polls."""
    slow_site.open(page)
    page.set_input_files("#file", str(sheet(tmp_path)))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("h1")).to_have_text("Check done: review before detaching", timeout=PATIENCE_S * 1000)
    page.locator("#confirm button.danger").click()
    expect(page.locator("h1")).to_have_text("Detaching serial numbers", timeout=WAIT_MS)
    expect(page.locator("[data-ahead]")).to_have_text("Running now.", timeout=PATIENCE_S * 1000)
    slow_site.server.stop()  # the page's server goes away (its run goes on, as a stopped server's would end)
    expect(page.locator("[data-ahead]")).to_have_text("The server cannot be reached; trying again\u2026",
                                                      timeout=PATIENCE_S * 1000)
    assert not page.locator("[data-wait]").is_visible()
