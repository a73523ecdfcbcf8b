"""The sandbox's answers to the requests in ``reference/graph/examples/`` have the same shape as Microsoft's
example responses: the same keys with the same JSON types, the same paging links (``$skiptoken`` on a page
with more to come, ``$deltatoken`` on a round's last page) and tombstones where the example has them.

Each test makes the sandbox answer the kind of request its example answers (the same path family, query
options and ``Prefer`` header, the items the example shows) and compares with ``examples.same_shape``, which
compares JSON types, not values; the quirks the examples' notes (INDEX.md) document are allowed. Where the
sandbox cannot answer the example's own request, the test says why. Every response also passes the
conftest's schema hook."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import pytest
from examples import Example, load_examples, same_shape
from sandbox_fixtures import Graph

PAGES_OF_TWO = {"Prefer": 'IdType="ImmutableId", odata.maxpagesize=2'}  # the concept docs' page size
WINDOW = "startDateTime=2016-12-01T00:00:00Z&endDateTime=2016-12-30T00:00:00Z"  # delta-query-events.md


@pytest.fixture(scope="module")
def examples() -> dict[str, Example]:
    return load_examples()


def example_test_name(example: str) -> str:
    """``contact-delta.response.http`` → ``test_example_contact_delta_response``."""
    stem = example.rsplit(".", 1)[0]
    return "test_example_" + re.sub(r"[^0-9A-Za-z]", "_", stem)


def test_every_example_has_its_test(examples: dict[str, Example]) -> None:
    missing = [name for name in examples if not callable(globals().get(example_test_name(name)))]
    assert missing == []


def assert_shape(actual: Any, example: Example) -> list[str]:
    """No difference in shape; returns the documented quirks met."""
    quirks: list[str] = []
    assert same_shape(actual, example, quirks=quirks) == []
    return quirks


def created(graph: Graph, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = graph.client.post(url, json=body)
    assert response.status_code == 201, response.text
    value: dict[str, Any] = response.json()
    return value


def delta_round(graph: Graph, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of one round, the Prefer header resent with each request as the concept docs do."""
    pages: list[dict[str, Any]] = []
    while True:
        response = graph.client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if "@odata.deltaLink" in pages[-1]:
            return pages
        url = pages[-1]["@odata.nextLink"]


def removed(page: dict[str, Any]) -> list[str]:
    return [value["id"] for value in page["value"] if "@removed" in value]


# ------------------------------------------------------------------------------------------------------
# contact: delta


def test_example_contact_delta_response(graph: Graph, examples: dict[str, Example]) -> None:
    """GET /me/contactFolders/{id}/contacts/delta, the first page of a round (it has a nextLink)."""
    folder = created(graph, f"{graph.me}/contactFolders", {"displayName": "Suppliers"})
    for n, given in enumerate(("Dana", "Randi", "Elliot")):
        body = {
            "givenName": given,
            "surname": "Swope",
            "fileAs": f"Swope, {given}",
            "initials": given[0] + ".S.",
            "birthday": f"2016-10-{19 + n}T10:37:00Z",
        }
        created(graph, f"{graph.me}/contactFolders/{folder['id']}/contacts", body)

    [first, *rest] = delta_round(
        graph, f"{graph.me}/contactFolders/{folder['id']}/contacts/delta", PAGES_OF_TWO
    )
    assert len(first["value"]) == 2 and len(rest) == 1
    assert_shape(first, examples["contact-delta.response.http"])


# ------------------------------------------------------------------------------------------------------
# event: delta (calendarView)


def test_example_event_delta_calendarView_response(graph: Graph, examples: dict[str, Example]) -> None:
    """GET /me/calendarView/delta?startDateTime=…&endDateTime=…, a page with a nextLink. The example's
    placeholders ("response-value", "datetime-value") are strings, as the sandbox's enum and date-time are."""
    for day in (9, 10, 11):
        created(
            graph,
            f"{graph.me}/events",
            {
                "subject": f"Stand-up {day}",
                "start": {"dateTime": f"2016-12-{day:02d}T09:00:00", "timeZone": "Pacific Standard Time"},
                "end": {"dateTime": f"2016-12-{day:02d}T09:15:00", "timeZone": "Pacific Standard Time"},
                "reminderMinutesBeforeStart": 99,
            },
        )
    [first, *_] = delta_round(graph, f"{graph.me}/calendarView/delta?{WINDOW}", PAGES_OF_TWO)
    assert len(first["value"]) == 2
    assert all(event["transactionId"] is None for event in first["value"])  # the example's null
    assert_shape(first, examples["event-delta.calendarView.response.http"])


