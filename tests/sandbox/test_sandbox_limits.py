"""Graph's Outlook limits, per app and mailbox (Microsoft's "throttling limits", Outlook service limits):
4 concurrent requests and 10,000 per 10 minutes, each `$batch` sub-request counting on its own, answered
with 429 ApplicationThrottled and a Retry-After header — inside a batch, on the sub-response. Servers with
a small window or scaled time are started here; the `graph` fixture's session server checks concurrency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from graph_schema import GraphSchema
from sandbox_fixtures import trust

from exsync.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from sandbox_fixtures import Graph

ANN, BOB = "ann@firm.example", "bob@firm.example"
SANDBOX_PATHS = (r"^/_sandbox/", r"^/[^/]+/oauth2/")


def _client(server: SandboxServer, schema: GraphSchema) -> httpx.Client:
    """A raw client with a token, every Graph answer checked against the schema (as the `graph` fixture)."""
    with httpx.Client(base_url=server.url, verify=trust(server)) as plain:
        issued = plain.post(
            "/firm/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "exsync-sandbox",
                "client_secret": "exsync-sandbox",
                "scope": "https://graph.microsoft.com/.default",
            },
        )
    issued.raise_for_status()
    return httpx.Client(
        base_url=server.url,
        verify=trust(server),
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
        event_hooks={"response": [schema.hook(ignore=SANDBOX_PATHS)]},
        timeout=30,
    )


def _throttled(status: int, headers: dict[str, str], body: dict[str, Any]) -> float:
    """Check a 429 the way Graph sends it; the Retry-After it names, in seconds."""
    assert status == 429
    assert body["error"]["code"] == "ApplicationThrottled"
    retry_after = float({k.lower(): v for k, v in headers.items()}["retry-after"])
    assert retry_after > 0
    return retry_after


@pytest.fixture
def small_window() -> Iterator[SandboxServer]:
    """10 requests per window, and time 600 times faster: the 10-minute window lasts one second."""
    with SandboxServer(users=[ANN, BOB], requests_per_window=10, time_scale=600) as server:
        yield server


def test_batch_sub_requests_are_throttled_one_by_one(
    small_window: SandboxServer, schema: GraphSchema
) -> None:
    requests = [{"id": str(n), "method": "GET", "url": f"/users/{ANN}/contacts?$top=1"} for n in range(1, 21)]
    with _client(small_window, schema) as client:
        response = client.post("/v1.0/$batch", json={"requests": requests})
        assert response.status_code == 200  # the envelope succeeds whatever its requests answered
        answers = {int(r["id"]): r for r in response.json()["responses"]}
        ok = [n for n, r in answers.items() if r["status"] == 200]
        limited = [n for n, r in answers.items() if r["status"] == 429]
        assert sorted(ok) == list(range(1, 11)) and sorted(limited) == list(range(11, 21))
        waits = [_throttled(429, answers[n]["headers"], answers[n]["body"]) for n in limited]
        assert max(waits) <= 1.0  # at most the (scaled) window
        stats = client.get("/_sandbox/stats").json()
        assert stats["requests"][ANN] == {"GET /users/{user-id}/contacts": 20}
        assert stats["throttled"] == 10

        # The other mailbox has a budget of its own.
        other = client.get(f"/v1.0/users/{BOB}/contacts")
        assert other.status_code == 200

        time.sleep(max(waits) + 0.05)  # as Retry-After says
        again = client.post("/v1.0/$batch", json={"requests": [requests[n - 1] for n in limited]})
        assert [r["status"] for r in again.json()["responses"]] == [200] * 10


def test_top_level_requests_and_sub_requests_share_the_budget(
    small_window: SandboxServer, schema: GraphSchema
) -> None:
    with _client(small_window, schema) as client:
        batch = [{"id": str(n), "method": "GET", "url": f"/users/{ANN}"} for n in range(1, 8)]
        answers = client.post("/v1.0/$batch", json={"requests": batch}).json()["responses"]
        assert [r["status"] for r in answers] == [200] * 7
        ann_id = answers[0]["body"]["id"]
        # Seven sub-requests and the three below make ten: the envelope itself did not count.
        for _ in range(3):
            assert client.get(f"/v1.0/users/{ANN}/contacts").status_code == 200
        refused = client.get(f"/v1.0/users/{ANN}/contacts")
        wait = _throttled(refused.status_code, dict(refused.headers), refused.json())
        # The mailbox by its object id is the same budget.
        assert client.get(f"/v1.0/users/{ann_id}/contacts").status_code == 429
        time.sleep(wait + 0.05)
        assert client.get(f"/v1.0/users/{ann_id}/contacts").status_code == 200


def test_four_concurrent_requests_per_mailbox(graph: Graph) -> None:
    """A slow answer (an armed latency) holds its slot: a fifth request to the same mailbox meanwhile is
    refused with 429 and Retry-After; another mailbox is not affected."""
    other = graph.new_user("other")
    armed = graph.control.post(
        "/_sandbox/faults", json={"path": f"^/users/{graph.upn}/contacts$", "latencyMs": 2000, "count": 5}
    )
    assert armed.status_code == 201
    try:
        with ThreadPoolExecutor(5) as pool:
            started = time.monotonic()
            futures = [pool.submit(graph.client.get, f"{graph.me}/contacts") for _ in range(5)]
            time.sleep(0.5)
            # Meanwhile: another mailbox answers at once, and a batch sub-request to the busy one is refused.
            elsewhere = graph.client.get(f"/v1.0/users/{other}/contacts")
            assert elsewhere.status_code == 200
            assert time.monotonic() - started < 1.5
            sub = graph.client.post(
                "/v1.0/$batch",
                json={"requests": [{"id": "1", "method": "GET", "url": f"/users/{graph.upn}"}]},
            ).json()["responses"][0]
            _throttled(sub["status"], sub["headers"], sub["body"])
            responses = [f.result() for f in futures]
    finally:
        graph.control.delete("/_sandbox/faults")
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 4 and statuses.count(429) == 1
    refused = next(r for r in responses if r.status_code == 429)
    _throttled(429, dict(refused.headers), refused.json())
    assert refused.json()["error"]["message"] == "Application is over its MailboxConcurrency limit."
    # The slots are free again once the slow requests are answered.
    assert graph.client.get(f"{graph.me}/contacts").status_code == 200
