"""Hostile files: every front end gives a one-line refusal or a correct read.

The corpus (tests/hostile_files.py) is generated once per session: a 1.1 GB
zip bomb in 3 MB, a far sparse cell at XFD1048576, a lying dimension, a 50 MB
line, a 140 KB cell, 20,000 columns, billion laughs, an external entity, a
real password-protected workbook and a truncated zip.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import hostile_files as hostile
import sn_importer as sn
from sn_importer import guard
from sn_importer.cli import app
from sn_importer.watch import watch

REFUSED = [name for name, (_, _, want) in hostile.CORPUS.items() if want == "refused"]
READ = [name for name, (_, _, want) in hostile.CORPUS.items() if want == "read"]

#: What each refusal must say besides the file's name: the limit or the problem, in words.
SAYS = {
    "zip bomb": "inflates to 1.1 GB (limit 500 MB)",
    "zip bomb, lying directory": "inflates to more than its directory says",
    "50 MB line": "line 2 is 52 MB long (limit 4 MB per line)",
    "20,000 columns (CSV)": "20,000 columns (limit 16,384",
    "20,000 columns (xlsx)": "beyond Excel's own limit of 1,048,576 rows × 16,384 columns",
    "billion laughs": "declares XML entities",
    "external entity": "declares XML entities",
    "encrypted workbook": "password-protected",
    "truncated zip": "damaged or incomplete",
    "far cell in an .ods": "reaches row 1,048,573, column 16,384 but holds only 7 cells",
    "repeated cells in an .ods": "holds more than 20,000,000 cells (limit)",
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {name: maker(folder / filename) for name, (maker, filename, _) in hostile.CORPUS.items()}


def refusal(path: Path) -> str:
    with pytest.raises(sn.InputError) as caught:
        sn.read(path)
    return str(caught.value)


# --------------------------------------------------------------------------- the library (and the notebook face)


@pytest.mark.parametrize("name", REFUSED)
def test_library_refuses_in_one_sentence(corpus, name):
    message = refusal(corpus[name])
    assert message.startswith(str(corpus[name]) + ": ")
    assert SAYS[name] in message
    assert "\n" not in message and "Traceback" not in message


def test_far_sparse_cell_is_read_at_the_cost_of_its_cells(corpus):
    job = sn.read(corpus["far sparse cell XFD1048576"])
    assert job.rows["status"].tolist() == ["valid"] * 3
    assert job.rows["row"].tolist() == [2, 3, 4]
    assert job.rows["serial_number"].tolist() == ["SN-1", "SN-2", "SN-3"]
    assert any("reaches XFD1048576 but holds only" in note for note in job.notes)


def test_a_plain_ods_is_read(corpus):
    assert sn.read(corpus["plain .ods"]).counts() == {"valid": 1}


def test_a_lying_dimension_is_a_note_not_a_cost(corpus):
    job = sn.read(corpus["dimension lie"])
    assert job.counts() == {"valid": 3}
    assert ("Sheet 'Orders' declares 1,048,576 rows × 16,384 columns but its cells reach only C4; "
            "reading those.") in job.notes


def test_a_cell_longer_than_excel_allows_makes_its_row_invalid(corpus):
    job = sn.read(corpus["140 KB cell"])
    assert job.rows["status"].tolist() == ["valid", "invalid", "valid"]
    assert job.rows.loc[1, "message"] == "note: 140,000 characters, more than Excel's 32,767 per cell; shorten it"


def test_a_gap_keeps_true_row_numbers(tmp_path):
    """Rows after a far gap keep their sheet row numbers when the sheet is read cell by cell."""
    body = hostile.rows_xml([hostile.HEADER, *hostile.ROWS]) + \
        '<row r="900000">' + hostile.cell("A900000", "ManufacturingOrder") + hostile.cell("B900000", 3001) + \
        hostile.cell("C900000", "SN-far") + hostile.cell("XFD900000", "stray") + "</row>"
    path = hostile.write_book(tmp_path / "gap.xlsx", hostile.sheet_xml(body, "A1:XFD900000"))
    job = sn.read(path)
    assert job.rows["row"].tolist() == [2, 3, 4, 900000]
    assert job.rows["serial_number"].tolist()[-1] == "SN-far"
    assert job.counts() == {"valid": 4}


def test_the_results_of_a_sheet_with_a_gap_land_on_their_own_rows(tmp_path):
    body = hostile.rows_xml([hostile.HEADER, *hostile.ROWS]) + \
        '<row r="9000">' + hostile.cell("A9000", "ManufacturingOrder") + hostile.cell("B9000", 3001) + \
        hostile.cell("C9000", "SN-far") + "</row>" + f'<row r="1048576">{hostile.cell("Z1048576", "stray")}</row>'
    path = hostile.write_book(tmp_path / "gap.xlsx", hostile.sheet_xml(body, "A1:Z1048576"))
    out = sn.read(path).write(tmp_path / "gap.results.xlsx")
    ws = load_workbook(out)["Orders"]
    status = [c.value for c in ws[1]].index("status") + 1
    assert [ws.cell(r, status).value for r in (2, 3, 4, 9000)] == ["valid"] * 4
    assert ws["Z1048576"].value == "stray"


def test_a_small_far_cell_is_still_read_by_calamine(tmp_path):
    """A rectangle under the limit stays on the fast path (same rows as the sparse path)."""
    path = hostile.far_cell(tmp_path / "near.xlsx", "C40")
    job = sn.read(path)
    assert job.counts() == {"valid": 3, "invalid": 1}
    assert job.rows["row"].tolist()[-1] == 40 and not job.notes


def test_limits_are_set_in_one_place_and_can_be_tightened(tmp_path):
    from sn_importer.reader import read_file
    from sn_importer.template import load_template

    path = hostile.plain(tmp_path / "ok.xlsx")
    tight = guard.Limits(inflated_bytes=1_000)
    with pytest.raises(sn.InputError, match=r"inflates to (more than its limit of )?\d"):
        read_file(path, load_template(None), tight)
    assert read_file(path, load_template(None)).row_count == 3


def test_a_csv_with_old_mac_line_breaks_is_not_one_long_line(tmp_path):
    text = "resource_type,resource_id,serial_number\r" + "MO,3001,SN-{}\r" * 1
    path = tmp_path / "mac.csv"
    path.write_bytes((text.format(1)).encode())
    assert guard.check_text(path, path.read_bytes()) < 100


@pytest.mark.parametrize("cells, expected", [
    ('<c r="C7" s="1"><v>1</v></c>', (7, 3)),
    ('<c s="1" r="AB12" t="s"><v>1</v></c>', (12, 28)),
    ('<x:c r="XFD1048576"><x:v>1</x:v></x:c>', (1048576, 16384)),
])
def test_scan_finds_the_reach_whatever_the_attribute_order(cells, expected):
    from sn_importer.sheetscan import SheetScan, scan_chunks

    scan = SheetScan()
    xml = f'<worksheet><dimension ref="A1:B2"/><sheetData><row r="1">{cells}</row></sheetData></worksheet>'
    scan_chunks([xml[:40].encode(), xml[40:].encode()], scan)
    assert (scan.rows, scan.columns) == expected and scan.declared == (2, 2) and scan.cells == 1


def test_scan_counts_cells_and_formulas_as_bytes_count_does():
    """The scan counts tags on the positions of "<" and ":" (numpy); random texts from the tags'
    own bytes, cut anywhere, count as ``bytes.count`` of each spelling would."""
    import random

    from sn_importer.sheetscan import SheetScan, scan_chunks

    pieces = [b"<c ", b"<c>", b"<c/>", b"<c", b"<f>", b"<f ", b"<f", b":c ", b":f>", b":f ", b":c", b"<x:c ",
              b"<col ", b"</c>", b"/>", b">", b"<", b":", b"c", b"f", b" ", b'r="A1"', b"<v>1</v>"]
    spellings = ([b"<c ", b"<c>", b"<c/>", b":c "], [b"<f>", b"<f ", b":f>", b":f "])
    rng = random.Random(7)
    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))
        data = data[: data.rfind(b">") + 1]  # the scan reads up to a chunk's last ">"
        cut = rng.randrange(0, len(data) + 1)  # anywhere: the scan carries what follows a chunk's last ">"
        scan = SheetScan()
        scan_chunks([data[:cut], data[cut:]], scan)
        assert (scan.cells, scan.formulas) == tuple(sum(data.count(s) for s in group) for group in spellings), data


# --------------------------------------------------------------------------- the command line


def invoke(*args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300", "NO_COLOR": "1"})


@pytest.mark.parametrize("name", REFUSED)
def test_validate_refuses_with_one_line_and_exit_2(corpus, name):
    result = invoke("validate", corpus[name], "--output", corpus[name].with_suffix(".out.csv"))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and SAYS[name] in lines[0] and corpus[name].name in lines[0], result.stderr


@pytest.mark.parametrize("command", ["preview", "apply"])
def test_preview_and_apply_refuse_before_contacting_katana(corpus, tmp_path, command):
    state = ["--state-dir", tmp_path] if command == "apply" else []
    result = invoke(command, corpus["zip bomb"], "--base-url", "http://127.0.0.1:9", *state, "--json")
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 2 and SAYS["zip bomb"] in summary["error"]
    assert summary["requests"]["GET"] == 0


def test_validate_reads_the_far_cell_and_writes_every_row(corpus, tmp_path):
    source = tmp_path / "far.xlsx"
    shutil.copy(corpus["far sparse cell XFD1048576"], source)
    result = invoke("validate", source)
    assert result.exit_code == 0, result.output
    book = load_workbook(tmp_path / "far.results.xlsx", read_only=True)
    rows = list(book["Orders"].iter_rows(values_only=True))
    assert [r[3] for r in rows[1:]] == ["valid"] * 3
    book.close()


# --------------------------------------------------------------------------- the drop folder


def test_watch_files_refused_inputs_in_failed_with_the_sentence(corpus, tmp_path):
    root = tmp_path / "drops"
    (root / "inbox").mkdir(parents=True)
    for name in ("zip bomb", "billion laughs", "far sparse cell XFD1048576"):
        shutil.copy(corpus[name], root / "inbox" / corpus[name].name)
    code = watch(root, mode="validate", settle=0, state_dir=tmp_path / "state", log=lambda line: None)
    assert code == 2
    bomb = json.loads((root / "failed" / "bomb.summary.json").read_text())
    assert SAYS["zip bomb"] in bomb["error"] and bomb["exit_code"] == 2
    laughs = json.loads((root / "failed" / "laughs.summary.json").read_text())
    assert SAYS["billion laughs"] in laughs["error"]
    assert (root / "failed" / "bomb.xlsx").is_file()
    assert json.loads((root / "done" / "far.summary.json").read_text())["statuses"] == {"valid": 3}


# --------------------------------------------------------------------------- the web page


@pytest.fixture
def page(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from sn_importer.sandbox import running_sandbox
    from sn_importer.web import WebSettings, create_app

    with running_sandbox(api_key="k", rate_limit=(100_000, 60.0)) as sandbox:
        settings = WebSettings(base_url=sandbox.base_url, api_key="k", state_dir=tmp_path / "state", sandbox=True)
        app = create_app(settings)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            client.get(f"/login?token={app.state.server.logins.token}")  # the page's one-time link
            yield client


def upload(client, path: Path):
    with path.open("rb") as handle:
        return client.post("/upload", data={"csrf": client.cookies["sn_csrf"], "template": "default"},
                           files={"file": (path.name, handle)}, follow_redirects=False)


def page_text(answer) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", answer.text))


@pytest.mark.parametrize("name", ["zip bomb", "zip bomb, lying directory", "billion laughs", "encrypted workbook",
                                  "20,000 columns (xlsx)", "truncated zip", "20,000 columns (CSV)",
                                  "far cell in an .ods"])
def test_the_page_shows_the_same_sentence_and_serves_the_next_request(corpus, page, name):
    answer = upload(page, corpus[name])
    assert answer.status_code == 400
    shown = " ".join(page_text(answer).split())
    sentence = refusal(corpus[name]).split(": ", 1)[1]
    assert f"“{corpus[name].name}”: {sentence}" in shown
    assert page.get("/").status_code == 200


@pytest.mark.parametrize("name", ["far sparse cell XFD1048576", "plain .ods"])
def test_the_page_reads_what_the_command_line_reads(corpus, page, name):
    answer = upload(page, corpus[name])
    assert answer.status_code == 303 and answer.headers["location"].startswith("/runs/")


def test_a_worker_out_of_memory_is_one_refusal_and_the_server_goes_on(page, monkeypatch, tmp_path):
    medium = tmp_path / "medium.csv"
    medium.write_text("resource_type,resource_id,serial_number\n" +
                      "".join(f"MO,{3000 + n // 20},SN-{n:08d}\n" for n in range(200_000)))
    monkeypatch.setattr(guard, "LIMITS", guard.Limits(worker_memory_bytes=50_000_000))
    answer = upload(page, medium)
    assert answer.status_code == 400
    assert "“medium.csv” needed more than 50 MB of memory and was stopped" in " ".join(page_text(answer).split())
    assert page.get("/").status_code == 200
    monkeypatch.undo()
    assert upload(page, hostile.plain(tmp_path / "fine.xlsx")).status_code == 303


def test_the_fast_reach_agrees_with_the_general_pattern():
    """The vectorised reading of ``<c r="AB12"`` references gives the cells, the highest column and the
    highest row the general pattern finds, for random references (1 to 5 letters, rows of 1 to 9
    digits, some with leading zeros, some malformed)."""
    import random

    import numpy as np

    from sn_importer.sheetscan import _REF, _fast_reach
    from sn_importer.xlsx import column_number

    rng = random.Random(5)
    letters = "ABCXYZ"
    for _ in range(400):
        cells = []
        for _ in range(rng.randrange(1, 30)):
            column = "".join(rng.choice(letters) for _ in range(rng.choice([1, 1, 2, 3, 4, 5])))
            row = str(rng.randrange(1, 10 ** rng.randrange(1, 9)))
            if rng.random() < 0.05:
                row = "0" + row
            if rng.random() < 0.05:
                row = ""  # malformed: no row
            cells.append(f'<c r="{column}{row}" s="1"><v>1</v></c>')
        data = ("<row>" + "".join(cells) + "</row>" + " " * 20).encode()
        raw = np.frombuffer(data, dtype=np.uint8)
        # the window reads 12 bytes of reference (Excel's longest: XFD1048576); longer ones are left to the
        # general pattern, which the scan runs whenever the fast reading finds fewer cells than there are
        refs = [(a, b) for a, b in _REF.findall(data) if len(a) <= 4 and len(a) + len(b) <= 12]
        expected = (len(refs), max((column_number(a) for a, _ in refs), default=0),
                    max((int(b) for _, b in refs), default=0))
        assert _fast_reach(raw, np.flatnonzero(raw == 60)) == expected, data
