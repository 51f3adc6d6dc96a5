"""The undo's truth rules, as pure functions: what lists and POST answers prove about each record."""

from __future__ import annotations

from sn_importer.restore import rules
from sn_importer.restore.records import Wanted, usable
from sn_importer.restore.rules import (FAILED, NOT_SENT, REFUSED, SUCCESSFUL, UNKNOWN, Answer, Earlier, Found,
                                       answers_of, awaited, decide, resendable, suspicion, verdict)
from sn_importer.status import Status

MO = ("ManufacturingOrder", 3001)
SO = ("SalesOrderRow", 5001)
SOF = ("SalesOrderFulfillmentRow", 9501)
STAMP = "2026-12-01T10:00:00Z"


def rec(id_: int, serial: str, res=MO) -> dict:
    return {"id": id_, "serial_number": serial, "resource_type": res[0], "resource_id": res[1]}


def want(position: int, serial: str, old: int, res=MO) -> Wanted:
    return Wanted(position, serial, old, res)


def test_a_serial_on_its_resource_is_already_there_and_nothing_is_sent():
    decided = decide(MO, [want(0, "A", 1), want(1, "B", 2)], [rec(7, "A")], preview=False, stamp=STAMP)
    assert decided.outcomes[0] == Found(Status.ALREADY_THERE, "on the resource already; nothing sent; record id 7 "
                                                              "(was 1)", 7, "", STAMP)
    assert list(decided.to_send) == ["B"]


def test_a_type_post_does_not_accept_cannot_be_restored_even_when_absent():
    decided = decide(SOF, [want(0, "A", 1, SOF)], [], preview=False, stamp=STAMP)
    assert decided.outcomes[0].status == Status.CANNOT_RESTORE and not decided.to_send
    assert "onto a sales order fulfillment row through its API" in decided.outcomes[0].message


def test_a_preview_plans_what_it_would_send_and_says_whether_it_mints_or_moves():
    minted = decide(MO, [want(0, "A", 1)], [], preview=True, stamp=STAMP)
    moved = decide(SO, [want(0, "A", 1, SO)], [], preview=True, stamp=STAMP)
    assert minted.outcomes[0].status == moved.outcomes[0].status == Status.PLANNED
    assert "minting a new record" in minted.outcomes[0].message
    assert "moving the existing serial" in moved.outcomes[0].message
    assert minted.outcomes[0].request == "POST ManufacturingOrder 3001 (1/1)"


def test_two_records_of_one_serial_on_one_resource_send_one_string():
    decided = decide(MO, [want(0, "A", 1), want(1, "A", 2)], [], preview=False, stamp=STAMP)
    assert decided.to_send == {"A": [want(0, "A", 1), want(1, "A", 2)]}
    answers = {"A": Answer(SUCCESSFUL, "", "POST x")}
    outcomes = verdict(decided.to_send, answers, [rec(9, "A")], STAMP)
    assert [o.status for o in outcomes.values()] == [Status.RESTORED, Status.RESTORED]
    assert outcomes[1].message.endswith("the same serial as record 1")


def test_an_earlier_undo_that_put_it_back_is_named():
    earlier = {0: Earlier(Found(Status.RESTORED, "put back", 9, "POST", "2026-11-30T09:00:00Z"), "run42")}
    decided = decide(MO, [want(0, "A", 1)], [rec(9, "A")], preview=False, stamp=STAMP, earlier=earlier)
    assert decided.outcomes[0].message == ("put back on 2026-11-30T09:00:00Z by undo run run42; still on the "
                                           "resource, nothing sent")


def test_restored_only_when_listed_after_whatever_katana_answered():
    to_send = {"A": [want(0, "A", 1)], "B": [want(1, "B", 2)], "C": [want(2, "C", 3)], "D": [want(3, "D", 4)]}
    answers = {"A": Answer(SUCCESSFUL, "", "r"), "B": Answer(SUCCESSFUL, "", "r"), "C": Answer(FAILED, "MISSING", "r"),
               "D": Answer(FAILED, "DUPLICATE", "r")}
    out = verdict(to_send, answers, [rec(11, "A"), rec(14, "D")], STAMP, checks=" (listed 3 times over 3 s)")
    assert out[0] == Found(Status.RESTORED, "put back; record id 11 (was 1)", 11, "r", STAMP)
    assert out[1].status == Status.NOT_RESTORED and "answered that it was put back, but it is not" in out[1].message
    assert out[1].message.endswith("(listed 3 times over 3 s); run undo again")
    assert out[2].status == Status.NOT_RESTORED and "Katana refused it: MISSING" in out[2].message
    assert out[3].status == Status.ALREADY_THERE and "Katana answered DUPLICATE" in out[3].message


