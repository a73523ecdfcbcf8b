"""Regressions found in review: what a sync client would have tripped over. A handler's crash answers Graph's
500 (alone inside a `$batch`), a refused PATCH changes nothing, a delta round in progress outlives other
clients' rounds, a delta token works only on its own collection, JSON Graph cannot hold is refused, To Do
takes no extended properties, and listing order survives a restart."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from exsync.sandbox.listing import Rounds
from exsync.sandbox.render import DECORATORS
from exsync.sandbox.server import SandboxServer
from exsync.sandbox.store import Item

if TYPE_CHECKING:
    from sandbox_fixtures import Graph

KEY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name exsyncKey"
WINDOW = "startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-02-01T00:00:00Z"


def _boom(ctx: Any, item: Item, out: dict[str, Any]) -> None:
    raise RuntimeError("a handler's own bug")


@pytest.fixture
def broken_contacts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rendering a contact raises: a stand-in for any bug in a handler."""
    monkeypatch.setitem(DECORATORS, "contact", _boom)
    yield


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return dict(response.json()["error"])


# -- crashes --------------------------------------------------------------------------------------------
def test_a_crashing_handler_answers_graph_500(graph: Graph, broken_contacts: None) -> None:
    response = graph.client.post(
        f"{graph.me}/contacts", json={"givenName": "Ada"}, headers={"client-request-id": "abc-123"}
    )
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "ErrorInternalServerError"
    assert error["innerError"]["client-request-id"] == "abc-123"
    # the server is still there for the next request
    assert graph.client.get(f"{graph.me}/todo/lists").status_code == 200


def test_a_crashing_batch_sub_request_fails_alone(graph: Graph, broken_contacts: None) -> None:
    user = graph.me.removeprefix("/v1.0")
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": f"{user}/contacts"},
            {"id": "2", "method": "GET", "url": f"{user}/todo/lists"},
        ]
    }
    contacts = graph.client.post(f"{graph.me}/contacts", json={"givenName": "Ada"})
    assert contacts.status_code == 500
    response = graph.client.post("/v1.0/$batch", json=batch)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 500
    assert by_id["1"]["body"]["error"]["code"] == "ErrorInternalServerError"
    assert by_id["2"]["status"] == 200


