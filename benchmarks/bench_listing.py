"""Benchmark: what a 1,000-row sheet costs, by how its rows spread and how large the tenant is.

For 1,000 rows on 10, 100 or 1,000 ManufacturingOrders, in a tenant holding
2,500 or 25,000 ManufacturingOrder serials, runs ``apply`` against the
built-in sandbox (served on loopback, with a quota wide enough not to wait)
and counts the requests the sandbox answered; the first column lists every
resource on its own whatever the tenant holds. The sheet names every serial
of its resources, so each resource's list after its DELETE is empty, and read
a second time before its rows are called deleted. Every row must come back
``deleted``. Prints the README's quota table: requests, and about how long
Katana's default 60 requests per 60 s make them take.

    python benchmarks/bench_listing.py
"""

from __future__ import annotations

import csv
import math
import tempfile
from pathlib import Path

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

MO = "ManufacturingOrder"
ROWS = 1_000


def tenant(resources: int, size: int) -> tuple[list[dict], list[dict]]:
    """``size`` MO serials; the sheet's ``ROWS`` of them sit on MOs 1..``resources``."""
    per = ROWS // resources
    named = [{"id": r * 10_000 + n, "serial_number": f"N{r:05d}-{n:04d}", "resource_type": MO, "resource_id": r}
             for r in range(1, resources + 1) for n in range(per)]
    others = [{"id": 900_000_000 + n, "serial_number": f"O{n:06d}", "resource_type": MO, "resource_id": 50_000 + n // 5}
              for n in range(size - len(named))]
    return named + others, named


def cost(resources: int, size: int, listing: str = "auto") -> tuple[int, dict]:
    records, named = tenant(resources, size)
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(records=records, rate_limit=(100_000, 60.0)) as server:
        path = Path(tmp) / "rows.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["resource_type", "resource_id", "serial_number"])
            writer.writerows(("MO", r["resource_id"], r["serial_number"]) for r in named)
        result = sn.read(path).apply(base_url=server.base_url, api_key="sandbox", state_dir=Path(tmp) / "state",
                                     listing=listing)
        stats = server.store.stats()["requests"]
    counts = result.counts()
    return stats["GET"] + stats["DELETE"], counts


def at_60_per_60(requests: int) -> str:
    minutes = math.ceil(requests / 60) - 1  # the first window needs no waiting
    return "no waiting" if minutes < 1 else f"about {minutes} min"


def main() -> None:
    print("| 1,000 rows spread over | always listed one by one "
          "| tenant holds 2,500 serials of the type | tenant holds 25,000 |")
    print("| --- | --- | --- | --- |")
    for resources in (10, 100, 1_000):
        alone, counts = cost(resources, 2_500, "per_resource")
        assert counts == {"deleted": ROWS}, counts
        cells = [f"{alone:,}, {at_60_per_60(alone)}"]
        for size in (2_500, 25_000):
            requests, counts = cost(resources, size)
            assert counts == {"deleted": ROWS}, counts
            cells.append(f"{requests:,}, {at_60_per_60(requests)}")
        print(f"| {resources:,} resources ({ROWS // resources:,} each) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
