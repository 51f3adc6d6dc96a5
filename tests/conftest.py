"""The shared fixtures of the suite.

Helpers are plain functions so tests can call them directly; they build real
files in ``tmp_path`` and read outputs back with openpyxl, never through the
code under test. The command line runs in-process (:func:`run_cli`, typer's
CliRunner); :func:`run_installed` starts the installed command in a process
of its own, for the few tests that need a real process (kill, signals, the
entry point itself).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from openpyxl import Workbook, load_workbook

HEADER = ["resource_type", "resource_id", "serial_id", "serial_number"]
#: Client options for tests: quick backoff, a few tries.
FAST = {"backoff": (0.01, 0.05), "max_retries": 4}


@pytest.fixture
def state(tmp_path) -> Path:
    """A journal folder of the test's own (never the user's state directory)."""
    return tmp_path / "state"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it is true (returned) or ``timeout`` passes (AssertionError):
    waiting on a condition, never for a guessed time."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "serials.csv") -> Path:
    """Write ``text`` as a CSV file in ``encoding`` (newlines kept as given)."""
    path = Path(tmp_path) / name
    path.write_bytes(text.encode(encoding))
    return path


def write_ods(target: Path, sheets: dict[str, list[list]]) -> None:
    """A minimal OpenDocument spreadsheet of these sheets' cells (written by hand: no converter needed)."""

    def cell(v):
        if isinstance(v, int):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'

    tables = "".join(f'<table:table table:name="{name}">' + "".join(
        "<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows) + "</table:table>"
        for name, rows in sheets.items())
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               f'<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)


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


#: The environment every command-line run starts from: wide, plain output and no key.
CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def run_cli(*args, cwd: Path | None = None, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the ``sn-importer`` command in this process (typer's CliRunner), as a user would type it.

    ``cwd`` is the folder it runs in (a ``.env`` there is read), ``env`` is
    added to an environment without any ``KATANA_*`` variable. Returns what a
    subprocess would (``returncode``, ``stdout``, ``stderr``); an exception
    that the command did not turn into an exit code is raised here, so a
    traceback is never mistaken for a clean exit. ``timeout`` is accepted for
    the subprocess form and unused.
    """
    from typer.testing import CliRunner

    from sn_importer.cli import app

    environ = {**{k: None for k in os.environ if k.startswith("KATANA_")}, **CLI_ENV, **(env or {})}
    previous = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [str(a) for a in args], env=environ, prog_name="sn-importer")
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["sn-importer", *map(str, args)], result.exit_code, result.stdout,
                                       result.stderr)


def run_installed(*args, cwd: Path | None = None, env: dict | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``sn-importer`` command in a process of its own (the real entry point)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")} | CLI_ENV
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
