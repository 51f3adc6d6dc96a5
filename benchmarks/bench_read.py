"""Benchmark of reading alone (not a test): ``sn_importer.read()`` on bench_validate.py's files.

``read`` is guard + reader + validation + plan, the part every front end
shares; the annotated output is left out. With ``--against DIR`` (a checkout of
an earlier commit, e.g. ``git archive <commit> | tar -x -C DIR``) the same
measurement runs for that tree too, alternating the two so both see the same
load on a shared machine. Best of ``--repeat`` fresh child processes each.

    python benchmarks/bench_read.py [--against /tmp/old] [--repeat 3]
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


def child(path: str) -> None:
    import sn_importer
    import sn_importer.job  # noqa: F401  imports are not the file's cost

    start = time.perf_counter()
    job = sn_importer.read(path)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": len(job.rows), "where": sn_importer.__file__,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run(path: Path, tree: str | None) -> dict:
    env = dict(os.environ)
    script = __file__
    if tree:
        env["PYTHONPATH"] = tree
        script = str(Path(tree) / "benchmarks" / "bench_read.py")
        if not Path(script).is_file():  # an older tree without this script: run ours against its package
            script = __file__
    proc = subprocess.run([sys.executable, script, "--child", str(path)], capture_output=True, text=True,
                          check=True, env=env, cwd=tree or None)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="an earlier tree to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    trees = [None] + ([args.against] if args.against else [])
    with tempfile.TemporaryDirectory(prefix="sn-read-") as tmp:
        for kind, rows in (("csv", 1_000_000), ("xlsx", 100_000)):
            path = Path(tmp) / f"serials.{kind}"
            subprocess.run([sys.executable, str(HERE / "bench_validate.py"), "--make", kind, str(path), str(rows)],
                           check=True)
            best: dict = {}
            for _ in range(args.repeat):
                for tree in trees:
                    result = run(path, tree)
                    if tree not in best or result["seconds"] < best[tree]["seconds"]:
                        best[tree] = result
            for tree in trees:
                label = "this tree" if tree is None else f"against {tree}"
                print(f"read {rows:>9,}-row {kind:4} ({label:22}): {best[tree]['seconds']:6.2f} s  "
                      f"peak RSS {best[tree]['peak_mb']:5.0f} MB  ({best[tree]['where']})")


if __name__ == "__main__":
    main()
