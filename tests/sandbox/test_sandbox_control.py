"""The control API under `/_sandbox` (not Graph: for tests, the demo and drills) and what it does to the
Graph side: mailboxes by UPN or object id, armed faults, refused permissions, expired delta tokens and the
request counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox_fixtures import Graph

TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "exsync-sandbox",
    "client_secret": "exsync-sandbox",
    "scope": "https://graph.microsoft.com/.default",
}


def _arm(graph: Graph, **fault: Any) -> None:
    response = graph.control.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


def _stats(graph: Graph) -> dict[str, Any]:
    response = graph.control.get("/_sandbox/stats")
    assert response.status_code == 200
    return dict(response.json())


# -- mailboxes --------------------------------------------------------------------------------
def test_a_mailbox_is_made_once(graph: Graph) -> None:
    created = graph.control.post("/_sandbox/users", json={"userPrincipalName": "carol.king@firm.example"})
    assert created.status_code == 201
    assert created.json()["userPrincipalName"] == "carol.king@firm.example"
    again = graph.control.post("/_sandbox/users", json={"userPrincipalName": "Carol.King@firm.example"})
    assert again.status_code == 409
    assert graph.control.post("/_sandbox/users", json={"userPrincipalName": "no-at-sign"}).status_code == 400
    user = graph.client.get("/v1.0/users/carol.king@firm.example")
    assert user.status_code == 200 and user.json()["id"] == created.json()["id"]


def test_a_user_is_addressed_by_upn_or_object_id(graph: Graph) -> None:
    object_id = graph.client.get(graph.me).json()["id"]
    made = graph.client.post(f"/v1.0/users/{object_id}/contacts", json={"givenName": "Dora"})
    assert made.status_code == 201
    by_upn = graph.client.get(f"{graph.me}/contacts").json()["value"]
    assert [c["id"] for c in by_upn] == [made.json()["id"]]
    by_id = graph.client.get(f"/v1.0/users/{object_id}/contacts/{made.json()['id']}")
    assert by_id.status_code == 200
    unknown = graph.client.get("/v1.0/users/nobody@firm.example/contacts")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ErrorInvalidUser"


# -- faults --------------------------------------------------------------------------------
def test_a_fault_answers_the_next_count_matching_requests(graph: Graph) -> None:
    _arm(graph, status=503, count=2, retryAfter=3, path=f"^/users/{graph.upn}/contacts$")
    try:
        first, second = (graph.client.get(f"{graph.me}/contacts") for _ in range(2))
        for response in (first, second):
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "ServiceUnavailable"
            assert response.headers["Retry-After"] == "3"
        # Other paths were never affected, and the fault is spent after two.
        assert graph.client.get(graph.me).status_code == 200
        assert graph.client.get(f"{graph.me}/contacts").status_code == 200
    finally:
        graph.control.delete("/_sandbox/faults")


def test_a_429_fault_counts_as_throttled(graph: Graph) -> None:
    before = _stats(graph)["throttled"]
    _arm(graph, status=429, count=1, retryAfter=1, path=f"^/users/{graph.upn}/contacts")
    try:
        throttled = graph.client.post(f"{graph.me}/contacts", json={"givenName": "Eli"})
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "ApplicationThrottled"
        assert throttled.headers["Retry-After"] == "1"
        # Nothing was created by the throttled request; the retry is.
        assert graph.client.get(f"{graph.me}/contacts").json()["value"] == []
        assert graph.client.post(f"{graph.me}/contacts", json={"givenName": "Eli"}).status_code == 201
    finally:
        graph.control.delete("/_sandbox/faults")
    stats = _stats(graph)
    assert stats["throttled"] == before + 1
    assert stats["requests"][graph.upn]["POST /users/{user-id}/contacts"] == 2


def test_a_fault_reaches_batch_sub_requests_one_by_one(graph: Graph) -> None:
    _arm(graph, status=503, count=1, path=f"^/users/{graph.upn}$")
    try:
        requests = [{"id": str(n), "method": "GET", "url": f"/users/{graph.upn}"} for n in (1, 2)]
        response = graph.client.post("/v1.0/$batch", json={"requests": requests})
    finally:
        graph.control.delete("/_sandbox/faults")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["responses"]] == [503, 200]


def test_faults_last_until_cleared_and_bad_ones_are_refused(graph: Graph) -> None:
    _arm(graph, status=500, count=-1, path=f"^/users/{graph.upn}$")
    try:
        for _ in range(3):
            assert graph.client.get(graph.me).status_code == 500
    finally:
        assert graph.control.delete("/_sandbox/faults").status_code == 204
    assert graph.client.get(graph.me).status_code == 200
    for bad in ({"status": 99}, {"status": 503, "count": 0}, {"status": 503, "path": "("}, {"count": 1}):
        assert graph.control.post("/_sandbox/faults", json=bad).status_code == 400


# -- permissions --------------------------------------------------------------------------------
def test_a_denied_part_answers_403(graph: Graph) -> None:
    denied = graph.control.post(
        "/_sandbox/permissions", json={"userPrincipalName": graph.upn, "deny": ["contacts"]}
    )
    assert denied.status_code == 200
    refused = graph.client.get(f"{graph.me}/contacts")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    sub = graph.client.post(
        "/v1.0/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": f"/users/{graph.upn}/contactFolders"}]},
    ).json()["responses"][0]
    assert sub["status"] == 403
    assert graph.client.get(graph.me).status_code == 200  # the user itself is not a denied part
    assert graph.client.get(f"/v1.0/users/{graph.new_user()}/contacts").status_code == 200  # nor others
    graph.control.post("/_sandbox/permissions", json={"userPrincipalName": graph.upn, "deny": []})
    assert graph.client.get(f"{graph.me}/contacts").status_code == 200
    bad = graph.control.post(
        "/_sandbox/permissions", json={"userPrincipalName": graph.upn, "deny": ["files"]}
    )
    assert bad.status_code == 400


# -- delta tokens --------------------------------------------------------------------------------
def test_expired_delta_tokens_answer_410(graph: Graph) -> None:
    graph.client.post(f"{graph.me}/contacts", json={"givenName": "Fay"})
    _, last = graph.all_pages(f"{graph.me}/contacts/delta")
    delta_link = str(last["@odata.deltaLink"])
    assert graph.client.get(delta_link).status_code == 200
    expired = graph.control.post("/_sandbox/expire-delta-tokens")
    assert expired.status_code == 200
    gone = graph.client.get(delta_link)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "syncStateNotFound"
    # A new round starts afresh.
    values, _ = graph.all_pages(f"{graph.me}/contacts/delta")
    assert [v["givenName"] for v in values] == ["Fay"]


# -- statistics --------------------------------------------------------------------------------
def test_stats_count_graph_requests_by_upn_and_template(graph: Graph) -> None:
    assert graph.control.delete("/_sandbox/stats").status_code == 204
    assert _stats(graph) == {"requests": {}, "throttled": 0}
    object_id = graph.client.get(graph.me).json()["id"]
    made = graph.client.post(f"/v1.0/users/{object_id}/contacts", json={"givenName": "Gil"}).json()
    me = graph.me.removeprefix("/v1.0")
    graph.client.post(
        "/v1.0/$batch",
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": f"{me}/contacts/{made['id']}"},
                {"id": "2", "method": "GET", "url": f"/users/{object_id}/contacts?$top=5"},
                {"id": "3", "method": "GET", "url": f"{me}/contactFolders"},
            ]
        },
    )
    # Neither the identity platform nor the control API counts.
    graph.control.post("/firm/oauth2/v2.0/token", data=TOKEN_FORM).raise_for_status()
    graph.control.get("/firm/v2.0/.well-known/openid-configuration").raise_for_status()
    assert _stats(graph) == {
        "requests": {
            graph.upn: {
                "GET /users/{user-id}": 1,
                "POST /users/{user-id}/contacts": 1,
                "GET /users/{user-id}/contacts/{contact-id}": 1,
                "GET /users/{user-id}/contacts": 1,
                "GET /users/{user-id}/contactFolders": 1,
            }
        },
        "throttled": 0,
    }
    assert graph.control.delete("/_sandbox/stats").status_code == 204
    assert _stats(graph) == {"requests": {}, "throttled": 0}
