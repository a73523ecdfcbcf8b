"""Meetings between sandbox mailboxes, in raw HTTP as Microsoft's docs show it: an organizer's event with
attendees puts a copy and a meeting request in each attendee's mailbox; updates, removals, deletion and
cancellation reach the copies; accept, tentativelyAccept and decline reach the organizer."""

from __future__ import annotations

from typing import Any

from sandbox_fixtures import Graph

BERLIN = "W. Europe Standard Time"
OUTSIDER = "samanthab@contoso.onmicrosoft.com"


def users(upn: str) -> str:
    return f"/v1.0/users/{upn}"


def invite(graph: Graph, attendees: list[str], **extra: Any) -> dict[str, Any]:
    """Create event, example 2 of Microsoft's doc, with the given attendees."""
    body = {
        "subject": "Plan summer company picnic",
        "body": {"contentType": "HTML", "content": "Let's kick-start this event planning!"},
        "start": {"dateTime": "2026-08-30T11:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-08-30T12:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Conf Room 3", "locationType": "Default"},
        "attendees": [
            {"emailAddress": {"address": a, "name": a.split("@")[0]}, "type": "Required"} for a in attendees
        ],
        **extra,
    }
    response = graph.client.post(f"{graph.me}/events", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def events_of(graph: Graph, upn: str) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = graph.client.get(f"{users(upn)}/events").json()["value"]
    return values


def only_copy(graph: Graph, upn: str) -> dict[str, Any]:
    found = events_of(graph, upn)
    assert len(found) == 1, found
    return found[0]


def inbox(graph: Graph, upn: str) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = graph.client.get(f"{users(upn)}/mailFolders/inbox/messages").json()[
        "value"
    ]
    return values


def of_type(messages: list[dict[str, Any]], meeting_type: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("meetingMessageType") == meeting_type]


def status_of(event: dict[str, Any], upn: str) -> str:
    return next(
        str(a["status"]["response"]) for a in event["attendees"] if a["emailAddress"]["address"] == upn
    )


# -- the organizer's side ----------------------------------------------------------------------------------
def test_an_invitation_puts_a_copy_and_a_request_in_the_attendees_mailbox(graph: Graph) -> None:
    bob = graph.new_user("bob")
    created = invite(graph, [bob, OUTSIDER])

    copy = only_copy(graph, bob)
    assert copy["id"] != created["id"]
    assert copy["iCalUId"] == created["iCalUId"]
    assert copy["isOrganizer"] is False and created["isOrganizer"] is True
    assert copy["organizer"]["emailAddress"]["address"] == graph.upn
    assert copy["responseStatus"]["response"] == "notResponded"
    assert copy["responseRequested"] is True
    assert (copy["subject"], copy["start"], copy["end"]) == (
        created["subject"],
        created["start"],
        created["end"],
    )
    assert [a["emailAddress"]["address"] for a in copy["attendees"]] == [bob, OUTSIDER]

    [request] = inbox(graph, bob)
    assert request["@odata.type"] == "#microsoft.graph.eventMessageRequest"
    assert request["meetingMessageType"] == "meetingRequest"
    assert request["subject"] == "Plan summer company picnic"
    assert request["from"]["emailAddress"]["address"] == graph.upn
    assert request["sender"]["emailAddress"]["address"] == graph.upn
    assert bob in [r["emailAddress"]["address"] for r in request["toRecipients"]]
    assert request["isRead"] is False
    assert request["startDateTime"] == {"dateTime": "2026-08-30T18:00:00.0000000", "timeZone": "UTC"}
    assert request["location"]["displayName"] == "Conf Room 3"
    assert request["type"] == "singleInstance" and request["isAllDay"] is False

    expanded = graph.client.get(f"{users(bob)}/messages/{request['id']}?$expand=event").json()
    assert expanded["event"]["id"] == copy["id"]

    assert inbox(graph, graph.upn) == []  # the organizer gets nothing, the outsider is not in the sandbox


def test_organizer_updates_reach_the_copy(graph: Graph) -> None:
    bob = graph.new_user("bob")
    created = invite(graph, [bob])
    url = f"{graph.me}/events/{created['id']}"
    moved = {
        "subject": "Picnic (new date)",
        "start": {"dateTime": "2026-09-06T11:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-09-06T13:00:00", "timeZone": "Pacific Standard Time"},
    }
    graph.client.patch(url, json=moved).raise_for_status()
    copy = only_copy(graph, bob)
    assert copy["subject"] == "Picnic (new date)"
    assert copy["start"] == {"dateTime": "2026-09-06T18:00:00.0000000", "timeZone": "UTC"}
    assert copy["end"] == {"dateTime": "2026-09-06T20:00:00.0000000", "timeZone": "UTC"}
    requests = of_type(inbox(graph, bob), "meetingRequest")
    assert sorted(m["meetingRequestType"] for m in requests) == ["fullUpdate", "newMeetingRequest"]

    graph.client.patch(url, json={"categories": ["Red category"]}).raise_for_status()  # the organizer's own
    assert len(inbox(graph, bob)) == 2
    assert only_copy(graph, bob)["categories"] == []


def test_removing_an_attendee_and_cancelling_cancel_the_copies(graph: Graph) -> None:
    bob, carol = graph.new_user("bob"), graph.new_user("carol")
    created = invite(graph, [bob, carol])
    url = f"{graph.me}/events/{created['id']}"
    kept = [a for a in created["attendees"] if a["emailAddress"]["address"] == carol]
    graph.client.patch(url, json={"attendees": kept}).raise_for_status()

    assert only_copy(graph, bob)["isCancelled"] is True
    [cancelled] = of_type(inbox(graph, bob), "meetingCancelled")
    assert cancelled["@odata.type"] == "#microsoft.graph.eventMessage"
    assert cancelled["subject"] == "Canceled: Plan summer company picnic"
    assert only_copy(graph, carol)["isCancelled"] is False
    assert of_type(inbox(graph, carol), "meetingCancelled") == []

    carol_copy = only_copy(graph, carol)
    refused = graph.client.post(
        f"{users(carol)}/events/{carol_copy['id']}/cancel", json={"comment": "not mine"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        "Your request can't be completed. You need to be an organizer to cancel a meeting."
    )

    # event: cancel, as the doc shows it
    response = graph.client.post(
        f"{url}/cancel", json={"Comment": "Cancelling for this week due to all hands"}
    )
    assert response.status_code == 202 and response.content == b""
    assert graph.client.get(url).status_code == 404
    assert only_copy(graph, carol)["isCancelled"] is True
    [notice] = of_type(inbox(graph, carol), "meetingCancelled")
    assert notice["body"]["content"].strip().endswith("Cancelling for this week due to all hands")


def test_deleting_a_meeting_sends_cancellations(graph: Graph) -> None:
    bob = graph.new_user("bob")
    created = invite(graph, [bob])
    assert graph.client.delete(f"{graph.me}/events/{created['id']}").status_code == 204
    copy = only_copy(graph, bob)
    assert copy["isCancelled"] is True and copy["subject"].startswith("Canceled: ")
    assert len(of_type(inbox(graph, bob), "meetingCancelled")) == 1


def test_occurrences_of_a_series_meeting_reach_the_attendees(graph: Graph) -> None:
    bob = graph.new_user("bob")
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "endDate", "startDate": "2026-03-26", "endDate": "2026-04-02"},
    }
    invite(
        graph,
        [bob],
        start={"dateTime": "2026-03-26T09:00:00", "timeZone": BERLIN},
        end={"dateTime": "2026-03-26T09:30:00", "timeZone": BERLIN},
        recurrence=recurrence,
    )
    window = "calendarView?startDateTime=2026-03-27T00:00:00Z&endDateTime=2026-03-31T00:00:00Z"
    mine = graph.client.get(f"{graph.me}/{window}").json()["value"]
    graph.client.delete(f"{graph.me}/events/{mine[0]['id']}").raise_for_status()
    graph.client.patch(
        f"{graph.me}/events/{mine[1]['id']}", json={"subject": "Longer one"}
    ).raise_for_status()

    theirs = graph.client.get(f"{users(bob)}/{window}").json()["value"]
    assert [(v["start"]["dateTime"], v["subject"], v["type"]) for v in theirs] == [
        ("2026-03-28T08:00:00.0000000", "Longer one", "exception"),
        ("2026-03-29T07:00:00.0000000", "Plan summer company picnic", "occurrence"),
        ("2026-03-30T07:00:00.0000000", "Plan summer company picnic", "occurrence"),
    ]
    assert len(of_type(inbox(graph, bob), "meetingCancelled")) == 1


