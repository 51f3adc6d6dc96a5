"""The client against a scripted, misbehaving Katana on loopback (tests/misbehaving.py).

Each test scripts one situation from the field (a proxy, a flaky network, a
busy tenant) and checks that the client either reads the truth or stops with
a clear reason, quickly: small limits (timeouts of a fraction of a second, a
fake clock for long waits), never real minutes.
"""

from __future__ import annotations

import asyncio

import pytest
from misbehaving import (
    MisbehavingKatana, endless_new_records, hang, honest, html, on_page, on_resource, quota_spent, rate_limited,
    record, same_page_forever, serials, then, truncated_json, unauthorized, without_data,
)

from sn_importer.katana.client import KatanaClient
from sn_importer.clock import FakeClock
from sn_importer.errors import (
    ApiUnavailableError, AuthError, ResumeLaterError, StalledError, UntrustedListError, WaitTooLongError,
)
from sn_importer.katana.lists import by_resource, read_list

MO = "ManufacturingOrder"
FAST = {"backoff": (0.01, 0.02)}


def run(katana: MisbehavingKatana, scenario, **options):
    """Run ``scenario(client)`` with a client on the scripted server (fake clock unless given)."""
    options = {**FAST, "clock": FakeClock(), **options}

    async def go():
        async with KatanaClient(katana.base_url, katana.api_key, **options) as client:
            return await scenario(client)

    return asyncio.run(go())


# --------------------------------------------------------------------------- paging


def test_short_pages_despite_limit_are_followed_to_the_last_page():
    """A gateway serves 100 records a page whatever limit asks; X-Pagination says more follow."""
    with MisbehavingKatana(serials(230)) as katana:
        katana.script("GET", honest(page_size=100))
        listed = run(katana, lambda c: read_list(c, MO, 4000))
    # three pages: read twice, and the two reads agree
    assert len(listed.ids) == 230 and listed.pages == 3 and listed.reads == 2
    assert [c.page for c in katana.calls] == [1, 2, 3, 1, 2, 3]


def test_without_the_header_a_short_page_proves_nothing_pages_go_on_to_an_empty_one():
    """A gateway that caps pages at 100 and sends no X-Pagination: a page of 100 when 250 were
    asked for is not the end. Asking on until an empty page finds every record."""
    with MisbehavingKatana(serials(260)) as katana:
        katana.script("GET", honest(page_size=100, header=False))
        listed = run(katana, lambda c: read_list(c, MO, 4000))
    assert len(listed.ids) == 260 and listed.total_records is None
    assert [c.page for c in katana.calls] == [1, 2, 3, 4] * 2  # 100, 100, 60, then the empty page; read twice


def test_the_same_page_forever_is_cut_off_at_once():
    with MisbehavingKatana(serials(250)) as katana:
        katana.script("GET", same_page_forever())
        with pytest.raises(UntrustedListError, match="page 2 repeats records already read"):
            run(katana, lambda c: read_list(c, MO, 4000))
    assert katana.count("GET") == 2


def test_an_endless_list_of_new_records_is_cut_off_by_its_own_total():
    with MisbehavingKatana([]) as katana:
        katana.script("GET", endless_new_records(total=300))
        with pytest.raises(UntrustedListError, match="announced 300 records"):
            run(katana, lambda c: read_list(c, MO, 4000))
    assert katana.count("GET") <= 4


def test_a_hard_cap_on_pages():
    with MisbehavingKatana(serials(30)) as katana:
        katana.script("GET", honest(page_size=5))
        with pytest.raises(UntrustedListError, match="past 3 pages"):
            run(katana, lambda c: read_list(c, MO, 4000, max_pages=3))


def test_a_list_that_changes_between_page_1_and_page_2_is_read_again():
    """Another integration detaches serials while page 1 is in hand: a record slides across the
    boundary unseen. total_records changed, so the read is not trusted and is made again."""
    records = serials(300)
    gone = [r["id"] for r in records[:10]]
    with MisbehavingKatana(records) as katana:
        katana.script("GET", then(lambda k: k.detach(MO, 4000, gone)), times=1, when=on_page(2))
        listed = run(katana, lambda c: read_list(c, MO, 4000))
    assert listed.reads == 3 and listed.ids == {r["id"] for r in records[10:]}
    assert [c.page for c in katana.calls] == [1, 2] * 3  # the first read changed; the next two agree


def test_a_list_that_never_holds_still_is_given_up():
    counter = iter(range(10 ** 6))
    with MisbehavingKatana(serials(300)) as katana:
        katana.script("GET", then(lambda k: k.attach([record(900_000 + next(counter), "ZZ", MO, 4000)])),
                      when=on_page(2))
        with pytest.raises(UntrustedListError, match="could not be read the same way twice in 4 reads") as raised:
            run(katana, lambda c: read_list(c, MO, 4000))
    assert "total_records was" in str(raised.value) and katana.count("GET") == 8
    assert raised.value.resource_id == 4000


def test_a_whole_type_is_listed_with_the_same_guards():
    records = serials(200, resource_id=4000) + serials(120, resource_id=4001, first_id=50_000)
    with MisbehavingKatana(records + [record(7, "P7", "Production", 7001)]) as katana:
        listed = run(katana, lambda c: read_list(c, MO))
    grouped = by_resource(listed.records)
    assert sorted(grouped) == [4000, 4001] and len(grouped[4000]) == 200 and len(grouped[4001]) == 120
    assert katana.calls[0].params.keys() == {"limit", "resource_type", "page"}


