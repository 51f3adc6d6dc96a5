"""The sandbox answers like Katana: shapes checked against the project's schema."""

from __future__ import annotations

import json

import httpx
import pytest
from sandbox_fixtures import AUTH, InProcess, assert_api_headers, assert_valid, many, pagination, serial, small_seed

from sn_importer.clock import FakeClock
from sn_importer.errors import InputError
from sn_importer.sandbox import RESOURCE_TYPES, create_app, load_seed, parse_rate_limit, running_sandbox
from sn_importer.sandbox.app import SimulatedConnectionDrop

URL = "/v1/serial_numbers"


def sandbox(records=None, **options) -> InProcess:
    return InProcess(create_app(small_seed() if records is None else records, **options))


def delete(client: InProcess, body) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.request("DELETE", URL, content=content, headers={"Content-Type": "application/json"})


def on(client: InProcess, resource_type: str, resource_id: int) -> list[tuple[int, str]]:
    records = client.app.state.store.find(resource_type, resource_id)
    return [(r["id"], r["serial_number"]) for r in records]


# --------------------------------------------------------------------------- GET


def test_get_one_resource_sorted_by_serial_string():
    client = sandbox()
    response = client.get(URL, params={"resource_type": "ManufacturingOrder", "resource_id": 3001})
    assert response.status_code == 200
    assert_valid(response.json(), "SerialNumberListResponse")
    assert_api_headers(response)
    assert [r["serial_number"] for r in response.json()["data"]] == ["KNF000001001", "KNF000001002", "KNF000904179"]
    assert pagination(response) == {
        "total_records": "3", "total_pages": "1", "offset": "0", "page": "1", "first_page": "true", "last_page": "true",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"resource_type": "ManufacturingOrder"}, 4),  # every MO of the tenant
        ({"resource_id": 3001}, 3),  # that id, whatever the type
        ({}, 6),  # the whole tenant
    ],
)
def test_get_filters(params, expected):
    assert len(sandbox().get(URL, params=params).json()["data"]) == expected


def test_pagination_over_300_records():
    client = sandbox(many(300))
    first = client.get(URL, params={"resource_id": 4000, "limit": 250, "page": 1})
    second = client.get(URL, params={"resource_id": 4000, "limit": 250, "page": 2})
    past = client.get(URL, params={"resource_id": 4000, "limit": 250, "page": 3})
    assert [len(r.json()["data"]) for r in (first, second, past)] == [250, 50, 0]
    assert past.status_code == 200
    assert pagination(first) | {} == {
        "total_records": "300", "total_pages": "2", "offset": "0", "page": "1", "first_page": "true", "last_page": "false",
    }
    assert pagination(second)["last_page"] == "true" and pagination(second)["offset"] == "250"
    ids = [r["id"] for r in first.json()["data"] + second.json()["data"]]
    assert sorted(ids) == [r["id"] for r in many(300)]


def test_limit_defaults_to_50_and_is_clamped_to_250():
    client = sandbox(many(300))
    assert len(client.get(URL).json()["data"]) == 50
    response = client.get(URL, params={"limit": 1000})
    assert len(response.json()["data"]) == 250
    assert pagination(response)["total_pages"] == "2"


def test_unknown_resource_type_is_400_with_the_api_error_body():
    response = sandbox().get(URL, params={"resource_type": "manufacturingorder"})
    assert response.status_code == 400
    assert_valid(response.json(), "ErrorResponse")
    assert response.json()["name"] == "BadRequest"
    assert_api_headers(response)


@pytest.mark.parametrize("params", [{"resource_id": "abc"}, {"limit": "0"}, {"page": "x"}, {"page": "0"}])
def test_bad_integer_query_is_422(params):
    response = sandbox().get(URL, params=params)
    assert response.status_code == 422
    assert_valid(response.json(), "DetailedErrorResponse")


def test_every_resource_type_is_accepted_on_get():
    client = sandbox()
    assert {client.get(URL, params={"resource_type": t}).status_code for t in RESOURCE_TYPES} == {200}


# --------------------------------------------------------------------------- DELETE


def test_delete_detaches_only_from_the_named_resource():
    client = sandbox()
    response = delete(client, {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [904179, 1001]})
    assert response.status_code == 204 and response.content == b""
    assert_api_headers(response)
    assert on(client, "ManufacturingOrder", 3001) == [(1002, "KNF000001002")]
    assert on(client, "Production", 7001) == [(904179, "KNF000904179")]
    assert on(client, "SalesOrderRow", 5001) == [(904179, "KNF000904179")]


