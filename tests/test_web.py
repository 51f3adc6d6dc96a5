"""The web page through Starlette's test client: upload, check, confirm, download,
and the guards around a page that holds a Katana key.

Every test gets its own sandbox (a real one on a loopback port, with a key that
must never show up in a page) and its own state directory.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2 for its test client; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from conftest import wait_for, workbook_statuses, write_csv, write_xlsx

from sn_importer.clock import FakeClock
from sn_importer.engine import Progress
from sn_importer.job import Job
from sn_importer.sandbox import running_sandbox
from sn_importer.status import COLOURS, Mode, Status
from sn_importer.web import WebSettings, create_app
from sn_importer.web.address import announce, open_urls
from sn_importer.web.present import figures
from sn_importer.web.runs import Live, Phase, Place, Registry, Run, RunQueue
from sn_importer.web.guard import check_binding
from sn_importer.web.sessions import LoginThrottle

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "serials.xlsx"
KEY = "sk-test-7f3a9c1e-never-in-a-page"
BASE = "http://127.0.0.1"
FAST = (100_000, 60.0)  # no waiting for the quota in tests
DAY = 86_400


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def sandbox():
    with running_sandbox(api_key=KEY, rate_limit=FAST) as server:
        yield server


def settings_for(sandbox, tmp_path: Path, **overrides) -> WebSettings:
    options = dict(base_url=sandbox.base_url, api_key=KEY, state_dir=tmp_path / "state", sandbox=True)
    return WebSettings(**{**options, **overrides})


class Page:
    """A test client that checks every answer for the key, and knows the form token. A page
    without a password is logged in with its one-time link."""

    def __init__(self, client: TestClient, log_in: bool = True):
        self.client = client
        logins = client.app.state.server.logins
        if log_in and logins.token and not logins.spent:
            assert client.get(f"/login?token={logins.token}").status_code == 200

    def get(self, url: str, **kw) -> httpx.Response:
        return self._checked(self.client.get(url, **kw))

    def post(self, url: str, data: dict | None = None, files=None, token: bool = True, **kw) -> httpx.Response:
        data = dict(data or {})
        if token:
            data["csrf"] = self.token()
        return self._checked(self.client.post(url, data=data, files=files, **kw))

    def log_in(self, password: str, name: str = "") -> httpx.Response:
        answer = self.post("/login", {"password": password, "name": name}, follow_redirects=False)
        assert answer.status_code == 303, answer.text[:300]
        return answer

    def token(self) -> str:
        if "sn_csrf" not in self.client.cookies:
            self.get("/")
        return self.client.cookies["sn_csrf"]

    def upload(self, path: Path, template: str = "default", name: str | None = None, **kw) -> httpx.Response:
        with open(path, "rb") as handle:
            files = {"file": (name or path.name, handle.read(), "application/octet-stream")}
        return self.post("/upload", {"template": template}, files=files, follow_redirects=False, **kw)

    def wait(self, run_url: str, *phases: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get(f"{run_url}/status").json()
            if state["phase"] in phases:
                return state
            time.sleep(0.05)
        raise AssertionError(f"{run_url} never reached {phases}; last {state}")

    @staticmethod
    def _checked(response: httpx.Response) -> httpx.Response:
        assert KEY.encode() not in response.content, f"the API key leaked into {response.request.url}"
        assert KEY not in str(response.headers)
        return response


@pytest.fixture
def page(sandbox, tmp_path):
    app = create_app(settings_for(sandbox, tmp_path))
    with TestClient(app, base_url=BASE) as client:
        yield Page(client)


def run_url(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert re.fullmatch(r"/runs/[0-9a-f]{16}", location), location
    return location


def statuses_in(workbook: bytes) -> dict[str, int]:
    return workbook_statuses(io.BytesIO(workbook), ("Orders", "Sales and purchasing"))


def text(response: httpx.Response) -> str:
    """The page's visible words, tags dropped and whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)).replace("&#39;", "'")


# --------------------------------------------------------------------------- the main path


def test_a_sheet_not_read_is_said_at_the_top_of_the_check(page):
    url = run_url(page.upload(ROOT / "tests" / "sheets" / "skipped_sheet.xlsx"))
    page.wait(url, "ready")
    check = page.get(url)
    said = check.text.index("data-unread")
    assert said < check.text.index("<h1")  # before anything else on the page
    words = text(check)
    assert ("Sheet 'Returns' was not read: its header row 3 (Resource type | 'Order ref' | Serial) has no resource id "
            "or order number column; nearest: 'Order ref' ~ order_no Its rows are marked skipped.") in words
    assert "3 skipped" in words
    download = page.get(f"{url}/download")
    book = load_workbook(io.BytesIO(download.content))
    summary = [str(r[0]) for r in book["Summary"].iter_rows(values_only=True) if r[0]]
    assert summary[1] == "Not read" and any("upload it again on the page" in t for t in summary)
    assert not any("run sn-importer" in t for t in summary)


def test_rows_a_filter_hides_are_said_at_the_top_of_the_check(page, tmp_path):
    from test_sheet_notes import HIDDEN, filtered_workbook

    url = run_url(page.upload(filtered_workbook(tmp_path / "filtered.xlsx")))
    page.wait(url, "ready")
    check = page.get(url)
    assert check.text.index("data-sheet-note") < check.text.index("<h1")  # before anything else on the page
    assert HIDDEN in text(check)


