"""Undo on the page through Starlette's test client, against a real sandbox on loopback: only a
finished apply that detached something offers it, pressing it twice makes one undo, confirming it
twice sends once, and after a restart the run, its undo and History still link to each other."""

from __future__ import annotations

import io
import re

from conftest import workbook_statuses, write_csv
from starlette.testclient import TestClient
from test_web import BASE, SAMPLE, Page, page, run_url, sandbox, settings_for, text  # noqa: F401

from sn_importer.web import create_app


def posts(sandbox) -> int:  # noqa: F811
    return sandbox.store.stats()["requests"]["POST"]


def applied(page) -> str:  # noqa: F811
    url = run_url(page.upload(SAMPLE))
    page.wait(url, "ready")
    page.post(f"{url}/apply")
    page.wait(url, "done")
    return url


def undo_check(page, url: str) -> str:  # noqa: F811
    answer = page.post(f"{url}/undo", follow_redirects=False)
    undo = run_url(answer)
    page.wait(undo, "ready")
    return undo


def test_only_a_finished_apply_that_detached_something_offers_undo(page, sandbox, tmp_path):  # noqa: F811
    checked = run_url(page.upload(SAMPLE))
    page.wait(checked, "ready")
    assert "Undo this run</button>" not in page.get(checked).text
    assert page.post(f"{checked}/undo", follow_redirects=False).headers["location"] == checked
    nothing = run_url(page.upload(write_csv(tmp_path, "resource_type,resource_id,serial_id\nMO,3001,424242\n")))
    page.wait(nothing, "ready")
    assert "Nothing to detach" in text(page.get(nothing))
    assert posts(sandbox) == 0


def test_pressing_undo_twice_makes_one_undo_and_confirming_twice_sends_once(page, sandbox, tmp_path):  # noqa: F811
    url = applied(page)
    assert "Undo this run</button>" in page.get(url).text
    undo = undo_check(page, url)
    assert page.post(f"{url}/undo", follow_redirects=False).headers["location"] == undo
    assert posts(sandbox) == 0, "the check sends nothing"
    check = text(page.get(undo))
    assert "Put back 14 serial numbers on 8 resources" in check and "Up to 34 requests in all" in check
    for _ in range(2):
        page.post(f"{undo}/undo/confirm", follow_redirects=False)
    page.wait(undo, "done")
    assert posts(sandbox) == 8
    done = text(page.get(undo))
    assert "Finished: 14 serial numbers put back; 1 record needs attention" in done
    assert "Undoes serials.results.xlsx" in done and str(tmp_path) not in page.get(undo).text, "no server path shown"
    report = page.get(f"{undo}/download")
    assert 'filename="serials.results.undo.xlsx"' in report.headers["content-disposition"]
    assert workbook_statuses(io.BytesIO(report.content), ("Undo",)) == {"restored": 14, "cannot_restore": 1}
    from openpyxl import load_workbook

    def confirmed_by(workbook: bytes):
        return {r[0]: r[1] for r in load_workbook(io.BytesIO(workbook))["Summary"].iter_rows(values_only=True)
                if r[0]}.get("Confirmed by")

    who = confirmed_by(page.get(f"{url}/download").content)  # the same person pressed both buttons
    assert who and confirmed_by(report.content) == who
    assert f"Confirmed by {who}" in done


def test_the_run_its_undo_and_history_stay_linked_after_a_restart(sandbox, tmp_path):  # noqa: F811
    settings = settings_for(sandbox, tmp_path)
    with TestClient(create_app(settings), base_url=BASE) as client:
        first = Page(client)
        url = applied(first)
        undo = undo_check(first, url)
        first.post(f"{undo}/undo/confirm")
        first.wait(undo, "done")
    with TestClient(create_app(settings), base_url=BASE) as client:
        again = Page(client)
        run = again.get(url).text
        assert f'href="{undo}"' in run and "Undo this run</button>" not in run
        assert "Finished: 14 serial numbers put back" in text(again.get(undo))
        assert f'href="{url}"' in again.get(undo).text
        history = again.get("/history")
        assert re.search(rf'href="{undo}"><span class="chip st-restored">14 restored', history.text)
        assert "Undone " in text(history)
        # the undo's line says who confirmed it, in the words of its apply's line
        row = re.search(r"<tbody>\s*<tr>.*?</tr>", history.text, flags=re.S).group(0)
        who = re.search(r'data-label="Confirmed by">([^<]+)</td>', row).group(1)
        undone = re.search(r"<p [^>]*data-undo>.*?</p>", row, flags=re.S).group(0)
        assert re.sub(r"<[^>]+>", "", undone).count(f"Confirmed by {who}") == 1, undone
        assert again.post(f"{url}/undo", follow_redirects=False).headers["location"] == undo
    assert posts(sandbox) == 8


def test_an_undo_report_being_written_does_not_hold_up_the_next_check(page, sandbox, monkeypatch):  # noqa: F811
    """The undo's report and page are made beside the queue, as a check's are: while the report is
    held (here, until the test lets it go), the next person's check goes through and is shown."""
    import threading

    from sn_importer.web import undo as web_undo

    url = applied(page)
    writing, release = threading.Event(), threading.Event()
    finish = web_undo.finish

    def held(*args):
        writing.set()
        assert release.wait(60)
        return finish(*args)

    monkeypatch.setattr(web_undo, "finish", held)
    undo = run_url(page.post(f"{url}/undo", follow_redirects=False))
    assert writing.wait(60), "the undo's check never reached its report"
    other = run_url(page.upload(SAMPLE, name="second.xlsx"))
    page.wait(other, "ready", timeout=60)
    assert page.get(f"{undo}/status").json()["phase"] == "checking"  # its report is still being written
    release.set()
    page.wait(undo, "ready", timeout=60)
    assert "Put back" in text(page.get(undo))
