"""Benchmark: three ``apply`` runs and another integration on one tenant.

Starts ``sn-importer sandbox --rate-limit 10/5`` as its own process, then, at
once, PROCESSES ``sn-importer apply`` commands (each its own sheet of
RESOURCES × SERIALS rows, one shared state directory) and a fourth client
standing in for the tenant's shop front: one GET every 5 s until the runs
end. FILLER more serials of the same type sit on another resource, so that
each run lists resource by resource (a probe, then 3 requests per resource)
rather than the type whole (11 pages of 250). Prints every run's statuses, requests, waits and finish time,
the 429s each side met, and
the wall time (launch of the commands to the last exit, interpreter start-up
included) against the minimum the window allows at the share in force:
``(ceil(requests / floor(share × limit)) - 1) × window``.

    python benchmarks/bench_quota.py [--processes 3] [--resources 10] [--serials 3] [--filler 800]
                                     [--rate 10/5] [--share 0.8] [--other-every 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from sn_importer.sandbox import parse_rate_limit


def command() -> list[str]:
    found = shutil.which("sn-importer") or str(Path(sys.executable).with_name("sn-importer"))
    return [found]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_inputs(folder: Path, processes: int, resources: int, serials: int,
                 filler: int) -> tuple[Path, list[Path]]:
    """One sheet per process on resources of its own, and the seed that holds them all."""
    records = [{"id": 9_000_000 + n, "serial_number": f"F{n:07d}", "resource_type": "ManufacturingOrder",
                "resource_id": 9_999, "transaction_id": None, "transaction_date": None, "quantity_change": 1}
               for n in range(filler)]
    sheets = []
    for p in range(processes):
        rows = []
        for r in range(resources):
            resource_id = 10_000 * (p + 1) + r
            for n in range(serials):
                serial = {"id": resource_id * 100 + n, "serial_number": f"Q{resource_id}-{n:03d}",
                          "resource_type": "ManufacturingOrder", "resource_id": resource_id,
                          "transaction_id": None, "transaction_date": None, "quantity_change": 1}
                records.append(serial)
                rows.append(("MO", resource_id, serial["serial_number"]))
        sheet = folder / f"run{p + 1}.csv"
        with sheet.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["resource_type", "resource_id", "serial_number"])
            writer.writerows(rows)
        sheets.append(sheet)
    seed = folder / "seed.json"
    seed.write_text(json.dumps(records))
    return seed, sheets


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/stats", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"the sandbox did not come up at {url}")


class OtherIntegration(threading.Thread):
    """The tenant's shop front: one GET every ``period`` seconds, counting its answers."""

    def __init__(self, base_url: str, period: float):
        super().__init__(daemon=True)
        self.base_url, self.period = base_url, period
        self.statuses: Counter[int] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, headers={"Authorization": "Bearer sandbox"}, timeout=10) as http:
            next_at = time.monotonic()
            while not self.stop.is_set():
                self.statuses[http.get("/serial_numbers", params={"limit": 1}).status_code] += 1
                next_at += self.period
                self.stop.wait(max(0.0, next_at - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--resources", type=int, default=10)
    parser.add_argument("--serials", type=int, default=3)
    parser.add_argument("--filler", type=int, default=2600, help="serials of the type on another resource")
    parser.add_argument("--rate", default="10/5")
    parser.add_argument("--share", type=float, default=0.8)
    parser.add_argument("--other-every", type=float, default=5.0, help="seconds between the other client's GETs")
    args = parser.parse_args()
    limit, window = parse_rate_limit(args.rate)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed, sheets = write_inputs(folder, args.processes, args.resources, args.serials, args.filler)
        port = free_port()
        root = f"http://127.0.0.1:{port}"
        sandbox = subprocess.Popen([*command(), "sandbox", "--port", str(port), "--seed", str(seed),
                                    "--rate-limit", args.rate], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_up(root)
            results, wall, other = run_all(root, folder, sheets, args)
            stats = httpx.get(f"{root}/_sandbox/stats").json()
        finally:
            sandbox.terminate()
            sandbox.wait(10)
    report(results, wall, other, stats, limit, window, args)


def run_all(root: str, folder: Path, sheets: list[Path], args) -> tuple[list[dict], float, Counter]:
    env = dict(os.environ, KATANA_API_KEY="sandbox", KATANA_QUOTA_SHARE=str(args.share), NO_COLOR="1")
    other = OtherIntegration(f"{root}/v1", args.other_every)
    other.start()
    started = time.perf_counter()
    runs = [subprocess.Popen([*command(), "apply", str(sheet), "--base-url", f"{root}/v1", "--json",
                              "--state-dir", str(folder / "state")], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env) for sheet in sheets]
    ends: dict[int, float] = {}
    first = None  # when the sandbox saw the importers' first request
    while len(ends) < len(runs):
        for n, run in enumerate(runs):
            if n not in ends and run.poll() is not None:
                ends[n] = time.perf_counter() - started
        if first is None:
            seen = httpx.get(f"{root}/_sandbox/stats").json()["requests"]
            if seen["GET"] + seen["DELETE"] > sum(other.statuses.values()) + 1:
                first = time.perf_counter() - started
        time.sleep(0.05)
    wall = max(ends.values())
    print(f"first importer request after {first:.1f} s (interpreters starting, sheets read)")
    other.stop.set()
    other.join()
    results = [json.loads(run.stdout.read()) | {"ended_after": ends[n], "first_request_after": first}
               for n, run in enumerate(runs)]
    return results, wall, other.statuses


def report(results: list[dict], wall: float, other: Counter, stats: dict, limit: int, window: float, args) -> None:
    cap = max(1, math.floor(limit * args.share + 1e-9))
    sent = sum(r["requests"]["GET"] + r["requests"]["DELETE"] for r in results)
    limited = sum(r["requests"]["rate_limited"] for r in results)
    minimum = (math.ceil(sent / cap) - 1) * window
    for n, r in enumerate(results, 1):
        q = r["requests"]
        print(f"run {n}: exit {r['exit_code']}, {r['statuses']}, GET {q['GET']} DELETE {q['DELETE']}, "
              f"429 {q['rate_limited']}, waited {q.get('waited_s')} s ({q.get('waited_for_other_runs_s')} s "
              f"while other runs drew), ended after {r['ended_after']:.1f} s")
    rows = sum(r["rows"] for r in results)
    deleted = sum(r["statuses"].get("deleted", 0) for r in results)
    print(f"rows deleted         {deleted} of {rows}")
    print(f"importer requests    {sent}, of which 429: {limited} ({100 * limited / max(1, sent):.1f} %)")
    print(f"other client         {sum(other.values())} GETs, answers {dict(other)}")
    print(f"sandbox saw          {stats['requests']}, statuses {stats['status']}")
    print(f"quota                {limit} per {window:g} s, share {args.share:g} -> {cap} per window for sn-importer")
    print(f"wall time            {wall:.1f} s (launch to last exit)")
    print(f"sending time         {wall - results[0]['first_request_after']:.1f} s (first importer request to last exit)")
    print(f"minimum at the share {minimum:.1f} s ({math.ceil(sent / cap)} windows; the last need not be waited out)")
    if minimum:
        print(f"wall / minimum       {wall / minimum:.2f} (sending time / minimum "
              f"{(wall - results[0]['first_request_after']) / minimum:.2f})")


if __name__ == "__main__":
    main()