def test_upload_check_confirm_and_download_the_annotated_workbook(page, sandbox):
    home = page.get("/")
    assert home.status_code == 200
    assert 'name="file"' in home.text and 'accept=".xlsx,.xlsm,.xlsb,.xls,.ods,.csv,.txt,.tsv"' in home.text
    assert '<option value="default" selected>' in home.text
    assert 'href="/blank?template=default"' in home.text

    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    preview = page.get(url)
    words = text(preview)
    assert preview.status_code == 200
    assert "Detach 15 serial numbers from 9 resources" in words
    assert "15 planned" in words and "5 invalid" in words and "2 not_on_resource" in words
    # invalid rows first, then not_on_resource, each with sheet and row
    attention = preview.text[preview.text.index('id="attention"'):]
    first_invalid = attention.index("st-invalid")
    first_missing = attention.index("st-not_on_resource")
    assert first_invalid < first_missing
    assert "Orders 13 invalid" in text_of(attention) and "unknown resource type 'Invoice'" in text_of(attention)
    # invalid rows keep the values their cells hold, as the workbook does
    assert "Orders 13 invalid Invoice 3001 1005" in text_of(attention)
    assert "Orders 14 invalid Manufacturing order abc 1006" in text_of(attention)  # types in the drop-down's words
    assert "Sales and purchasing 9 not_on_resource Sales order row 5001 4201" in text_of(attention)
    assert "column 'Resource type'" in words  # the mapping
    said = re.search(r"Up to (\d+) requests in all", words)  # as the preview listed, lists read twice included
    assert said, words
    asked_before = sum(sandbox.store.stats()["requests"].values())
    assert "no waiting at 80000 of 100000 requests per 60 s (80% of the tenant's quota)" in words
    assert _deletes(sandbox) == 0, "nothing may be deleted before the button is pressed"

    confirmed = page.post(f"{url}/apply", follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == url
    page.wait(url, "done")
    result = page.get(url)
    words = text(result)
    assert "Finished: 15 serial numbers detached; 7 rows need attention" in words
    assert "Exit code 1 (some rows need attention)" in words
    assert _deletes(sandbox) == 9
    sent = sum(sandbox.store.stats()["requests"].values()) - asked_before
    assert sent <= int(said[1]), f"'up to {said[1]}' beside the button, {sent} sent"

    download = page.get(f"{url}/download")
    assert download.status_code == 200
    assert 'filename="serials.results.xlsx"' in download.headers["content-disposition"]
    assert statuses_in(download.content) == {"deleted": 15, "invalid": 5, "not_on_resource": 2, "duplicate": 1}
    book = load_workbook(io.BytesIO(download.content))
    assert len(list(book["Removed"].iter_rows())) == 16  # header + 15 records as they were
    assert not any(KEY in str(c) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r)

    history = page.get("/history")
    assert "serials.xlsx" in history.text and f'href="{url}/download"' in history.text
    assert "15 deleted" in text(history)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def _deletes(sandbox) -> int:
    stats = httpx.get(sandbox.base_url.replace("/v1", "/_sandbox/stats")).json()
    return stats["requests"].get("DELETE", 0)


def test_progress_is_reported_while_a_run_goes_and_the_page_can_be_left(page, sandbox):
    url = run_url(page.upload(SAMPLE))
    state = page.wait(url, "ready")
    assert state["resources"] == [9, 9] and state["rows"] == [17, 17]
    page.post(f"{url}/apply")  # and never look at the page again until it is done
    state = page.wait(url, "done")
    # types with several resources are listed whole: 23 planned, not 3 × 9; the 5 resources the sheet
    # empties are listed twice after their DELETE (an empty list is believed only when a second read agrees)
    assert state["requests"] == [23 + 5, 23]
    assert {c["status"]: c["count"] for c in state["counts"]}["deleted"] == 15


def test_confirming_twice_sends_once(page, sandbox, monkeypatch):
    """Counted where it matters: a second apply would be replayed by the journal, sending
    nothing, so the DELETE count alone could not tell. The queue's submissions can."""
    queue = page.client.app.state.server.queue
    submitted: list[tuple[str, str]] = []
    real_submit = queue.submit

    def counting_submit(run, mode):
        submitted.append((run.id, mode))
        real_submit(run, mode)

    monkeypatch.setattr(queue, "submit", counting_submit)
    url = run_url(page.upload(SAMPLE))
    run_id = url.rsplit("/", 1)[1]
    page.wait(url, "ready")
    for _ in range(2):  # a double click, or a second tab
        assert page.post(f"{url}/apply", follow_redirects=False).status_code == 303
    page.wait(url, "done")
    page.post(f"{url}/apply")  # and once more after it is done
    assert submitted == [(run_id, "preview"), (run_id, "apply")]
    assert _deletes(sandbox) == 9
    assert "already applied" not in page.get(url).text


def test_history_and_downloads_survive_a_restart_until_their_retention_ends(sandbox, tmp_path):
    settings = settings_for(sandbox, tmp_path)
    with TestClient(create_app(settings), base_url=BASE) as client:
        first = Page(client)
        url = run_url(first.upload(SAMPLE))
        first.wait(url, "ready")
        first.post(f"{url}/apply")
        first.wait(url, "done")
    with TestClient(create_app(settings), base_url=BASE) as client:
        again = Page(client)
        history = again.get("/history")
        assert f'href="{url}/download"' in history.text
        assert statuses_in(again.get(f"{url}/download").content)["deleted"] == 15
        assert "Finished: 15 serial numbers detached" in text(again.get(url))

    web = tmp_path / "state" / "web"
    clock = FakeClock(time.time() + 31 * DAY)  # a month later: files go, the record stays
    later_settings = settings_for(sandbox, tmp_path, clock=clock, password=PASSWORD)
    with TestClient(create_app(later_settings), base_url=BASE) as client:
        later = Page(client)
        later.log_in(PASSWORD)
        assert not any((web / "uploads").iterdir()) and not any((web / "results").iterdir())
        history = later.get("/history")
        assert f'href="{url}"' in history.text and "removed after 30 days" in text(history)
        gone = later.get(f"{url}/download")
        assert gone.status_code == 410 and "kept for 30 days" in text(gone)
        assert "Finished: 15 serial numbers detached" in text(later.get(url))
        fresh = run_url(later.upload(SAMPLE))  # what is in hand is never swept, however old the clock says it is
        later.wait(fresh, "ready")
        clock.advance(335 * DAY)  # a year on: the record goes too; the journal still lists the run
        assert later.get("/history", follow_redirects=False).status_code == 303  # long logged out
        later.log_in(PASSWORD)
        history = later.get("/history")
        assert f'href="{url}"' not in history.text and "serials.xlsx" in text(history)
        assert later.get(url).status_code == 404
        assert [p.name for p in (web / "uploads").iterdir()] == [fresh.rsplit("/", 1)[1]]
        assert "Check done" in text(later.get(fresh))


def test_the_same_file_applied_again_is_not_sent_again(page, sandbox):
    for attempt in range(2):
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready", "broken")
        if attempt == 0:
            page.post(f"{url}/apply")
            page.wait(url, "done")
    second = page.get(url)
    assert "Nothing to detach" in text(second) and f'action="{url}/apply"' not in second.text
    assert "17 not_on_resource" in text(second)  # 15 detached by the first run, 2 never there
    assert "This file was applied before on" in text(second)  # the check says so, and when
    assert _deletes(sandbox) == 9


def test_the_page_calls_rows_verified_only_when_the_run_read_katana(page, sandbox):
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    page.post(f"{url}/apply")
    page.wait(url, "done")
    assert "15 serial numbers detached; 7 rows need attention" in text(page.get(url))
    server = page.client.app.state.server
    run = server.registry.get(url.rsplit("/", 1)[1])
    server.execute(run, Mode.APPLY)  # the same sheet applied once more, as a re-run after a restart would
    page.wait(url, "done")  # its workbook and view are made beside the queue
    heading = re.search(r"<h1>(.*?)</h1>", page.get(url).text, re.S).group(1)
    if not run.view["checked"]:  # replayed from the journal: nothing was looked at
        assert "verified" not in heading and "recorded as detached by an earlier run" in heading
        words = text(page.get(url))
        assert "This run sent nothing and checked nothing in Katana." in words and "and verified" not in words
    else:  # the re-run read Katana again: then, and only then, rows may be verified
        assert "recorded as detached by an earlier run" not in heading
    assert _deletes(sandbox) == 9


def test_a_refused_key_is_shown_and_never_echoed(sandbox, tmp_path):
    wrong = "sk-wrong-key-3c2b1a-never-shown"
    app = create_app(settings_for(sandbox, tmp_path, api_key=wrong))
    with TestClient(app, base_url=BASE) as client:
        page = Page(client)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "broken")
        answer = page.get(url)
        assert "Katana refused the API key (401" in text(answer)
        assert wrong not in answer.text and "Check again" in answer.text


