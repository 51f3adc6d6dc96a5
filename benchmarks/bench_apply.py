"""Benchmark: a whole ``apply`` against the sandbox under a tight quota.

Generates RESOURCES resources of SERIALS serials each, serves them from the
built-in sandbox with ``--rate-limit 20/1``, runs the same library call the
command uses, and prints what it cost: requests per resource, 429s met, wall
time against the minimum the quota allows for the requests made, rows per
second and peak memory.

    python benchmarks/bench_apply.py [--resources 40] [--serials 5] [--rate 20/1]
"""

from __future__ import annotations

import argparse
import csv
import math
import resource
import tempfile
import time
from pathlib import Path

import sn_importer as sn
from sn_importer.sandbox import parse_rate_limit, running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--serials", type=int, default=5)
    parser.add_argument("--rate", default="20/1")
    args = parser.parse_args()
    limit, window = parse_rate_limit(args.rate)
    records = [{"id": 10_000 * r + n, "serial_number": f"B{r:04d}-{n:04d}", "resource_type": "ManufacturingOrder",
                "resource_id": r, "transaction_id": None, "transaction_date": None, "quantity_change": 1}
               for r in range(1, args.resources + 1) for n in range(args.serials)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["resource_type", "resource_id", "serial_number"])
            writer.writerows(("MO", r["resource_id"], r["serial_number"]) for r in records)
        with running_sandbox(records=records, rate_limit=(limit, window)) as server:
            job = sn.read(path)
            started = time.perf_counter()
            # the client starts from 60/60 and learns the real quota from the headers
            result = job.apply(base_url=server.base_url, api_key="sandbox", state_dir=Path(tmp) / "state")
            wall = time.perf_counter() - started
            stats = server.store.stats()
    sent = stats["requests"]["GET"] + stats["requests"]["DELETE"]
    minimum = (math.ceil(sent / limit) - 1) * window
    print(f"rows                 {len(records)}  ({result.counts()})")
    print(f"resources            {args.resources}")
    print(f"requests sent        {sent}  (GET {stats['requests']['GET']}, DELETE {stats['requests']['DELETE']})")
    print(f"requests / resource  {sent / args.resources:.2f}")
    print(f"429 answers          {stats['status'].get('429', 0)}")
    print(f"quota                {limit} per {window:g} s")
    print(f"wall time            {wall:.2f} s")
    print(f"quota minimum        {minimum:.2f} s  (the last window need not be waited out)")
    print(f"wall / minimum       {wall / minimum:.2f}" if minimum else "wall / minimum       n/a (fits in one window)")
    print(f"rows per second      {len(records) / wall:.1f}")
    print(f"peak memory (RSS)    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
