"""An apply's results workbook, its invalid rows fixed, applied again (what its Summary advises).

The journal knows runs by their input file; the results workbook is another
file. It records the apply's run id and its input's content digest, so the
rows that apply detached are told as detached by it ("detached on … by run
…; still absent now"), not as serials never on their resource, on the same
Katana account and template only, and matched by resource and serial (staff
edit these files), never by place alone.
"""

from __future__ import annotations

from openpyxl import Workbook, load_workbook

from conftest import FAST
from sandbox_fixtures import serial as rec

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

HEADER = ["Resource type", "Resource ID", "Serial ID", "Serial number"]


def workbook(tmp_path):
    path = tmp_path / "serials.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    for row in (HEADER, ["MO", 3001, 1, None], ["MO", 3001, None, "B"], ["MO", 3001, "abc", None]):
        sheet.append(row)
    book.save(path)
    return path


def fixed(results, tmp_path):
    """The results workbook with its invalid row fixed, as a person does in Excel, and one row moved:
    the detached serials are found by what the rows name, not where they are."""
    book = load_workbook(results)
    sheet = book["Orders"]
    sheet["C4"] = 3
    first = [c.value for c in sheet[2]]
    for column, value in enumerate([c.value for c in sheet[3]], start=1):
        sheet.cell(2, column).value = value
    for column, value in enumerate(first, start=1):
        sheet.cell(3, column).value = value
    path = tmp_path / "serials.fixed.xlsx"
    book.save(path)
    return path


def statuses(result) -> list[str]:
    return result.rows["status"].tolist()


def test_the_fixed_results_of_an_apply_applied_again_say_what_that_apply_detached(tmp_path, state):
    with running_sandbox(records=[rec(1, "A"), rec(2, "B"), rec(3, "C")], api_key="key-a") as server:
        run = dict(base_url=server.base_url, api_key="key-a", state_dir=state, client_options=FAST)
        first = sn.read(workbook(tmp_path)).apply(**run)
        assert statuses(first) == ["deleted", "deleted", "invalid"]
        again_path = fixed(first.write(), tmp_path)
        preview = sn.read(again_path).preview(**run)
        again = sn.read(again_path).apply(**run)
        assert server.store.stats()["requests"]["DELETE"] == 2, "one DELETE each: nothing sent twice"
    stamp = dict(zip(first.rows["serial_number"].fillna("").tolist(), first.rows["checked_at"].tolist()))
    assert statuses(preview) == ["not_on_resource", "not_on_resource", "planned"]
    assert preview.rows.at[0, "message"] == (f"serial 'B' is not on Manufacturing order 3001 now: detached on "
                                             f"{stamp['B']} by run {first.run_id}, an apply of this file")
    assert statuses(again) == ["deleted", "deleted", "deleted"]
    assert again.rows.at[1, "message"] == f"detached on {first.rows.at[0, 'checked_at']} by run {first.run_id}; " \
                                          "still absent now"
    assert again.rows.at[2, "message"] == ""  # the fixed row, detached now
    assert again.exit_code == 0
    assert any(f"results of apply run {first.run_id}" in note for note in again.notes)


def test_on_another_account_the_results_of_an_apply_tell_nothing_of_it(tmp_path, state):
    with running_sandbox(records=[rec(1, "A"), rec(2, "B")], api_key="key-a") as first_server:
        port, base_url = first_server.port, first_server.base_url
        first = sn.read(workbook(tmp_path)).apply(base_url=base_url, api_key="key-a", state_dir=state,
                                                  client_options=FAST)
        results = first.write()
    with running_sandbox(records=[rec(7, "Z")], api_key="key-b", port=port):
        on_b = sn.read(results).apply(base_url=base_url, api_key="key-b", state_dir=state, client_options=FAST)
    assert statuses(on_b)[:2] == ["not_on_resource", "not_on_resource"]
    assert not any("results of apply run" in note for note in on_b.notes)