def test_the_queue_is_visible_while_another_run_goes(page):
    """The first check is held in the worker's hands (an event, not a slow server), so the
    second one waits however fast or slow the machine is."""
    queue = page.client.app.state.server.queue
    release, execute = threading.Event(), queue._execute

    def held(run, mode):
        if run.filename == "serials.xlsx":
            release.wait(20)
        execute(run, mode)

    queue._execute = held
    try:
        first = run_url(page.upload(SAMPLE))
        second = run_url(page.upload(SAMPLE, name="second.xlsx"))
        state = page.get(f"{second}/status").json()
        assert state["phase"] == "check-waiting" and state["ahead"] == 1
        assert page.get(f"{first}/status").json()["running"] is True
        waiting = page.get(second)
        assert "Waiting: 1 run ahead of this one." in text(waiting)
        queue_words = text(page.get("/"))
        assert "Running now: serials.xlsx" in queue_words and "Waiting: second.xlsx" in queue_words
    finally:
        release.set()
    page.wait(first, "ready")
    page.wait(second, "ready")


def test_progress_figures_never_claim_fewer_requests_than_were_sent():
    assert figures(Live()) == "Starting…"
    assert figures(Live(12, 30, 40, 180, 5, 60)) == "Sent: 5 of 60 resources, 40 of 180 rows · requests 12 of at most 30"
    assert figures(Live(12, 30, 40, 180, 5, 60), checking=True).startswith("Checked: 5 of 60 resources, 40 of 180 rows")
    over = figures(Live(31, 30, 180, 180, 60, 60))
    assert "of at most" not in over and "requests 31 (30 planned; retries and lists read again add more)" in over


