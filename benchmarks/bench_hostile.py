"""Benchmark of the input guard on the hostile corpus (not a test).

Generates the corpus of tests/hostile_files.py (a 1.1 GB zip bomb in 3 MB, a
far sparse cell at XFD1048576 and at Z1048576, a lying dimension, a 50 MB
line, a 140 KB cell, 20,000 columns, billion laughs, an external entity, a
password-protected workbook, a truncated zip) and reads each file in a fresh
child process, the way every front end reads it (``sn_importer.read``: guard,
reader, validation, plan). Prints per file: the outcome (refused / read),
wall time, and peak memory (``ru_maxrss`` of the child: interpreter and
libraries included). Targets: each within 10 s and 500 MB.

    python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def child(path: str) -> None:
    import sn_importer

    start = time.perf_counter()
    try:
        job = sn_importer.read(path)
        outcome = f"read: {job.counts()}"
    except sn_importer.InputError as exc:
        outcome = f"refused: {exc.problem}"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "outcome": outcome}))


def baseline() -> float:
    """Peak RSS of a child that only imports the library (what every figure includes)."""
    code = ("import resource, sn_importer, sn_importer.job, python_calamine;"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    import hostile_files as hostile

    print(f"peak RSS of importing the library alone: {baseline():.0f} MB")
    print(f"{'file':30} {'size':>10} {'time':>7} {'peak':>8}  outcome")
    worst_time = worst_peak = 0.0
    with tempfile.TemporaryDirectory(prefix="sn-hostile-") as tmp:
        for name, (maker, filename, _) in hostile.CORPUS.items():
            path = maker(Path(tmp) / filename)
            proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                                  timeout=120)
            if proc.returncode != 0:
                print(f"{name:30} CRASHED (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            worst_time, worst_peak = max(worst_time, result["seconds"]), max(worst_peak, result["peak_mb"])
            print(f"{name:30} {path.stat().st_size / 1e6:8.2f}MB {result['seconds']:6.2f}s {result['peak_mb']:6.0f}MB"
                  f"  {result['outcome'][:110]}")
    print(f"worst: {worst_time:.2f} s, {worst_peak:.0f} MB (targets: 10 s, 500 MB each)")


if __name__ == "__main__":
    main()
