"""File drops: ``sn-importer watch DIR`` and the library behind it.

The command runs in this process (``run_cli``) against the sandbox, except
where a real process is the point: a watcher killed or sent SIGTERM mid-file,
and one holding the folder while another starts. There the sandbox is a slow,
tightly rate-limited one in this process, so Katana's state outlives the
watcher. Every test has its own folder and journal (``--state-dir``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import _command, run_cli, wait_for
from sandbox_fixtures import grid

from sn_importer.clock import FakeClock, iso
from sn_importer.errors import UsageError
from sn_importer.sandbox import running_sandbox
from sn_importer.watch import FolderBusy, Settling, folder_lock, is_ignored, watch

HEADER = "resource_type,resource_id,serial_id\n"
GOOD = HEADER + "ManufacturingOrder,3001,1001\nManufacturingOrder,3001,1002\n"  # both on the samples' MO 3001
LINE = re.compile(r"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=(info|warn|error) event=file file=(\S+) "
                  r"result=(done|failed|processing) mode=\w+ exit=([012]) rows=\d+ .*seconds=\d+\.\d")


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "drops" / "inbox").mkdir(parents=True)
    return tmp_path / "drops"


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / "inbox" / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def summary(folder: Path, place: str, stem: str) -> dict:
    return json.loads((folder / place / f"{stem}.summary.json").read_text())


def names(folder: Path, place: str) -> set[str]:
    """What is in a sub-folder; in processing/, the files, not the hidden ``.<name>.claim`` record
    beside each (the name it was dropped as)."""
    return {p.name for p in (folder / place).iterdir()
            if not (place == "processing" and p.name.startswith(".") and p.name.endswith(".claim"))}


def file_lines(stderr: str) -> list[re.Match]:
    return [m for m in map(LINE.match, stderr.splitlines()) if m]


def watch_cli(folder: Path, state: Path, *args, env: dict | None = None, settle: float = 0):
    """``sn-importer watch`` in this process. Files are claimed at once (``settle`` 0) unless
    the test is about settling."""
    env = {"SN_IMPORTER_STATE_DIR": str(state), **(env or {})}
    return run_cli("watch", folder, "--settle", settle, "--state-dir", state, *args, env=env)


def start_watch(folder: Path, state: Path, *args, env: dict | None = None) -> subprocess.Popen:
    """``sn-importer watch`` as a process of its own: to be killed, signalled or to hold the folder."""
    full_env = dict(os.environ, NO_COLOR="1", TERM="dumb", SN_IMPORTER_STATE_DIR=str(state), **(env or {}))
    return subprocess.Popen([*_command(), "watch", str(folder), "--settle", "0", "--state-dir", str(state), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)


# --------------------------------------------------------------------------- cron: --once, twice


class Growing:
    """A file still being written: a line appended every 50 ms until stopped."""

    def __init__(self, path: Path, head: str):
        path.write_text(head)
        self.path, self._stop = path, threading.Event()
        self._thread = threading.Thread(target=self._grow, daemon=True)
        self._thread.start()

    def _grow(self) -> None:
        while not self._stop.wait(0.05):
            with open(self.path, "a") as handle:
                handle.write(",,\n")  # wholly blank rows: ignored once read

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()


def test_cron_twice_good_bad_and_half_written_files(folder, state):
    drop(folder, "good.csv", GOOD)
    drop(folder, "garbage.xlsx", os.urandom(3000))
    drop(folder, "headers.csv", "name,colour\nwidget,red\n")
    time.sleep(0.3)  # the settle time itself: these must be still for 0.2 s, the growing one never is
    growing = Growing(folder / "inbox" / "growing.csv", HEADER + "ManufacturingOrder,3002,1101\n")
    try:
        first = watch_cli(folder, state, "--once", "--apply", "--sandbox", settle=0.2)
    finally:
        growing.finish()

    assert first.returncode == 2, first.stderr  # the worst: unreadable files
    assert names(folder, "inbox") == {"growing.csv"}  # changing all along: not claimed
    assert names(folder, "processing") == set()
    assert names(folder, "done") == {"good.csv", "good.results.csv", "good.results.removed.csv", "good.summary.json"}
    assert names(folder, "failed") == {"garbage.xlsx", "garbage.summary.json", "headers.csv", "headers.summary.json"}
    assert summary(folder, "done", "good")["statuses"] == {"deleted": 2}
    garbage, headers = summary(folder, "failed", "garbage"), summary(folder, "failed", "headers")
    assert garbage["exit_code"] == headers["exit_code"] == 2
    assert "not a readable workbook" in garbage["error"]
    assert "no recognisable header" in headers["error"] and "'name' | 'colour'" in headers["error"]
    lines = {m[2]: (m[3], m[4]) for m in file_lines(first.stderr)}
    assert lines == {"good.csv": ("done", "0"), "garbage.xlsx": ("failed", "2"), "headers.csv": ("failed", "2")}
    assert "event=waiting file=growing.csv" in first.stderr

    time.sleep(0.3)  # the settle time itself: the grown file must be still for 0.2 s
    second = watch_cli(folder, state, "--once", "--apply", "--sandbox", settle=0.2)
    assert second.returncode == 0, second.stderr
    assert [m[2] for m in file_lines(second.stderr)] == ["growing.csv"]
    assert names(folder, "inbox") == set()
    assert summary(folder, "done", "growing")["statuses"] == {"deleted": 1}

    third = watch_cli(folder, state, "--once", "--apply", "--sandbox")  # nothing new
    assert third.returncode == 0 and file_lines(third.stderr) == []


def test_a_summary_dropped_by_someone_is_never_taken_for_an_earlier_run(folder, state):
    """Anyone who may drop files could otherwise forge 'the same content was done before'."""
    import hashlib
    import json

    forged = {"sha256": hashlib.sha256(GOOD.encode()).hexdigest(), "input": str(folder / "failed" / "boss.csv"),
              "finished_at": "9999-01-01T00:00:00Z", "mode": "apply", "exit_code": 0, "statuses": {"deleted": 2}}
    drop(folder, "boss.summary.json", json.dumps(forged))
    assert watch_cli(folder, state, "--once", "--sandbox").returncode == 2  # not a sheet: failed/
    drop(folder, "serials.csv", GOOD)
    done = watch_cli(folder, state, "--once", "--sandbox")
    assert done.returncode == 0, done.stderr
    assert summary(folder, "done", "serials").get("same_content_as") is None
    assert "same_content_as" not in done.stderr and "recheck" not in done.stderr


def test_same_content_dropped_again_is_recognised_and_kept_apart(folder, state):
    drop(folder, "serials.csv", GOOD)
    assert watch_cli(folder, state, "--once", "--sandbox").returncode == 0
    drop(folder, "serials.csv", GOOD)
    again = watch_cli(folder, state, "--once", "--sandbox")
    assert again.returncode == 0, again.stderr
    renamed = sorted(n for n in names(folder, "done") if n.startswith("serials.2") and n.endswith(".csv")
                     and ".results." not in n)
    assert len(renamed) == 1  # serials.<UTC time>.csv: the first drop's files are kept
    second = summary(folder, "done", Path(renamed[0]).stem)
    assert second["dropped_as"] == "serials.csv"
    assert second["same_content_as"]["input"] == str(folder / "done" / "serials.csv")
    assert any("dropped before" in note for note in second["notes"])
    assert "same_content_as=serials.csv" in again.stderr


# --------------------------------------------------------------------------- one at a time


def test_second_invocation_exits_0_while_the_first_holds_the_folder(folder, state):
    first = start_watch(folder, state, "--offline", "--interval", "0.2")
    try:
        lock = folder / ".sn-importer.lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), what="the first watcher's lock")
        second = watch_cli(folder, state, "--once", "--offline")
        assert second.returncode == 0
        assert "already working on" in second.stderr and f"pid={first.pid}" in second.stderr
        assert second.stderr.startswith("ts=") and "event=busy" in second.stderr

        drop(folder, "later.csv", GOOD)  # the first one, polling, takes it
        drop(folder, "headers.csv", "name,colour\nwidget,red\n")
        wait_for(lambda: (folder / "done" / "later.summary.json").exists(), what="the first watcher to file it")
        wait_for(lambda: (folder / "failed" / "headers.summary.json").exists(), what="the unreadable file filed")
    finally:
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=20)
    assert first.returncode == 2, stderr  # stopped by SIGTERM: the worst code of its session
    assert "event=stopping reason=SIGTERM" in stderr
    third = watch_cli(folder, state, "--once", "--offline")  # the lock went with the process
    assert third.returncode == 0 and "already" not in third.stderr


def test_the_lock_is_an_os_lock_on_the_folder(folder):
    with folder_lock(folder), pytest.raises(FolderBusy, match=f"pid {os.getpid()}"), folder_lock(folder):
        pass
    with folder_lock(folder):  # released on exit
        pass


# --------------------------------------------------------------------------- what is claimed


@pytest.mark.parametrize("name", [".hidden.csv", "~$serials.xlsx", "x.tmp", "x.part", "x.crdownload", "x.csv.partial"])
def test_names_being_written_or_hidden_are_ignored(folder, name):
    assert is_ignored(name)
    drop(folder, name, GOOD)
    drop(folder, "real.csv", GOOD)
    (folder / "inbox" / "a folder.csv").mkdir()
    assert watch(folder, mode="validate", settle=0) == 0
    assert names(folder, "inbox") == {name, "a folder.csv"}
    assert (folder / "inbox" / name).read_text() == GOOD
    assert names(folder, "done") == {"real.csv", "real.results.csv", "real.summary.json"}


def test_a_file_is_still_once_neither_content_nor_metadata_changed_for_settle_seconds(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(GOOD)
    stat = path.stat()
    clock = FakeClock(max(stat.st_mtime, stat.st_ctime) + 1.0)
    settling = Settling(5.0, clock=clock)
    assert not settling.still(path, stat)  # changed 1 s ago
    clock.advance(4.0)
    assert settling.still(path, stat)  # 5 s ago
    # A share whose clock runs ahead: its times look fresh for ever, but polls see no change.
    ahead = clock.now() + 3600
    os.utime(path, (ahead, ahead))
    stat = path.stat()
    assert not settling.still(path, stat)
    clock.advance(5.0)
    assert settling.still(path, stat)
    path.write_text(GOOD + "ManufacturingOrder,3001,1003\n")  # it changed: the count starts again
    os.utime(path, (ahead, ahead))
    assert not settling.still(path, path.stat())


# --------------------------------------------------------------------------- summaries and exit codes


def test_summary_json_and_the_worst_exit_code(folder, state):
    drop(folder, "good.csv", GOOD)
    drop(folder, "attention.csv", HEADER + "ManufacturingOrder,3001,1001\nManufacturingOrder,3001,9999\n")
    lines: list[str] = []
    code = watch(folder, mode="preview", sandbox=True, settle=0, state_dir=state, log=lines.append)
    assert code == 1  # the worst of 0 and 1

    good = summary(folder, "done", "good")
    assert good["input"] == str(folder / "done" / "good.csv")
    assert good["output"] == str(folder / "done" / "good.results.csv") and Path(good["output"]).is_file()
    assert good["mode"] == "preview" and good["rows"] == 2 and good["statuses"] == {"planned": 2}
    assert good["requests"]["GET"] == 1 and good["requests"]["DELETE"] == 0
    assert good["exit_code"] == 0 and good["error"] is None and good["place"] == "done"
    assert good["sha256"] == hashlib.sha256(GOOD.encode()).hexdigest()
    assert good["mapping"][0] == {"sheet": "good", "field": "resource_type", "source": "column 'resource_type'"}
    umask = os.umask(0o022)
    os.umask(umask)
    for filed in ("good.results.csv", "good.summary.json"):  # staff can open them, not only the service user
        assert (folder / "done" / filed).stat().st_mode & 0o777 == 0o666 & ~umask
    attention = summary(folder, "done", "attention")
    assert attention["statuses"] == {"planned": 1, "not_on_resource": 1} and attention["exit_code"] == 1
    with open(folder / "done" / "attention.results.csv", newline="", encoding="utf-8-sig") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["planned", "not_on_resource"]
    assert sorted(m[2] for m in map(LINE.match, lines) if m) == ["attention.csv", "good.csv"]
    assert any("file=good.csv result=done mode=preview exit=0 rows=2 planned=2 requests=1" in line for line in lines)

    drop(folder, "broken.xlsx", b"PK\x03\x04 not really a workbook")
    assert watch(folder, mode="preview", sandbox=True, settle=0, state_dir=state) == 2
    broken = summary(folder, "failed", "broken")
    assert broken["exit_code"] == 2 and broken["rows"] == 0 and broken["output"] is None
    assert broken["error"] and broken["place"] == "failed"


def test_a_refused_key_leaves_the_file_for_the_next_run(folder, state):
    """Not the file's fault: it waits in processing/, the other drops in the inbox; then it is resumed."""
    drop(folder, "a.csv", GOOD)
    drop(folder, "b.csv", GOOD.replace("1001", "1003").replace("1002", "1004"))
    os.utime(folder / "inbox" / "b.csv", (time.time() + 1, time.time() + 1))  # b after a
    with running_sandbox() as katana:
        lines: list[str] = []
        refused = watch(folder, mode="apply", base_url=katana.base_url, api_key="wrong", settle=0,
                        state_dir=state, log=lines.append)
        assert refused == 2
        assert names(folder, "processing") == {"a.csv"} and names(folder, "inbox") == {"b.csv"}
        assert any("result=processing" in line and "refused the API key" in line for line in lines)
        assert any("event=pass-stopped" in line for line in lines)

        later = watch(folder, mode="apply", base_url=katana.base_url, api_key="sandbox", settle=0, state_dir=state)
    assert later == 0
    assert summary(folder, "done", "a")["resumed"] is True
    assert summary(folder, "done", "a")["statuses"] == summary(folder, "done", "b")["statuses"] == {"deleted": 2}


