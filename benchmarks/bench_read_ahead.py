"""What reading a workbook while the library loads saves (not a test).

A command's first second is Python loading pandas and pandera; the command
line starts ``workbook_cells.read_ahead`` for its workbook before that, so
the guard's inflating and calamine's parse run on the second core. This
script measures the mechanism in fresh processes, each doing what
``sn-importer validate`` does up to the end of the read, launches of the two
kinds interleaved one for one:

1. **after**: load the library (``sn_importer.job``, which brings pandas and
   pandera), then read the workbook (``reader.read_file``: the guard, calamine,
   the header and the sheet's frame; not validation);
2. **ahead**: start the read ahead, load the library, then read the workbook
   (which takes what the thread parsed).

Each line gives the best and the median wall time of ``--repeat`` launches,
from launch to the end of the read, and the median of the read itself (what
is left of it once the library is loaded). The workbook is bench_annotate.py's.

    python benchmarks/bench_read_ahead.py [--rows 20000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_workbook import CHILD_ENV

HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys, time
start = time.perf_counter()
path, ahead = sys.argv[1], sys.argv[2] == "ahead"
if ahead:
    from sn_importer.workbook_cells import read_ahead
    read_ahead(path)
import sn_importer.job  # what the command loads before it reads
from sn_importer.reader import read_file
from sn_importer.template import load_template
loaded = time.perf_counter()
source = read_file(path, load_template(None))
done = time.perf_counter()
assert sum(len(sheet.data) for sheet in source.sheets) > 0
print(json.dumps({"total": done - start, "read": done - loaded}))
"""


def launch(path: Path, kind: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), kind], capture_output=True, text=True,
                          check=True, env=CHILD_ENV)  # bytecode caches as installed, as bench_workbook.py
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {args.rows:,} rows, {args.repeat} launches of each, "
          "interleaved")
    with tempfile.TemporaryDirectory(prefix="sn-bench-ahead-") as tmp:
        book = Path(tmp) / "serials.xlsx"
        subprocess.run([sys.executable, str(HERE / "bench_annotate.py"), "--make", str(book), str(args.rows)],
                       check=True)
        launch(book, "after")  # unmeasured: bytecode and the file cached
        launch(book, "ahead")
        runs = {"after": [], "ahead": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(launch(book, kind))
    for kind, found in runs.items():
        totals = [r["total"] for r in found]
        reads = [r["read"] for r in found]
        print(f"  {kind:<6} to the end of the read: best {min(totals):.3f} s, median {statistics.median(totals):.3f} s;"
              f" the read once loaded: median {statistics.median(reads):.3f} s")
    best = min(r["total"] for r in runs["after"]) - min(r["total"] for r in runs["ahead"])
    median = statistics.median(r["total"] for r in runs["after"]) - statistics.median(
        r["total"] for r in runs["ahead"])
    print(f"  saved: {best:.3f} s (best), {median:.3f} s (median)")


if __name__ == "__main__":
    main()
