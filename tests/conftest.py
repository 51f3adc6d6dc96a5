"""Small shared fixtures for the offline (validate) test set.

Helpers are plain functions so tests can call them directly; they build real
files in ``tmp_path`` and read outputs back with openpyxl, never through the
code under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

HEADER = ["resource_type", "resource_id", "serial_id", "serial_number"]


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "serials.csv") -> Path:
    """Write ``text`` as a CSV file in ``encoding`` (newlines kept as given)."""
    path = Path(tmp_path) / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, sheets: dict, name: str = "serials.xlsx", hidden=(), text_cells=()) -> Path:
    """Write a workbook: ``sheets`` is {sheet name: [rows]}; ``hidden`` names hidden sheets;
    ``text_cells`` is [(sheet, "D2"), ...] cells given the Text number format ("@").
    Strings starting with "=" are stored as text cells, not formulas."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(list(row))
        for cells in ws.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text that looks like a formula, as staff type it with a leading '
        if title in hidden:
            ws.sheet_state = "hidden"
    for title, ref in text_cells:
        book[title][ref].number_format = "@"
    path = Path(tmp_path) / name
    book.save(path)
    return path


def read_back(path: Path) -> dict[str, list[list]]:
    """An output workbook as {sheet: [rows of cell values]} (trailing empty cells kept)."""
    book = load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def sheet_dicts(rows: list[list], header_index: int = 0) -> list[dict]:
    """Rows under a header as dicts (for readable assertions)."""
    header = rows[header_index]
    return [dict(zip(header, r)) for r in rows[header_index + 1:]]


def _command() -> list[str]:
    found = shutil.which("sn-importer") or str(Path(sys.executable).with_name("sn-importer"))
    return [found]


def run_cli(*args, cwd: Path | None = None, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``sn-importer`` command; returns the completed process (text)."""
    full_env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    full_env.pop("KATANA_API_KEY", None)
    if env:
        full_env.update(env)
    return subprocess.run([*_command(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def workbook_statuses(source, sheets) -> dict[str, int]:
    """Rows per status in the named sheets of an output workbook (a path or a file object)."""
    book = load_workbook(source)
    counts: dict[str, int] = {}
    for name in sheets:
        rows = list(book[name].iter_rows(values_only=True))
        header_at = next(i for i, r in enumerate(rows) if "status" in r)
        column = rows[header_at].index("status")
        for row in rows[header_at + 1:]:
            if row[column]:
                counts[row[column]] = counts.get(row[column], 0) + 1
    return counts