class BugOn(httpx.AsyncBaseTransport):
    """Passes requests to Katana, except those about one resource, where the stack below the engine
    "has a bug" (an exception nobody handles): that run ends with ``stop_kind == "internal"``."""

    def __init__(self, resource_id: int):
        self.marker = f"resource_id={resource_id}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.marker in str(request.url):
            raise ValueError("simulated bug below the engine")
        async with httpx.AsyncHTTPTransport() as real:  # one per request: each run has its own event loop
            response = await real.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])
            return httpx.Response(response.status_code, headers=response.headers, content=body)


def test_a_file_that_hits_an_internal_error_goes_to_failed_and_the_others_go_on(folder, state):
    """B6: a file that triggers a bug must not stay in processing/ and jam every later drop."""
    drop(folder, "bug.csv", HEADER + "ManufacturingOrder,3002,1101\n")
    drop(folder, "good.csv", GOOD)
    os.utime(folder / "inbox" / "good.csv", (time.time() + 1, time.time() + 1))  # good after bug
    lines: list[str] = []
    code = watch(folder, mode="apply", sandbox=True, settle=0, state_dir=state, log=lines.append,
                 client_options={"transport": BugOn(3002)})
    assert code == 2
    assert names(folder, "processing") == set() and names(folder, "inbox") == set()
    assert names(folder, "failed") == {"bug.csv", "bug.results.csv", "bug.results.removed.csv", "bug.summary.json"}
    bug = summary(folder, "failed", "bug")
    assert bug["place"] == "failed" and bug["exit_code"] == 2
    assert bug["error"].startswith("internal error: ValueError: simulated bug")
    assert bug["statuses"] == {"skipped": 1} and bug["requests"]["DELETE"] == 0
    assert summary(folder, "done", "good")["statuses"] == {"deleted": 2}  # same pass, after the bad one
    assert not any("event=pass-stopped" in line for line in lines)
    assert any("file=bug.csv result=failed" in line for line in lines)


