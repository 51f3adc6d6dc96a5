"""Benchmark of the input guard on the hostile corpus (not a test).

Generates the corpus of tests/hostile_files.py (a 1.1 GB zip bomb in 3 MB, a
far sparse cell at XFD1048576 and at Z1048576, a lying dimension, a 50 MB
line, a 140 KB cell, 20,000 columns, billion laughs, an external entity, a
password-protected workbook, a truncated zip) and reads each file in a fresh
child process, the way every front end reads it (``sn_importer.read``: guard,
reader, validation, plan). Prints per file: the outcome (refused / read),
wall time, and peak memory (``ru_maxrss`` of the child: interpreter and
libraries included). Targets: each within 10 s and 500 MB. Then, on the
legitimate files of bench_validate.py (1M-row CSV, 100k-row xlsx), what the
guard alone costs of the whole read (best of three each).

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
    import sn_importer.job  # noqa: F401  the library loads lazily: imports are not the file's cost

    start = time.perf_counter()
    try:
        job = sn_importer.read(path)
        outcome = f"read: {job.counts()}"
    except sn_importer.InputError as exc:
        outcome = f"refused: {exc.problem}"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "outcome": outcome}))


def guard_share(kind: str, path: str) -> None:
    """In a child: the guard alone, then the whole read, on a big legitimate file (best of three each)."""
    from pathlib import Path as P

    import sn_importer
    import sn_importer.job  # noqa: F401
    from sn_importer import formats, guard

    source, fmt = P(path), formats.for_name(path)
    alone, whole = [], []
    for _ in range(3):
        start = time.perf_counter()
        if fmt.reader == "excel":
            guard.inspect_workbook(source, fmt)
        else:
            guard.check_text(source, source.read_bytes())
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        sn_importer.read(path)
        whole.append(time.perf_counter() - start)
    print(json.dumps({"guard": min(alone), "read": min(whole)}))


def baseline() -> float:
    """Peak RSS of a child that only imports the library (what every figure includes)."""
    code = ("import resource, sn_importer, sn_importer.job, python_calamine;"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--share":
        guard_share(sys.argv[2], sys.argv[3])
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
    shares()


def shares() -> None:
    """What the guard costs on the legitimate benchmark files of bench_validate.py (its generators)."""
    bench = ROOT / "benchmarks" / "bench_validate.py"
    with tempfile.TemporaryDirectory(prefix="sn-guard-") as tmp:
        for kind, rows, name in (("csv", 1_000_000, "serials.csv"), ("xlsx", 100_000, "serials.xlsx")):
            path = Path(tmp) / name
            subprocess.run([sys.executable, str(bench), "--make", kind, str(path), str(rows)], check=True)
            proc = subprocess.run([sys.executable, __file__, "--share", kind, str(path)], capture_output=True,
                                  text=True, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"guard on the {rows:,}-row {kind}: {result['guard']:.2f} s of a {result['read']:.2f} s read "
                  f"({100 * result['guard'] / result['read']:.0f} %)")


if __name__ == "__main__":
    main()
