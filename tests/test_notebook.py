"""The notebook face: a job and a run result render themselves as HTML (and as a plain repr elsewhere), the sync API works inside a
running event loop, and samples/preview.ipynb executes top to bottom in a real
kernel (the venv's own python, through a private kernelspec)."""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import sys
from html import escape
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_csv

import sn_importer as sn
from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.notebook import MAX_ROWS, cell_text, result_html
from sn_importer.restore.records import from_frame
from sn_importer.restore.run import run_undo
from sn_importer.status import COLOURS

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HEADER = "Resource type,Resource ID,Serial ID,Serial number,Note\n"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Never touch the user's journal."""
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KATANA_API_KEY", raising=False)


# --------------------------------------------------------------------------- the HTML


def test_job_html_shows_counts_mapping_problems_and_plan():
    job = sn.read(SAMPLES / "serials.csv")
    html = job._repr_html_()
    assert html == result_html(job.validation())
    counts = job.counts()
    assert counts["invalid"] == 5
    assert ">Rows by status<" in html
    for status, count in counts.items():
        assert f"background: #{COLOURS[status]}\">{status}</td>" in html
        assert f">{count}</td>" in html
    assert "column &#x27;Serial number&#x27;" in html  # the mapping, escaped
    assert "Rows that need attention (5)" in html
    assert "Resource ID &#x27;abc&#x27; is not a whole number" in html
    assert "Plan: " in html and "ManufacturingOrder" in html
    assert "<style" not in html and "<script" not in html


def test_job_html_escapes_what_came_from_the_sheet(tmp_path):
    path = write_csv(tmp_path, HEADER + "MO,3001,1001,<b>x</b>,\n<script>alert(1)</script>,3001,1002,,\n",
                     name="<evil & co>.csv")
    html = sn.read(path)._repr_html_()
    assert "<script>" not in html and "<b>x</b>" not in html and "<evil" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;evil &amp; co&gt;.csv" in html


def test_missing_values_are_blank_cells():
    """The one conversion the notebook and the web page share."""
    import pandas as pd

    assert [cell_text(v) for v in (None, float("nan"), pd.NA, pd.NaT, "", 0, 3001, "x")] == \
        ["", "", "", "", "", "0", "3001", "x"]


def test_long_tables_are_cut_with_a_line_saying_how_much(tmp_path):
    bad = "".join(f"MO,x{n},{n + 1},,\n" for n in range(MAX_ROWS + 7))
    good = "".join(f"MO,{3000 + n},{n + 1},,\n" for n in range(MAX_ROWS + 3))
    html = sn.read(write_csv(tmp_path, HEADER + bad + good))._repr_html_()
    assert f"Rows that need attention ({MAX_ROWS + 7})" in html
    assert "… 7 more not shown" in html  # problems
    assert "… 3 more not shown" in html  # plan: one resource per good row
    assert html.count("is not a whole number") == MAX_ROWS


def test_html_after_preview_colours_planned_rows():
    job = sn.read(SAMPLES / "serials.csv")
    result = job.preview(sandbox=True)
    html = result._repr_html_()
    assert f"background: #{COLOURS['planned']}\">planned</td>" in html
    assert "not_on_resource" in html and "preview · " in html
    assert "planned" not in job._repr_html_(), "the job still shows its validation"


def test_invalid_rows_show_the_values_the_sheet_gave():
    """Not blanks where an id could not be used: the notebook and the page show what was written."""
    from sn_importer.web.present import NEEDS_FIX, rows_table

    job = sn.read(SAMPLES / "serials.csv")
    html = job._repr_html_()
    bad = job.rows[job.rows["message"].str.contains("'abc' is not a whole number")].index[0]
    assert job.rows.at[bad, "resource_id"] is pd.NA and job.rows.at[bad, "given_resource_id"] == "abc"
    assert ">abc</td>" in html and ">Invoice</td><td style" in html and ">1005</td>" in html
    table = {(r["resource_type"], r["resource_id"], r["serial_id"]) for r in rows_table(job, NEEDS_FIX)["rows"]}
    assert ("Manufacturing order", "abc", "1006") in table and ("Invoice", "3001", "1005") in table


def test_the_plan_after_a_preview_is_the_runs():
    result = sn.read(SAMPLES / "serials.csv").preview(sandbox=True)
    assert list(result.plan.columns) == ["resource_type", "resource_id", "serials", "requests", "planned"]
    assert result.plan["planned"].sum() == result.counts()["planned"] == 15
    html = result._repr_html_()
    assert "Plan after the preview: 15 of 17 serials on 9 of 9 resources would be detached, 9 DELETE requests" in html
    assert ">planned</th>" in html


def test_a_long_message_wraps_whole_in_its_cell():
    from sn_importer.notebook import MAX_CELL

    job = sn.read(SAMPLES / "serials.csv")
    html = job._repr_html_()
    message = next(m for m in job.rows["message"] if len(m) > MAX_CELL)
    assert f">{escape(message, quote=True)}</td>" in html  # every word of it, the advice at its end too
    cell = html[:html.index(f">{escape(message, quote=True)}</td>")].rsplit("<td", 1)[1]
    assert "white-space: normal" in cell and "max-width: 48em" in cell