def test_a_polling_watcher_keeps_a_bounded_history_and_the_worst_code(folder, monkeypatch):
    from sn_importer import watch as watch_module
    from sn_importer.watch import Settings, Watcher

    monkeypatch.setattr(watch_module, "KEEP_RESULTS", 3)
    watcher = Watcher(folder, Settings(mode="validate", settle=0))
    drop(folder, "bad.csv", "name,colour\nwidget,red\n")
    watcher.run_pass()
    for n in range(4):
        drop(folder, f"good{n}.csv", GOOD)
        watcher.run_pass()
    assert watcher.files_run == 5 and len(watcher.results) == 3
    assert [r.name for r in watcher.results] == ["good1.csv", "good2.csv", "good3.csv"]
    assert watcher.exit_code == 2  # the failed file's code outlives its FileResult


def test_a_polling_watcher_waits_on_its_injected_clock(folder):
    """Settling and the pause between polls both read the watcher's clock: on a fake one a file
    dropped just now is claimed one interval later, and nothing really waits."""
    from sn_importer.watch import Settings, Watcher

    drop(folder, "good.csv", GOOD)
    path = folder / "inbox" / "good.csv"
    clock = FakeClock(max(path.stat().st_mtime, path.stat().st_ctime))
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if "event=file " in line:
            watcher.stop("the file is done")

    watcher = Watcher(folder, Settings(mode="validate", settle=5, interval=10, clock=clock), log=log)
    assert watcher.run(once=False) == 0
    assert [line.split()[2] for line in lines][:3] == ["event=watching", "event=waiting", "event=file"]
    assert names(folder, "done") >= {"good.csv", "good.summary.json"}
    assert sum(clock.sleeps) == pytest.approx(10.0, abs=1e-3)  # one interval, on the fake clock
    stamp = re.search(r"ts=(\S+)", lines[-1]).group(1)  # the log's time is the clock's too
    assert stamp == iso(clock.now())


