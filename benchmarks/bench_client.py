"""How close does the client get to what the rate limit allows?

Serves a sandbox with a tight quota (default 20 requests per second) holding
generated data (40 ManufacturingOrders x 5 serials), then for every resource,
concurrently: list its serials, delete them all, list again. Prints the
requests sent, the 429s the sandbox answered, the wall time and the least
time the quota allows.

The floor: with N requests and a fixed window of L requests per W seconds
opened by the first request, the requests fill ceil(N / L) windows and the
last one can open no earlier than (ceil(N / L) - 1) * W seconds after the
first request; a run cannot finish sooner (plus the last answers' latency).
The three calls of a resource depend on each other, so the very end is a
little serial too.

    python benchmarks/bench_client.py [--resources 40] [--serials 5] [--rate 20/1] [--fail-rate 0]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time

import httpx

from sn_importer.katana.client import KatanaClient
from sn_importer.sandbox import parse_rate_limit, running_sandbox


def generate(resources: int, serials: int) -> list[dict]:
    return [
        {
            "id": 500_000 + r * 100 + s,
            "serial_number": f"BENCH{r:04d}-{s:03d}",
            "resource_type": "ManufacturingOrder",
            "resource_id": 9000 + r,
            "transaction_id": None,
            "transaction_date": None,
            "quantity_change": 1,
        }
        for r in range(resources)
        for s in range(serials)
    ]


async def detach_all(client: KatanaClient, resource_id: int) -> int:
    before = await client.list_serials("ManufacturingOrder", resource_id)
    await client.delete_serials("ManufacturingOrder", resource_id, [r["id"] for r in before])
    after = await client.list_serials("ManufacturingOrder", resource_id)
    return len(before) - len(after)


async def drive(base_url: str, resources: int) -> tuple[KatanaClient, int, float]:
    async with KatanaClient(base_url, "sandbox") as client:
        started = time.monotonic()
        detached = await asyncio.gather(*(detach_all(client, 9000 + r) for r in range(resources)))
        return client, sum(detached), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--serials", type=int, default=5)
    parser.add_argument("--rate", default="20/1", help="sandbox rate limit N/SECONDS")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    args = parser.parse_args()
    limit, window = parse_rate_limit(args.rate)

    with running_sandbox(generate(args.resources, args.serials), rate_limit=(limit, window), fail_rate=args.fail_rate) as server:
        client, detached, wall = asyncio.run(drive(server.base_url, args.resources))
        served = httpx.get(server.base_url.removesuffix("/v1") + "/_sandbox/stats").json()

    sent = sum(client.stats.requests.values())
    floor = (math.ceil(sent / limit) - 1) * window
    print(f"data             {args.resources} resources x {args.serials} serials, quota {limit}/{window:g}s, fail rate {args.fail_rate:g}")
    print(f"requests sent    {sent} ({', '.join(f'{k} {v}' for k, v in client.stats.as_dict().items())})")
    print(f"serials detached {detached}")
    print(f"429s met         {served['status'].get('429', 0)} (sandbox: {served['status']})")
    print(f"wall time        {wall:.2f} s")
    print(f"quota floor      {floor:.2f} s  (ceil({sent}/{limit}) - 1 windows of {window:g} s)")
    print(f"ratio            {wall / floor:.2f}" if floor else "ratio            n/a (fits in one window)")


if __name__ == "__main__":
    main()
