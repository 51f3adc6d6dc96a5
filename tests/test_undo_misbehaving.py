"""Undo against a scripted, misbehaving Katana (tests/misbehaving.py, real HTTP on loopback): a POST
that answers ``failed``, one that lands seconds after its answer, one whose answer is lost after it
landed, one that failed before landing, a glitching empty list before and after, and a resumed
undo whose interrupted POST had landed. Katana's answer is reported, never trusted alone; a POST
that may have landed is never sent again before the resource is listed."""

from __future__ import annotations

from pathlib import Path

from conftest import FAST
from misbehaving import (MisbehavingKatana, after_a_post, empty_list, html, lost_answer, post_fails,
                         post_lands_late, record)

import sn_importer as sn
from sn_importer.journal import Journal
from sn_importer.mapping import REMOVED_COLUMNS
from sn_importer.restore.journal import UndoJournal
from sn_importer.restore.records import read_removed

MO = ("ManufacturingOrder", 3001)
WITNESS = record(1, "X-1")  # on the resource all along: nothing takes it off


def removed_csv(tmp_path: Path, serials=("A", "B")) -> Path:
    lines = [",".join(REMOVED_COLUMNS)]
    lines += [f"{10 + n},{s},ManufacturingOrder,3001,tx,2026-11-20T09:00:00Z,1,row {n + 2}" for n, s in enumerate(serials)]
    path = tmp_path / "sheet.results.removed.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return path


def undo(path: Path, katana: MisbehavingKatana, state: Path, recheck: float = 0, **options):
    return sn.undo(path, base_url=katana.base_url, api_key=katana.api_key, state_dir=state, client_options=FAST,
                   recheck=recheck, **options)


def statuses(result) -> list[str]:
    return result.rows["status"].tolist()


def posted(katana: MisbehavingKatana) -> list[list[str]]:
    return [c.body["serial_numbers"] for c in katana.calls if c.method == "POST"]


def test_a_post_answered_failed_is_not_restored_with_katanas_reason_and_not_sent_again(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("POST", post_fails("MISSING"))
        result = undo(removed_csv(tmp_path), katana, state)
        assert katana.strings(*MO) == ["X-1"]
    assert statuses(result) == ["not_restored", "not_restored"] and result.exit_code == 1
    assert result.rows["message"][0] == "Katana refused it: MISSING; not on the resource"
    assert posted(katana) == [["A", "B"]]


def test_a_post_that_lands_late_is_waited_for_and_never_sent_twice(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("POST", post_lands_late(0.5), times=1)
        result = undo(removed_csv(tmp_path), katana, state, recheck=30)
        assert katana.strings(*MO) == ["A", "B", "X-1"]
    assert statuses(result) == ["restored", "restored"]
    assert posted(katana) == [["A", "B"]]
    assert katana.count("GET") >= 3, "listed before, then again until the late POST showed"


def test_a_post_katana_says_it_did_but_that_never_shows_is_not_restored_and_not_resent(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("POST", post_lands_late(3600), times=1)
        result = undo(removed_csv(tmp_path), katana, state, recheck=0)
    assert statuses(result) == ["not_restored", "not_restored"]
    assert "Katana answered that it was put back, but it is not on the resource" in result.rows["message"][0]
    assert posted(katana) == [["A", "B"]]


def test_a_post_whose_answer_is_lost_after_it_landed_is_listed_not_resent(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("POST", lost_answer(502), times=1)
        result = undo(removed_csv(tmp_path), katana, state)
        assert katana.strings(*MO) == ["A", "B", "X-1"]
    assert statuses(result) == ["restored", "restored"]
    assert "the POST got no answer" in result.rows["message"][0] and "the list shows it" in result.rows["message"][0]
    assert posted(katana) == [["A", "B"]], "a POST that may have landed is never retried blindly"
    assert result.requests["retries"] == 0


def test_a_post_that_failed_before_landing_is_sent_again_only_after_a_list(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("POST", html(500), times=1)
        result = undo(removed_csv(tmp_path), katana, state)
        assert katana.strings(*MO) == ["A", "B", "X-1"]
    assert statuses(result) == ["restored", "restored"]
    methods = [c.method for c in katana.calls]
    first, second = [i for i, m in enumerate(methods) if m == "POST"]
    assert "GET" in methods[first + 1: second], "the resource is listed between the two POSTs"
    assert result.rows["request"][0] == "POST ManufacturingOrder 3001 (1/1, sent again)"


def test_one_empty_list_before_is_read_again_before_anything_is_sent(tmp_path, state):
    with MisbehavingKatana([WITNESS, record(99, "A")]) as katana:
        katana.script("GET", empty_list(), times=1)
        result = undo(removed_csv(tmp_path), katana, state)
    assert statuses(result) == ["already_there", "restored"]
    assert posted(katana) == [["B"]], "A was on the resource: the glitch did not make it sent"


def test_one_empty_list_after_the_post_is_read_again(tmp_path, state):
    with MisbehavingKatana([WITNESS]) as katana:
        katana.script("GET", empty_list(), times=1, when=after_a_post(katana))
        result = undo(removed_csv(tmp_path), katana, state)
    assert statuses(result) == ["restored", "restored"] and result.exit_code == 0
    assert posted(katana) == [["A", "B"]]


def test_a_resumed_undo_counts_what_its_interrupted_post_put_back(tmp_path, state):
    path = removed_csv(tmp_path)
    with MisbehavingKatana([WITNESS, record(501, "A")]) as katana:  # the killed attempt's POST landed for A only
        journal = Journal(state)
        undo_journal = UndoJournal(journal)
        undo_journal.start(read_removed(path).key(katana.base_url, "sandbox"), "killedrun001", str(path), None,
                           katana.base_url, "2026-12-01T10:00:00Z")
        undo_journal.posting("killedrun001", MO, ["A", "B"])  # committed, sent, never answered
        journal.close()
        result = undo(path, katana, state)
    assert result.run_id == "killedrun001"
    assert statuses(result) == ["restored", "restored"]
    assert result.rows["message"][0].startswith("put back by the POST of an interrupted attempt")
    assert posted(katana) == [["B"]], "only what is still missing after the wait is sent again"