def test_one_serial_on_two_resources_of_a_type_counts_twice():
    both = [record(5, "SHARED", MO, 4000), record(5, "SHARED", MO, 4001)]
    with MisbehavingKatana(both) as katana:
        listed = run(katana, lambda c: read_list(c, MO))
    assert len(listed.records) == 2 and listed.reads == 1


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("answer", [html(502), truncated_json(), without_data()], ids=["html", "truncated", "no-data"])
def test_bodies_that_are_not_the_apis_json_are_retried(answer):
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", answer, times=2)
        records = run(katana, lambda c: c.list_serials(MO, 4000))
    assert len(records) == 3 and katana.count("GET") == 3


@pytest.mark.parametrize("answer, words", [
    (html(502), "HTTP 502 from a proxy (HTML page)"),
    (truncated_json(), "HTTP 200 OK (truncated or malformed JSON)"),
    (without_data(), "HTTP 200 without the API's data list"),
], ids=["html", "truncated", "no-data"])
def test_bodies_that_are_not_the_apis_json_are_summarised_never_pasted(answer, words):
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", answer)
        with pytest.raises(ApiUnavailableError) as raised:
            run(katana, lambda c: c.list_serials(MO, 4000), max_retries=3)
    message = str(raised.value)
    assert words in message and "after 3 tries" in message
    assert "<" not in message and "nginx" not in message and "SN000" not in message


# --------------------------------------------------------------------------- waiting


def test_a_retry_after_beyond_max_wait_stops_at_once():
    told = []
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", rate_limited(3600))
        with pytest.raises(WaitTooLongError) as raised:
            run(katana, lambda c: c.list_serials(MO, 4000), on_wait=lambda s, why: told.append(s))
    assert str(raised.value).startswith("Katana asked to wait 3600 s")
    assert "nothing more was sent; run the same command again to resume" in str(raised.value)
    assert katana.count("GET") == 1 and told == []  # it did not start waiting


def test_a_retry_after_within_max_wait_is_waited_for_and_told():
    told = []
    clock = FakeClock()
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", rate_limited(30), times=1)
        records = run(katana, lambda c: c.list_serials(MO, 4000), clock=clock,
                      on_wait=lambda s, why: told.append((round(s), why)))
    assert len(records) == 3
    assert told == [(30, "rate limited (HTTP 429); waiting for the window")]


def test_max_wait_is_one_learned_window_by_default():
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", rate_limited(90))
        with pytest.raises(WaitTooLongError, match="longer than the 60 s allowed"):
            run(katana, lambda c: c.list_serials(MO, 4000))
        with pytest.raises(WaitTooLongError, match="longer than the 5 s allowed"):
            run(katana, lambda c: c.list_serials(MO, 4000), max_wait=5)


def test_a_quota_reset_beyond_max_wait_stops_before_sending_more():
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", quota_spent(reset_in=3600))

        async def twice(client):
            await client.list_serials(MO, 4000)
            await client.list_serials(MO, 4000)

        with pytest.raises(WaitTooLongError, match="quota window resets in 3600 s"):
            run(katana, twice, clock=None)
    assert katana.count("GET") == 1


def test_a_quota_reset_within_max_wait_is_waited_for_and_told():
    told = []
    clock = FakeClock()
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", quota_spent(reset_in=20, now=clock.now), times=1)

        async def twice(client):
            await client.list_serials(MO, 4000)
            return await client.list_serials(MO, 4000)

        assert len(run(katana, twice, clock=clock, on_wait=lambda s, why: told.append((round(s), why)))) == 3
    assert told == [(20, "Katana's quota for this window is spent; waiting for it to reset")]


def test_a_delete_that_never_answers_ends_within_its_deadline():
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("DELETE", hang())
        with pytest.raises(ApiUnavailableError) as raised:
            run(katana, lambda c: c.delete_serials(MO, 4000, [10_000]), clock=None, timeout=0.2,
                request_deadline=0.5)
    assert "no answer within 0.2 s" in str(raised.value) and "DELETE gave up after" in str(raised.value)
    assert 2 <= katana.count("DELETE") <= 3


def test_no_success_for_the_stall_limit_stops_the_run():
    with MisbehavingKatana(serials(3)) as katana:
        katana.script("GET", html(503))
        with pytest.raises(StalledError) as raised:
            run(katana, lambda c: c.list_serials(MO, 4000), backoff=(5, 5), max_retries=50,
                request_deadline=10_000, stall_limit=120)
    assert isinstance(raised.value, ResumeLaterError)
    assert str(raised.value).startswith("no request to Katana has succeeded for 1")
    assert "HTTP 503 from a proxy (HTML page)" in str(raised.value)
    assert "the next try would pass the 120 s stall limit (--stall)" in str(raised.value)


def test_a_401_on_one_resource_is_an_auth_error_for_it():
    with MisbehavingKatana(serials(3) + serials(2, resource_id=4001, first_id=20_000)) as katana:
        katana.script("GET", unauthorized(), when=on_resource(MO, 4001))
        assert len(run(katana, lambda c: c.list_serials(MO, 4000))) == 3
        with pytest.raises(AuthError):
            run(katana, lambda c: c.list_serials(MO, 4001))
