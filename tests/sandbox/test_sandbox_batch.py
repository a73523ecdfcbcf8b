"""JSON batching, `POST /v1.0/$batch`, written from Microsoft's "Combine multiple HTTP requests using JSON
batching": up to 20 requests with unique ids, relative URLs, a Content-Type with every body, dependsOn
sequencing with 424 for dependents of a failure, and a 200 envelope whatever the sub-requests answered.
Every response (sub-responses included) is checked against the schema by the `graph` fixture."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox_fixtures import Graph

JSON = {"Content-Type": "application/json"}
IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


def _batch(graph: Graph, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Send a batch that must be accepted; its sub-responses by id."""
    response = graph.client.post("/v1.0/$batch", json={"requests": requests})
    assert response.status_code == 200, response.text
    responses = response.json()["responses"]
    assert sorted(r["id"] for r in responses) == sorted(r["id"] for r in requests)
    return {r["id"]: r for r in responses}


def _refused(graph: Graph, payload: Any) -> dict[str, Any]:
    response = graph.client.post("/v1.0/$batch", json=payload)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "BadRequest"
    return error


def _contact(given: str) -> dict[str, Any]:
    return {
        "givenName": given,
        "surname": "Batch",
        "emailAddresses": [{"address": f"{given}@client.example"}],
    }


def test_creates_and_reads_in_sequence_with_a_failed_dependency(graph: Graph) -> None:
    me = graph.me.removeprefix("/v1.0")
    results = _batch(
        graph,
        [
            {"id": "1", "method": "POST", "url": f"{me}/contacts", "body": _contact("ada"), "headers": JSON},
            {
                "id": "2",
                "dependsOn": ["1"],
                "method": "POST",
                "url": f"{me}/contacts",
                "body": _contact("bob"),
                "headers": {**JSON, **IMMUTABLE},
            },
            {
                "id": "3",
                "dependsOn": ["2"],
                "method": "GET",
                "url": f"{me}/contacts?$select=givenName&$top=10",
            },
            # An item that does not exist fails, and so does everything after it in the chain.
            {"id": "4", "dependsOn": ["3"], "method": "GET", "url": f"{me}/contacts/AAMkAnotThere"},
            {"id": "5", "dependsOn": ["4"], "method": "DELETE", "url": f"{me}/contacts/AAMkAnotThere"},
            {"id": "6", "dependsOn": ["5"], "method": "GET", "url": f"{me}/contacts"},
        ],
    )
    assert results["1"]["status"] == 201 and results["2"]["status"] == 201
    assert results["1"]["body"]["givenName"] == "ada"
    assert results["1"]["headers"]["Content-Type"].startswith("application/json")
    # The second create ran after the first, so the read that depends on it sees both.
    listed = results["3"]["body"]["value"]
    assert sorted(c["givenName"] for c in listed) == ["ada", "bob"]
    assert set(listed[0]) == {"@odata.etag", "id", "givenName"}
    assert results["4"]["status"] == 404
    assert results["4"]["body"]["error"]["code"] == "ErrorItemNotFound"
    for failed in ("5", "6"):
        assert results[failed]["status"] == 424
        assert results[failed]["body"]["error"]["code"]
    # The creates are real: both contacts are there outside the batch too.
    names = sorted(c["givenName"] for c in graph.client.get(f"{graph.me}/contacts").json()["value"])
    assert names == ["ada", "bob"]


def test_each_request_takes_its_own_headers(graph: Graph) -> None:
    """Each sub-request carries its own Prefer: a batch's headers are not applied to its requests."""
    created = graph.client.post(f"{graph.me}/contacts", json=_contact("cy")).json()
    immutable_id = created["id"]
    me = graph.me.removeprefix("/v1.0")
    results = _batch(
        graph,
        [
            {"id": "with", "method": "GET", "url": f"{me}/contacts?$select=id", "headers": IMMUTABLE},
            {"id": "without", "method": "GET", "url": f"{me}/contacts?$select=id"},
        ],
    )
    assert [c["id"] for c in results["with"]["body"]["value"]] == [immutable_id]
    regular = [c["id"] for c in results["without"]["body"]["value"]]
    assert regular and regular != [immutable_id]
    # The regular id names the same contact.
    assert graph.client.get(f"{graph.me}/contacts/{regular[0]}").json()["id"] == immutable_id