# -- the attendee's side -----------------------------------------------------------------------------------
def test_responses_reach_the_organizer(graph: Graph) -> None:
    bob, carol, dave, erin = (graph.new_user(n) for n in ("bob", "carol", "dave", "erin"))
    created = invite(graph, [bob, carol, dave, erin])

    accepted = graph.client.post(
        f"{users(bob)}/events/{only_copy(graph, bob)['id']}/accept",
        json={"comment": "comment-value", "sendResponse": True},
    )
    assert accepted.status_code == 202 and accepted.content == b""
    tentative = graph.client.post(
        f"{users(carol)}/calendar/events/{only_copy(graph, carol)['id']}/tentativelyAccept", json={}
    )
    assert tentative.status_code == 202
    declined = graph.client.post(
        f"{users(dave)}/events/{only_copy(graph, dave)['id']}/decline",
        json={"comment": "I won't be able to make this week."},
    )
    assert declined.status_code == 202
    silent = graph.client.post(
        f"{users(erin)}/events/{only_copy(graph, erin)['id']}/accept", json={"sendResponse": False}
    )
    assert silent.status_code == 202

    bob_copy = only_copy(graph, bob)
    assert bob_copy["responseStatus"]["response"] == "accepted" and bob_copy["showAs"] == "busy"
    assert only_copy(graph, carol)["responseStatus"]["response"] == "tentativelyAccepted"
    assert events_of(graph, dave) == []  # a declined meeting leaves the calendar
    assert only_copy(graph, erin)["responseStatus"]["response"] == "accepted"

    organizer = graph.client.get(f"{graph.me}/events/{created['id']}").json()
    assert [status_of(organizer, u) for u in (bob, carol, dave, erin)] == [
        "accepted",
        "tentativelyAccepted",
        "declined",
        "none",  # no response was sent
    ]
    assert organizer["attendees"][0]["status"]["time"] != "0001-01-01T00:00:00Z"

    messages = inbox(graph, graph.upn)
    assert {m["@odata.type"] for m in messages} == {"#microsoft.graph.eventMessageResponse"}
    assert sorted(
        (m["meetingMessageType"], m["responseType"], m["from"]["emailAddress"]["address"]) for m in messages
    ) == [
        ("meetingAccepted", "accepted", bob),
        ("meetingDeclined", "declined", dave),
        ("meetingTenativelyAccepted", "tentativelyAccepted", carol),
    ]
    assert {m["subject"] for m in messages} == {
        "Accepted: Plan summer company picnic",
        "Tentative: Plan summer company picnic",
        "Declined: Plan summer company picnic",
    }


def test_responding_to_your_own_meeting_is_refused(graph: Graph) -> None:
    created = invite(graph, [graph.new_user("bob")])
    refused = graph.client.post(f"{graph.me}/events/{created['id']}/accept", json={"sendResponse": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ErrorCalendarIsOrganizerForAccept"


def test_an_attendees_edits_stay_in_the_attendees_mailbox(graph: Graph) -> None:
    bob = graph.new_user("bob")
    created = invite(graph, [bob])
    copy = only_copy(graph, bob)
    patched = graph.client.patch(f"{users(bob)}/events/{copy['id']}", json={"subject": "My note on it"})
    assert patched.status_code == 200 and patched.json()["subject"] == "My note on it"
    assert (
        graph.client.get(f"{graph.me}/events/{created['id']}").json()["subject"]
        == "Plan summer company picnic"
    )

    assert graph.client.delete(f"{users(bob)}/events/{copy['id']}").status_code == 204
    organizer = graph.client.get(f"{graph.me}/events/{created['id']}").json()
    assert status_of(organizer, bob) == "none"
    assert inbox(graph, graph.upn) == []
