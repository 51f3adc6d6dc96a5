"""A check's offline part runs beside the one queue: only the Katana calls wait in it.

Two people upload at once. While the first check's workbook is still to be
written (held here until the test lets it go), the second check has already
been through the queue and is shown: writing no longer holds up everyone
behind it. A check shown holds no rows and no sheet in the server (it is
read again when it is confirmed), and confirming it still detaches and
verifies. Against the real sandbox on a loopback port; nothing here
measures time.
"""

from __future__ import annotations

import threading

from openpyxl import load_workbook

from sn_importer.web import create_app
from test_web import BASE, SAMPLE, Page, TestClient, _deletes, run_url, settings_for, text
from test_web import sandbox  # noqa: F401  (the fixture)

PATIENCE_S = 60


def test_a_check_being_written_does_not_hold_up_the_next_one(sandbox, tmp_path):  # noqa: F811
    with TestClient(create_app(settings_for(sandbox, tmp_path)), base_url=BASE) as client:
        page, server = Page(client), client.app.state.server
        writing, release = threading.Event(), threading.Event()
        finish = server.finish_check
        first: list[str] = []

        def held(run, child, unlisten):
            """The first check's workbook waits for the test; the others are written at once."""
            if run.id == first[0]:
                writing.set()
                assert release.wait(PATIENCE_S)
            return finish(run, child, unlisten)

        server.finish_check = held
        url_a = run_url(page.upload(SAMPLE))
        first.append(url_a.rsplit("/", 1)[1])
        url_b = run_url(page.upload(SAMPLE, name="second.xlsx"))
        assert writing.wait(PATIENCE_S), "the first check never reached its workbook"
        page.wait(url_b, "ready", timeout=PATIENCE_S)
        assert page.get(f"{url_a}/status").json()["phase"] == "checking"  # still being written
        release.set()
        page.wait(url_a, "ready", timeout=PATIENCE_S)

        run = server.registry.get(first[0])
        assert run.job is None and run.result is None and run.sheet is None, \
            "a check shown keeps no rows, and no sheet, in the server"
        page.post(f"{url_a}/apply")
        page.wait(url_a, "done", timeout=PATIENCE_S)
        assert "Finished: 15 serial numbers detached" in text(page.get(url_a))
        assert _deletes(sandbox) == 9


def test_a_confirmed_check_is_applied_as_checked_or_not_at_all(sandbox, tmp_path):  # noqa: F811
    """A check shown keeps no sheet in the server: confirming reads its upload again, and only the
    job that was checked is applied. An upload that no longer reads as it did is refused, sends
    nothing, and can be checked again."""
    with TestClient(create_app(settings_for(sandbox, tmp_path)), base_url=BASE) as client:
        page, server = Page(client), client.app.state.server
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready", timeout=PATIENCE_S)
        run = server.registry.get(url.rsplit("/", 1)[1])
        assert run.sheet is None
        stored = run.upload.read_bytes()
        book = load_workbook(run.upload)
        book["Orders"].delete_rows(book["Orders"].max_row)  # one row fewer: what only someone at the server could do
        book.save(run.upload)
        page.post(f"{url}/apply")
        assert page.get(f"{url}/status").json()["phase"] == "broken"
        words = text(page.get(url))
        assert "“serials.xlsx” read again is not the sheet that was checked" in words and "Check again" in words
        assert _deletes(sandbox) == 0
        run.upload.write_bytes(stored)
        page.post(f"{url}/check")
        page.wait(url, "ready", timeout=PATIENCE_S)
        page.post(f"{url}/apply")
        page.wait(url, "done", timeout=PATIENCE_S)
        assert "Finished: 15 serial numbers detached" in text(page.get(url)) and _deletes(sandbox) == 9