# The events of delta-query-events.md (UTC), first round: three pages of two, two and one.
CONCEPT_EVENTS = [
    ("Plan shopping list", "2016-12-09T20:30:00", "2016-12-09T22:00:00", None),
    ("Pick up car", "2016-12-10T01:00:00", "2016-12-10T02:00:00", None),
    ("Get food", "2016-12-10T19:30:00", "2016-12-10T21:30:00", None),
    ("Prepare food", "2016-12-10T22:00:00", "2016-12-11T00:00:00", None),
    ("Rest!", "2016-12-12T02:00:00", "2016-12-12T07:30:00", {"displayName": "Home"}),
]
ATTEND_SERVICE = {  # created before the second round
    "subject": "Attend service",
    "body": {"contentType": "html", "content": ""},
    "start": {"dateTime": "2016-12-25T06:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2016-12-25T07:30:00", "timeZone": "UTC"},
    "location": {
        "displayName": "Chapel of Saint Ignatius",
        "address": {
            "street": "900 Broadway",
            "city": "Seattle",
            "state": "WA",
            "countryOrRegion": "United States",
            "postalCode": "",
        },
        "coordinates": {"latitude": 47.6105, "longitude": -122.321},
    },
}


@pytest.fixture
def calendar_view_rounds(graph: Graph) -> list[dict[str, Any]]:
    """Round 1's three pages and round 2's page, the way delta-query-events.md goes: `Prefer:
    odata.maxpagesize=2`, then one event deleted and "Attend service" added."""
    made = []
    for subject, start, end, location in CONCEPT_EVENTS:
        body: dict[str, Any] = {
            "subject": subject,
            "body": {"contentType": "html", "content": ""},
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": end, "timeZone": "UTC"},
        }
        if location is not None:
            body["location"] = location
        made.append(created(graph, f"{graph.me}/events", body))
    first_round = delta_round(graph, f"{graph.me}/calendarView/delta?{WINDOW}", PAGES_OF_TWO)
    assert [len(page["value"]) for page in first_round] == [2, 2, 1]

    gone = graph.client.delete(f"{graph.me}/events/{made[1]['id']}")
    assert gone.status_code == 204
    created(graph, f"{graph.me}/events", ATTEND_SERVICE)
    [second_round] = delta_round(graph, first_round[-1]["@odata.deltaLink"], PAGES_OF_TWO)
    assert removed(second_round) == [made[1]["id"]]
    return [*first_round, second_round]


