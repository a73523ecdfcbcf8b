"""Dropped connections and random faults armed through `/_sandbox/faults`: `"drop": true` closes the
connection before the request runs, `"drop": "after"` once it has run (only the answer is lost);
`probability` + `seed` strike a reproducible share of the matching requests. Over HTTPS with raw httpx,
and in-process through `Sandbox.serve` and the mailbox side's in-process transport."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from exsync.mailbox.graph.side import InProcessSandbox
from exsync.sandbox.app import Sandbox
from exsync.sandbox.faults import DroppedConnection
from exsync.sandbox.http import Request

if TYPE_CHECKING:
    from sandbox_fixtures import Graph


def _arm(graph: Graph, **fault: Any) -> None:
    response = graph.control.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


def _contacts(graph: Graph) -> list[dict[str, Any]]:
    response = graph.client.get(f"{graph.me}/contacts")
    assert response.status_code == 200
    return list(response.json()["value"])


def test_a_dropped_request_gets_no_answer_and_does_nothing(graph: Graph) -> None:
    _arm(graph, drop=True, count=1, path=f"^/users/{graph.upn}/contacts$", method="POST")
    try:
        with pytest.raises(httpx.TransportError) as dropped:
            graph.client.post(f"{graph.me}/contacts", json={"givenName": "Ida"})
        assert isinstance(dropped.value, httpx.RemoteProtocolError | httpx.ReadError)
        assert graph.server.sandbox.faults.hits["drop"] == 1
        # The request never ran; the fault is spent and the same client carries on (a new connection).
        assert _contacts(graph) == []
        assert graph.client.post(f"{graph.me}/contacts", json={"givenName": "Ida"}).status_code == 201
    finally:
        graph.control.delete("/_sandbox/faults")
    assert [c["givenName"] for c in _contacts(graph)] == ["Ida"]


def test_a_drop_after_the_request_ran_loses_only_the_answer(graph: Graph) -> None:
    _arm(graph, drop="after", count=1, path=f"^/users/{graph.upn}/contacts$", method="POST")
    try:
        with pytest.raises(httpx.TransportError):
            graph.client.post(f"{graph.me}/contacts", json={"givenName": "Jan"})
    finally:
        graph.control.delete("/_sandbox/faults")
    # What a client that sends the POST again would duplicate.
    assert [c["givenName"] for c in _contacts(graph)] == ["Jan"]
    stats = graph.control.get("/_sandbox/stats").json()
    assert stats["requests"][graph.upn]["POST /users/{user-id}/contacts"] == 1


def test_a_batch_envelope_is_dropped_only_when_named_by_path(graph: Graph) -> None:
    requests = [{"id": str(n), "method": "GET", "url": f"/users/{graph.upn}"} for n in (1, 2)]
    _arm(graph, drop=True, count=-1)  # no path: sub-requests cannot lose a connection of their own
    try:
        answered = graph.client.post("/v1.0/$batch", json={"requests": requests})
        assert [r["status"] for r in answered.json()["responses"]] == [200, 200]
        _arm(graph, drop=True, count=1, path=r"^/\$batch$")
        with pytest.raises(httpx.TransportError):
            graph.client.post("/v1.0/$batch", json={"requests": requests})
    finally:
        graph.control.delete("/_sandbox/faults")


def test_a_fault_with_a_probability_strikes_a_seeded_share(graph: Graph) -> None:
    def pattern(**fault: Any) -> list[int]:
        _arm(graph, path=f"^/users/{graph.upn}$", **fault)
        try:
            return [graph.client.get(graph.me).status_code for _ in range(60)]
        finally:
            graph.control.delete("/_sandbox/faults")

    first = pattern(status=503, count=-1, probability=0.3, seed=7)
    assert set(first) == {200, 503} and 8 <= first.count(503) <= 30
    assert pattern(status=503, count=-1, probability=0.3, seed=7) == first  # the seed repeats it
    # `count` counts the requests struck, not those rolled for.
    assert pattern(status=503, count=4, probability=0.5, seed=1).count(503) == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"drop": True, "status": 503},
        {"drop": "sideways"},
        {"status": 503, "probability": 0},
        {"status": 503, "probability": 1.5},
        {"status": 503, "probability": True},
        {"status": 503, "seed": "seven"},
        {"probability": 0.5},
    ],
)
def test_bad_drop_and_probability_values_are_refused(graph: Graph, bad: dict[str, Any]) -> None:
    response = graph.control.post("/_sandbox/faults", json=bad)
    assert response.status_code == 400, bad
    assert response.json()["error"]["message"].startswith("fault: ")


def test_in_process_a_drop_is_a_connection_error_and_an_httpx_transport_error(tmp_path: Path) -> None:
    from exsync.mailbox.graph.auth import GLOBAL_GRAPH
    from exsync.sandbox.faults import Fault
    from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    running = InProcessSandbox(tmp_path)
    try:
        sandbox: Sandbox = running.sandbox
        sandbox.add_user("kim@firm.example")
        form = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": f"{GLOBAL_GRAPH}/.default",
        }
        token = sandbox.identity.issue("firm", form, "https://in-process.invalid")["access_token"]
        url = "https://in-process.invalid/v1.0/users/kim@firm.example/contacts"
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

        sandbox.faults.arm(Fault.from_json({"drop": "after", "method": "POST"}))
        with pytest.raises(DroppedConnection):
            sandbox.serve(Request.from_url("POST", url, headers, b'{"givenName": "Lea"}'))
        sandbox.faults.arm(Fault.from_json({"drop": True}))
        with httpx.Client(transport=httpx.MockTransport(running.handle)) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(url, headers=headers)
            listed = client.get(url, headers=headers).json()["value"]
        assert [c["givenName"] for c in listed] == ["Lea"]  # the POST ran before its answer was lost
    finally:
        running.close()