@pytest.mark.parametrize(
    "ids",
    [[999999], [2001], [1001, 999999]],  # unknown; on another MO; a mix
    ids=["unknown id", "id on another resource", "mix"],
)
def test_delete_answers_204_whatever_happens(ids):
    client = sandbox()
    before = client.app.state.store.records
    response = delete(client, {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": ids})
    assert response.status_code == 204
    gone = [r for r in before if r not in client.app.state.store.records]
    assert [(r["id"], r["resource_id"]) for r in gone] == [(i, 3001) for i in ids if i == 1001]


def test_delete_twice_is_still_204():
    client = sandbox()
    body = {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [1001]}
    assert [delete(client, body).status_code for _ in range(2)] == [204, 204]


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": []}, ".ids", "minItems"),
        ({"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": ["1001"]}, ".ids[0]", "type"),
        ({"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": 1001}, ".ids", "type"),
        ({"resource_type": "ManufacturingOrder", "resource_id": "3001", "ids": [1]}, ".resource_id", "type"),
        ({"resource_type": "MO", "resource_id": 3001, "ids": [1]}, ".resource_type", "enum"),
        ({"resource_type": "ManufacturingOrder", "resource_id": 3001}, "", "required"),
        ({"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [1], "x": 1}, "", "additionalProperties"),
        ("{not json", "", "type"),
    ],
)
def test_malformed_delete_is_422_with_ajv_details(body, path, code):
    client = sandbox()
    before = client.app.state.store.records
    response = delete(client, body)
    assert response.status_code == 422
    error = response.json()
    assert_valid(error, "DetailedErrorResponse")
    assert error["name"] == "UnprocessableEntityError" and error["code"] == "VALIDATION_FAILED"
    assert error["message"] == "The request body is invalid. See error object `details` property for more info."
    assert (error["details"][0]["path"], error["details"][0]["code"]) == (path, code)
    assert client.app.state.store.records == before


# --------------------------------------------------------------------------- POST


def test_post_mints_on_a_manufacturing_order_and_refuses_duplicates():
    client = sandbox()
    body = {"resource_type": "ManufacturingOrder", "resource_id": 3009, "serial_numbers": ["NEW-1", "NEW-1"]}
    assert_valid(body, "CreateSerialNumbersRequest")
    response = client.post(URL, json=body)
    assert response.status_code == 200
    answer = response.json()
    assert_valid(answer, "CreateSerialNumbersResponse")
    assert [r["serial_number"] for r in answer["successful"]] == ["NEW-1"]
    assert answer["failed"] == [{"serial_number": "NEW-1", "reason": "DUPLICATE"}]
    assert on(client, "ManufacturingOrder", 3009) == [(904180, "NEW-1")]


def test_post_transfers_a_known_serial_with_the_api_quirks():
    client = sandbox()
    response = client.post(URL, json={"resource_type": "StockTransferRow", "resource_id": 8001, "serial_numbers": ["KNF000001001"]})
    moved = response.json()["successful"]
    assert_valid(response.json(), "CreateSerialNumbersResponse")
    assert (moved[0]["transaction_id"], moved[0]["resource_id"], moved[0]["id"]) == ("undefined", None, 1001)
    assert on(client, "StockTransferRow", 8001) == [(1001, "KNF000001001")]


@pytest.mark.parametrize(("resource_type", "message"), [("SalesOrderRow", "serial numbers not found"), ("Production", "UnknownSerialNumber")])
def test_post_transfer_of_an_unknown_string_is_422(resource_type, message):
    response = sandbox().post(URL, json={"resource_type": resource_type, "resource_id": 1, "serial_numbers": ["NOPE"]})
    assert response.status_code == 422 and response.json()["message"] == message
    assert_valid(response.json(), "ErrorResponse")


def test_a_serial_detached_from_every_resource_is_transferred_back_with_its_id_and_minted_anew():
    client = sandbox()
    for resource_type, resource_id in (("ManufacturingOrder", 3001), ("SalesOrderRow", 5001), ("Production", 7001)):
        delete(client, {"resource_type": resource_type, "resource_id": resource_id, "ids": [904179]})
    moved = client.post(URL, json={"resource_type": "SalesOrderRow", "resource_id": 5001,
                                   "serial_numbers": ["KNF000904179"]})
    assert moved.status_code == 200 and on(client, "SalesOrderRow", 5001) == [(904179, "KNF000904179")]
    delete(client, {"resource_type": "SalesOrderRow", "resource_id": 5001, "ids": [904179]})
    minted = client.post(URL, json={"resource_type": "ManufacturingOrder", "resource_id": 3001,
                                    "serial_numbers": ["KNF000904179"]}).json()["successful"]
    assert minted[0]["id"] not in (904179, 1001, 1002), "a string on no resource is minted with a new id"
    again = client.post(URL, json={"resource_type": "ManufacturingOrder", "resource_id": 3001,
                                   "serial_numbers": ["KNF000904179", "KNF000001001"]}).json()
    assert again == {"successful": [], "failed": [{"serial_number": "KNF000904179", "reason": "DUPLICATE"},
                                                  {"serial_number": "KNF000001001", "reason": "DUPLICATE"}]}


def test_post_onto_a_fulfillment_row_is_an_enum_error():
    response = sandbox().post(URL, json={"resource_type": "SalesOrderFulfillmentRow", "resource_id": 1, "serial_numbers": ["X"]})
    assert response.status_code == 422
    assert response.json()["details"][0]["code"] == "enum"


# --------------------------------------------------------------------------- gateway


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "sandbox", "Basic sandbox"])
def test_only_the_bearer_key_is_accepted(auth):
    client = sandbox()
    headers = {"Authorization": auth} if auth else {}
    del client.headers["Authorization"]
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "name": "UnauthorizedError", "message": "Unauthorized"}
    assert_api_headers(response)