def test_urls_with_or_without_a_leading_slash_and_a_parallel_batch(graph: Graph) -> None:
    upn = graph.upn
    results = _batch(
        graph,
        [
            {"id": "a", "method": "GET", "url": f"users/{upn}"},
            {"id": "b", "method": "GET", "url": f"/users/{upn}"},
            {"id": "c", "method": "GET", "url": f"users/{upn}/contacts?$top=1&$count=true"},
            {"id": "d", "method": "GET", "url": "/me"},  # app-only: /me is not available
        ],
    )
    assert results["a"]["body"]["userPrincipalName"] == upn
    assert results["b"]["body"]["id"] == results["a"]["body"]["id"]
    assert results["c"]["status"] == 200 and results["c"]["body"]["value"] == []
    assert results["d"]["status"] == 400
    assert (
        results["d"]["body"]["error"]["message"]
        == "/me request is only valid with delegated authentication flow."
    )


def test_a_delete_answers_204_with_no_body(graph: Graph) -> None:
    contact = graph.client.post(f"{graph.me}/contacts", json=_contact("dee")).json()
    me = graph.me.removeprefix("/v1.0")
    results = _batch(graph, [{"id": "1", "method": "DELETE", "url": f"{me}/contacts/{contact['id']}"}])
    assert results["1"]["status"] == 204
    assert results["1"].get("body") is None
    assert graph.client.get(f"{graph.me}/contacts/{contact['id']}").status_code == 404


def test_failures_do_not_fail_the_batch_and_unrelated_requests_run(graph: Graph) -> None:
    me = graph.me.removeprefix("/v1.0")
    results = _batch(
        graph,
        [
            {"id": "1", "method": "GET", "url": f"{me}/contacts/AAMkAnotThere"},
            {"id": "2", "method": "POST", "url": f"{me}/contacts", "body": _contact("eve"), "headers": JSON},
            {"id": "3", "method": "GET", "url": "/users/nobody@firm.example/contacts"},
            {
                "id": "4",
                "method": "PATCH",
                "url": f"{me}/contacts/AAMkAnotThere",
                "body": {},
                "headers": JSON,
            },
        ],
    )
    assert results["1"]["status"] == 404
    assert results["2"]["status"] == 201  # no dependsOn: a failure elsewhere does not stop it
    assert results["3"]["status"] == 404
    assert results["3"]["body"]["error"]["code"] == "ErrorInvalidUser"
    assert results["4"]["status"] == 404


def test_non_json_bodies_travel_base64_encoded(graph: Graph) -> None:
    """A MIME message (created from base64 MIME with Content-Type: text/plain) goes into a batch as the
    base64 of that request body, and its `$value` comes back base64-encoded with its own Content-Type."""
    mime = (
        b"From: Ann <ann@client.example>\r\nTo: Bob <bob@firm.example>\r\nSubject: Batched MIME\r\n"
        b"Date: Mon, 02 Nov 2026 09:30:00 +0000\r\nMessage-ID: <batched-1@client.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from a batch.\r\n"
    )
    request_body = base64.b64encode(mime)  # what POST /messages takes outside a batch
    me = graph.me.removeprefix("/v1.0")
    created = _batch(
        graph,
        [
            {
                "id": "1",
                "method": "POST",
                "url": f"{me}/messages",
                "headers": {"Content-Type": "text/plain", **IMMUTABLE},
                "body": base64.urlsafe_b64encode(request_body).decode(),
            }
        ],
    )["1"]
    assert created["status"] == 201, created
    assert created["body"]["subject"] == "Batched MIME"
    raw = _batch(
        graph, [{"id": "1", "method": "GET", "url": f"{me}/messages/{created['body']['id']}/$value"}]
    )["1"]
    assert raw["status"] == 200
    assert not raw["headers"]["Content-Type"].startswith("application/json")
    assert b"Subject: Batched MIME" in base64.b64decode(raw["body"])
    # A body that is not base64 where base64 is due makes the batch malformed.
    bad = {"id": "1", "method": "POST", "url": f"{me}/messages", "headers": {"Content-Type": "text/plain"}}
    _refused(graph, {"requests": [{**bad, "body": "not base64!"}]})