class ServerStopped(BaseException):
    """The server going away in the middle of a run: nothing in the library catches a BaseException."""


def apply_until_the_server_stops(page: "Page", url: str, after: int = 3) -> Live:
    """Confirm the run at ``url`` and stop the server (a BaseException in its run thread) once
    ``after`` resources are through; wait until its queue has ended. The run's first figures."""
    server = page.client.app.state.server
    run = server.registry.get(url.rsplit("/", 1)[1])
    first_seen, report_progress = [], run.progress

    def dies(report):
        first_seen.append(first_seen or run.snapshot())
        report_progress(report)
        if report.resources_done == after:
            raise ServerStopped()

    run.progress = dies
    page.post(f"{url}/apply")
    wait_for(lambda: not server.queue._thread.is_alive(), timeout=60, what="the stopped server's queue to end")
    return first_seen[0]


def checked_sample(client: TestClient) -> tuple["Page", str, Run]:
    """The sample uploaded and checked on the page: the page, the run's address and the run."""
    page = Page(client)
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    return page, url, client.app.state.server.registry.get(url.rsplit("/", 1)[1])


def resumes_after_a_restart(settings: WebSettings, sandbox, url: str) -> None:
    """A new server on the same state: the run at ``url`` reopens interrupted, History offers Resume,
    and resuming finishes it without a DELETE sent twice."""
    with TestClient(create_app(settings), base_url=BASE) as client:
        again = Page(client)
        reopened = again.get(url)
        assert reopened.status_code == 200 and "The run was interrupted" in text(reopened)
        history = again.get("/history")
        assert "not finished" in text(history) and f'href="{url}">Resume' in history.text
        assert again.post(f"{url}/resume").status_code == 200
        again.wait(url, "done")
        assert "Finished: 15 serial numbers detached" in text(again.get(url))
        assert _deletes(sandbox) == 9, "a resumed run sent a DELETE twice"
        assert statuses_in(again.get(f"{url}/download").content)["deleted"] == 15
        assert f'href="{url}/download"' in again.get("/history").text


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_run_cut_off_by_a_restart_reopens_resumes_and_sends_nothing_twice(sandbox, tmp_path):
    settings = settings_for(sandbox, tmp_path)
    with TestClient(create_app(settings), base_url=BASE) as client:
        page, url, run = checked_sample(client)
        assert run.snapshot().resources_total == 9  # the check's figures
        first_seen = apply_until_the_server_stops(page, url)
        assert first_seen == Live(), "the run's figures must start from zero, not from the check's"
        assert 0 < _deletes(sandbox) < 9
    resumes_after_a_restart(settings, sandbox, url)


def test_a_run_the_server_stopped_in_good_order_reopens_with_resume(sandbox, tmp_path):
    """SIGTERM: the run in hand stops sending and is reported; after the restart its page and History
    offer to resume it, and its report tells the person to do that (not to run a command)."""
    from sn_importer.web.runs import STOPPING

    settings = settings_for(sandbox, tmp_path)
    with TestClient(create_app(settings), base_url=BASE) as client:
        page, url, run = checked_sample(client)
        server, report_progress = client.app.state.server, run.progress

        def stopping(report):
            report_progress(report)
            if report.resources_done == 3:
                server.interrupt.request(STOPPING)  # what a stop signal asks of the server's runs

        run.progress = stopping
        page.post(f"{url}/apply")
        page.wait(url, "done")
        assert 0 < _deletes(sandbox) < 9
        assert "open the run's page (or History) and resume it" in text(page.get(url))
    resumes_after_a_restart(settings, sandbox, url)