def test_example_event_delta_calendarView_concept_step1_response(
    calendar_view_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    assert_shape(calendar_view_rounds[0], examples["event-delta.calendarView.concept.step1.response.http"])


def test_example_event_delta_calendarView_concept_step2_response(
    calendar_view_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    assert_shape(calendar_view_rounds[1], examples["event-delta.calendarView.concept.step2.response.http"])


def test_example_event_delta_calendarView_concept_step3_final_response(
    calendar_view_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    final = calendar_view_rounds[2]
    assert [event["subject"] for event in final["value"]] == ["Rest!"]
    assert_shape(final, examples["event-delta.calendarView.concept.step3-final.response.http"])


def test_example_event_delta_calendarView_concept_nextround_response(
    calendar_view_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    second = calendar_view_rounds[3]
    assert sorted(value.get("subject", "@removed") for value in second["value"]) == [
        "@removed",
        "Attend service",
    ]
    assert_shape(second, examples["event-delta.calendarView.concept.nextround.response.http"])


# ------------------------------------------------------------------------------------------------------
# todoTask: delta


def test_example_todotask_delta_response(graph: Graph, examples: dict[str, Example]) -> None:
    """GET /me/todo/lists/{id}/tasks/delta: the example is a round's only page (a deltaLink, though the doc's
    prose speaks of a nextLink)."""
    tasks_list = created(graph, f"{graph.me}/todo/lists", {"displayName": "Errands"})
    for title in ("empty task1", "empty task2", "empty task3"):
        created(graph, f"{graph.me}/todo/lists/{tasks_list['id']}/tasks", {"title": title})
    [only] = delta_round(graph, f"{graph.me}/todo/lists/{tasks_list['id']}/tasks/delta", {})
    assert len(only["value"]) == 3
    assert_shape(only, examples["todotask-delta.response.http"])


# ------------------------------------------------------------------------------------------------------
# message: delta


WITH_ATTACHMENT = [  # a text part and a PDF
    'Content-Type: multipart/mixed; boundary="b1"',
    *("", "--b1", "Content-Type: text/plain", "", "Hi", "--b1"),
    *('Content-Type: application/pdf; name="hours.pdf"', "Content-Transfer-Encoding: base64"),
    *('Content-Disposition: attachment; filename="hours.pdf"', "", "JVBERi0xLjQK", "--b1--"),
]


def deliver(graph: Graph, subject: str, sender: str, *, attachment: bool = False) -> dict[str, Any]:
    """A message from ``sender`` ("Name <address>") arrives in the inbox (the control API takes its MIME)."""
    lines = [
        f"From: {sender}",
        f"To: {graph.upn}",
        f"Subject: {subject}",
        "Date: Fri, 16 Dec 2016 09:30:00 -0800",
        f"Message-ID: <{uuid.uuid4().hex}@contoso.onmicrosoft.com>",
        "MIME-Version: 1.0",
        *(WITH_ATTACHMENT if attachment else ["Content-Type: text/plain; charset=utf-8", "", f"{subject}."]),
    ]
    mime = base64.b64encode("\r\n".join(lines).encode()).decode()
    answer = graph.control.post(
        f"/_sandbox/users/{graph.upn}/messages", json={"folder": "inbox", "mime": mime}
    )
    assert answer.status_code == 201, answer.text
    value: dict[str, Any] = answer.json()
    return value


def test_example_message_delta_response(graph: Graph, examples: dict[str, Example]) -> None:
    """GET /me/mailFolders/{id}/messages/delta, a page with a nextLink. The example's placeholders
    ("datetime-value", "contentType-value") are strings, as the sandbox's date-times and enum are."""
    for n in range(3):
        deliver(
            graph, f"Quarterly numbers {n}", "Dana Swope <danas@contoso.onmicrosoft.com>", attachment=n == 0
        )
    [first, *_] = delta_round(graph, f"{graph.me}/mailFolders/inbox/messages/delta", PAGES_OF_TWO)
    assert len(first["value"]) == 2
    assert_shape(first, examples["message-delta.response.http"])


# The messages of delta-query-messages.md: (subject, sender, read) in round 1.
CONCEPT_MESSAGES = [
    ("Holiday hours update", "Dana Swope <danas@contoso.onmicrosoft.com>", False),
    ("Holiday promotion sale", "Samantha Booth <samanthab@contoso.onmicrosoft.com>", True),
    ("Microsoft Virtual Academy at Contoso", "Elliot Hyde <elliot-hyde@tailspintoys.com>", True),
    ("New or modified user account information", "Randi Welch <randiw@contoso.onmicrosoft.com>", True),
    ("Fabric CDN now available", "Jodie Sharp <Jodie.Sharp@contoso.com>", True),
]


@pytest.fixture
def message_rounds(graph: Graph) -> list[dict[str, Any]]:
    """Round 1's three pages and round 2's page, as delta-query-messages.md goes: the folder addressed with
    key syntax, `$select=subject,sender,isRead`, `Prefer: odata.maxpagesize=2`; then one message deleted and
    "Holiday hours update" read."""
    inbox = graph.client.get(f"{graph.me}/mailFolders/inbox").json()["id"]
    delivered = []
    for subject, sender, read in CONCEPT_MESSAGES:
        message = deliver(graph, subject, sender)
        if read:
            answer = graph.client.patch(f"{graph.me}/messages/{message['id']}", json={"isRead": True})
            assert answer.status_code == 200, answer.text
        delivered.append(message)
    url = f"{graph.me}/mailfolders('{inbox}')/messages/delta?$select=subject,sender,isRead"
    first_round = delta_round(graph, url, PAGES_OF_TWO)
    assert [len(page["value"]) for page in first_round] == [2, 2, 1]

    gone = delivered[2]["id"]
    assert graph.client.delete(f"{graph.me}/messages/{gone}").status_code == 204
    answer = graph.client.patch(f"{graph.me}/messages/{delivered[0]['id']}", json={"isRead": True})
    assert answer.status_code == 200, answer.text
    [second_round] = delta_round(graph, first_round[-1]["@odata.deltaLink"], PAGES_OF_TWO)
    assert removed(second_round) == [gone]
    return [*first_round, second_round]


def test_example_message_delta_concept_round1_page1_response(
    message_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    page = message_rounds[0]
    assert all(
        set(value) <= {"@odata.type", "@odata.etag", "id", "subject", "sender", "isRead"}
        for value in page["value"]
    )
    assert_shape(page, examples["message-delta.concept.round1-page1.response.json"])


def test_example_message_delta_concept_round1_page2_response(
    message_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    assert_shape(message_rounds[1], examples["message-delta.concept.round1-page2.response.json"])


def test_example_message_delta_concept_round1_page3_final_response(
    message_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    assert_shape(message_rounds[2], examples["message-delta.concept.round1-page3-final.response.json"])


def test_example_message_delta_concept_round2_response(
    message_rounds: list[dict[str, Any]], examples: dict[str, Example]
) -> None:
    second = message_rounds[3]
    quirks = assert_shape(second, examples["message-delta.concept.round2.response.json"])
    # the doc shows "isRead": "true", a string; the service (and the sandbox) send a boolean (INDEX.md)
    assert len(quirks) == 1 and quirks[0].endswith(
        ".isRead: the example has the string 'true', a documented quirk"
    )
    assert [value["isRead"] for value in second["value"] if "@removed" not in value] == [True]


# ------------------------------------------------------------------------------------------------------
# JSON batching


def batch(graph: Graph, requests: list[dict[str, Any]]) -> dict[str, Any]:
    response = graph.client.post("/v1.0/$batch", json={"requests": requests})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_id(parts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A batch's sub-requests or sub-responses by id."""
    return {part["id"]: part for part in parts}


def test_example_json_batch_dependsOn_request_body(graph: Graph, examples: dict[str, Example]) -> None:
    """The doc's dependsOn body (1 ← 2 ← 4 ← 3) with sandbox URLs where the doc writes "..."; its answer has
    the shape of the doc's batch response (the doc shows no response for this body)."""
    user = f"/users/{graph.upn}"
    requests: list[dict[str, Any]] = [
        {"id": "1", "method": "GET", "url": f"{user}/contactFolders"},
        {"id": "2", "dependsOn": ["1"], "method": "GET", "url": f"{user}/calendars"},
        {"id": "4", "dependsOn": ["2"], "method": "GET", "url": f"{user}/todo/lists"},
        {"id": "3", "dependsOn": ["4"], "method": "GET", "url": f"{user}/mailFolders"},
    ]
    example = examples["json-batch.dependsOn.request-body.json"]
    assert_shape({"requests": requests}, example)
    assert [r["id"] for r in requests] == [r["id"] for r in example.body["requests"]]

    answered = batch(graph, requests)
    assert {answer["id"]: answer["status"] for answer in answered["responses"]} == dict.fromkeys("1243", 200)
    assert_shape(answered, examples["json-batch.response.http"])


@pytest.fixture
def doc_like_batch(graph: Graph) -> dict[str, Any]:
    """The five sub-requests of the doc's batch (json-batch.request.http), each turned into the nearest kind
    of request the sandbox serves: the doc's OneDrive, Planner, group and user-profile paths are outside it
    (it emulates Outlook mail, calendars, contacts and To Do), and `/me` needs a delegated token."""
    user = f"/users/{graph.upn}"
    message = deliver(graph, "Quarterly numbers", "Dana Swope <danas@contoso.onmicrosoft.com>")
    empty = created(graph, f"{graph.me}/todo/lists", {"displayName": "Empty"})
    meeting = created(
        graph,
        f"{graph.me}/events",
        {
            "subject": "Review",
            "start": {"dateTime": "2026-08-30T11:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-08-30T12:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": graph.new_user("ann")}, "type": "Required"}],
        },
    )
    requests: list[dict[str, Any]] = [
        # a file's content (OneDrive) → a message's MIME content
        {"id": "1", "method": "GET", "url": f"{user}/messages/{message['id']}/$value"},
        # /me/planner/tasks, an empty collection → the tasks of an empty To Do list
        {"id": "2", "method": "GET", "url": f"{user}/todo/lists/{empty['id']}/tasks"},
        # /groups/{id}/events, refused → the events of a mailbox that does not exist
        {"id": "3", "method": "GET", "url": "/users/nobody@firm.example/events"},
        # PATCH /me with a body and its Content-Type, no content in the answer → event: cancel (202, no body)
        {
            "id": "4",
            "url": f"{user}/events/{meeting['id']}/cancel",
            "method": "POST",
            "body": {"comment": "Cancelling for this week"},
            "headers": {"Content-Type": "application/json"},
        },
        # the same request as the doc's
        {
            "id": "5",
            "url": "users?$select=id,displayName,userPrincipalName&$filter=city eq null&$count=true",
            "method": "GET",
            "headers": {"ConsistencyLevel": "eventual"},
        },
    ]
    return {"requests": requests, "answered": batch(graph, requests)}


def test_example_json_batch_request(doc_like_batch: dict[str, Any], examples: dict[str, Example]) -> None:
    example = examples["json-batch.request.http"]
    assert (example.request_method, example.request_url) == (
        "POST",
        "https://graph.microsoft.com/v1.0/$batch",
    )
    assert_shape({"requests": doc_like_batch["requests"]}, example)
    # sub-request by sub-request, but for the doc's body (a user's city, a property outside the sandbox)
    ours, theirs = by_id(doc_like_batch["requests"]), by_id(example.body["requests"])
    for n in "12345":
        assert same_shape(ours[n], {k: v for k, v in theirs[n].items() if k != "body"}) == [], n
    assert "body" in ours["4"] and "Content-Type" in ours["4"]["headers"]


def test_example_json_batch_response(doc_like_batch: dict[str, Any], examples: dict[str, Example]) -> None:
    example = examples["json-batch.response.http"]
    ours, theirs = by_id(doc_like_batch["answered"]["responses"]), by_id(example.body["responses"])
    assert {n: answer["status"] for n, answer in ours.items()} == {
        "1": 200,
        "2": 200,
        "3": 404,
        "4": 202,
        "5": 200,
    }

    # 1 differs on purpose: the doc's answer is OneDrive's redirect to a download URL (302, a Location header,
    # no body); the sandbox has no drive, and Outlook's `$value` answers 200 with the content, which a batch
    # carries base64-encoded as its body (a body of a non-JSON type, json-batching.md).
    mime = base64.b64decode(ours["1"]["body"])
    assert mime.startswith(b"From: Dana Swope") and ours["1"]["headers"]["Content-Type"] == "text/plain"
    others = {
        **doc_like_batch["answered"],
        "responses": [a for a in doc_like_batch["answered"]["responses"] if a["id"] != "1"],
    }
    assert_shape(others, example)

    # each answer has the shape of the doc's answer of the same id; headers are the workload's own (the doc's
    # users answer carries OData-Version: 4.0, the sandbox's answers carry their Content-Type), so they are
    # not compared
    for n in "2345":
        bare = {k: v for k, v in theirs[n].items() if k != "headers"}
        assert same_shape(ours[n], bare) == [], n
    assert ours["5"]["body"]["@odata.count"] == len(ours["5"]["body"]["value"])  # the doc's $count=true
