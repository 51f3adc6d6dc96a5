"""Benchmark: many people checking large sheets on the web page at once.

Starts a sandbox (in this process, on a loopback port) and ``sn-importer
serve`` against it as its own process (shared password), then has CHECKS
people log in and upload a ROWS-row workbook each at the same moment, and
waits until every check is shown ("ready"). Prints the time from the uploads
to each check being ready (the last one is what the tenth person waits), and
the server's resident memory (``VmRSS`` of the ``serve`` process, and of its
worker processes) when idle before, right after the round, and after
SETTLE seconds. ROUNDS rounds are run one after another on the same server,
so memory that is never given back shows as growth from round to round.

    python benchmarks/bench_web_checks.py [--checks 10] [--rows 20000] [--resources 100] [--rounds 2]
                                          [--latency-ms 5] [--settle 5] [--rate 100000/60]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from openpyxl import Workbook

from sn_importer.sandbox import parse_rate_limit, running_sandbox

KEY, PASSWORD = "bench-key", "bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_sheet(path: Path, rows: int, resources: int) -> list[dict]:
    """A workbook of ``rows`` serials spread over ``resources`` MOs, and the sandbox records that hold them."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Orders")
    sheet.append(["Resource type", "Resource ID", "Serial number"])
    records = []
    for n in range(rows):
        resource = 10_000 + n % resources
        serial = f"SN{n:08d}"
        sheet.append(["Manufacturing order", resource, serial])
        records.append({"id": 1_000_000 + n, "serial_number": serial, "resource_type": "ManufacturingOrder",
                        "resource_id": resource, "transaction_id": None, "transaction_date": None,
                        "quantity_change": 1})
    book.save(path)
    return records


def rss_mib(pid: int) -> float:
    """Resident memory of one process, MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def family_rss(pid: int) -> tuple[float, float]:
    """(the server's RSS, its children's together), MiB."""
    children = [c for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    kids = 0.0
    for child in children:
        try:
            kids += rss_mib(int(child))
        except (OSError, AttributeError):
            pass
    return rss_mib(pid), kids


def start_server(folder: Path, base_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = shutil.which("sn-importer") or str(Path(sys.executable).with_name("sn-importer"))
    env = {**os.environ, "KATANA_API_KEY": KEY, "BENCH_PASSWORD": PASSWORD, "KATANA_QUOTA_SHARE": "1"}
    server = subprocess.Popen([exe, "serve", "--base-url", base_url, "--state-dir", str(folder / "state"),
                               "--port", str(port), "--password-env", "BENCH_PASSWORD", "--max-upload-mb", "50"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("serve did not start")


def check(url: str, sheet: Path, who: str, start: threading.Event, done: dict) -> None:
    """One person: log in, upload at the signal, wait until the check is shown."""
    with httpx.Client(base_url=url, timeout=600) as client:
        client.get("/login")
        token = client.cookies["sn_csrf"]
        answer = client.post("/login", data={"password": PASSWORD, "name": who, "csrf": token})
        assert answer.status_code == 303, answer.text[:300]
        token = client.cookies["sn_csrf"]
        start.wait()
        began = time.monotonic()
        with open(sheet, "rb") as handle:
            answer = client.post("/upload", data={"template": "default", "csrf": token},
                                 files={"file": (sheet.name, handle.read())})
        assert answer.status_code == 303, answer.text[:300]
        run = answer.headers["location"]
        while True:
            phase = client.get(f"{run}/status").json()["phase"]
            if phase in ("ready", "broken"):
                done[who] = (time.monotonic() - began, phase)
                return
            time.sleep(0.2)


def one_round(url: str, sheet: Path, checks: int) -> list[tuple[float, str]]:
    start, done = threading.Event(), {}
    people = [threading.Thread(target=check, args=(url, sheet, f"person{i}", start, done)) for i in range(checks)]
    for person in people:
        person.start()
    time.sleep(1.0)  # everyone logged in
    start.set()
    for person in people:
        person.join()
    return sorted(done.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-ms", type=int, default=5)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--rate", default="100000/60", help="the sandbox's quota, requests/seconds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        sheet = folder / "serials.xlsx"
        records = write_sheet(sheet, args.rows, args.resources)
        with running_sandbox(records=records, api_key=KEY, rate_limit=parse_rate_limit(args.rate),
                             latency_ms=args.latency_ms) as sandbox:
            server, url = start_server(folder, sandbox.base_url)
            try:
                time.sleep(2)
                print(f"started: serve {family_rss(server.pid)[0]:.0f} MiB")
                warm = folder / "warm.xlsx"
                write_sheet(warm, 50, 5)
                one_round(url, warm, 1)  # the library's modules loaded, as after any first check
                time.sleep(args.settle)
                print(f"{args.checks} checks of {args.rows:,} rows on {args.resources} resources; cpus {os.cpu_count()}")
                print(f"idle: serve {family_rss(server.pid)[0]:.0f} MiB, workers {family_rss(server.pid)[1]:.0f} MiB")
                for number in range(1, args.rounds + 1):
                    times = one_round(url, sheet, args.checks)
                    after = family_rss(server.pid)
                    time.sleep(args.settle)
                    settled = family_rss(server.pid)
                    phases = {phase for _, phase in times}
                    print(f"round {number}: first check shown after {times[0][0]:.1f} s, last after "
                          f"{times[-1][0]:.1f} s ({', '.join(sorted(phases))}); serve {after[0]:.0f} MiB right "
                          f"after, {settled[0]:.0f} MiB {args.settle:g} s later; workers {settled[1]:.0f} MiB")
            finally:
                server.terminate()
                server.wait(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