def test_at_most_twenty_requests(graph: Graph) -> None:
    upn = graph.upn
    twenty = [{"id": str(n), "method": "GET", "url": f"/users/{upn}"} for n in range(1, 21)]
    assert all(r["status"] == 200 for r in _batch(graph, twenty).values())
    error = _refused(graph, {"requests": [*twenty, {"id": "21", "method": "GET", "url": f"/users/{upn}"}]})
    assert error["message"] == "Number of requests inside batch exceeds the limit."
    # A refused batch ran none of its requests (the twenty above ran: 20 reads counted, not 41).
    assert graph.control.get("/_sandbox/stats").json()["requests"][upn] == {"GET /users/{user-id}": 20}


def test_a_body_needs_a_content_type_and_a_write_needs_a_body(graph: Graph) -> None:
    me = graph.me.removeprefix("/v1.0")
    no_type = {"id": "1", "method": "POST", "url": f"{me}/contacts", "body": _contact("fay")}
    error = _refused(graph, {"requests": [no_type]})
    assert error["message"] == "Write request id : 1 does not contain Content-Type header or body."
    no_body = {"id": "7", "method": "PATCH", "url": f"{me}/contacts/x", "headers": JSON}
    assert _refused(graph, {"requests": [no_body]})["message"].startswith("Write request id : 7 ")
    # Nothing was created by the refused batches.
    assert graph.client.get(f"{graph.me}/contacts").json()["value"] == []


def test_malformed_batches_are_refused(graph: Graph) -> None:
    me = graph.me.removeprefix("/v1.0")
    get = {"method": "GET", "url": f"{me}/contacts"}
    # Ids are not case-sensitive and must be unique.
    error = _refused(graph, {"requests": [{"id": "a", **get}, {"id": "A", **get}]})
    assert error["message"] == "Request Id A has to be unique in a batch."
    _refused(graph, {"requests": [{"id": "1", **get, "dependsOn": ["9"]}]})  # no such request
    _refused(
        graph, {"requests": [{"id": "1", **get, "dependsOn": ["2"]}, {"id": "2", **get, "dependsOn": ["1"]}]}
    )
    _refused(graph, {"requests": [{"method": "GET", "url": f"{me}/contacts"}]})  # no id
    _refused(graph, {"requests": [{"id": "1", "method": "FETCH", "url": f"{me}/contacts"}]})
    _refused(graph, {"requests": [{"id": "1", "method": "GET"}]})  # no url
    _refused(
        graph, {"requests": [{"id": "1", "method": "GET", "url": f"https://graph.microsoft.com/v1.0{me}"}]}
    )
    _refused(graph, {"requests": [{"id": "1", "method": "GET", "url": "/$batch"}]})
    _refused(graph, {"requests": []})
    _refused(graph, {"value": [{"id": "1", **get}]})
    response = graph.client.post("/v1.0/$batch", content=b"{not json", headers=JSON)
    assert response.status_code == 400


def test_the_batch_itself_needs_a_token(graph: Graph) -> None:
    response = graph.control.post(
        "/v1.0/$batch", json={"requests": [{"id": "1", "method": "GET", "url": f"/users/{graph.upn}"}]}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
