"""Time comes from one injected clock wherever it matters: a job's and a run's stamps,
the rows' checked_at, web sessions, the web page's quota estimate, watch's kept names."""

from __future__ import annotations

from pathlib import Path

import sn_importer as sn
from sn_importer.clock import FakeClock, iso
from sn_importer.sandbox import running_sandbox
from sn_importer.watch import Layout, free_name
from sn_importer.katana.quota import SharedLedger
from sn_importer.web.sessions import Sessions

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "serials.csv"
START = 1_800_000_000.0


def test_a_job_and_its_runs_are_stamped_by_the_injected_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    clock = FakeClock(START)
    job = sn.Job(SAMPLE, clock=clock)
    assert job.read_at == iso(START) == job.validation().started_at == "2027-01-15T08:00:00Z"
    with running_sandbox() as server:
        result = job.preview(base_url=server.base_url, api_key="sandbox", client_options={"clock": clock})
    assert result.started_at == iso(START) and result.finished_at == iso(clock.now())
    stamps = set(result.rows.loc[result.rows["status"] == "planned", "checked_at"])
    assert stamps and all(iso(START) <= s <= iso(clock.now()) for s in stamps)


def test_sessions_expire_on_the_injected_clock():
    clock = FakeClock(START)
    sessions = Sessions(seconds=60, clock=clock)
    session = sessions.open("ann")
    assert sessions.valid(session)
    clock.advance(59)
    assert sessions.valid(session)
    clock.advance(2)
    assert not sessions.valid(session)


def test_the_quota_estimate_reads_the_injected_clock(tmp_path):
    clock = FakeClock(START)
    ledger = SharedLedger(tmp_path, "http://katana.test/v1", "key", share=1.0, clock=clock)
    assert ledger.estimate_seconds(27) == 0  # the library's starting 60 per 60 s
    ledger.finish(ledger.try_reserve(), (60, 0, int((START + 30) * 1000)), START + 30)
    assert 29 <= ledger.estimate_seconds(27) <= 31
    clock.advance(31)  # that window is over
    assert ledger.estimate_seconds(27) == 0
    ledger.close()


def test_a_kept_drops_name_carries_the_injected_time(tmp_path):
    layout = Layout.create(tmp_path)
    (layout.done / "in.csv").write_text("x")
    assert free_name(layout, "in.csv", FakeClock(START)) == "in.20270115-080000.csv"
