"""Benchmark of the offline ``validate`` capability (not a test).

Generates, in a temporary folder, a 1,000,000-row three-column CSV
(resource_type, resource_id, serial_number: staff spellings of the types,
~2 % duplicates and a few invalid rows) and a 100,000-row xlsx, then times

1. plain pandas: ``read_csv(dtype=str)`` + ``to_csv`` of the same file — the floor;
2. ``sn_importer.read(path)`` + ``job.write(out.csv)``: read, map, validate,
   plan and write the annotated copy, i.e. the whole ``validate`` command;
3. the same for the 100,000-row xlsx (annotated .xlsx output).

Each measurement runs in a fresh child process so its peak memory is its own:
the figure is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that child
(peak resident set size, which includes the interpreter and imported libraries).
The CSV timings are the best of three children; the clock starts after
``import sn_importer`` / ``import pandas``, so start-up is not counted.

    python benchmarks/bench_validate.py [--rows 1000000] [--xlsx-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Katana resource types and the spellings staff use for them (as in templates/default.toml).
SPELLINGS = [
    ["ManufacturingOrder", "MO", "Manufacturing order", "manufacturing-order"],
    ["Production", "production"],
    ["SalesOrderRow", "Sales order row", "SO row"],
    ["PurchaseOrderRow", "PO row", "Purchase order row"],
    ["StockTransferRow", "Stock transfer"],
    ["StockAdjustmentRow", "Stock adjustment row"],
    ["SalesOrderFulfillmentRow", "Fulfillment row"],
]
SERIALS_PER_RESOURCE = 20


def make_rows(n: int, seed: int = 48):
    """Realistic rows: ~20 serials per resource (one type per resource, spelled
    several ways), ~2 % repeated rows and about one invalid cell in 10,000."""
    import numpy as np

    rng = np.random.default_rng(seed)
    resource = np.arange(n) // SERIALS_PER_RESOURCE
    kind = rng.integers(0, len(SPELLINGS), resource[-1] + 1)[resource]
    spelling = rng.integers(0, 4, n)
    types = np.asarray([SPELLINGS[k][s % len(SPELLINGS[k])] for k, s in zip(kind.tolist(), spelling.tolist())], dtype=object)
    ids = (3000 + resource).astype(object)
    serials = np.char.add("KNF", np.char.zfill(np.arange(1, n + 1).astype(str), 9)).astype(object)
    dups = rng.choice(np.arange(1, n), n // 50, replace=False)
    dups = dups[resource[dups] == resource[dups - 1]]
    serials[dups] = serials[dups - 1]
    bad = rng.choice(n, max(7, n // 10_000), replace=False)
    kinds = ["Invoice", "abc", "1.23E+12", "-4", "000123", "12345.0", ""]
    for k, row in enumerate(bad.tolist()):
        value = kinds[k % len(kinds)]
        if value == "Invoice":
            types[row] = value
        elif value in ("abc", "-4", ""):
            ids[row] = value
        else:
            serials[row] = value
    return types, ids, serials


def write_csv(path: Path, n: int) -> None:
    import pandas as pd

    types, ids, serials = make_rows(n)
    pd.DataFrame({"resource_type": types, "resource_id": ids, "serial_number": serials}).to_csv(path, index=False)


def write_xlsx(path: Path, n: int) -> None:
    import xlsxwriter

    types, ids, serials = make_rows(n, seed=7)
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as book:
        ws = book.add_worksheet("Serials")
        ws.write_row(0, 0, ["Resource type", "Resource ID", "Serial number", "Note"])
        for r in range(n):
            ws.write_string(r + 1, 0, types[r])
            rid = ids[r]
            if isinstance(rid, (int,)) or (isinstance(rid, str) and rid.isdigit()):
                ws.write_number(r + 1, 1, int(rid))
            else:
                ws.write_string(r + 1, 1, str(rid))
            ws.write_string(r + 1, 2, serials[r])
            if r % 7 == 0:
                ws.write_string(r + 1, 3, "checked by ops")


# --- the measured tasks, each run in its own child process ------------------------------------


def task_pandas(src: str, out: str) -> dict:
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_csv(src, dtype=str, keep_default_na=False)
    frame.to_csv(out, index=False)
    return {"seconds": time.perf_counter() - start}


def task_sn(src: str, out: str) -> dict:
    import sn_importer

    start = time.perf_counter()
    job = sn_importer.read(src)
    job.write(out)
    return {"seconds": time.perf_counter() - start, "statuses": job.counts(), "exit_code": job.exit_code}


TASKS = {"pandas": task_pandas, "sn": task_sn}


def child(task: str, src: str, out: str) -> None:
    result = TASKS[task](src, out)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(result))


def make(kind: str, path: Path, rows: int) -> None:
    """Generate test data in a child process: Linux keeps ru_maxrss across fork+exec, so
    a parent that held the generated rows would inflate every child's peak figure."""
    subprocess.run([sys.executable, __file__, "--make", kind, str(path), str(rows)], check=True)


def measure(task: str, src: Path, out: Path, repeat: int = 3) -> dict:
    """Best of ``repeat`` fresh child processes (time and peak RSS of the fastest; the
    machine is shared, so the minimum is the least noisy figure)."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, __file__, "--child", task, str(src), str(out)],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_of_runs_mb"] = max(r["maxrss_mb"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, metavar=("TASK", "SRC", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=3, metavar=("KIND", "PATH", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.make:
        kind, path, rows = args.make
        (write_csv if kind == "csv" else write_xlsx)(Path(path), int(rows))
        return
    with tempfile.TemporaryDirectory(prefix="sn-bench-") as tmp:
        tmp = Path(tmp)
        src = tmp / "serials.csv"
        start = time.perf_counter()
        make("csv", src, args.rows)
        print(f"generated {args.rows:,}-row CSV ({src.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
        plain = measure("pandas", src, tmp / "plain.csv")
        ours = measure("sn", src, tmp / "serials.results.csv")
        ratio = ours["seconds"] / plain["seconds"]
        print(f"pandas read_csv + to_csv : {plain['seconds']:7.2f} s   peak RSS {plain['maxrss_mb']:7.0f} MB")
        print(f"sn-importer validate     : {ours['seconds']:7.2f} s   peak RSS {ours['maxrss_mb']:7.0f} MB"
              f"   statuses {ours['statuses']}")
        print(f"ratio                    : {ratio:7.2f} x  (target <= 4, aim 2; peak target <= 1536 MB)")

        book = tmp / "serials.xlsx"
        start = time.perf_counter()
        make("xlsx", book, args.xlsx_rows)
        print(f"generated {args.xlsx_rows:,}-row xlsx in {time.perf_counter() - start:.1f} s")
        xl = measure("sn", book, tmp / "serials.results.xlsx", repeat=1)
        print(f"sn-importer validate xlsx: {xl['seconds']:7.2f} s   peak RSS {xl['maxrss_mb']:7.0f} MB"
              f"   statuses {xl['statuses']}")


if __name__ == "__main__":
    main()
