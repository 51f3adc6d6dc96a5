"""The ``sn-importer`` command against the sandbox: crash and resume, the key never
leaking, one-line failures, the README's first command.

Runs are in-process (``run_cli``) except where a real process is the point:
an importer killed or interrupted mid-run (the sandbox, in this process,
outlives it), and the README's first command through the installed entry point.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import free_port, run_cli, run_installed, wait_for
from openpyxl import load_workbook
from sandbox_fixtures import serial

from sn_importer.sandbox import running_sandbox

ROOT = Path(__file__).resolve().parents[1]
COMMAND = shutil.which("sn-importer") or str(Path(sys.executable).with_name("sn-importer"))


def env(**extra) -> dict:
    out = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")}
    return out | extra


@pytest.fixture
def katana(tmp_path):
    """A sandbox in this process on a loopback port: its state outlives a killed importer process."""
    records = [serial(100 * r + n, f"R{r}-{n}", resource_id=r) for r in range(1, 9) for n in range(2)]
    with running_sandbox(records=records, rate_limit=(6, 1.0)) as server:
        yield server, records


def deletes(server) -> int:
    return server.store.stats()["requests"]["DELETE"]


def test_killed_apply_resumes_without_false_report(tmp_path, katana):
    server, records = katana
    path = tmp_path / "drop.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Resource type", "Resource ID", "Serial number"])
        writer.writerows(("MO", r["resource_id"], r["serial_number"]) for r in records)
    args = ["apply", path, "--base-url", server.base_url, "--state-dir", tmp_path / "state",
            "--json", "-o", tmp_path / "out.xlsx"]
    first = subprocess.Popen([COMMAND, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env(KATANA_API_KEY="sandbox"))
    wait_for(lambda: deletes(server) >= 2, what="the second DELETE")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "out.xlsx").exists()
    sent_before = deletes(server)
    assert 2 <= sent_before < 8, "the kill must land mid-run"

    second = run_cli(*args, env={"KATANA_API_KEY": "sandbox"})
    result = json.loads(second.stdout)
    assert result["statuses"] == {"deleted": 16}, second.stderr
    assert second.returncode == 0
    assert deletes(server) == 8, "finished resources are not sent again"
    assert server.store.records == []
    book = load_workbook(tmp_path / "out.xlsx")
    assert [r[3] for r in book["drop"].iter_rows(min_row=2, values_only=True)] == ["deleted"] * 16


def test_key_never_appears_in_any_output(tmp_path):
    key = "Sup3r-Secret-Key-4242"
    path = tmp_path / "in.csv"
    path.write_text("resource_type,resource_id,serial_id\nMO,1,1\nMO,1,2\n")
    state = tmp_path / "state"
    with running_sandbox(records=[serial(1, "A", resource_id=1)], api_key=key) as server:
        runs = [run_cli("apply", path, "--base-url", server.base_url, "--state-dir", state, "--json",
                        "-o", tmp_path / f"out.{ext}", env={"KATANA_API_KEY": key})
                for ext in ("xlsx", "csv")]
        wrong = run_cli("preview", path, "--base-url", server.base_url, env={"KATANA_API_KEY": key + "x"})
    assert json.loads(runs[0].stdout)["statuses"] == {"deleted": 1, "not_on_resource": 1}
    assert wrong.returncode == 2 and "check KATANA_API_KEY" in wrong.stderr
    texts = [r.stdout + r.stderr for r in runs + [wrong]]
    texts.append((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))
    with zipfile.ZipFile(tmp_path / "out.xlsx") as book:
        texts.extend(book.read(name).decode("utf-8", "replace") for name in book.namelist())
    texts.extend(p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file())
    assert any("journal" in p.name for p in state.rglob("*"))
    for text in texts:
        assert key not in text


def test_readme_first_command_on_the_sample(tmp_path):
    sample = tmp_path / "serials.xlsx"
    shutil.copy(ROOT / "samples" / "serials.xlsx", sample)
    before = sample.read_bytes()
    done = run_installed("apply", sample, "--sandbox", "--json", "--state-dir", tmp_path / "s", timeout=120)
    result = json.loads(done.stdout)
    assert result["statuses"] == {"deleted": 15, "invalid": 5, "not_on_resource": 2, "duplicate": 1}
    assert result["exit_code"] == done.returncode == 1
    assert result["requests"]["DELETE"] == 9 and result["requests"]["rate_limited"] == 0
    assert sample.read_bytes() == before, "the input is never modified"
    book = load_workbook(tmp_path / "serials.results.xlsx")
    assert book.sheetnames == ["Orders", "Sales and purchasing", "Old", "Instructions", "Summary", "Removed"]
    orders = list(book["Orders"].iter_rows(values_only=True))
    assert orders[0] == ("Serial numbers to detach — week 48",) + (None,) * 9
    assert orders[2][5:8] == ("status", "message", "serial_id")
    assert [r[5] for r in orders[3:]] == ["deleted", "deleted", "deleted", "deleted", "not_on_resource", "deleted",
                                          "deleted", "deleted", "deleted", "invalid", "invalid", "invalid", "invalid",
                                          "duplicate", None, "invalid"]
    assert book["Orders"]["F4"].fill.fgColor.rgb.endswith("C6EFCE")
    note = book["Orders"]["E10"]
    assert note.value == '=HYPERLINK("http://example.com")' and note.data_type == "s", "text, never a live formula"
    assert len(list(book["Removed"].iter_rows(min_row=2))) == 15


def test_ctrl_c_writes_a_truthful_report_and_the_rerun_finishes(tmp_path, katana):
    server, records = katana
    path = tmp_path / "drop.csv"
    path.write_text("resource_type,resource_id,serial_id\n"
                    + "".join(f"MO,{r['resource_id']},{r['id']}\n" for r in records))
    args = ["apply", path, "--base-url", server.base_url, "--state-dir", tmp_path / "state", "-o", tmp_path / "out.csv"]
    run = subprocess.Popen([COMMAND, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env(KATANA_API_KEY="sandbox"),
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(lambda: deletes(server) >= 2, what="the second DELETE")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 2, err
    assert "interrupted" in err
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    got = {r["status"] for r in rows}
    # the 8 resources are listed as one type: rows whose DELETE went out wait for the type's check after
    assert got & {"deleted", "unverified"} and got <= {"deleted", "unverified", "skipped"}
    assert all("interrupted" in r["message"] for r in rows if r["status"] != "deleted")
    rerun = run_cli(*args, "--json", env={"KATANA_API_KEY": "sandbox"})
    assert json.loads(rerun.stdout)["statuses"] == {"deleted": 16}


@pytest.mark.parametrize("args, words", [
    (["validate", "missing.csv"], "file not found"),
    (["validate", "in.csv", "--template", "nosuch"], "no template named 'nosuch'"),
    (["validate", "in.csv", "--output", "out.pdf"], "has the extension '.pdf'; name it .xlsx"),
    (["validate", "in.csv", "--output", "adir.xlsx"], "adir.xlsx"),
    (["preview", "in.csv", "--sandbox", "--base-url", "http://127.0.0.1:9/v1"], "do not go together"),
])
def test_early_failures_still_answer_json_and_one_line(tmp_path, args, words):
    (tmp_path / "in.csv").write_text("resource_type,resource_id,serial_id\nMO,1,1\n")
    (tmp_path / "adir.xlsx").mkdir()
    done = run_cli(*args, "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    result = json.loads(done.stdout)
    assert result["exit_code"] == 2 and words in result["error"]


def test_unusable_state_dir_is_one_line_and_the_output_is_still_written(tmp_path):
    (tmp_path / "in.csv").write_text("resource_type,resource_id,serial_id\nMO,1,1\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    done = run_cli("apply", "in.csv", "--sandbox", "--state-dir", blocker / "state", "--json", cwd=tmp_path)
    result = json.loads(done.stdout)
    assert done.returncode == result["exit_code"] == 2
    assert "journal" in result["error"] and result["statuses"] == {"skipped": 1}
    assert (tmp_path / "in.results.csv").exists()


@pytest.mark.parametrize("option, words", [
    (["--rate-limit", "x/1"], "is not N/SECONDS"),
    (["--fail-rate", "2"], "fail_rate must be between 0 and 1"),
    (["--seed", "missing.json"], "seed file not found"),
])
def test_sandbox_refuses_bad_options_in_one_line(tmp_path, option, words):
    done = run_cli("sandbox", "--port", free_port(), *option, cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_the_plan_counts_a_row_once_when_it_gives_an_id_and_an_order_number(tmp_path):
    (tmp_path / "both.csv").write_text("Resource type,Resource ID,Order no,Serial number\n"
                                       "MO,3001,MO-3001,A\nMO,,MO-3002,B\n")
    done = run_cli("validate", "both.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "Plan: 1 serial on 1 resource, 1 DELETE request." in said
    assert "and 1 row naming 1 resource by order number, to be looked up in Katana" in said
    assert ("1 row gives both a resource id and an order number: at preview and apply Katana is asked whether the "
            "two name the same resource.") in said
