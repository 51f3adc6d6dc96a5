"""One budget per tenant on a host: several runs, one window, room for the others.

Clients in one test process, each with its own :class:`SharedBudget` on the
same state directory, stand for processes where time must be faked; the
end-to-end tests start real ``sn-importer`` processes against a sandbox served
on loopback with a fast window.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner
from misbehaving import MisbehavingKatana, rate_limited, serials
from sandbox_fixtures import KEY, grid, many

import sn_importer as sn
from sn_importer.cli import app
from sn_importer.katana.client import KatanaClient
from sn_importer.clock import FakeClock
from sn_importer.errors import StalledError
from sn_importer.katana.quota import FILE_NAME, SharedLedger, tenant_key
from sn_importer.katana.window import Grant, Refusal
from sn_importer.sandbox import create_app, running_sandbox

BASE = "http://127.0.0.1/v1"  # plain http is taken for loopback only


class RemainingSeen(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox and notes the lowest X-Ratelimit-Remaining answered."""

    def __init__(self, app):
        self.inner, self.lowest, self.statuses = httpx.ASGITransport(app=app), None, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        remaining = int(response.headers["x-ratelimit-remaining"])
        self.lowest = remaining if self.lowest is None else min(self.lowest, remaining)
        self.statuses.append(response.status_code)
        return response


def clients(tmp_path, app, clock, count, share=0.8, told=None):
    """``count`` clients, each with its own budget on one state directory (as separate processes have)."""
    transport = RemainingSeen(app)
    made = [KatanaClient(BASE, KEY, transport=transport, clock=clock, backoff=(0.01, 0.05),
                         on_wait=(lambda seconds, why: told.append(why)) if told is not None else None,
                         ledger=SharedLedger(tmp_path, BASE, KEY, share=share, clock=clock)) for _ in range(count)]
    return made, transport


async def list_many(client, clock, times: int) -> float:
    async with client:
        await asyncio.gather(*(client.list_serials("ManufacturingOrder", 6000 + n % 4) for n in range(times)))
    return clock.now()


def test_two_runs_share_one_window_fairly_and_keep_the_reserve(tmp_path):
    clock = FakeClock()
    app = create_app(grid(4, 2), clock=clock, rate_limit=(10, 10.0))
    told = []
    (first, second), seen = clients(tmp_path, app, clock, 2, told=told)
    start = clock.now()

    async def scenario():
        return await asyncio.gather(list_many(first, clock, 24), list_many(second, clock, 24))

    ends = asyncio.run(scenario())
    assert set(seen.statuses) == {200} and len(seen.statuses) == 48  # no 429 at all
    assert seen.lowest == 2  # 8 of each 10 used together: the other integrations' 2 were never touched
    # 48 requests at 8 per 10 s need 6 windows. The first run had the first window to itself;
    # from then on they take turns (4 each), so neither waits for the other to end: first come
    # first served would end the first run after 3 windows and the second after 6.
    assert 50 <= max(ends) - start < 52
    assert abs(ends[0] - ends[1]) <= 10.1
    assert first.stats.waited_for_others() > 0 and second.stats.waited_for_others() > 0
    assert "waiting for another sn-importer run on this tenant" in " ".join(told)


def test_a_second_run_starts_from_the_learned_window_not_60_60(tmp_path):
    clock = FakeClock()
    app = create_app(grid(4, 2), clock=clock, rate_limit=(10, 10.0))
    (first,), _ = clients(tmp_path, app, clock, 1)
    asyncio.run(list_many(first, clock, 1))
    later = SharedLedger(tmp_path, BASE, KEY, clock=clock)
    assert later.quota() == (10, 8, 10.0)
    grants = [later.try_reserve() for _ in range(8)]  # the window's 8, without one-at-a-time
    assert [type(g) for g in grants] == [Grant] * 7 + [Refusal]  # the first run's request counts too
    assert grants[-1].why == "window"


def test_another_tenant_has_a_budget_of_its_own(tmp_path):
    clock = FakeClock()
    ours = SharedLedger(tmp_path, BASE, KEY, clock=clock)
    theirs = SharedLedger(tmp_path, BASE, "another key", clock=clock)
    assert isinstance(ours.try_reserve(), Grant)
    assert isinstance(ours.try_reserve(), Refusal)  # one at a time until an answer shows the window
    assert isinstance(theirs.try_reserve(), Grant)