def test_usage_problems_are_refused_before_any_file_is_touched(folder, state, monkeypatch, tmp_path):
    monkeypatch.delenv("KATANA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    drop(folder, "good.csv", GOOD)
    with pytest.raises(UsageError, match="no API key"):
        watch(folder, mode="preview", settle=0, state_dir=state)
    assert names(folder, "inbox") == {"good.csv"}
    both = watch_cli(folder, state, "--once", "--apply", "--offline")
    assert both.returncode == 2 and "--offline" in both.stderr
    missing = watch_cli(tmp_path / "typo", state, "--once", "--offline")
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and not (tmp_path / "typo").exists()
    assert "watch" in run_cli("--help").stdout


# --------------------------------------------------------------------------- crash and SIGTERM


class SlowKatana:
    """A slow, tightly rate-limited sandbox in this process: it outlives a killed watcher process."""

    def __init__(self, server):
        self.server = server
        self.base_url = server.base_url

    def deletes(self) -> int:
        return self.server.store.stats()["requests"].get("DELETE", 0)


@pytest.fixture(scope="module")
def slow_katana():
    with running_sandbox(records=grid(12, 2), latency_ms=150, rate_limit=(4, 1.0)) as server:  # MOs 6000..6011
        yield SlowKatana(server)


def sheet(first: int, count: int) -> str:
    """Both serials of MOs ``first``.. (as the grid seed has them)."""
    rows = [f"ManufacturingOrder,{6000 + n},{100_000 + n * 1000 + k}\n"
            for n in range(first, first + count) for k in (0, 1)]
    return HEADER + "".join(rows)


def test_killed_mid_file_the_next_run_finishes_it_truthfully(folder, state, slow_katana):
    drop(folder, "orders.csv", sheet(0, 6))
    key = {"KATANA_API_KEY": "sandbox"}
    options = ("--once", "--apply", "--base-url", slow_katana.base_url)
    before = slow_katana.deletes()
    victim = start_watch(folder, state, *options, env=key)
    wait_for(lambda: slow_katana.deletes() > before, what="the first DELETE")
    victim.kill()  # SIGKILL: no cleanup at all
    victim.communicate(timeout=10)
    sent_before_kill = slow_katana.deletes() - before
    assert sent_before_kill < 6, "the run finished before the kill; make the sandbox slower"
    assert names(folder, "processing") == {"orders.csv"}
    assert "orders.summary.json" not in names(folder, "done")

    rerun = watch_cli(folder, state, *options, env=key)
    assert rerun.returncode == 0, rerun.stderr
    result = summary(folder, "done", "orders")
    assert result["statuses"] == {"deleted": 12}  # not not_on_resource for the ones gone before the kill
    assert result["resumed"] is True
    assert any("Resumed the unfinished run" in note for note in result["notes"])
    assert slow_katana.deletes() - before == 6  # one DELETE per resource over both runs
    with open(folder / "done" / "orders.results.csv", newline="", encoding="utf-8-sig") as handle:
        assert {r["status"] for r in csv.DictReader(handle)} == {"deleted"}
    assert names(folder, "processing") == set()

    drop(folder, "orders.csv", sheet(0, 6))  # the same content again: checked again, nothing to send
    again = watch_cli(folder, state, *options, env=key)
    assert again.returncode == 0, again.stderr
    stem = next(Path(n).stem for n in names(folder, "done") if n.startswith("orders.2") and n.endswith(".summary.json"))
    repeat = summary(folder, "done", stem.removesuffix(".summary"))
    assert any(note.startswith("Applied before on") for note in repeat["notes"])
    assert repeat["requests"]["GET"] >= 1  # listed again: today's truth
    assert repeat["statuses"] == {"deleted": 12} and slow_katana.deletes() - before == 6


def test_sighup_while_polling_stops_sending_and_the_next_run_resumes(folder, state, slow_katana):
    """SIGHUP (a closed SSH session) does what Ctrl-C does: the file in hand stops sending,
    settles, stays in processing/; exit 2; the next run finishes it without sending twice."""
    first = drop(folder, "first.csv", sheet(6, 6))
    drop(folder, "next.csv", sheet(6, 1))
    earlier = time.time() - 5
    os.utime(first, (earlier, earlier))  # claimed before next.csv
    before = slow_katana.deletes()
    options = ("--apply", "--base-url", slow_katana.base_url)
    key = {"KATANA_API_KEY": "sandbox"}
    watcher = start_watch(folder, state, *options, "--interval", "0.2", env=key)
    try:
        wait_for(lambda: slow_katana.deletes() > before, what="the first DELETE")
        watcher.send_signal(signal.SIGHUP)
        _, stderr = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 2, stderr
    assert "event=stopping reason=SIGHUP" in stderr and "Traceback" not in stderr
    assert re.search(r"event=stopped .*exit=2 reason=SIGHUP", stderr)
    line = next(m for m in file_lines(stderr) if "file=first.csv" in m.group(0))
    assert "result=processing" in line.group(0) and "exit=2" in line.group(0)
    assert names(folder, "processing") == {"first.csv"}
    assert names(folder, "inbox") == {"next.csv"}  # not started after the stop
    sent = slow_katana.deletes() - before
    assert sent < 6, "the file finished before the signal; make the sandbox slower"

    (folder / "inbox" / "next.csv").unlink()
    rerun = watch_cli(folder, state, "--once", *options, env=key)
    assert rerun.returncode == 0, rerun.stderr
    assert summary(folder, "done", "first")["statuses"] == {"deleted": 12}
    assert slow_katana.deletes() - before == 6  # one DELETE per resource over both runs
    # the two lines count each serial once: what the stopped attempt's line counted is gone_before now
    counted = [int(m) for m in re.findall(r" deleted=(\d+)", line.group(0) + rerun.stderr)]
    assert sum(counted) == 12, (line.group(0), rerun.stderr)
    assert "recheck=yes" not in rerun.stderr


def test_a_missing_key_is_one_logfmt_line_with_its_exit_code(folder, state):
    drop(folder, "good.csv", GOOD)
    stopped = watch_cli(folder, state, "--once", "--apply")
    assert stopped.returncode == 2
    lines = stopped.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"^ts=\S+ level=error event=stopped .*exit=2 error=\"no API key", lines[0])
    assert names(folder, "inbox") == {"good.csv"}  # nothing touched


