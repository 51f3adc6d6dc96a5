"""Undoing a run from the page, in a real browser (Debian's Chromium driven by Playwright).

A person applies the sample, presses "Undo this run" on the finished run's page, reads the check
(nothing sent yet), confirms with the button that says what it will put back, waits for the end,
downloads the undo report, and finds both runs linked in History; the sandbox then holds every
serial it held before the apply, except the one Katana's POST cannot take.
"""

from __future__ import annotations

import re

import httpx
from conftest import workbook_statuses
from test_web_browser import KEY, WAIT_MS, browser, expect, heading, page, shoot, site, upload_sample  # noqa: F401

SOF = ("SalesOrderFulfillmentRow", 9501)


def tenant(site) -> dict:
    found: dict = {}
    for r in site.sandbox.store.records:
        found.setdefault((r["resource_type"], r["resource_id"]), []).append(r["serial_number"])
    return {k: sorted(v) for k, v in found.items()}


def posts(site) -> int:
    stats = httpx.get(site.sandbox.base_url.replace("/v1", "/_sandbox/stats")).json()
    return stats["requests"].get("POST", 0)


def test_a_person_undoes_a_run_from_the_page(page, site, tmp_path):  # noqa: F811
    before = tenant(site)
    upload_sample(page, site)
    page.locator("#confirm button.danger").click()
    expect(page.locator("h1")).to_have_text(re.compile("^Finished"), timeout=WAIT_MS)
    applied = page.url
    assert tenant(site) != before

    undo = page.locator("#undo")
    assert "nothing is sent before you confirm" in undo.inner_text()
    undo.get_by_role("button", name="Undo this run").click()
    expect(page.locator("h1")).to_have_text("Undo check done: review before putting back", timeout=WAIT_MS)
    assert posts(site) == 0, "the check sends nothing"
    button = page.locator("#confirm button.danger")
    assert button.inner_text() == "Put back 14 serial numbers on 8 resources"
    assert "cannot_restore" in page.locator("#attention").inner_text()
    assert "onto a sales order fulfillment row through its API" in page.locator("#attention").inner_text()
    shoot(page, "8-undo-check.png")

    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(re.compile("^Finished: 14 serial numbers put back"), timeout=WAIT_MS)
    assert heading(page) == "Finished: 14 serial numbers put back; 1 record needs attention"
    assert posts(site) == 8
    assert tenant(site) == {k: v for k, v in before.items() if k != SOF}
    shoot(page, "9-undo-result.png")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download the undo report").click()
    download = waiting.value
    assert download.suggested_filename == "serials.results.undo.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert workbook_statuses(saved, ("Undo",)) == {"restored": 14, "cannot_restore": 1}
    undone = page.url

    page.get_by_role("link", name="Back to the run it undid").click()
    assert page.url == applied
    page.locator("#undo").get_by_role("link", name="see what it put back").click()
    assert page.url == undone

    page.get_by_role("link", name="History").click()
    row = page.locator("tbody tr").first
    assert "serials.xlsx" in row.inner_text() and "15 deleted" in row.inner_text()
    link = row.locator("[data-undo] a")
    assert "14 restored" in link.inner_text() and "1 cannot_restore" in link.inner_text()
    link.click()
    assert page.url == undone
    assert KEY not in page.content()