def test_the_queue_runs_one_task_at_a_time_in_order():
    spans: list[tuple[str, float, float]] = []
    gate = threading.Event()

    def execute(run: Run, mode: str) -> None:
        start = time.monotonic()
        gate.wait(5) if run.id == "a" else time.sleep(0.05)
        spans.append((run.id, start, time.monotonic()))

    queue = RunQueue(execute)
    runs = [Run(id=name, filename=f"{name}.xlsx", template="default", upload=Path(name)) for name in "abc"]
    queue.start = lambda: None  # hold the worker back: queued, nothing running yet
    for run in runs:
        queue.submit(run, "apply")
    assert [queue.position(r) for r in runs] == [Place(False, 0), Place(False, 1), Place(False, 2)]
    del queue.start
    queue.start()
    deadline = time.monotonic() + 5
    while queue.position(runs[0]) != Place(True, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [queue.position(r) for r in runs] == [Place(True, 0), Place(False, 1), Place(False, 2)]
    assert queue.position(Run(id="d", filename="d.xlsx", template="default", upload=Path("d"))) is None
    current, waiting = queue.lineup()
    assert current is runs[0] and waiting == runs[1:]
    gate.set()
    deadline = time.monotonic() + 5
    while len(spans) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.stop()
    assert [s[0] for s in spans] == ["a", "b", "c"]
    assert all(spans[i][2] <= spans[i + 1][1] for i in range(2)), "runs overlapped"


def test_a_broken_task_does_not_stop_the_queue():
    done = []

    def execute(run: Run, mode: str) -> None:
        if run.id == "bad":
            raise RuntimeError("boom")
        done.append(run.id)

    queue = RunQueue(execute)
    bad, good = (Run(id=i, filename="x", template="default", upload=Path("x")) for i in ("bad", "good"))
    queue.submit(bad, "preview")
    queue.submit(good, "preview")
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.stop()
    assert done == ["good"] and bad.phase == "broken" and "unexpected error" in bad.error


def test_live_counts_come_with_each_progress_report():
    """The engine keeps the counts by status as it goes; the page shows the latest report's."""
    run = Run(id="r", filename="serials.xlsx", template="default", upload=SAMPLE, job=Job(SAMPLE))
    run.progress(Progress(3, 9, 2, 4, 1, 2, statuses={"planned": 2, "valid": 2}))
    assert run.snapshot().counts == {"planned": 2, "valid": 2}
    run.progress(Progress(9, 9, 4, 4, 2, 2, statuses={"planned": 3, "not_on_resource": 1}))
    live = run.snapshot()
    assert live.resources_done == 2 and live.counts == {"planned": 3, "not_on_resource": 1}


def test_a_run_dropped_from_memory_without_a_record_says_it_is_gone(page, tmp_path):
    server = page.client.app.state.server
    broken = Run(id="0123456789abcdef", filename="broken sheet.xlsx", template="default", upload=Path("x"),
                 phase=Phase.BROKEN, created=0.0)
    server.registry = registry = Registry(tmp_path / "runs", keep=1)
    registry.add(broken)
    registry.add(Run(id="fedcba9876543210", filename="new.xlsx", template="default", upload=Path("y")))
    assert registry.get(broken.id) is None
    answer = page.get(f"/runs/{broken.id}")
    assert answer.status_code == 410 and "broken sheet.xlsx" in text(answer) and "Upload the sheet again" in text(answer)
    assert page.get("/runs/00000000000000ff").status_code == 404
    registry.save(Run(id="aaaaaaaaaaaaaaaa", filename="a.xlsx", template="default", upload=Path("a")), {"k": 1})
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["aaaaaaaaaaaaaaaa.json"]  # no temp left


# --------------------------------------------------------------------------- uploads


def zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 2**20))
    return path


def not_a_workbook_inside(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hello")
    return path


def malformed_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "<<< not xml")
    return path


def truncated(path: Path) -> Path:
    path.write_bytes(SAMPLE.read_bytes()[:3000])
    return path


