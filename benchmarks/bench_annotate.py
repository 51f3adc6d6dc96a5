"""Benchmark of writing the annotated workbook (not a test).

Generates, in a temporary folder, a workbook as Excel saves one (shared
strings, a styled header, column widths, 5 columns: resource type, resource
id, serial number, a date, a note on every seventh row) and times, each in a
fresh child process:

1. **floor**: a plain openpyxl round trip of the same file: ``load_workbook(read_only=True)``,
   every row appended to a ``Workbook(write_only=True)``, saved;
2. **annotate**: ``job.write(out.xlsx)`` of a job read beforehand (the read is
   not timed): the user's package copied part by part, its data sheet streamed
   with the result cells appended, the Summary added (``report/patch.py``);
3. **rebuild**: the same write forced through the XlsxWriter rebuild from
   values (what .xlsb, CSV written as .xlsx, and a package that cannot be
   patched get).

With ``--sweep`` it repeats 1 and 2 over several sizes (time and peak memory
as the cells grow). With ``--pictures MB`` it also times 2 on the same
workbook holding a picture of that many megabytes (random pixels: compressed
already, as photographs and scans are), which the write copies as it is stored. Each figure is the best of ``--repeat`` children by CPU time
(the machine is shared, so CPU time is steadier than wall time; both are
printed, each with its ratio to the round trip). Peak memory is the child's
``ru_maxrss``.

    python benchmarks/bench_annotate.py [--rows 100000] [--repeat 3] [--sweep 25000,100000,300000] [--pictures 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

COLUMNS = ["Resource type", "Resource ID", "Serial number", "Received", "Note"]


def picture(megabytes: float) -> bytes:
    """A PNG of random pixels, about ``megabytes`` big (its pixels stored: random data does not deflate)."""
    import os
    import struct
    import zlib

    side = max(1, int((megabytes * 1e6 / 3) ** 0.5))
    pixels = b"".join(b"\0" + os.urandom(3 * side) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 0)) \
        + chunk(b"IEND", b"")


def write_book(path: Path, rows: int, pictures: float = 0) -> None:
    """Shared strings and a little formatting, as Excel or LibreOffice would save it."""
    import io

    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as book:
        ws = book.add_worksheet("Serials")
        if pictures:
            ws.insert_image("H2", "photo.png", {"image_data": io.BytesIO(picture(pictures))})
        header = book.add_format({"bold": True, "bg_color": "#305496", "font_color": "#FFFFFF"})
        day = book.add_format({"num_format": "dd.mm.yyyy"})
        ws.write_row(0, 0, COLUMNS, header)
        ws.set_column(0, 0, 22)
        ws.set_column(2, 2, 18)
        ws.freeze_panes(1, 0)
        start = datetime(2026, 1, 1)
        types = ["Manufacturing order", "MO", "Sales order row", "PO row"]
        for r in range(rows):
            ws.write_string(r + 1, 0, types[(r // 20) % 4])
            ws.write_number(r + 1, 1, 3000 + r // 20)
            ws.write_string(r + 1, 2, f"KNF{r + 1:09d}")
            ws.write_datetime(r + 1, 3, start + timedelta(days=r % 300), day)
            if r % 7 == 0:
                ws.write_string(r + 1, 4, "checked by ops")


def task_floor(src: str, out: str) -> dict:
    from openpyxl import Workbook, load_workbook

    start, cpu = time.perf_counter(), time.process_time()
    book = load_workbook(src, read_only=True)
    copy = Workbook(write_only=True)
    for ws in book.worksheets:
        target = copy.create_sheet(ws.title)
        for row in ws.iter_rows(values_only=True):
            target.append(row)
    copy.save(out)
    book.close()
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def task_annotate(src: str, out: str, rebuild: bool = False) -> dict:
    import sn_importer

    job = sn_importer.read(src)
    if rebuild:  # what an .xlsx whose package cannot be patched gets
        job.source.package = None
    start, cpu = time.perf_counter(), time.process_time()
    job.write(out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    cells = sum(s.cells for s in sn_importer.read(src).source.package.scans.values())
    return {"seconds": seconds, "cpu": cpu, "cells": cells}


TASKS = {"floor": task_floor, "annotate": task_annotate, "rebuild": lambda s, o: task_annotate(s, o, True)}


def child(task: str, src: str, out: str) -> None:
    result = TASKS[task](src, out)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(result))


def measure(task: str, src: Path, out: Path, repeat: int) -> dict:
    """Best of ``repeat`` fresh children by CPU time (the least disturbed by other work)."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, __file__, "--child", task, str(src), str(out)],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["cpu"])


def make(path: Path, rows: int, pictures: float = 0) -> None:
    """In a child, so the parent's memory never counts in a measured child's peak."""
    subprocess.run([sys.executable, __file__, "--make", str(path), str(rows), str(pictures)], check=True)


def compare(tmp: Path, rows: int, repeat: int, with_rebuild: bool, pictures: float = 0) -> None:
    src = tmp / f"serials-{rows}.xlsx"
    make(src, rows)
    floor = measure("floor", src, tmp / "floor.xlsx", repeat)
    ours = measure("annotate", src, tmp / "annotated.xlsx", repeat)
    print(f"{rows:>9,} rows ({ours['cells']:,} cells, {src.stat().st_size / 1e6:.1f} MB)")
    show("openpyxl read-only + write-only round trip", floor, floor)
    show("annotate in place (job.write)", ours, floor)
    if with_rebuild:
        show("rebuild from values (job.write, forced)", measure("rebuild", src, tmp / "rebuilt.xlsx", repeat), floor)
    if pictures:
        pictured = tmp / f"serials-{rows}-pictured.xlsx"
        make(pictured, rows, pictures)
        show(f"annotate in place, with a {pictures:g} MB picture", measure("annotate", pictured, tmp / "p.xlsx",
                                                                            repeat), floor)


def show(label: str, run: dict, floor: dict) -> None:
    print(f"  {label:<42}: CPU {run['cpu']:6.2f} s ({run['cpu'] / floor['cpu']:.2f} x)"
          f"  wall {run['seconds']:6.2f} s ({run['seconds'] / floor['seconds']:.2f} x)  peak {run['maxrss_mb']:5.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sweep", default="", help="comma-separated row counts to compare as well")
    parser.add_argument("--child", nargs=3, metavar=("TASK", "SRC", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--pictures", type=float, default=0, help="also time a workbook holding a picture of MB")
    parser.add_argument("--make", nargs="+", metavar="PATH ROWS [MB]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.make:
        write_book(Path(args.make[0]), int(args.make[1]), float(args.make[2]) if len(args.make) > 2 else 0)
        return
    with tempfile.TemporaryDirectory(prefix="sn-bench-annotate-") as tmp:
        compare(Path(tmp), args.rows, args.repeat, with_rebuild=True, pictures=args.pictures)
        for rows in [int(n) for n in args.sweep.split(",") if n]:
            compare(Path(tmp), rows, args.repeat, with_rebuild=False)


if __name__ == "__main__":
    main()
