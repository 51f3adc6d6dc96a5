"""The web page in a real browser: Debian's headless Chromium driven by Playwright.

A person uploads the sample, reads the check, confirms with the keyboard,
waits for the end and downloads a workbook whose statuses are checked here;
a bad file dropped on the page gets a message; a form posted from another
site is refused and deletes nothing.

Without Chromium or Playwright these tests fail when ``CI`` is set (CI must
run them) and skip with the reason otherwise. With
``SN_IMPORTER_SCREENSHOTS=docs/screenshots`` they also write the screenshots
shown in docs/web.md (runs are slowed down so the progress page can be seen).
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import workbook_statuses

from sn_importer.sandbox import SandboxServer, running_sandbox
from sn_importer.web import WebSettings, create_app

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the browser fixture: a failure in CI, a skip elsewhere
    expect = sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "serials.xlsx"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
KEY = "sk-browser-test-5d4c3b2a"
SHOTS = os.environ.get("SN_IMPORTER_SCREENSHOTS")
WAIT_MS = 30_000


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable("Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Site:
    def __init__(self, sandbox, server, token: str):
        self.sandbox = sandbox
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self.token = token

    def open(self, page) -> None:
        """Log the browser in with the one-time link ``serve`` would print; it lands on the upload page."""
        page.goto(f"{self.url}/login?token={self.token}")
        assert page.url == self.url + "/"

    def status(self, page, run: str) -> dict:
        """A run's status JSON, asked with the browser's session."""
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        return httpx.get(f"{run}/status", cookies=cookies).json()

    def deletes(self) -> int:
        stats = httpx.get(self.sandbox.base_url.replace("/v1", "/_sandbox/stats")).json()
        return stats["requests"].get("DELETE", 0)


@contextmanager
def page_over(sandbox, state_dir: Path):
    """The page, served on loopback, sending to ``sandbox``; stopped (its queue too) at the end."""
    app = create_app(WebSettings(base_url=sandbox.base_url, api_key=KEY, state_dir=state_dir, sandbox=True))
    server = SandboxServer(app).start()
    try:
        yield Site(sandbox, server, app.state.server.logins.token)
    finally:
        server.stop()
        app.state.server.queue.stop(wait=5)


@pytest.fixture
def site(tmp_path):
    latency = 350 if SHOTS else 40
    with running_sandbox(api_key=KEY, rate_limit=(100_000, 60.0), latency_ms=latency) as sandbox, \
            page_over(sandbox, tmp_path / "state") as served:
        yield served


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def shoot(page, name: str, full_page: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=full_page)


def heading(page) -> str:
    return page.locator("h1").inner_text()


def statuses_in(path: Path) -> dict[str, int]:
    return workbook_statuses(path, ("Orders", "Sales and purchasing"))


PHONE = {"width": 390, "height": 844}


@contextmanager
def phone(page):
    """The page at a phone's width for a moment."""
    before = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        yield
    finally:
        page.set_viewport_size(before)


