"""Lists that lie quietly: no status rests on one uncorroborated read.

Each test plays one of the quiet lies a gateway, a cache or a busy tenant can
tell (a list that shifts while its count holds, a filter ignored, a record
without its serial, one empty answer, a serial twice on a resource, a DELETE
that lands late, pages capped without ``X-Pagination``) on the scripted
server of tests/misbehaving.py, and checks the report against what the
server holds afterwards: every row's status is the server's truth, and no
serial outside the sheet was detached.
"""

from __future__ import annotations

import csv
from pathlib import Path

from misbehaving import (
    MisbehavingKatana, after_a_delete, empty_list, honest, ignoring, lands_late, leaves_in_place, on_page,
    on_resource, record, serials, then, without_serial_number,
)

import sn_importer as sn
from conftest import wait_for

MO = "ManufacturingOrder"
FAST = {"backoff": (0.01, 0.02), "max_retries": 3}


def sheet(tmp_path: Path, rows: list[tuple]) -> Path:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_id", "serial_number"])
        writer.writerows(rows)
    return path


def apply(katana: MisbehavingKatana, path: Path, tmp_path: Path, **options):
    return sn.read(path).apply(base_url=katana.base_url, api_key=katana.api_key, client_options=FAST,
                               state_dir=tmp_path / "state", **options)


def keys(records) -> set[tuple]:
    return {(r["resource_type"], r["resource_id"], r["id"]) for r in records}


def matches_the_server(result, katana: MisbehavingKatana, initial: list[dict], others: set[tuple] = frozenset()):
    """Every row's status is what the server holds now, and nothing outside the sheet was detached
    (``others``: what another integration detached meanwhile)."""
    start, now, named = keys(initial), keys(katana.records), set()
    for _, row in result.rows.iterrows():
        res = (row["resource_type"], int(row["resource_id"]))
        given_id = int(row["given_serial_id"]) if str(row["given_serial_id"]).strip() else None  # as the sheet gave it
        ids = {r["id"] for r in initial if (r["resource_type"], r["resource_id"]) == res
               and (r["id"] == given_id or (given_id is None and r["serial_number"] == row["serial_number"]))}
        named |= {(*res, i) for i in ids}
        held = {i for i in ids if (*res, i) in now}
        status = row["status"]
        if status == "deleted":
            assert ids and not held, row.to_dict()
        elif status in ("still_present", "planned"):
            assert held, row.to_dict()
        elif status == "not_on_resource":
            assert not ids, row.to_dict()
        elif status == "skipped":
            assert held == ids, row.to_dict()
    assert start - now - set(others) <= named, "a serial outside the sheet was detached"


def statuses(result) -> list[str]:
    return list(result.rows["status"])


# --------------------------------------------------------------------------- a list that shifts, its count held


def shift_once(katana: MisbehavingKatana, gone: dict, late: dict):
    """Another integration, while page 2 is asked for: detaches a serial of page 1 (every later one
    slides up a place, so the first of page 2 is skipped) and attaches one that sorts last, so
    ``total_records`` holds."""

    def change(k: MisbehavingKatana) -> None:
        k.detach(gone["resource_type"], gone["resource_id"], [gone["id"]])
        k.attach([late])

    return then(change)


def test_a_list_that_shifts_before_the_delete_while_its_count_holds_is_read_until_two_reads_agree(tmp_path):
    records = serials(300)
    wanted = records[250]  # the first of page 2: skipped by a read that shifted under it
    with MisbehavingKatana(records) as katana:
        katana.script("GET", shift_once(katana, records[5], record(999_999, "ZZZ-LATE", MO, 4000)), times=1,
                      when=on_page(2))
        result = apply(katana, sheet(tmp_path, [(MO, 4000, "", wanted["serial_number"])]), tmp_path)
        matches_the_server(result, katana, records, others={(MO, 4000, records[5]["id"])})
    assert statuses(result) == ["deleted"]


def test_a_list_that_shifts_after_the_delete_never_makes_a_false_deleted(tmp_path):
    records = serials(300)
    kept = records[250]  # its DELETE is answered 204 and not carried out; a shifting read skips it
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", leaves_in_place(kept["id"]))
        katana.script("GET", shift_once(katana, records[5], record(999_999, "ZZZ-LATE", MO, 4000)), times=1,
                      when=lambda call: call.page == 2 and katana.count("DELETE") > 0)
        result = apply(katana, sheet(tmp_path, [(MO, 4000, "", kept["serial_number"])]), tmp_path, recheck=0)
        matches_the_server(result, katana, records, others={(MO, 4000, records[5]["id"])})
    assert statuses(result) == ["still_present"]
    assert result.exit_code == 1