def crc_lies(path: Path) -> Path:
    data = bytearray(SAMPLE.read_bytes())
    with zipfile.ZipFile(SAMPLE) as archive:
        info = archive.getinfo("xl/workbook.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data[start] ^= 0xFF  # damage the compressed bytes of one part
    path.write_bytes(bytes(data))
    return path


BAD_FILES = {
    "zip bomb": ("bomb.xlsx", zip_bomb, "zip bomb"),
    "zip that is no workbook": ("archive.xlsx", not_a_workbook_inside, "not an Excel workbook"),
    "malformed workbook": ("broken.xlsx", malformed_workbook, "not a readable workbook"),
    "truncated workbook": ("cut.xlsx", truncated, "damaged"),
    "damaged part": ("crc.xlsx", crc_lies, "damaged"),
    "text named xlsx": ("notes.xlsx", lambda p: (p.write_text("hello"), p)[1], "its content is not one"),
    "old xls": ("old.xlsx", lambda p: (p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600), p)[1],
                "old-style .xls"),
    "binary named csv": ("data.csv", lambda p: (p.write_bytes(b"a,b\x00\x01\x02"), p)[1], "not text"),
    "workbook named csv": ("book.csv", lambda p: (p.write_bytes(SAMPLE.read_bytes()), p)[1], "is an Excel workbook"),
    "empty file": ("empty.csv", lambda p: (p.write_bytes(b""), p)[1], "empty"),
    "a pdf": ("manual.pdf", lambda p: (p.write_bytes(b"%PDF-1.4"), p)[1], "not a sheet this page reads"),
    "no header": ("plain.csv", lambda p: (p.write_text("a,b\n1,2\n"), p)[1],
                  "“plain.csv”: no recognisable header (row 1: 'a' | 'b'); expected headers like"),
    "no serial column": ("Stock.xlsx", lambda p: write_xlsx(p.parent, {"Stock": [["Resource type", "Resource id"],
                                                                                ["MO", 3001]]}, name=p.name),
                         "“Stock.xlsx”: sheet 'Stock': its header row 1 (Resource type | Resource id) has no serial column"),
    "header only": ("only.csv", lambda p: (p.write_text("resource_type,resource_id,serial_id\n"), p)[1],
                    "“only.csv” has the headers but no rows under them: there is nothing to check"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_upload_is_refused_with_a_message_and_the_server_stays_up(page, tmp_path, case):
    name, make, words = BAD_FILES[case]
    path = make(tmp_path / name)
    answer = page.upload(path)
    assert answer.status_code == 400, answer.text[:300]
    message = text(answer)
    assert "The file was not accepted." in message
    assert words.lower() in message.lower(), message[:600]
    assert message.count("recognisable") <= 1 and "(found" not in message, "a message nested in a message"
    assert str(tmp_path) not in answer.text, "a server path leaked into the message"
    assert not re.search(r"[0-9a-f]{16}\.(csv|xlsx)", answer.text), "the stored name leaked into the message"
    assert page.get("/").status_code == 200
    uploads = tmp_path / "state" / "web" / "uploads"
    assert not any(uploads.iterdir()), "a refused upload was kept"


def test_a_csv_is_named_after_its_file_and_stored_in_a_server_chosen_folder(page, tmp_path):
    odd = write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,3001,1001\nMO,3001,abc\n", name="x.csv")
    url = run_url(page.upload(odd, name="../../../../etc/Stock März.csv"))
    page.wait(url, "ready")
    run_id = url.rsplit("/", 1)[1]
    stored = list((tmp_path / "state" / "web" / "uploads").iterdir())
    assert [p.name for p in stored] == [run_id]
    assert [p.name for p in stored[0].iterdir()] == ["Stock März.csv"]  # its own name, inside the id's folder
    words = text(page.get(url))
    assert "Stock März.csv" in words and "Stock März 3 invalid" in words  # the attention table's sheet column
    assert not re.search(r"[0-9a-f]{16}", words.replace(run_id, ""))
    book = load_workbook(io.BytesIO(page.get(f"{url}/download").content))
    assert "Stock März" in book.sheetnames
    summary = [str(c) for row in book["Summary"].iter_rows(values_only=True) for c in row if c is not None]
    assert any("Stock März" in c for c in summary) and not any(re.search(r"[0-9a-f]{16}", c) for c in summary)
    assert not (tmp_path.parent / "etc").exists()


def test_a_long_file_name_is_shortened_after_its_extension_was_checked(page, tmp_path):
    long_name = "Serial numbers to detach from the manufacturing orders of the second quarter " * 2 + ".xlsx"
    assert len(long_name) > 134
    url = run_url(page.upload(SAMPLE, name=long_name))
    page.wait(url, "ready")
    shown = re.search(r"<title>(.*?) ·", page.get(url).text).group(1)
    assert len(shown) == 120 and shown.endswith("….xlsx") and shown.startswith("Serial numbers to detach")
    refused = page.upload(SAMPLE, name="x" * 200 + ".pdf")
    assert refused.status_code == 400 and "not a sheet this page reads" in text(refused)


def test_csv_and_the_other_template_work(page, tmp_path):
    # MO-3001 is an order number: the samples' Katana has it as ManufacturingOrder 8301
    labels = write_xlsx(tmp_path, {"Labels": [["MO number", "Label serial"], ["MO-3001", "KNF000005001"]]})
    url = run_url(page.upload(labels, template="mo-labels"))
    page.wait(url, "ready")
    shown = text(page.get(url))
    assert "Detach 1 serial number from 1 resource" in shown
    assert "MO-3001 is Manufacturing order 8301" in shown
    assert page.upload(labels, template="../templates/default.toml").status_code == 400


def test_an_upload_over_the_limit_is_refused(sandbox, tmp_path):
    app = create_app(settings_for(sandbox, tmp_path, max_upload_bytes=2**20))
    big = tmp_path / "big.csv"
    big.write_bytes(b"resource_type,resource_id,serial_id\n" + b"MO,3001,1001\n" * 200_000)
    with TestClient(app, base_url=BASE) as client:
        page = Page(client)
        answer = page.upload(big)
        assert answer.status_code == 413 and "larger than 1 MB" in text(answer)
        boundary = "sn-boundary"

        def streamed():  # no Content-Length: the body is counted as it arrives
            part = f"--{boundary}\r\nContent-Disposition: form-data; name="
            yield (f"{part}\"csrf\"\r\n\r\n{page.token()}\r\n"
                   f"{part}\"file\"; filename=\"big.csv\"\r\n\r\n").encode()
            for _ in range(40):
                yield b"MO,3001,1001\n" * 5000
            yield f"\r\n--{boundary}--\r\n".encode()

        answer = page.client.post("/upload", content=streamed(),
                                  headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert answer.status_code == 413 and "larger than 1 MB" in text(answer)

        # Just over the limit: within the allowance the Guard makes for the form, so the stored
        # file is what is measured. Still 413, the same words.
        slightly = tmp_path / "slightly.csv"
        slightly.write_bytes(b"resource_type,resource_id,serial_id\n" + b"MO,3001,1001\n" * (2**20 // 13 + 100))
        assert 2**20 < slightly.stat().st_size < 2**20 + 8 * 1024
        answer = page.upload(slightly)
        assert answer.status_code == 413 and "larger than 1 MB" in text(answer), answer.status_code
        assert not any((tmp_path / "state" / "web" / "uploads").iterdir())
        assert page.get("/").status_code == 200


# --------------------------------------------------------------------------- guards


def test_every_post_route_refuses_a_missing_or_wrong_token(page, sandbox):
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    app = page.client.app
    posts = [r.path for r in app.routes if "POST" in getattr(r, "methods", set())]
    assert {"/upload", "/runs/{run_id:str}/apply", "/runs/{run_id:str}/check", "/login", "/logout"} <= set(posts)
    for path in posts:
        target = path.replace("{run_id:str}", url.rsplit("/", 1)[1])
        for data in ({}, {"csrf": "x" * 43}):
            answer = page.post(target, data, token=False, follow_redirects=False)
            assert answer.status_code == 403, (target, answer.status_code)
    assert page.get(f"{url}/status").json()["phase"] == "ready"
    assert _deletes(sandbox) == 0


def test_a_cross_site_post_is_refused_even_with_the_token(page, sandbox):
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    for origin in ({"origin": "http://evil.example"}, {"origin": "null"}, {"referer": "http://evil.example/x"}):
        answer = page.post(f"{url}/apply", headers=origin, follow_redirects=False)
        assert answer.status_code == 403 and "came from another site" in text(answer)
    assert page.get(f"{url}/status").json()["phase"] == "ready" and _deletes(sandbox) == 0


PASSWORD = "correct horse battery"
OFFICE = "office-pc.example"


def test_login_with_the_shared_password(sandbox, tmp_path):
    clock = FakeClock(time.time())
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, clock=clock, allowed_hosts=(OFFICE,)))
    with TestClient(app, base_url="http://office-pc.example") as client:
        page = Page(client)
        assert page.get("/", follow_redirects=False).headers["location"] == "/login"
        assert page.get("/history", follow_redirects=False).status_code == 303
        assert page.upload(SAMPLE).status_code == 403
        assert page.post("/login", {"password": "wrong"}).status_code == 403
        assert "sn_session" not in client.cookies
        clock.advance(LoginThrottle.BASE)  # a typo costs a moment
        assert page.post("/login", {"password": PASSWORD}, follow_redirects=False).status_code == 303
        assert page.get("/").status_code == 200 and "Log out" in page.get("/").text
        page.post("/logout")
        assert page.get("/", follow_redirects=False).status_code == 303


def test_cookies_are_secure_behind_https_and_downloads_are_never_cached(sandbox, tmp_path):
    def cookies(response: httpx.Response) -> list[str]:
        return response.headers.get_list("set-cookie")

    plain = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, allowed_hosts=(OFFICE,)))
    with TestClient(plain, base_url="http://office-pc.example") as client:
        page = Page(client)
        assert not any("Secure" in c for c in cookies(client.get("/login")))
        logged_in = page.post("/login", {"password": PASSWORD}, follow_redirects=False)
        assert cookies(logged_in) and not any("Secure" in c for c in cookies(logged_in))
        for path in ("/blank?template=default", "/static/app.css", "/login"):
            answer = page.get(path)
            assert answer.status_code == 200
            assert (answer.headers.get("cache-control") == "no-store") == (not path.startswith("/static/")), path
    for options, base in (({"secure_cookies": True}, "http://office-pc.example"), ({}, "https://office-pc.example")):
        app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, allowed_hosts=(OFFICE,), **options))
        with TestClient(app, base_url=base) as client:
            token_cookie = cookies(client.get("/login"))
            assert token_cookie and all(c.endswith("; Secure") for c in token_cookie)
            token = token_cookie[0].split(";")[0].split("=", 1)[1]  # an http client keeps no Secure cookie: send it
            logged_in = client.post("/login", data={"password": PASSWORD, "csrf": token}, follow_redirects=False,
                                    headers={"cookie": f"sn_csrf={token}"})
            session = [c for c in cookies(logged_in) if c.startswith("sn_session=")]
            assert session and "Secure" in session[0] and "HttpOnly" in session[0]


