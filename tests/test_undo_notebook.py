"""Undo in a notebook: samples/undo.ipynb executes top to bottom in a real kernel (apply, then
``result.undo()`` rendered as HTML, printed as one plain line, then ``sn.undo(path)``); and the undo
result works inside a running event loop, as Jupyter calls it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from test_notebook import _outputs, _require, venv_kernel  # noqa: F401  (a fixture)

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KATANA_API_KEY", raising=False)


def test_undo_notebook_executes_top_to_bottom(tmp_path, venv_kernel):  # noqa: F811
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    work = tmp_path / "samples"
    work.mkdir()
    shutil.copy(SAMPLES / "serials.xlsx", work)
    notebook = nbformat.read(SAMPLES / "undo.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it with outputs cleared"

    nbclient.NotebookClient(notebook, kernel_name=venv_kernel, timeout=120,
                            resources={"metadata": {"path": str(work)}}).execute()

    shown = [_outputs(c) for c in notebook.cells if c.cell_type == "code"]
    assert not any("ERROR" in s for s in shown), shown
    html = next(s for s in shown if "sn-importer-undo" in s)
    assert "undo · 15 removed records" in html and ">restored</td>" in html
    assert "Records that need attention (1)" in html and "onto a sales order fulfillment row through its API" in html
    plain = next(s for s in shown if s.startswith("<UndoResult"))
    assert plain.splitlines()[0] == ("<UndoResult undo of serials.xlsx: 15 removed records (restored 14, "
                                     "cannot_restore 1); exit code 1>")
    assert "{'already_there': 14, 'cannot_restore': 1}" in "".join(shown)
    assert (work / "serials.results.undo.xlsx").is_file()


def test_undo_works_inside_a_running_event_loop(tmp_path):
    path = tmp_path / "serials.csv"
    shutil.copy(SAMPLES / "serials.csv", path)

    async def in_a_notebook_cell(base_url):
        asyncio.get_running_loop()
        applied = sn.read(path).apply(base_url=base_url, api_key="sandbox")
        return applied.undo(api_key="sandbox", recheck=0)

    with running_sandbox(rate_limit=(1000, 1.0)) as server:
        undone = asyncio.run(in_a_notebook_cell(server.base_url))
    assert undone.error is None and undone.counts() == {"restored": 14, "cannot_restore": 1}