def test_wrong_key_does_not_spend_the_quota():
    client = sandbox(rate_limit=(2, 60.0), clock=FakeClock())
    for _ in range(3):
        client.get(URL, headers={"Authorization": "Bearer wrong"})
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]


def test_fixed_window_opens_at_first_request_and_resets():
    clock = FakeClock(start=1000.0)
    client = sandbox(rate_limit=(2, 10.0), clock=clock)
    first = client.get(URL)
    clock.advance(4.2)
    second, third = client.get(URL), client.get(URL)
    assert [r.headers["x-ratelimit-remaining"] for r in (first, second, third)] == ["1", "0", "0"]
    assert first.headers["x-ratelimit-reset"] == "1010000" == third.headers["x-ratelimit-reset"]
    assert third.status_code == 429 and third.headers["retry-after"] == "6"
    assert third.json() == {"statusCode": 429, "name": "TooManyRequests", "message": "Too Many Requests"}
    clock.advance(5.8)
    assert client.get(URL).headers["x-ratelimit-remaining"] == "1"


def test_stats_count_methods_and_statuses_without_auth_or_quota():
    client = sandbox(rate_limit=(2, 60.0), clock=FakeClock())
    client.get(URL)
    delete(client, {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [1]})
    client.get(URL)
    del client.headers["Authorization"]
    stats = client.get("/_sandbox/stats").json()
    assert_valid(stats, "SandboxStats")
    assert stats == {"requests": {"GET": 2, "DELETE": 1, "POST": 0}, "status": {"200": 1, "204": 1, "429": 1},
                     "endpoints": {"DELETE /serial_numbers": 1, "GET /serial_numbers": 2}}


def test_failed_delete_detaches_nothing():
    client = sandbox(fail_rate=1.0, random_seed=1)
    before = client.app.state.store.records
    for _ in range(6):
        try:
            response = delete(client, {"resource_type": "ManufacturingOrder", "resource_id": 3001, "ids": [1001]})
            assert response.status_code == 500
            assert response.json() == {"statusCode": 500, "name": "InternalServerError", "message": "Internal Server Error"}
        except SimulatedConnectionDrop:
            pass
    assert client.app.state.store.records == before
    assert set(client.app.state.store.stats()["status"]) == {"500", "dropped"}


@pytest.mark.parametrize(("method", "url"), [("GET", "/v1/nothing"), ("PUT", URL), ("HEAD", URL)])
def test_unknown_paths_and_methods_answer_404(method, url):
    response = sandbox().request(method, url)
    assert response.status_code == 404
    if method != "HEAD":
        assert response.json() == {"statusCode": 404, "name": "NotFoundError", "message": "Not found"}


