"""The check page at a phone's width, and the browser's console, in a real browser (Debian's Chromium).

At 390 px the plan's key columns (the resource and the serials that would be
detached) and the rows' key fields (row, status, resource, serial) are on
screen, by their bounding boxes; the browser asks for no address that
answers 404 (the favicon included) and logs no error; the page names its
sandbox "built-in sandbox", never its loopback URL.
"""

from __future__ import annotations

import re

from test_web_browser import PHONE, WAIT_MS, browser, expect, page, site, upload_sample  # noqa: F401


def on_screen(locator) -> None:
    """Inside the viewport's width (the page does not scroll sideways to show it)."""
    box = locator.bounding_box()
    assert box is not None, "not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_at_390_px_the_plan_and_the_rows_show_their_key_columns(page, site):  # noqa: F811
    upload_sample(page, site)
    page.set_viewport_size(PHONE)
    plan = page.locator("table.plan")
    headers = [h.strip() for h in plan.locator("thead th").all_inner_texts()]
    key = [headers.index(name) for name in ("Resource type", "Resource id", "Would be detached")]
    rows = plan.locator("tbody tr")
    assert rows.count() == 9
    for index in range(rows.count()):
        for column in key:
            cell = rows.nth(index).locator("td").nth(column)
            cell.scroll_into_view_if_needed()
            on_screen(cell)
            assert cell.inner_text().strip()
    attention = page.locator("#attention tbody tr").first
    for label in ("Row", "Status", "Resource", "Serial id"):
        cell = attention.locator(f"td[data-label='{label}']")
        cell.scroll_into_view_if_needed()
        on_screen(cell)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_browser_meets_no_404_and_no_console_error(page, site):  # noqa: F811
    missing, errors = [], []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    upload_sample(page, site)
    page.get_by_role("link", name="History").click()
    expect(page.locator("h1")).to_have_text("History", timeout=WAIT_MS)
    icon = page.evaluate("fetch('/favicon.ico').then(r => [r.status, r.headers.get('content-type')])")
    assert icon == [200, "image/svg+xml"]
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    assert missing == [] and errors == [], (missing, errors)


def test_the_page_names_its_sandbox_not_its_address(page, site):  # noqa: F811
    port = re.search(r":(\d+)/", site.sandbox.base_url).group(1)
    upload_sample(page, site)
    check = page.locator("main").inner_text()
    assert "built-in sandbox" in check and port not in check
    page.locator("#confirm button.danger").click()
    expect(page.locator("h1")).to_have_text(re.compile("^Finished"), timeout=WAIT_MS)  # a loaded machine: not 5 s
    summary = page.locator("dl.facts").inner_text()
    assert "built-in sandbox (started with the page's server)" in summary and port not in summary
    page.get_by_role("link", name="History").click()
    history = page.locator("main").inner_text()
    assert "built-in sandbox" in history and port not in history