def fits_the_phone(page, locator) -> None:
    """Nothing scrolls sideways, and the element is on screen with some text in it."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert locator.inner_text().strip(), box


def upload_sample(page, site: Site) -> None:
    if not page.url.startswith(site.url):
        site.open(page)
    page.goto(site.url + "/")
    page.set_input_files("#file", str(SAMPLE))
    assert page.locator("[data-filename]").inner_text().startswith("Selected: serials.xlsx")
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("h1")).to_have_text("Check done: review before detaching", timeout=WAIT_MS)


def test_a_person_detaches_the_sample_and_downloads_a_truthful_workbook(page, site, tmp_path):
    site.open(page)
    assert page.get_by_label("Template").input_value() == "default"
    shoot(page, "1-upload.png")
    upload_sample(page, site)
    assert heading(page) == "Check done: review before detaching"
    confirm = page.locator("#confirm button.danger")
    assert confirm.inner_text() == "Detach 15 serial numbers from 9 resources"
    first = page.locator("#attention tbody tr").first.locator("td")
    assert [first.nth(i).inner_text() for i in range(6)] == ["Orders", "13", "invalid", "Invoice 3001", "1005", ""]
    assert "unknown resource type 'Invoice'" in page.locator("#attention").inner_text()
    assert "not_on_resource" in page.locator("#attention").inner_text()
    assert site.deletes() == 0, "nothing may be deleted before the button is pressed"
    shoot(page, "2-check.png")
    with phone(page):
        message = page.locator("#attention tbody tr").first.locator("td.msg")
        assert "unknown resource type 'Invoice'" in message.inner_text()
        fits_the_phone(page, message)
        assert message.bounding_box()["width"] > 300  # the row's full width, not a squeezed column
        page.locator("#attention").scroll_into_view_if_needed()
        shoot(page, "2-check-phone.png", full_page=False)

    confirm.focus()
    page.keyboard.press("Enter")  # a keyboard is enough
    if SHOTS:  # the run is slowed down: catch it halfway
        expect(page.locator("[data-figures]")).to_have_text(re.compile(r"Sent: [3-8] of 9 resources"), timeout=WAIT_MS)
        shoot(page, "3-progress.png")
    expect(page.locator("h1")).to_have_text(re.compile("^Finished"), timeout=WAIT_MS)
    assert heading(page) == "Finished: 15 serial numbers detached; 7 rows need attention"
    assert site.deletes() == 9
    shoot(page, "4-result.png")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download the annotated workbook").click()
    download = waiting.value
    assert download.suggested_filename == "serials.results.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert statuses_in(saved) == {"deleted": 15, "invalid": 5, "not_on_resource": 2, "duplicate": 1}

    page.get_by_role("link", name="History").click()
    row = page.locator("tbody tr").first
    assert "serials.xlsx" in row.inner_text() and "15 deleted" in row.inner_text()
    shoot(page, "5-history.png")
    with phone(page):
        fits_the_phone(page, row.get_by_role("link", name="Download"))
        fits_the_phone(page, row.locator("td[data-label=Result] .chip").last)
        shoot(page, "5-history-phone.png", full_page=False)
    assert KEY not in page.content()


def test_a_bad_file_dropped_on_the_page_is_refused_with_a_message(page, site):
    site.open(page)
    dropped = page.evaluate_handle(
        "() => { const t = new DataTransfer(); t.items.add(new File(['just some notes'], 'notes.xlsx')); return t; }")
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    assert page.locator("[data-filename]").inner_text().startswith("Selected: notes.xlsx")
    page.get_by_role("button", name="Upload and check").click()
    alert = page.get_by_role("alert")
    assert "The file was not accepted." in alert.inner_text()
    assert "named like an Excel workbook, but its content is not one" in alert.inner_text()
    shoot(page, "6-bad-file.png", full_page=False)
    upload_sample(page, site)  # the server is still up and takes the next file


def test_a_cross_site_post_is_refused_and_deletes_nothing(page, site):
    upload_sample(page, site)
    run = page.url
    attack = (f'<form id="f" method="post" action="{run}/apply"><input name="csrf" value="{"g" * 43}"></form>'
              '<script>document.getElementById("f").submit()</script>')
    evil, evil_server = _serve_once(attack)
    try:
        with page.expect_navigation(url=re.compile(re.escape(run) + "/apply")) as navigation:
            page.goto(evil)
        assert navigation.value.status == 403
        assert "Refused: this request came from another site." in page.locator("main").inner_text()
        shoot(page, "7-cross-site-refused.png", full_page=False)
    finally:
        evil_server.shutdown()
    assert site.deletes() == 0
    assert site.status(page, run)["phase"] == "ready"


def _serve_once(html: str) -> tuple[str, http.server.ThreadingHTTPServer]:
    """Another site (another port is another origin) that serves one attacking page."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server