def test_serve_on_every_interface_names_an_address_people_can_open():
    assert open_urls("127.0.0.1", 8000) == ["http://127.0.0.1:8000/"]
    assert open_urls("::1", 8000) == ["http://[::1]:8000/"]
    for host in ("0.0.0.0", "::"):
        urls = open_urls(host, 8123)
        assert urls[-1] == "http://127.0.0.1:8123/" and not any("0.0.0.0" in u or "[::]" in u for u in urls)
        assert all(u.startswith("http://") and u.endswith(":8123/") for u in urls)
    line = announce("0.0.0.0", 8123)
    assert "0.0.0.0" not in line and all(u in line for u in open_urls("0.0.0.0", 8123))


def test_binding_beyond_loopback_needs_a_password_and_tls():
    assert check_binding("127.0.0.1", None, {}) is None
    assert check_binding("::1", None, {}) is None
    with pytest.raises(ValueError, match="refusing to listen on 0.0.0.0 without a password"):
        check_binding("0.0.0.0", None, {})
    with pytest.raises(ValueError, match="SN_PASS is not set"):
        check_binding("0.0.0.0", "SN_PASS", {})
    with pytest.raises(ValueError, match="refusing to listen on 0.0.0.0 without TLS"):
        check_binding("0.0.0.0", "SN_PASS", {"SN_PASS": "long enough"})
    assert check_binding("0.0.0.0", "SN_PASS", {"SN_PASS": "long enough"}, tls=True) == "long enough"
    assert check_binding("0.0.0.0", None, {}, users=True, behind_proxy=True) is None
    with pytest.raises(ValueError, match="--trusted-user-header is trusted only from an HTTPS proxy"):
        check_binding("127.0.0.1", None, {}, trusted_user_header="X-Remote-User")


def test_serve_refuses_to_start_and_says_why(cli, tmp_path):
    state = ("--state-dir", tmp_path / "state")
    exposed = cli("serve", "--host", "0.0.0.0", "--sandbox", *state, cwd=tmp_path)
    assert exposed.returncode == 2 and "--password-env" in exposed.stderr
    keyless = cli("serve", *state, cwd=tmp_path, env={"KATANA_API_KEY": ""})
    assert keyless.returncode == 2 and "no API key" in keyless.stderr
    helped = cli("serve", "--help")
    for option in ("--host", "--port", "--template", "--sandbox", "--sandbox-seed", "--base-url", "--state-dir",
                   "--password-env", "--users-file", "--max-upload-mb", "--ssl-certfile", "--ssl-keyfile",
                   "--behind-https-proxy", "--trusted-user-header", "--allowed-host", "--idle-minutes",
                   "--secure-cookies", "--keep-days", "--keep-history-days", "--env-file"):
        assert option in helped.stdout