def stopped_after_the_first_delete(folder: Path, state: Path, katana: "SlowKatana", options, env) -> tuple[int, str]:
    """A watcher started with ``options``, stopped by SIGTERM once Katana has had its first DELETE
    (waited for, not timed): its exit code and its log."""
    watcher = start_watch(folder, state, *options, env=env)
    try:
        wait_for(lambda: katana.deletes() > 0, what="the first DELETE")
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    return watcher.returncode, stderr


def test_a_drop_renamed_on_arrival_keeps_its_dropped_name_when_resumed(folder, state):
    """A drop whose name was taken is filed as ``<stem>.<UTC time><suffix>``; stopped mid-run by
    SIGTERM and resumed by the next run, both lines and the summary still name what it was dropped as."""
    (folder / "done").mkdir()
    (folder / "done" / "orders.csv").write_text(sheet(0, 1))  # an earlier drop of that name, kept
    drop(folder, "orders.csv", sheet(0, 6))
    key = {"KATANA_API_KEY": "sandbox"}
    with running_sandbox(records=grid(12, 2), latency_ms=150, rate_limit=(4, 1.0)) as server:
        katana = SlowKatana(server)
        options = ("--once", "--apply", "--base-url", katana.base_url)
        returncode, stderr = stopped_after_the_first_delete(folder, state, katana, options, key)
        assert returncode == 2, stderr
        assert katana.deletes() < 6, "the file finished before the signal; make the sandbox slower"
        [renamed] = names(folder, "processing")
        assert (folder / "processing" / f".{renamed}.claim").is_file()
        assert renamed.startswith("orders.2") and renamed.endswith(".csv")
        stopped = next(m.string for m in file_lines(stderr) if f"file={renamed} " in m.string)
        assert "result=processing" in stopped and " dropped_as=orders.csv" in stopped

        resumed = watch_cli(folder, state, *options, env=key)
    assert resumed.returncode == 0, resumed.stderr
    [line] = [m.string for m in file_lines(resumed.stderr)]
    assert f"file={renamed} result=done" in line and "resumed=yes" in line and " dropped_as=orders.csv" in line
    result = summary(folder, "done", Path(renamed).stem)
    assert result["resumed"] is True and result["file"] == renamed and result["dropped_as"] == "orders.csv"
    assert result["statuses"] == {"deleted": 12}
    assert {n for n in os.listdir(folder / "processing")} == set()  # nothing of it left behind


