"""The three ratios of "the workbook at the speed of its format" (not a test), each measured in one run.

Every figure is a whole process, timed from launch to exit (interpreter
start-up and imports included on both sides), best of ``--repeat`` by wall
time, with its CPU time (user + system, threads included: steadier than wall
time on a shared machine) and its peak RSS (``ru_maxrss`` of that child
alone). The two sides of a ratio run in turns (floor, ours, floor, ours, ...)
after one unmeasured run of each, so a machine that slows down for a minute
slows both; the processes may write their bytecode caches, as an installed
package has them (``pip install`` compiles them; an editable checkout under
``PYTHONDONTWRITEBYTECODE`` would otherwise compile sn-importer's modules
on every launch):

1. ``sn-importer validate`` of a 100,000-row .xlsx (annotated .xlsx out)
   against an openpyxl read-only → write-only round trip of the same file;
   goal ≤ 0.5 ×, ≤ 400 MB;
2. ``sn-importer validate`` of a 20,000-row .xlsx against openpyxl's full
   ``load_workbook`` + ``save``; goal ≤ 0.5 ×;
3. ``sn-importer validate`` of a 1,000,000-row CSV against pandas
   ``read_csv`` + ``to_csv``; goal ≤ 2 ×, ≤ 600 MB;

and ``validate`` of a 10-row file (start-up: goal about a second), in turns
with a bare interpreter importing the libraries it loads (pandas, pandera,
calamine, typer, rich): the part of start-up that is not sn-importer's.
The files are bench_validate.py's (staff spellings, ~2 % repeats, a few
invalid cells) and bench_annotate.py's workbook layout.

    python benchmarks/bench_workbook.py [--repeat 3] [--only xlsx100k,xlsx20k,csv,small]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUND_TRIP = """
import sys
from openpyxl import Workbook, load_workbook
book = load_workbook(sys.argv[1], read_only=True)
copy = Workbook(write_only=True)
for ws in book.worksheets:
    target = copy.create_sheet(ws.title)
    for row in ws.iter_rows(values_only=True):
        target.append(row)
copy.save(sys.argv[2])
"""
FULL_LOAD_SAVE = """
import sys
from openpyxl import load_workbook
load_workbook(sys.argv[1]).save(sys.argv[2])
"""
LIBRARIES = """
import gc
gc.disable()
import pandas, pandera.pandas, python_calamine, rich.console, typer
"""
PANDAS = """
import sys
import pandas as pd
pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False).to_csv(sys.argv[2], index=False)
"""


def measure_child(argv: list[str]) -> None:
    """Run ``argv``; print its wall time and its own peak RSS (this process has no other child)."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # validate exits 1 when some rows are invalid, as these files have
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}))


#: The children's environment: as a user's, free to write bytecode caches.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True,
                          check=True, env=CHILD_ENV)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(argv: list[str], repeat: int) -> dict:
    run_once(argv)  # unmeasured: caches the bytecode and the file
    return best_of([run_once(argv) for _ in range(repeat)])


def measure_pair(floor: list[str], ours: list[str], repeat: int) -> tuple[dict, dict]:
    """Both sides, in turns after one unmeasured run each: (floor's best, ours' best)."""
    run_once(floor)
    run_once(ours)
    runs = [(run_once(floor), run_once(ours)) for _ in range(repeat)]
    return best_of([f for f, _ in runs]), best_of([o for _, o in runs])


def best_of(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["cpu"] = min(r["cpu"] for r in runs)
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    return best


def sn(src: Path, out: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("sn-importer")), "validate", str(src), "--output", str(out)]


def py(script: str, src: Path, out: Path) -> list[str]:
    return [sys.executable, "-c", script, str(src), str(out)]


def make(kind: str, path: Path, rows: int) -> None:
    script = HERE / ("bench_annotate.py" if kind == "book" else "bench_validate.py")
    args = [str(path), str(rows)] if kind == "book" else [kind, str(path), str(rows)]
    subprocess.run([sys.executable, str(script), "--make", *args], check=True)


def compare(label: str, ours: dict, floor: dict, floor_label: str, goal: float, memory_goal: float | None) -> None:
    ratio = ours["seconds"] / floor["seconds"]
    print(f"{label}")
    for name, run in ((floor_label, floor), ("sn-importer validate", ours)):
        print(f"  {name:<44} wall {run['seconds']:7.2f} s  CPU {run['cpu']:7.2f} s  peak {run['peak_mb']:5.0f} MB")
    memory = f", peak goal <= {memory_goal:.0f} MB" if memory_goal else ""
    print(f"  ratio {ratio:.2f} x wall, {ours['cpu'] / floor['cpu']:.2f} x CPU (goal <= {goal} x{memory})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="xlsx100k,xlsx20k,csv,small")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure_child(args.child)
        return
    only = set(args.only.split(","))
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores); best of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="sn-bench-workbook-") as tmp:
        tmp = Path(tmp)
        if "xlsx100k" in only:
            book = tmp / "serials100k.xlsx"
            make("book", book, 100_000)
            floor, ours = measure_pair(py(ROUND_TRIP, book, tmp / "copy.xlsx"), sn(book, tmp / "out100k.xlsx"),
                                       args.repeat)
            compare("100,000-row .xlsx", ours, floor, "openpyxl read-only -> write-only", 0.5, 400)
        if "xlsx20k" in only:
            book = tmp / "serials20k.xlsx"
            make("book", book, 20_000)
            floor, ours = measure_pair(py(FULL_LOAD_SAVE, book, tmp / "copy20k.xlsx"),
                                       sn(book, tmp / "out20k.xlsx"), args.repeat)
            compare("20,000-row .xlsx", ours, floor, "openpyxl load_workbook + save", 0.5, None)
        if "csv" in only:
            src = tmp / "serials.csv"
            make("csv", src, 1_000_000)
            floor, ours = measure_pair(py(PANDAS, src, tmp / "plain.csv"), sn(src, tmp / "serials.results.csv"),
                                       args.repeat)
            compare("1,000,000-row CSV", ours, floor, "pandas read_csv + to_csv", 2, 600)
        if "small" in only:
            src = tmp / "small.csv"
            make("csv", src, 10)
            libraries, small = measure_pair([sys.executable, "-c", LIBRARIES], sn(src, tmp / "small.results.csv"),
                                            args.repeat)
            print(f"10-row CSV validate, launch to exit: wall {small['seconds']:.2f} s, CPU {small['cpu']:.2f} s, "
                  f"peak {small['peak_mb']:.0f} MB")
            print(f"  its libraries imported alone: wall {libraries['seconds']:.2f} s "
                  f"({libraries['seconds'] / small['seconds']:.0%} of it)")


if __name__ == "__main__":
    main()
