"""apply and preview against a scripted, misbehaving Katana: every status matches what the server holds.

Each test plays one situation from the field (issue 9's table) on the loopback
server of tests/misbehaving.py and checks the run's rows against the server's
own records afterwards: a row is ``deleted`` only when the serial is really
gone, ``not_on_resource`` only when it really was not there, and a stop
keeps every outcome already known. Limits are small (timeouts of tenths of a
second, a grace of half a second), so each test ends in a second or two.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from misbehaving import (
    MisbehavingKatana, hang, honest, html, leaves_in_place, on_resource, rate_limited, record,
    same_page_forever, serials, slow, then, truncated_json, unauthorized, without_data,
)

import sn_importer as sn
from sn_importer.interrupt import Interrupt

MO = "ManufacturingOrder"
FAST = {"backoff": (0.01, 0.02), "max_retries": 3}


def sheet(tmp_path: Path, rows: list[tuple]) -> Path:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_id", "serial_number"])
        writer.writerows(rows)
    return path


def apply(katana: MisbehavingKatana, path: Path, tmp_path: Path, *, mode: str = "apply", **options):
    client_options = {**FAST, **options.pop("client_options", {})}
    job = sn.read(path)
    run = job.apply if mode == "apply" else job.preview
    extra = {"state_dir": tmp_path / "state"} if mode == "apply" else {}
    return run(base_url=katana.base_url, api_key=katana.api_key, client_options=client_options, **extra,
               **options)


def by_row(result) -> list[tuple[str, str]]:
    return list(zip(result.rows["status"], result.rows["message"]))


def truthful(result, katana: MisbehavingKatana) -> None:
    """Every deleted row is gone from its resource, every still_present / not-sent row is there."""
    for _, row in result.rows.iterrows():
        on = katana.on(row["resource_type"], int(row["resource_id"]))
        if row["status"] == "deleted":
            assert int(row["serial_id"]) not in on, row.to_dict()
        if row["status"] in ("still_present", "skipped", "planned") and row["serial_id"] == row["serial_id"]:
            assert int(row["serial_id"]) in on, row.to_dict()


# --------------------------------------------------------------------------- lists that lie


def test_a_serial_left_in_place_while_the_list_shifts_is_still_present(tmp_path):
    """Another integration detaches serials between page 1 and page 2 of the check after, and the
    DELETE silently left one serial in place: it must not slide across the boundary as 'deleted'."""
    records = serials(300)
    asked = [records[i]["id"] for i in (240, 250, 260)]
    others = [r["id"] for r in records[:20]]
    path = sheet(tmp_path, [(MO, 4000, i, "") for i in asked])
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", leaves_in_place(asked[1]))
        katana.script("GET", then(lambda k: k.detach(MO, 4000, others)), times=1,
                      when=lambda call: call.page == 2 and katana.count("DELETE") > 0)
        result = apply(katana, path, tmp_path, recheck=0)
        truthful(result, katana)
    assert list(result.rows["status"]) == ["deleted", "still_present", "deleted"]
    assert result.exit_code == 1


def test_short_pages_despite_limit_are_read_to_the_end(tmp_path):
    """100 records a page whatever limit asks: serials on page 2 are found, sent and verified."""
    records = serials(150)
    path = sheet(tmp_path, [(MO, 4000, records[i]["id"], "") for i in (5, 120, 140)])
    with MisbehavingKatana(records) as katana:
        katana.script("GET", honest(page_size=100))
        result = apply(katana, path, tmp_path)
        truthful(result, katana)
        assert katana.on(MO, 4000).isdisjoint(result.rows["serial_id"])
    assert list(result.rows["status"]) == ["deleted"] * 3 and result.exit_code == 0


def test_the_same_page_forever_fails_that_resource_only(tmp_path):
    records = serials(250) + serials(2, resource_id=4001, first_id=50_000)
    path = sheet(tmp_path, [(MO, 4000, records[0]["id"], ""), (MO, 4001, 50_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("GET", same_page_forever(), when=lambda call: call.resource in ((MO, 4000), (MO, None)))
        result = apply(katana, path, tmp_path)
        truthful(result, katana)
        assert katana.count("GET") <= 6 and records[0]["id"] in katana.on(MO, 4000)
    assert [s for s, _ in by_row(result)] == ["failed", "deleted"]
    assert "page 2 repeats records already read" in result.rows.at[0, "message"]
    assert result.exit_code == 1 and result.stop is None


def test_a_check_after_that_never_holds_still_leaves_rows_unverified(tmp_path):
    counter = iter(range(10 ** 6))
    records = serials(300)
    path = sheet(tmp_path, [(MO, 4000, records[0]["id"], "")])
    with MisbehavingKatana(records) as katana:
        katana.script("GET", then(lambda k: k.attach([record(900_000 + next(counter), "ZZ", MO, 4000)])),
                      when=lambda call: call.page == 2 and katana.count("DELETE") > 0)
        result = apply(katana, path, tmp_path)
        assert records[0]["id"] not in katana.on(MO, 4000)
    status, message = by_row(result)[0]
    assert status == "unverified" and "could not be read the same way twice in 4 reads" in message


# --------------------------------------------------------------------------- bodies


def test_a_proxys_html_page_is_summarised_in_the_rows(tmp_path):
    path = sheet(tmp_path, [(MO, 4000, 10_000, "")])
    with MisbehavingKatana(serials(2)) as katana:
        katana.script("GET", html(502))
        result = apply(katana, path, tmp_path)
    status, message = by_row(result)[0]
    assert status == "failed" and "HTTP 502 from a proxy (HTML page)" in message
    assert "<" not in message and "nginx" not in message


@pytest.mark.parametrize("answer", [truncated_json(), without_data()], ids=["truncated", "no-data"])
def test_a_200_that_is_not_the_apis_json_is_retried(tmp_path, answer):
    path = sheet(tmp_path, [(MO, 4000, 10_000, "")])
    with MisbehavingKatana(serials(2)) as katana:
        katana.script("GET", answer, times=1)
        result = apply(katana, path, tmp_path)
        truthful(result, katana)
    assert by_row(result) == [("deleted", "")] and result.requests["retries"] == 1


# --------------------------------------------------------------------------- waiting


def test_a_retry_after_of_an_hour_stops_the_run_resumably(tmp_path):
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4000, 99, "")])
    with MisbehavingKatana(serials(2)) as katana:
        katana.script("GET", rate_limited(3600))
        result = apply(katana, path, tmp_path)
        assert katana.count("GET") == 1 and katana.count("DELETE") == 0
    assert result.exit_code == 2 and result.stop_kind == "wait"
    assert result.error.startswith("Katana asked to wait 3600 s")
    assert "run the same command again to resume" in result.error
    assert [s for s, _ in by_row(result)] == ["skipped", "skipped"]


def test_a_delete_that_never_answers_is_bounded_and_verified(tmp_path):
    records = serials(2) + serials(1, resource_id=4001, first_id=50_000) + serials(1, resource_id=4002,
                                                                                   first_id=60_000)
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4000, 77, ""), (MO, 4001, 50_000, ""),
                            (MO, 4002, 60_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", hang())
        result = apply(katana, path, tmp_path, concurrency=1,
                       client_options={"timeout": 0.2, "request_deadline": 0.5})
        truthful(result, katana)
    statuses = [s for s, _ in by_row(result)]
    assert statuses == ["failed", "not_on_resource", "failed", "skipped"]
    assert "no answer within 0.2 s" in result.rows.at[0, "message"]
    assert result.stop_kind == "unreachable" and result.exit_code == 2


def test_no_success_for_the_stall_limit_stops_the_run(tmp_path):
    path = sheet(tmp_path, [(MO, 4000, 10_000, "")])
    with MisbehavingKatana(serials(2)) as katana:
        katana.script("GET", html(503))
        result = apply(katana, path, tmp_path, client_options={"max_retries": 100, "backoff": (0.1, 0.1),
                                                               "stall_limit": 0.5})
    assert result.stop_kind == "wait" and result.exit_code == 2
    assert result.error.startswith("no request to Katana has succeeded for")
    assert by_row(result)[0][0] == "skipped"


# --------------------------------------------------------------------------- stops keep what is known


def test_an_interrupt_keeps_rows_never_sent_and_marks_only_sent_rows_unverified(tmp_path):
    interrupt = Interrupt(grace=0.3)
    records = serials(2) + serials(1, resource_id=4001, first_id=50_000)
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4000, 42, ""), (MO, 4001, 50_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", then(lambda k: interrupt.request("Ctrl-C"), hang()))
        result = apply(katana, path, tmp_path, concurrency=1, interrupt=interrupt)
        assert katana.count("DELETE") == 1
    assert [s for s, _ in by_row(result)] == ["unverified", "not_on_resource", "skipped"]
    assert result.stop_kind == "interrupted" and result.exit_code == 2
    assert result.error.startswith("interrupted (Ctrl-C); nothing more was sent")


def test_an_interrupt_lets_a_sent_delete_be_checked(tmp_path):
    """Within the grace period, what is in flight settles: the DELETE's answer comes and the
    check after is made, so the row is verified rather than unverified."""
    interrupt = Interrupt(grace=5)
    records = serials(2) + serials(1, resource_id=4001, first_id=50_000)
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4001, 50_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("DELETE", then(lambda k: interrupt.request("SIGTERM"), slow(0.2)))
        result = apply(katana, path, tmp_path, concurrency=1, interrupt=interrupt)
        truthful(result, katana)
    assert [s for s, _ in by_row(result)] == ["deleted", "skipped"]
    assert "interrupted (SIGTERM)" in result.rows.at[1, "message"]


def test_an_interrupt_before_anything_is_sent_sends_nothing(tmp_path):
    interrupt = Interrupt()
    interrupt.request("SIGHUP")
    with MisbehavingKatana(serials(2)) as katana:
        result = apply(katana, sheet(tmp_path, [(MO, 4000, 10_000, "")]), tmp_path, interrupt=interrupt)
        assert katana.calls == []
    assert by_row(result)[0][0] == "skipped" and result.exit_code == 2


def test_a_401_on_one_resource_keeps_what_was_verified_elsewhere(tmp_path):
    records = serials(2) + serials(2, resource_id=4001, first_id=50_000)
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4000, 10_001, ""), (MO, 4001, 50_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("GET", unauthorized(), when=on_resource(MO, 4001))
        katana.script("DELETE", slow(0.3))  # 4000's DELETE is in flight when 4001's 401 comes
        result = apply(katana, path, tmp_path, listing="per_resource")
        truthful(result, katana)
    assert [s for s, _ in by_row(result)] == ["deleted", "deleted", "skipped"]
    assert result.stop_kind == "auth" and result.exit_code == 2


def test_preview_stops_the_same_way(tmp_path):
    interrupt = Interrupt(grace=0.2)
    records = serials(2) + serials(1, resource_id=4001, first_id=50_000)
    path = sheet(tmp_path, [(MO, 4000, 10_000, ""), (MO, 4001, 50_000, "")])
    with MisbehavingKatana(records) as katana:
        katana.script("GET", then(lambda k: interrupt.request("SIGTERM"), hang()), when=on_resource(MO, 4001))
        result = apply(katana, path, tmp_path, mode="preview", concurrency=1, interrupt=interrupt,
                       listing="per_resource")
    assert [s for s, _ in by_row(result)] == ["planned", "skipped"] and result.exit_code == 2


# --------------------------------------------------------------------------- the report always lands


def cli_apply(katana: MisbehavingKatana, *args):
    from typer.testing import CliRunner

    from sn_importer.cli.app import app

    return CliRunner().invoke(app, ["apply", *map(str, args), "--base-url", katana.base_url],
                              env={"KATANA_API_KEY": katana.api_key, "NO_COLOR": "1", "COLUMNS": "200"})


def test_an_unwritable_output_stops_before_anything_is_sent(tmp_path):
    from test_interrupt import unwritable_folder

    path = sheet(tmp_path, [(MO, 4000, 10_000, "")])
    with MisbehavingKatana(serials(2)) as katana:
        outcome = cli_apply(katana, path, "--output", unwritable_folder(tmp_path) / "in.results.csv",
                            "--state-dir", tmp_path / "state")
        assert katana.calls == []
    assert outcome.exit_code == 2
    assert "cannot write the output" in outcome.output


def test_a_report_refused_after_sending_lands_in_the_state_directory(tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def folder_becomes_a_file(katana):  # the place vanishes while the run is under way
        out.rmdir()
        out.write_text("not a folder any more")

    path = sheet(tmp_path, [(MO, 4000, 10_000, "")])
    with MisbehavingKatana(serials(2)) as katana:
        katana.script("DELETE", then(folder_becomes_a_file))
        outcome = cli_apply(katana, path, "--output", out / "in.results.csv", "--state-dir", tmp_path / "state")
        assert 10_000 not in katana.on(MO, 4000)
    assert outcome.exit_code == 2
    landed = list((tmp_path / "state" / "reports").glob("*-in.results.csv"))
    assert len(landed) == 1 and f"it was written to {landed[0]} instead" in outcome.output.replace("\n", "")
    with landed[0].open(newline="", encoding="utf-8-sig") as handle:
        assert [row["status"] for row in csv.DictReader(handle)] == ["deleted"]