def test_json_graph_cannot_hold_is_refused(graph: Graph) -> None:
    lone = graph.client.post(
        f"{graph.me}/contacts",
        content=b'{"givenName": "Ada \\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert lone.status_code == 400 and _error(lone)["code"] == "BadRequest"
    paired = graph.client.post(
        f"{graph.me}/contacts",
        content=b'{"givenName": "Ada \\ud83d\\ude00"}',
        headers={"Content-Type": "application/json"},
    )
    assert paired.status_code == 201 and paired.json()["givenName"] == "Ada \U0001f600"
    listed = graph.client.get(f"{graph.me}/contacts")
    assert listed.status_code == 200 and [c["givenName"] for c in listed.json()["value"]] == [
        "Ada \U0001f600"
    ]
    deep = graph.client.post(
        f"{graph.me}/contacts",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert deep.status_code == 400


# -- a refused update ----------------------------------------------------------------------------------
def test_a_refused_task_update_changes_nothing(graph: Graph) -> None:
    lists = graph.client.get(f"{graph.me}/todo/lists").json()["value"]
    tasks = f"{graph.me}/todo/lists/{lists[0]['id']}/tasks"
    task = graph.client.post(tasks, json={"title": "Call Ada"}).json()
    refused = graph.client.patch(f"{tasks}/{task['id']}", json={"title": "Call Bob", "status": "someday"})
    assert refused.status_code == 400
    now = graph.client.get(f"{tasks}/{task['id']}").json()
    assert (now["title"], now["status"], now["@odata.etag"]) == (
        "Call Ada",
        "notStarted",
        task["@odata.etag"],
    )
    fine = graph.client.patch(f"{tasks}/{task['id']}", json={"status": "completed"})
    assert fine.status_code == 200 and fine.json()["status"] == "completed"


def test_a_refused_contact_update_changes_nothing(graph: Graph) -> None:
    contact = graph.client.post(
        f"{graph.me}/contacts", json={"givenName": "Ada", "surname": "Lovelace"}
    ).json()
    refused = graph.client.patch(
        f"{graph.me}/contacts/{contact['id']}",
        json={"surname": "Byron", "emailAddresses": "ada@firm.example"},
    )
    assert refused.status_code == 400
    now = graph.client.get(f"{graph.me}/contacts/{contact['id']}").json()
    assert (now["surname"], now["emailAddresses"], now["changeKey"]) == ("Lovelace", [], contact["changeKey"])


# -- delta ---------------------------------------------------------------------------------------------
def test_a_round_in_progress_outlives_other_clients_rounds(graph: Graph) -> None:
    for n in range(12):
        graph.client.post(f"{graph.me}/contacts", json={"givenName": f"Ada {n}"}).raise_for_status()
    first = graph.client.get(f"{graph.me}/contacts/delta", headers={"Prefer": "odata.maxpagesize=10"}).json()
    assert len(first["value"]) == 10
    other = f"/v1.0/users/{graph.new_user()}/todo/lists/delta"
    for _ in range(300):  # another client polling meanwhile: each of its calls is a one-page round
        graph.client.get(other).raise_for_status()
    second = graph.client.get(first["@odata.nextLink"])
    assert second.status_code == 200
    assert len(second.json()["value"]) == 2 and "@odata.deltaLink" in second.json()


def test_rounds_being_paged_are_forgotten_last() -> None:
    rounds = Rounds(keep=2)
    rounds.add("a", [{"n": 0}, {"n": 1}, {"n": 2}])
    rounds.add("b", [{"n": 0}, {"n": 1}])
    assert rounds.page("a.1") == {"n": 1}
    rounds.add("c", [{"n": 0}, {"n": 1}])
    assert rounds.page("a.2") == {"n": 2}
    assert rounds.page("b.1") is None


def test_a_delta_token_works_only_on_its_own_collection(graph: Graph) -> None:
    link = graph.client.get(f"{graph.me}/contacts/delta").json()["@odata.deltaLink"]
    token = link.split("$deltatoken=", 1)[1]
    for other in ("calendarView/delta", "mailFolders/inbox/messages/delta", "events/delta"):
        response = graph.client.get(f"{graph.me}/{other}?$deltatoken={token}")
        assert response.status_code == 410, (other, response.text)
        assert _error(response)["code"] == "syncStateNotFound"
    assert graph.client.get(link).status_code == 200


# -- extended properties -------------------------------------------------------------------------------
def test_to_do_takes_no_extended_properties(graph: Graph) -> None:
    lists = graph.client.get(f"{graph.me}/todo/lists").json()["value"]
    extended = {"singleValueExtendedProperties": [{"id": KEY, "value": "k1"}]}
    task = graph.client.post(f"{graph.me}/todo/lists/{lists[0]['id']}/tasks", json={"title": "t", **extended})
    assert task.status_code == 400 and _error(task)["code"] == "RequestBodyRead"
    task_list = graph.client.post(f"{graph.me}/todo/lists", json={"displayName": "Errands", **extended})
    assert task_list.status_code == 400
    contact = graph.client.post(f"{graph.me}/contacts", json={"givenName": "Ada", **extended})
    assert contact.status_code == 201


# -- a restart -----------------------------------------------------------------------------------------
def _client(server: SandboxServer) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(server.tls.ca))
    form = {
        "grant_type": "client_credentials",
        "client_id": "exsync-sandbox",
        "client_secret": "exsync-sandbox",
        "scope": "https://graph.microsoft.com/.default",
    }
    token = httpx.post(f"{server.url}/firm/oauth2/v2.0/token", data=form, verify=trust).json()["access_token"]
    return httpx.Client(base_url=server.url, verify=trust, headers={"Authorization": f"Bearer {token}"})


def test_listing_order_survives_a_restart(tmp_path: Path) -> None:
    me = "/v1.0/users/ann@firm.example"

    def listed(client: httpx.Client) -> tuple[list[str], ...]:
        contacts = client.get(f"{me}/contacts").json()["value"]
        folders = client.get(f"{me}/mailFolders").json()["value"]
        lists = client.get(f"{me}/todo/lists").json()["value"]
        return [c["id"] for c in contacts], [f["id"] for f in folders], [t["id"] for t in lists]

    with SandboxServer(data=tmp_path, users=["ann@firm.example"]) as server, _client(server) as client:
        made = [client.post(f"{me}/contacts", json={"givenName": n}).json() for n in ("Ada", "Bob", "Cy")]
        client.patch(f"{me}/contacts/{made[0]['id']}", json={"surname": "Lovelace"}).raise_for_status()
        before = listed(client)
        assert before[0] == [c["id"] for c in made]
    with SandboxServer(data=tmp_path) as server, _client(server) as client:
        assert listed(client) == before