# --------------------------------------------------------------------------- seeds, options


def test_load_seed_accepts_array_and_data_object(tmp_path):
    plain, wrapped = tmp_path / "plain.json", tmp_path / "wrapped.json"
    plain.write_text(json.dumps(small_seed()))
    wrapped.write_text(json.dumps({"data": [{"id": 1, "serial_number": "A", "resource_type": "Production", "resource_id": 2}]}))
    assert load_seed(plain).serial_numbers == small_seed()
    assert load_seed(wrapped).serial_numbers == [
        {"id": 1, "serial_number": "A", "resource_type": "Production", "resource_id": 2,
         "transaction_id": None, "transaction_date": None, "quantity_change": 1},
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[{", "not valid JSON"),
        ('{"records": []}', "expected a JSON array"),
        ('[{"id": "7", "serial_number": "A", "resource_type": "Production"}]', "record 0: 'id' must be an integer"),
        ('[{"id": 7, "serial_number": "A", "resource_type": "MO"}]', "record 0: unknown resource_type 'MO'"),
        (json.dumps([serial(1, "A"), serial(1, "A")]), "record 1: serial id 1 appears twice"),
    ],
)
def test_bad_seed_names_file_and_problem(tmp_path, content, problem):
    seed = tmp_path / "seed.json"
    seed.write_text(content)
    with pytest.raises(InputError, match="seed.json") as raised:
        load_seed(seed)
    assert problem in str(raised.value)


def test_missing_seed_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_seed(tmp_path / "nope.json")


@pytest.mark.parametrize(("text", "expected"), [("20/1", (20, 1.0)), ("60/60", (60, 60.0)), (" 5 / 0.5 ", (5, 0.5))])
def test_parse_rate_limit(text, expected):
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["", "20", "20/0", "0/1", "a/b", "20/1/2", "-1/5"])
def test_parse_rate_limit_refuses_nonsense(text):
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limit(text)


# --------------------------------------------------------------------------- over real HTTP


def test_served_on_loopback_rate_limit_with_retry_after():
    with running_sandbox(small_seed(), rate_limit=(3, 30.0)) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        with httpx.Client(base_url=server.base_url, headers=AUTH) as http:
            answers = [http.get("/serial_numbers") for _ in range(5)]
            stats = http.get(server.base_url.removesuffix("/v1") + "/_sandbox/stats").json()
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    for answer in answers:
        assert_api_headers(answer)
    assert 29 <= int(answers[3].headers["retry-after"]) <= 30
    assert stats == {"requests": {"GET": 5, "DELETE": 0, "POST": 0}, "status": {"200": 3, "429": 2},
                     "endpoints": {"GET /serial_numbers": 5}}


def test_a_dropped_connection_is_a_transport_error_for_httpx():
    with running_sandbox(small_seed(), fail_rate=1.0, random_seed=0) as server:
        with httpx.Client(base_url=server.base_url, headers=AUTH) as http:
            outcomes = []
            for _ in range(8):
                try:
                    outcomes.append(http.get("/serial_numbers").status_code)
                except httpx.TransportError as exc:
                    outcomes.append(type(exc).__name__)
    assert set(outcomes) == {500, "RemoteProtocolError"}


def test_stop_frees_the_port():
    with running_sandbox(small_seed()) as server:
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/serial_numbers", headers=AUTH, timeout=2)


def test_a_client_that_goes_away_mid_request_costs_no_traceback():
    """A killed apply leaves its DELETE half sent: the sandbox's console stays quiet about it."""
    import logging
    import socket
    import time as clock

    class Kept(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    kept = Kept()
    with running_sandbox() as server:
        logging.getLogger("uvicorn.error").addHandler(kept)  # where uvicorn reports an app's exception (once
        # the server has set its logging up)
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"DELETE /v1/serial_numbers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            limit = clock.monotonic() + 30
            while server.store.window.peek().remaining == 60 and clock.monotonic() < limit:
                clock.sleep(0.01)  # the request has passed the quota: its handler waits for the body
        limit = clock.monotonic() + 30
        while server._server.server_state.connections and clock.monotonic() < limit:
            clock.sleep(0.01)  # ... and has finished with it
        assert not server._server.server_state.connections
    logging.getLogger("uvicorn.error").removeHandler(kept)
    assert not [r for r in kept.records if r.exc_info], [r.getMessage() for r in kept.records]