def test_the_key_is_kept_only_as_a_hash(tmp_path):
    budget = SharedLedger(tmp_path, BASE, "s3cret-katana-key", clock=FakeClock())
    budget.finish(budget.try_reserve(), (60, 59, 1_700_000_060_000))
    budget.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(FILE_NAME))
    assert b"s3cret" not in stored
    assert tenant_key(BASE, "s3cret-katana-key").encode() in stored


def test_a_crashed_run_does_not_shrink_the_budget(tmp_path):
    """A process that died with a request in flight leaves its ticket; the next grant reaps it."""
    clock = FakeClock()
    crashed = SharedLedger(tmp_path, BASE, KEY, clock=clock)
    assert isinstance(crashed.try_reserve(), Grant)
    gone = subprocess.Popen(["true"])
    gone.wait()
    crashed.db.execute("UPDATE tickets SET pid=?", (gone.pid,))  # the ticket of a process now dead
    assert isinstance(SharedLedger(tmp_path, BASE, KEY, clock=clock).try_reserve(), Grant)


def test_a_lost_ticket_expires(tmp_path):
    clock = FakeClock()
    budget = SharedLedger(tmp_path, BASE, KEY, clock=clock, ticket_ttl=120)
    assert isinstance(budget.try_reserve(), Grant)  # never finished, and its process still alive
    clock.advance(60)
    assert isinstance(budget.try_reserve(), Refusal)
    clock.advance(61)
    assert isinstance(budget.try_reserve(), Grant)


def test_the_summary_and_json_give_the_waits_at_the_share_asked(tmp_path):
    path = sheet(tmp_path, "tight.csv", range(6000, 6003))
    with running_sandbox(grid(3, 2), rate_limit=(4, 0.2)) as server:
        result = sn.read(path).apply(base_url=server.base_url, api_key=KEY, state_dir=tmp_path / "state",
                                     quota_share="50%")
        served = server.store.stats()
    assert result.counts() == {"deleted": 6} and "429" not in served["status"]
    assert result.summary()["requests"]["waited_s"] > 0  # 9 requests at 2 per 0.2 s
    book = load_workbook(result.write(tmp_path / "tight.results.xlsx"))
    facts = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert facts["Waited for the quota"].endswith(" s")


# --------------------------------------------------------------------------- real processes


def sheet(folder: Path, name: str, resource_ids: range) -> Path:
    path = folder / name
    lines = ["resource_type,resource_id,serial_number"]
    lines += [f"MO,{rid},SN{100_000 + (rid - 6000) * 1000 + n:08d}" for rid in resource_ids for n in range(2)]
    path.write_text("\n".join(lines) + "\n")
    return path


#: The ``sn-importer`` command, started once ``argv[1]`` exists (so that two
#: processes loaded at different speeds start sending together).
AT_THE_SIGNAL = """
import os, sys, time
from pathlib import Path
from sn_importer.cli import main
import sn_importer.job, sn_importer.run  # the command's heavy imports, before the start line: a loaded machine skews less
go = Path(sys.argv[1])
Path(f"{go}.{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.02)
sys.argv = ["sn-importer", *sys.argv[2:]]
main()
"""


def test_two_processes_at_once_stay_inside_the_window(tmp_path):
    """Two ``apply`` commands on one tenant at 10/1 need three windows together (8 each):
    every row deleted, no 429 anywhere, and each saw the other's use."""
    sheets = [sheet(tmp_path, f"run{n}.csv", range(6000 + 3 * n, 6003 + 3 * n)) for n in range(2)]
    env = {"KATANA_API_KEY": KEY, "SN_IMPORTER_STATE_DIR": str(tmp_path / "state")}
    # 800 more serials of the type: listing each resource beats listing the type whole (4 pages)
    with running_sandbox(grid(6, 2) + many(800, resource_id=9000, first_id=500_000), rate_limit=(10, 1.0)) as server:
        runs = [subprocess.Popen([sys.executable, "-c", AT_THE_SIGNAL, str(tmp_path / "go"), "apply", str(path),
                                  "--base-url", server.base_url, "--json"], stdout=subprocess.PIPE, text=True,
                                 env=_env(env), cwd=tmp_path) for path in sheets]
        while len(list(tmp_path.glob("go.*"))) < len(runs):  # both loaded: start them together
            time.sleep(0.05)
        (tmp_path / "go").touch()
        results = [json.loads(run.communicate(timeout=90)[0]) for run in runs]
        served = server.store.stats()
    assert [r["statuses"] for r in results] == [{"deleted": 6}] * 2, results
    # 26 requests, no 429: a probe each, then per resource its list before, its DELETE, and its list after
    # (emptied, so read twice: an empty list after a DELETE is believed only when a second read agrees)
    assert served["status"] == {"200": 20, "204": 6}
    assert all(r["requests"]["rate_limited"] == 0 for r in results)
    assert all(r["requests"]["waited_for_other_runs_s"] > 0 for r in results)