def test_an_enormous_message_keeps_its_start_and_its_advice():
    from sn_importer.notebook import MAX_MESSAGE, shorten_middle, cut

    message = "serial_number '" + "9" * 5000 + "' is longer than 32 characters; shorten it"
    shown = shorten_middle(message, MAX_MESSAGE)
    assert len(shown) <= MAX_MESSAGE and shown.startswith("serial_number '999") and shown.endswith("; shorten it")
    assert cut("x" * 300, 10) == "x" * 9 + "…"  # other cells (a huge serial) are still cut, with a tooltip


def test_the_view_counts_the_rows_job_rows_holds(tmp_path):
    path = write_csv(tmp_path, HEADER + "MO,3001,1,,a\n,,,,\n\nMO,3001,abc,,b\n")
    job = sn.read(path)
    html = job._repr_html_()
    assert len(job.rows) == 4 and job.row_count == 2
    assert "4 rows (2 blank)" in html
    assert "(blank: no status)</td>" in html and html.count('text-align: right">2</td>') >= 1


def test_outside_jupyter_a_job_and_a_result_print_plainly():
    job = sn.read(SAMPLES / "serials.csv")
    assert repr(job) == ("<Job serials.csv: 23 rows (valid 17, invalid 5, duplicate 1), "
                         f"{job.plan_detail.resource_count} resources, template default>")
    assert repr(job.validation()) == ("<RunResult validate of serials.csv: 23 rows "
                                      "(valid 17, invalid 5, duplicate 1); exit code 1>")


def test_a_job_and_a_result_of_one_row_print_in_the_singular(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("resource_type,resource_id,serial_number\nMO,3001,SN-1\n")
    job = sn.read(path)
    assert repr(job) == "<Job one.csv: 1 row (valid 1), 1 resource, template default>"
    assert repr(job.validation()) == "<RunResult validate of one.csv: 1 row (valid 1); exit code 0>"
    record = dict.fromkeys(REMOVED_COLUMNS) | {"id": 1, "serial_number": "A", "resource_type": "Mystery",
                                                "resource_id": 1}
    undone = run_undo(from_frame(pd.DataFrame([record]), "x.results.xlsx"))  # nothing it can put back
    assert repr(undone).startswith("<UndoResult undo of x.results.xlsx: 1 removed record (cannot_restore 1);")


# --------------------------------------------------------------------------- event loops


def test_preview_works_inside_a_running_event_loop():
    """What Jupyter does: the sync API called from code running inside an event loop."""

    async def in_a_notebook_cell():
        asyncio.get_running_loop()  # there is one
        job = sn.read(SAMPLES / "serials.csv")
        return job, job.preview(sandbox=True)

    job, result = asyncio.run(in_a_notebook_cell())
    assert result.error is None
    assert result.rows is not job.rows
    assert (result.rows["status"] == "planned").sum() == 15  # the sample: 15 serials on their resources now
    assert result.requests["GET"] > 0


# --------------------------------------------------------------------------- the sample notebook


def _require(module: str):
    """Fail, not skip: CI must run the notebook (nbclient, nbformat, ipykernel are in the dev extra)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        pytest.fail(f"{module} is missing: install the dev extra (pip install -e \".[dev]\")")


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec that runs this very interpreter, found first through JUPYTER_PATH.

    A ``python3`` spec in the user's or the system's Jupyter folders may point at another
    python that lacks sn_importer; this one cannot. Runtime files and the IPython profile
    go to tmp_path too, so a fresh or read-only home is no obstacle.
    """
    _require("ipykernel")
    name = "sn-importer-tests"
    spec = tmp_path / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sn-importer tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return name


def _outputs(cell) -> str:
    text = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text.append("ERROR " + output["ename"] + ": " + output["evalue"])
        data = output.get("data", {})
        text.append(data.get("text/html", "") + data.get("text/plain", "") + output.get("text", ""))
    return "\n".join(text)


def test_sample_notebook_executes_top_to_bottom(tmp_path, venv_kernel):
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    work = tmp_path / "samples"
    work.mkdir()
    shutil.copy(SAMPLES / "serials.xlsx", work)
    notebook = nbformat.read(SAMPLES / "preview.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it with outputs cleared"

    nbclient.NotebookClient(notebook, kernel_name=venv_kernel, timeout=120,
                            resources={"metadata": {"path": str(work)}}).execute()

    code = [c for c in notebook.cells if c.cell_type == "code"]
    shown = [_outputs(c) for c in code]
    assert not any("ERROR" in s for s in shown), shown
    read_html = next(s for s in shown if "Rows by status" in s)
    assert "validate · " in read_html and "Rows that need attention" in read_html
    assert "is not a whole number" in read_html and ">invalid</td>" in read_html
    job = sn.read(work / "serials.xlsx")
    longest = max(job.rows["message"], key=len)
    assert len(longest) > 160 and escape(longest, quote=True) in read_html  # wrapped whole, never cut
    assert f"{len(job.rows)} rows" in read_html  # the rows job.rows holds
    counts = next(s for s in shown if "'planned'" in s)
    assert "'not_on_resource'" in counts
    preview_html = [s for s in shown if "Rows by status" in s][-1]
    assert "preview · " in preview_html and ">planned</td>" in preview_html
    assert (work / "serials.preview.results.xlsx").is_file()