# --------------------------------------------------------------------------- filters ignored, records incomplete


def test_a_list_that_ignores_the_resource_filter_is_not_trusted(tmp_path):
    records = serials(3) + serials(3, resource_id=4001, first_id=20_000)
    rows = [(MO, 4000, "", records[0]["serial_number"]), (MO, 4001, "", "NOT-ON-4001")]
    with MisbehavingKatana(records) as katana:
        katana.script("GET", ignoring("resource_id"))
        result = apply(katana, sheet(tmp_path, rows), tmp_path, listing="per_resource")
        matches_the_server(result, katana, records)
        assert katana.count("DELETE") == 0
    assert statuses(result) == ["failed", "failed"]
    assert "the filter was not applied" in result.rows.at[0, "message"]


def test_a_type_list_that_ignores_the_type_filter_is_not_used(tmp_path):
    """A proxy drops ``resource_type``: the type-wide list holds other types, and each resource's
    list holds every type's records on that id. Nothing is concluded from either."""
    records = serials(3) + serials(3, resource_id=4001, first_id=20_000) + [record(7, "SO-7", "SalesOrderRow", 4000)]
    rows = [(MO, 4000, "", records[0]["serial_number"]), (MO, 4001, "", records[3]["serial_number"])]
    with MisbehavingKatana(records) as katana:
        katana.script("GET", ignoring("resource_type"))
        result = apply(katana, sheet(tmp_path, rows), tmp_path)
        matches_the_server(result, katana, records)
    assert statuses(result)[0] == "failed"  # MO 4000's own list held the sales order row's serial
    assert statuses(result)[1] in ("deleted", "failed")


def test_a_record_without_its_serial_matches_nothing_and_detaches_nothing(tmp_path):
    records = serials(3)
    with MisbehavingKatana(records) as katana:
        katana.script("GET", without_serial_number(records[1]["id"]))
        result = apply(katana, sheet(tmp_path, [(MO, 4000, "", "None")]), tmp_path)
        matches_the_server(result, katana, records)
        assert katana.count("DELETE") == 0 and keys(katana.records) == keys(records)
    assert statuses(result) == ["failed"] and "without a serial number" in result.rows.at[0, "message"]


# --------------------------------------------------------------------------- one empty answer


def test_one_empty_answer_right_after_the_delete_is_read_again(tmp_path):
    records = serials(3)
    rows = [(MO, 4000, r["id"], "") for r in records]  # every serial on it: no witness left after
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", leaves_in_place(*(r["id"] for r in records)))  # 204, nothing done
        katana.script("GET", empty_list(), times=1, when=after_a_delete(katana))
        result = apply(katana, sheet(tmp_path, rows), tmp_path, recheck=0)
        matches_the_server(result, katana, records)
    assert statuses(result) == ["still_present"] * 3 and result.exit_code == 1


def test_one_empty_answer_after_a_delete_that_worked_costs_one_read_more(tmp_path):
    records = serials(3)
    with MisbehavingKatana(records) as katana:
        katana.script("GET", empty_list(), times=1, when=after_a_delete(katana))
        result = apply(katana, sheet(tmp_path, [(MO, 4000, records[0]["id"], "")]), tmp_path)
        matches_the_server(result, katana, records)
        assert katana.count("GET") == 1 + 2  # before; after: the empty answer (witnesses gone), then the truth
    assert statuses(result) == ["deleted"] and result.exit_code == 0


def test_one_empty_answer_before_the_delete_is_read_again(tmp_path):
    records = serials(3)
    rows = [(MO, 4000, "", r["serial_number"]) for r in records[:2]]
    with MisbehavingKatana(records) as katana:
        katana.script("GET", empty_list(), times=1)
        result = apply(katana, sheet(tmp_path, rows), tmp_path)
        matches_the_server(result, katana, records)
    assert statuses(result) == ["deleted", "deleted"]