def test_a_file_removed_from_processing_while_it_runs_is_told_of_and_the_others_go_on(folder, state):
    """Removed by hand while its run is under way: the run goes on with the rows it had read, its
    results and summary go to failed/ (it can be neither filed nor resumed), one line says so, and
    the file waiting in the inbox is still run in the same pass."""
    from sn_importer.watch import Settings, Watcher

    first = drop(folder, "orders.csv", sheet(0, 6))
    drop(folder, "other.csv", sheet(8, 1))
    earlier = time.time() - 5
    os.utime(first, (earlier, earlier))  # claimed before other.csv
    lines: list[str] = []
    with running_sandbox(records=grid(12, 2), latency_ms=150, rate_limit=(4, 1.0)) as server:
        katana = SlowKatana(server)
        watcher = Watcher(folder, Settings(mode="apply", base_url=katana.base_url, api_key="sandbox", settle=0,
                                           state_dir=state), log=lines.append)
        worker = threading.Thread(target=watcher.run)
        worker.start()
        try:
            wait_for(lambda: katana.deletes() > 0, what="the first DELETE")
            assert katana.deletes() < 6, "the file finished before its removal; make the sandbox slower"
            (folder / "processing" / "orders.csv").unlink()  # still there: the run is under way
        finally:
            worker.join(timeout=120)
        assert not worker.is_alive()
    assert watcher.exit_code == 2, lines
    assert not any("event=pass-stopped" in line for line in lines), lines
    removed = next(line for line in lines if "event=file file=orders.csv " in line)
    assert "result=failed" in removed and "exit=2" in removed and "deleted=12" in removed, removed
    assert ('error="orders.csv was removed from processing/ while it ran; the run went on with the rows it had '
            'read; its results are filed without it; what was sent is in the journal"') in removed
    assert summary(folder, "done", "other")["statuses"] == {"deleted": 2}  # the same pass went on
    assert names(folder, "processing") == set() and names(folder, "inbox") == set()
    gone = summary(folder, "failed", "orders")
    assert gone["input"] is None and gone["statuses"] == {"deleted": 12} and gone["error"].startswith("orders.csv was")
    assert names(folder, "failed") == {"orders.results.csv", "orders.results.removed.csv", "orders.summary.json"}
    assert [n for n in os.listdir(folder / "processing")] == []  # its claim record went with it