def _env(extra: dict) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")}
    return env | {"NO_COLOR": "1"} | extra


def test_a_bad_share_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = sheet(tmp_path, "one.csv", range(6000, 6001))
    done = CliRunner().invoke(app, ["preview", str(path), "--sandbox"], env={"KATANA_QUOTA_SHARE": "2", "COLUMNS": "200"})
    assert done.exit_code == 2
    assert "KATANA_QUOTA_SHARE '2' is not a share of the quota" in done.output


# --------------------------------------------------------------------------- patience


def test_429s_wait_for_the_window_and_never_use_up_the_tries():
    """More 429s than a request has tries: it waits each time and gets its answer."""
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", rate_limited(2), times=9)
        clock = FakeClock()

        async def scenario():
            async with KatanaClient(katana.base_url, katana.api_key, clock=clock, max_retries=3,
                                    backoff=(0.01, 0.02)) as client:
                return await client.list_serials("ManufacturingOrder", 4000), client.stats

        records, stats = asyncio.run(scenario())
    assert len(records) == 3 and stats.rate_limited == 9


def test_429s_forever_stop_at_the_stall_limit():
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", rate_limited(2))

        async def scenario():
            async with KatanaClient(katana.base_url, katana.api_key, clock=FakeClock(), stall_limit=30,
                                    backoff=(0.01, 0.02)) as client:
                await client.list_serials("ManufacturingOrder", 4000)

        with pytest.raises(StalledError):
            asyncio.run(scenario())
        assert 10 <= katana.count("GET") <= 16  # a try every 2 s for 30 s, then a clear stop


# --------------------------------------------------------------------------- saying it


def test_the_estimate_counts_what_the_other_runs_still_plan(tmp_path):
    clock = FakeClock()
    other, ours = SharedLedger(tmp_path, BASE, KEY, clock=clock), SharedLedger(tmp_path, BASE, KEY, clock=clock)
    alone = ours.estimate_seconds(60)  # 48 of the assumed 60/60 fit now, 12 wait a window
    other.expect(60)
    assert ours.others_active() == 1
    assert (alone, ours.estimate_seconds(60)) == (60.0, 120.0)  # the other run takes as many meanwhile


def test_the_progress_says_why_the_run_waits(tmp_path):
    clock = FakeClock()
    app = create_app(grid(3, 2), clock=clock, rate_limit=(4, 10.0))
    told = []
    result = sn.read(sheet(tmp_path, "slow.csv", range(6000, 6003))).apply(
        base_url=BASE, api_key=KEY, state_dir=tmp_path / "state", progress=told.append,
        client_options={"clock": clock, "transport": httpx.ASGITransport(app=app)})
    assert result.counts() == {"deleted": 6}
    assert any("quota for this window is spent" in p.message for p in told)


def test_the_share_option_is_used_and_said(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = sheet(tmp_path, "one.csv", range(6000, 6001))
    # a state folder of its own: a tenant another test left in the default one (a sandbox on a reused port) would
    # bring its own quota
    done = CliRunner().invoke(app, ["preview", str(path), "--sandbox", "--quota-share", "50%"],
                              env={"COLUMNS": "250", "SN_IMPORTER_STATE_DIR": str(tmp_path / "state")})
    assert "30 of 60 requests per 60 s (50% of the tenant's quota)" in done.output
    bad = CliRunner().invoke(app, ["preview", str(path), "--sandbox", "--quota-share", "2"], env={"COLUMNS": "250"})
    assert bad.exit_code == 2 and "--quota-share '2' is not a share of the quota" in bad.output
