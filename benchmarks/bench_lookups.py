"""What naming resources by order number costs, against naming them by id.

Serves a sandbox (loopback, quota --rate) holding ``--orders`` manufacturing
orders numbered apart from their ids and ``--orders`` sales orders of
``--skus`` rows each (one SKU per row), each resource holding ``--serials``
serials. Writes the same detach job twice, as staff would by order number
(MO-…, SO-… + SKU) and as an integration would by resource id, previews
both on a fresh sandbox and prints, for each: the rows, the lookups said
beforehand and sent (from ``/_sandbox/stats``), all requests, the wall time,
and the validate time of the sheet offline. Not a test: it prints figures.

    python benchmarks/bench_lookups.py [--orders 20] [--skus 5] [--serials 10] [--rate 200/1]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import sn_importer as sn
from sn_importer.references import lookup_requests
from sn_importer.sandbox import parse_rate_limit, running_sandbox, seed_from


def tenant(orders: int, skus: int, serials: int) -> tuple[dict, list[tuple], list[tuple]]:
    """The seed, and the job's rows by order number and by id."""
    seed = {"serial_numbers": [], "manufacturing_orders": [], "sales_orders": [], "sales_order_rows": [],
            "variants": [{"id": 100 + k, "sku": f"SKU-{k:02d}"} for k in range(skus)]}
    by_number, by_id = [], []
    for n in range(orders):
        mo_id, so_id = 70_000 + n, 80_000 + n
        seed["manufacturing_orders"].append({"id": mo_id, "order_no": f"MO-{3000 + n}"})
        seed["sales_orders"].append({"id": so_id, "order_no": f"SO-{1000 + n}"})
        resources = [("ManufacturingOrder", mo_id, f"MO-{3000 + n}", "")]
        for k in range(skus):
            row_id = 900_000 + n * 100 + k
            seed["sales_order_rows"].append({"id": row_id, "sales_order_id": so_id, "variant_id": 100 + k})
            resources.append(("SalesOrderRow", row_id, f"SO-{1000 + n}", f"SKU-{k:02d}"))
        for rtype, rid, order_no, sku in resources:
            for s in range(serials):
                string = f"SN{rid}-{s:03d}"
                seed["serial_numbers"].append({"id": rid * 1000 + s, "serial_number": string,
                                               "resource_type": rtype, "resource_id": rid})
                by_number.append((rtype, "", order_no, sku, string))
                by_id.append((rtype, rid, "", "", string))
    return seed, by_number, by_id


def write(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "order_no", "sku", "serial_number"])
        writer.writerows(rows)
    return path


def measure(label: str, path: Path, seed: dict, rate: tuple[int, float]) -> None:
    started = time.perf_counter()
    job = sn.read(path)
    offline = time.perf_counter() - started
    said = lookup_requests(job.rows)
    with running_sandbox(records=seed_from(seed), rate_limit=rate) as server:
        started = time.perf_counter()
        result = job.preview(base_url=server.base_url, api_key="sandbox")
        wall = time.perf_counter() - started
        endpoints = server.store.stats()["endpoints"]
    lookups = sum(n for name, n in endpoints.items() if "serial_numbers" not in name)
    print(f"{label:<16} rows {job.row_count:>6}  validate {offline:5.2f} s  lookups said {said:>4} sent {lookups:>4}  "
          f"requests {result.requests['GET'] + result.requests['DELETE']:>5}  preview {wall:6.2f} s  "
          f"statuses {result.counts()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--skus", type=int, default=5)
    parser.add_argument("--serials", type=int, default=10)
    parser.add_argument("--rate", default="200/1")
    args = parser.parse_args()
    rate = parse_rate_limit(args.rate)
    seed, by_number, by_id = tenant(args.orders, args.skus, args.serials)
    print(f"data  {args.orders} MOs + {args.orders} sales orders x {args.skus} SKUs, {args.serials} serials each; "
          f"quota {args.rate}")
    with tempfile.TemporaryDirectory() as folder:
        sn.read(write(Path(folder) / "warm-up.csv", by_id[:1]))  # imports and first schema build, not timed
        measure("by order number", write(Path(folder) / "by-number.csv", by_number), seed, rate)
        measure("by resource id", write(Path(folder) / "by-id.csv", by_id), seed, rate)


if __name__ == "__main__":
    main()
