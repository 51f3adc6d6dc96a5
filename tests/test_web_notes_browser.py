"""What a check learnt of the file from the journal, read where a person reads first (Debian's Chromium).

A file applied before is checked again: the note that says so, and when, is
above the counts and the confirm section, not below the columns read, at a
desk's width and at a phone's, where it wraps inside the screen.
"""

from __future__ import annotations

import re

from test_web_browser import PHONE, WAIT_MS, browser, expect, fits_the_phone, page, phone, site, upload_sample  # noqa: F401


def top(locator) -> float:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None, "not shown"
    return box["y"] + locator.page.evaluate("window.scrollY")


def test_a_file_applied_before_is_said_so_above_the_rows_and_the_button(page, site):  # noqa: F811
    upload_sample(page, site)
    page.locator("#confirm button.danger").click()
    expect(page.locator("h1")).to_have_text(re.compile("^(Done|Finished)"), timeout=WAIT_MS)
    upload_sample(page, site)
    note = page.locator(".alert", has_text="This file was applied before on")
    expect(note).to_have_count(1)
    for width in (1280, PHONE["width"]):
        page.set_viewport_size({"width": width, "height": 900})
        assert top(note) < top(page.locator("#counts-title")) < top(page.locator("#confirm")), width
    with phone(page):
        fits_the_phone(page, note)