def test_a_file_removed_from_processing_between_stop_and_resume_is_told_of_once(folder, state):
    """Stopped by SIGTERM, then removed by hand before the next run: that run says in one line that
    nothing more is sent for it, files a summary saying so, and runs the other drops."""
    drop(folder, "orders.csv", sheet(0, 6))
    key = {"KATANA_API_KEY": "sandbox"}
    with running_sandbox(records=grid(12, 2), latency_ms=150, rate_limit=(4, 1.0)) as server:
        katana = SlowKatana(server)
        options = ("--once", "--apply", "--base-url", katana.base_url)
        returncode, stderr = stopped_after_the_first_delete(folder, state, katana, options, key)
        assert returncode == 2 and names(folder, "processing") == {"orders.csv"}, stderr
        sent = katana.deletes()
        assert sent < 6, "the file finished before the signal; make the sandbox slower"
        (folder / "processing" / "orders.csv").unlink()
        drop(folder, "other.csv", sheet(8, 1))

        resumed = watch_cli(folder, state, *options, env=key)
        assert katana.deletes() == sent + 1  # other.csv's one resource; nothing more for orders.csv
        again = watch_cli(folder, state, *options, env=key)
    assert resumed.returncode == 2, resumed.stderr
    lines = {m[2]: m.string for m in file_lines(resumed.stderr)}
    assert set(lines) == {"orders.csv", "other.csv"}, resumed.stderr
    assert "result=failed" in lines["orders.csv"] and "resumed=yes" in lines["orders.csv"]
    assert ('error="orders.csv was removed from processing/ before its run finished; nothing more is sent for it; '
            'what was sent is in the journal (drop the file again to finish it)"') in lines["orders.csv"]
    assert "event=pass-stopped" not in resumed.stderr
    assert summary(folder, "done", "other")["statuses"] == {"deleted": 2}
    assert summary(folder, "failed", "orders")["input"] is None
    assert os.listdir(folder / "processing") == []
    assert again.returncode == 0 and file_lines(again.stderr) == []  # said once