def test_serve_sandbox_keeps_one_tenant_for_the_servers_lifetime(tmp_path):
    """The installed command: check and apply go to the same sandbox, so the apply finds what the check saw."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "sn_importer", "serve", "--sandbox", "--port", str(port),
               "--state-dir", str(tmp_path / "state")]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        told = server.stdout.readline()  # the one line serve prints: where to open it, with the one-time link
        link = re.search(r"open (http://\S+/login\?token=\S+) in a browser", told)
        assert link, told
        # no client timeout: a loaded machine may take long to start the parse worker; the test's own limit holds
        with httpx.Client(base_url=base, headers={"origin": base}, timeout=None) as client:
            _wait_until_up(client, server)
            assert client.get(link.group(1), follow_redirects=True).status_code == 200  # logged in, once
            assert client.get("/").status_code == 200
            token = client.cookies["sn_csrf"]
            sent = client.post("/upload", data={"csrf": token, "template": "default"},
                               files={"file": ("serials.xlsx", SAMPLE.read_bytes())})
            url = run_url(sent)
            _poll(client, url, "ready")
            assert "Detach 15 serial numbers from 9 resources" in text(client.get(url))
            client.post(f"{url}/apply", data={"csrf": token})
            state = _poll(client, url, "done")
            assert {c["status"]: c["count"] for c in state["counts"]}["deleted"] == 15
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert link.group(1).startswith(f"http://127.0.0.1:{port}/login?token=")


def _wait_until_up(client: httpx.Client, server: subprocess.Popen) -> None:
    """Wait on the condition (the page answers), however long a loaded machine takes to start it."""

    def up() -> bool:
        assert server.poll() is None, server.communicate()[1]
        try:
            return client.get("/login").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout=100, what="sn-importer serve to answer")


def _poll(client: httpx.Client, url: str, phase: str) -> dict:
    def reached() -> dict | None:
        state = client.get(f"{url}/status").json()
        return state if state["phase"] == phase else None

    return wait_for(reached, timeout=100, what=f"{url} to reach {phase}")


def test_pages_load_nothing_from_elsewhere_and_send_strict_headers(page):
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    for path in ("/", url, "/history", "/nowhere"):
        answer = page.get(path)
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        for link in re.findall(r'(?:src|href|action)="([^"]*)"', answer.text):
            assert link.startswith(("/", "#")), f"{path} links outside the server: {link}"


def test_unknown_runs_and_templates_are_not_found(page):
    assert page.get("/runs/0123456789abcdef").status_code == 404
    assert page.get("/runs/..%2F..%2Fjournal.sqlite3").status_code == 404
    assert page.get("/runs/0123456789abcdef/download").status_code == 404
    assert page.get("/blank?template=../../etc/passwd").status_code == 404


def test_the_blank_template_sheet_downloads(page):
    answer = page.get("/blank?template=default")
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.content))
    header = [c.value for c in book["Serials"][1]]
    assert header[:6] == ["Resource type", "Resource id", "Order number", "SKU", "Serial record id", "Serial number"]


def test_every_status_has_its_workbook_colour_on_the_page():
    css = (ROOT / "sn_importer" / "web" / "static" / "app.css").read_text()
    for status in Status:
        rule = re.search(r"([^}]*\.st-" + status.value + r"\b[^{]*)\{([^}]*)\}", css)
        assert rule, f"no colour for {status}"
        assert COLOURS[status].lower() in rule.group(2).lower(), status


def test_a_template_broken_after_the_server_started_is_said_not_a_server_error(sandbox, tmp_path):
    """The admin edits the page's template while it serves: the blank sheet link and an upload say
    what is wrong with the template (its file, key and problem), not "Internal Server Error"."""
    from sn_importer.template import available_templates

    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\n[fields.serial_number]\naliases = ["Etikett"]\n', encoding="utf-8")
    settings = settings_for(sandbox, tmp_path, templates={**available_templates(), "mine": mine}, template="mine")
    with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as client:
        page = Page(client)
        assert page.get("/blank?template=mine").status_code == 200
        mine.write_text('name = "mine"\n[fields.serial_number]\nalias = ["Etikett"]\n', encoding="utf-8")
        answer = page.get("/blank?template=mine")
        assert "The blank sheet of “mine” cannot be made: template " in text(answer)
        assert "key 'fields.serial_number.alias': unknown key" in text(answer)
        upload = page.upload(write_csv(tmp_path, "resource_type,resource_id,Etikett\nMO,3001,KNF1\n"), template="mine")
        assert upload.status_code == 400 and "key 'fields.serial_number.alias': unknown key" in text(upload)


def test_the_upload_page_names_the_template_its_blank_sheet_link_is_for(sandbox, tmp_path):
    with TestClient(create_app(settings_for(sandbox, tmp_path, template="mo-labels")), base_url=BASE) as client:
        home = Page(client).get("/")
    assert 'href="/blank?template=mo-labels"' in home.text
    assert "“mo-labels” fits the blank sheet below." in text(home)
    assert "“default” fits" not in text(home)