def test_an_empty_list_read_twice_is_believed(tmp_path):
    records = serials(3)
    with MisbehavingKatana(records) as katana:
        result = apply(katana, sheet(tmp_path, [(MO, 4001, "", "ANY")]), tmp_path)
        matches_the_server(result, katana, records)
        assert katana.count("GET") == 2
    assert statuses(result) == ["not_on_resource"]


# --------------------------------------------------------------------------- one serial twice on a resource


def test_a_serial_twice_on_a_resource_is_sent_whole_and_deleted_only_when_none_is_left(tmp_path):
    records = [record(1, "DUP", MO, 4000), record(2, "DUP", MO, 4000), record(3, "OTHER", MO, 4000)]
    with MisbehavingKatana(records) as katana:
        result = apply(katana, sheet(tmp_path, [(MO, 4000, "", "DUP")]), tmp_path)
        matches_the_server(result, katana, records)
        sent = [c.body["ids"] for c in katana.calls if c.method == "DELETE"]
    assert sent == [[1, 2]] and statuses(result) == ["deleted"]
    assert "2 records of serial 'DUP'" in result.rows.at[0, "message"]


def test_a_serial_twice_with_one_record_left_is_still_present(tmp_path):
    records = [record(1, "DUP", MO, 4000), record(2, "DUP", MO, 4000), record(3, "OTHER", MO, 4000)]
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", leaves_in_place(2))
        result = apply(katana, sheet(tmp_path, [(MO, 4000, "", "DUP")]), tmp_path, recheck=0)
        matches_the_server(result, katana, records)
    assert statuses(result) == ["still_present"]
    assert "1 of its 2 records are still on the resource" in result.rows.at[0, "message"]


# --------------------------------------------------------------------------- a DELETE that lands late


def test_a_delete_that_lands_late_is_rechecked_before_it_is_still_present(tmp_path):
    records = serials(3)
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", lands_late(1.5))
        result = apply(katana, sheet(tmp_path, [(MO, 4000, records[0]["id"], "")]), tmp_path)
        matches_the_server(result, katana, records)
        assert katana.count("DELETE") == 1 and katana.count("GET") >= 3
    assert statuses(result) == ["deleted"] and list(result.removed["id"]) == [records[0]["id"]]


def test_a_re_run_confirms_a_delete_that_landed_after_its_check_and_audits_it(tmp_path):
    records = serials(3)
    path = sheet(tmp_path, [(MO, 4000, records[0]["id"], ""), (MO, 4000, records[1]["id"], "")])
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", lands_late(0.5), times=1)
        first = apply(katana, path, tmp_path, recheck=0)
        assert statuses(first) == ["still_present", "still_present"] and first.removed.empty
        wait_for(lambda: not katana.on(MO, 4000) & {records[0]["id"], records[1]["id"]}, what="the late DELETE")
        again = apply(katana, path, tmp_path)
        matches_the_server(again, katana, records)
        assert katana.count("DELETE") == 1  # nothing sent twice
    assert statuses(again) == ["deleted", "deleted"]
    assert again.rows.at[0, "message"].startswith(f"confirmed on re-run: the DELETE run {first.run_id} sent took "
                                                  "effect after its check")
    assert sorted(again.removed["id"]) == [records[0]["id"], records[1]["id"]]


# --------------------------------------------------------------------------- pages capped without X-Pagination


def test_pages_capped_at_100_without_the_header_are_read_to_an_empty_page(tmp_path):
    records = serials(230)
    rows = [(MO, 4000, "", records[150]["serial_number"]), (MO, 4000, "", records[220]["serial_number"])]
    with MisbehavingKatana(records) as katana:
        katana.script("GET", honest(page_size=100, header=False))
        result = apply(katana, sheet(tmp_path, rows), tmp_path)
        matches_the_server(result, katana, records)
    assert statuses(result) == ["deleted", "deleted"]


def test_the_resource_filter_of_a_per_resource_list_is_asked_for(tmp_path):
    """The client asks for exactly the resource it reads: both filters on every per-resource page."""
    records = serials(3)
    with MisbehavingKatana(records) as katana:
        apply(katana, sheet(tmp_path, [(MO, 4000, records[0]["id"], "")]), tmp_path)
        gets = [c for c in katana.calls if c.method == "GET"]
    assert gets and all(on_resource(MO, 4000)(c) for c in gets)
