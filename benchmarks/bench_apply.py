"""Benchmark: a whole ``apply`` against the sandbox under a tight quota.

Serves a generated tenant from the built-in sandbox on loopback, runs the same
library call the command uses on a sheet naming some of its serials, and
prints what it cost: requests per resource, 429s met, wall time against the
minimum the quota allows for the requests made, rows per second and peak
memory. Every row must come back ``deleted``, and the tenant is read back to
check that exactly the named serials are gone.

Scenarios (``--scenario``):

- ``quota`` (default): 40 resources × 5 serials, the tenant holds just those;
  the time against the quota (``--rate 20/1``).
- ``dense``: 200 ManufacturingOrders × 2 serials named, in a tenant of 1,600
  ManufacturingOrder serials (each named MO holds 4, 400 other MOs hold 2):
  the whole type is cheaper to list than 200 resources.
- ``sparse``: 5 ManufacturingOrders × 2 serials named, in a tenant of 50,000
  ManufacturingOrder serials: resource-by-resource lists stay cheaper.

    python benchmarks/bench_apply.py [--scenario quota|dense|sparse] [--rate 20/1]
"""

from __future__ import annotations

import argparse
import csv
import math
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sn_importer as sn
from sn_importer.sandbox import parse_rate_limit, running_sandbox

MO = "ManufacturingOrder"


@dataclass
class Scenario:
    """A tenant and the sheet run against it."""

    records: list[dict]  # the tenant
    named: list[dict]  # the records the sheet names (rows), on ``resources`` resources
    resources: int
    rate: str


def record(resource_id: int, n: int) -> dict:
    return {"id": 10_000 * resource_id + n, "serial_number": f"B{resource_id:05d}-{n:04d}", "resource_type": MO,
            "resource_id": resource_id, "transaction_id": None, "transaction_date": None, "quantity_change": 1}


def scenario(name: str) -> Scenario:
    if name == "quota":
        records = [record(r, n) for r in range(1, 41) for n in range(5)]
        return Scenario(records, records, 40, "20/1")
    if name == "dense":  # 200 named MOs × 4 serials + 400 other MOs × 2 = 1,600 MO serials
        named_mos = [record(r, n) for r in range(1, 201) for n in range(4)]
        others = [record(r, n) for r in range(1001, 1401) for n in range(2)]
        return Scenario(named_mos + others, [r for r in named_mos if r["id"] % 10_000 < 2], 200, "60/1")
    if name == "sparse":  # 5 named MOs × 2 serials in 50,000 MO serials (10,000 MOs × 5)
        records = [record(r, n) for r in range(1, 10_001) for n in range(5)]
        return Scenario(records, [r for r in records if r["resource_id"] <= 5 and r["id"] % 10_000 < 2], 5, "60/1")
    raise SystemExit(f"unknown scenario {name!r}: quota, dense or sparse")


def write_sheet(path: Path, named: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_number"])
        writer.writerows(("MO", r["resource_id"], r["serial_number"]) for r in named)


def run(case: Scenario, rate: str) -> dict:
    """Apply the sheet to a fresh sandbox; what it cost and what the tenant holds after."""
    limit, window = parse_rate_limit(rate)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        write_sheet(path, case.named)
        with running_sandbox(records=case.records, rate_limit=(limit, window)) as server:
            job = sn.read(path)
            started = time.perf_counter()
            # the client starts from 60/60 and learns the real quota from the headers
            result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=Path(tmp) / "state")
            wall = time.perf_counter() - started
            left = {(r["id"], r["resource_id"]) for r in server.store.records}
            stats = server.store.stats()
    named = {(r["id"], r["resource_id"]) for r in case.named}
    return {"counts": result.counts(), "stats": stats, "wall": wall, "limit": limit, "window": window,
            "gone": not (named & left), "kept": len(left) == len(case.records) - len(named)}


def report(case: Scenario, name: str, figures: dict) -> None:
    stats, wall, limit, window = figures["stats"], figures["wall"], figures["limit"], figures["window"]
    sent = stats["requests"]["GET"] + stats["requests"]["DELETE"]
    minimum = (math.ceil(sent / limit) - 1) * window
    deleted = figures["counts"].get("deleted", 0)
    print(f"scenario             {name}")
    print(f"tenant               {len(case.records)} serials")
    print(f"rows                 {len(case.named)}  ({figures['counts']})")
    print(f"every row deleted    {deleted == len(case.named)}  (named serials gone from the tenant: "
          f"{figures['gone']}, every other serial kept: {figures['kept']})")
    print(f"resources            {case.resources}")
    print(f"requests sent        {sent}  (GET {stats['requests']['GET']}, DELETE {stats['requests']['DELETE']})")
    print(f"requests / resource  {sent / case.resources:.2f}")
    print(f"429 answers          {stats['status'].get('429', 0)}")
    print(f"quota                {limit} per {window:g} s")
    print(f"wall time            {wall:.2f} s")
    print(f"quota minimum        {minimum:.2f} s  (the last window need not be waited out)")
    print(f"wall / minimum       {wall / minimum:.2f}" if minimum else "wall / minimum       n/a (fits in one window)")
    print(f"rows per second      {len(case.named) / wall:.1f}")
    print(f"peak memory (RSS)    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="quota", choices=("quota", "dense", "sparse"))
    parser.add_argument("--rate", default=None, help="the sandbox's quota, N/SECONDS (default per scenario)")
    args = parser.parse_args()
    case = scenario(args.scenario)
    report(case, args.scenario, run(case, args.rate or case.rate))


if __name__ == "__main__":
    main()