def test_a_refused_post_and_one_without_an_answer_say_so():
    to_send = {"A": [want(0, "A", 1)], "B": [want(1, "B", 2)], "C": [want(2, "C", 3)]}
    answers = {"A": Answer(REFUSED, "422 serial numbers not found", "r"), "B": Answer(UNKNOWN, "timed out", "r")}
    out = verdict(to_send, answers, [], STAMP, stop_reason="interrupted")
    assert out[0].message == "Katana refused the POST: 422 serial numbers not found"
    assert out[1].status == Status.NOT_RESTORED and "got no answer (timed out)" in out[1].message
    assert out[2] == Found(Status.SKIPPED, "not sent: interrupted")


def test_what_may_still_land_is_awaited_and_only_a_post_without_answer_is_sent_again():
    answers = {"A": Answer(SUCCESSFUL), "B": Answer(UNKNOWN), "C": Answer(FAILED, "MISSING"), "E": Answer(NOT_SENT)}
    listed = [rec(5, "A")]
    assert awaited(answers, listed) == {"B"}
    assert resendable(["A", "B", "C", "D", "E"], answers, listed) == ["B", "D", "E"]
    assert resendable(["B"], {"B": Answer(REFUSED, "422")}, []) == []


def test_a_list_after_is_suspect_when_a_serial_that_was_there_goes_missing():
    before = [rec(1, "X"), rec(2, "Y")]
    assert suspicion(before, before + [rec(3, "A")]) == ""
    assert suspicion(before, []) == "the list after the POST was empty"
    assert "1 serial that were on the resource went missing" in suspicion(before, [rec(1, "X")])
    assert suspicion([], []) == ""


def test_the_answer_is_read_per_string_and_an_unnamed_string_is_unknown():
    body = {"successful": [{"id": 9, "serial_number": "A"}], "failed": [{"serial_number": "B", "reason": "DUPLICATE"}]}
    got = answers_of(body, ["A", "B", "C"], "req")
    assert got == {"A": Answer(SUCCESSFUL, "", "req"), "B": Answer(FAILED, "DUPLICATE", "req"),
                   "C": Answer(UNKNOWN, "Katana's answer did not name it", "req")}
    assert answers_of("not json", ["A"], "req")["A"].kind == UNKNOWN


def test_unsettled_records_are_unverified_where_sent_else_skipped():
    to_send = {"A": [want(0, "A", 1)], "B": [want(1, "B", 2)]}
    out = rules.unsettled(to_send, {"A": Answer(SUCCESSFUL, "", "r")}, "Katana went away", STAMP)
    assert out[0].status == Status.UNVERIFIED and "could not be made: Katana went away" in out[0].message
    assert out[1] == Found(Status.SKIPPED, "not sent: Katana went away")


def test_records_that_cannot_be_used_say_why():
    assert usable(0, {"serial_number": " ", "resource_type": "ManufacturingOrder", "resource_id": 1}).startswith(
        "the record has no serial number")
    assert usable(0, {"serial_number": 123.0, "resource_type": "ManufacturingOrder", "resource_id": 1}) == (
        "the serial number is stored as a number (123), which may have lost leading zeros; type it as text, as "
        "the apply wrote it; nothing was sent for it")
    assert "is not one Katana knows" in usable(0, {"serial_number": "A", "resource_type": "MO", "resource_id": 1})
    assert "is not a whole number" in usable(0, {"serial_number": "A", "resource_type": "ManufacturingOrder",
                                                 "resource_id": "x"})
    assert usable(3, {"id": "17", "serial_number": "A", "resource_type": "ManufacturingOrder",
                      "resource_id": 3001.0}) == Wanted(3, "A", 17, MO)


def test_an_outcome_keeps_its_journal_form():
    found = Found(Status.RESTORED, "put back", 9, "POST MO 1 (1/1)", STAMP)
    assert Found.from_json(found.to_json()) == found
