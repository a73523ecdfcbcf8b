"""The sandbox's calendar, spoken to in raw HTTP as Microsoft's docs show it: events (create, get, update and
delete with If-Match, transactionId), times in the zone a client prefers, all-day events, recurring series
across a DST change, occurrences, exceptions and cancelled occurrences, calendarView and its delta rounds,
the delta of events, and extended properties."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

import pytest
from examples import load_examples, same_shape
from sandbox_fixtures import Graph

IMMUTABLE = 'IdType="ImmutableId"'
BERLIN = "W. Europe Standard Time"
KEY_ID = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"
WINDOW = "startDateTime=2026-03-27T00:00:00Z&endDateTime=2026-03-31T00:00:00Z"
TOMBSTONE_KEYS = {"@odata.type", "id", "@removed"}


def prefer(*parts: str) -> dict[str, str]:
    return {"Prefer": ", ".join((IMMUTABLE, *parts))}


def moment(text: str, zone: str = "UTC") -> dict[str, str]:
    return {"dateTime": text, "timeZone": zone}


def event(subject: str, start: str, end: str, zone: str = "UTC", **extra: Any) -> dict[str, Any]:
    return {"subject": subject, "start": moment(start, zone), "end": moment(end, zone), **extra}


def daily(start_date: str, end_date: str) -> dict[str, Any]:
    return {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "endDate", "startDate": start_date, "endDate": end_date},
    }


def create(graph: Graph, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = graph.client.post(f"{graph.me}/events", json=body, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def standup(graph: Graph) -> dict[str, Any]:
    """A daily 09:00-09:30 Berlin series over the 2026-03-29 change to summer time."""
    body = event(
        "Stand-up",
        "2026-03-26T09:00:00",
        "2026-03-26T09:30:00",
        BERLIN,
        recurrence=daily("2026-03-26", "2026-04-02"),
    )
    return create(graph, body)


def view(graph: Graph, query: str = WINDOW, **kwargs: Any) -> list[dict[str, Any]]:
    values, _ = graph.all_pages(f"{graph.me}/calendarView?{query}", **kwargs)
    return values


def starts(values: list[dict[str, Any]]) -> list[str]:
    return [str(v["start"]["dateTime"]) for v in values]


def round_of(graph: Graph, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """One delta round: (every value, the deltaLink, the pages)."""
    values: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    while True:
        response = graph.client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        values.extend(page["value"])
        if "@odata.deltaLink" in page:
            return values, page["@odata.deltaLink"], pages
        url = page["@odata.nextLink"]


def tombstones(values: list[dict[str, Any]]) -> set[str]:
    for value in values:
        if "@removed" in value:
            assert set(value) == TOMBSTONE_KEYS
            assert value == {
                "@odata.type": "#microsoft.graph.event",
                "id": value["id"],
                "@removed": {"reason": "deleted"},
            }
    return {v["id"] for v in values if "@removed" in v}


def changed(values: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in values if "@removed" not in v}


# -- single events -----------------------------------------------------------------------------------------
def test_create_get_update_delete_with_if_match(graph: Graph) -> None:
    # Create event, example 1 of Microsoft's doc.
    body = {
        "subject": "Let's go for lunch",
        "body": {"contentType": "HTML", "content": "Does late morning work for you?"},
        "start": {"dateTime": "2017-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2017-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Harry's Bar"},
        "attendees": [
            {
                "emailAddress": {"address": "samanthab@contoso.onmicrosoft.com", "name": "Samantha Booth"},
                "type": "required",
            }
        ],
    }
    created = create(graph, body, headers=prefer('outlook.timezone="Pacific Standard Time"'))
    assert created["start"] == {
        "dateTime": "2017-04-15T12:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert created["originalStartTimeZone"] == created["originalEndTimeZone"] == "Pacific Standard Time"
    assert created["type"] == "singleInstance" and created["isOrganizer"] is True
    assert created["responseStatus"] == {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
    assert created["organizer"]["emailAddress"]["address"] == graph.upn
    assert re.fullmatch(r"040000008200E00074C5B7101A82E008[0-9A-F]{80}", created["iCalUId"])
    assert created["bodyPreview"] == "Does late morning work for you?"
    assert created["location"]["displayName"] == "Harry's Bar"
    assert created["attendees"][0]["status"] == {"response": "none", "time": "0001-01-01T00:00:00Z"}

    url = f"{graph.me}/events/{created['id']}"
    got = graph.client.get(url).json()  # no Prefer zone: UTC (PDT is UTC-7)
    assert got["start"] == {"dateTime": "2017-04-15T19:00:00.0000000", "timeZone": "UTC"}
    assert got["end"] == {"dateTime": "2017-04-15T21:00:00.0000000", "timeZone": "UTC"}
    assert graph.client.get(f"{graph.me}/calendar/events/{created['id']}").json()["id"] == created["id"]

    stale = created["@odata.etag"]
    patched = graph.client.patch(url, json={"subject": "Let's go brunch"}, headers={"If-Match": stale})
    assert patched.status_code == 200, patched.text
    assert patched.json()["subject"] == "Let's go brunch"
    assert patched.json()["changeKey"] != created["changeKey"]
    assert patched.json()["iCalUId"] == created["iCalUId"]

    refused = graph.client.patch(url, json={"subject": "Lost update"}, headers={"If-Match": stale})
    assert refused.status_code == 412
    assert refused.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert graph.client.delete(url, headers={"If-Match": stale}).status_code == 412

    assert graph.client.delete(url, headers={"If-Match": patched.json()["@odata.etag"]}).status_code == 204
    gone = graph.client.get(url)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"


def test_a_repeated_transaction_id_returns_the_first_event(graph: Graph) -> None:
    body = event(
        "Retried",
        "2026-05-04T10:00:00",
        "2026-05-04T11:00:00",
        transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7",
    )
    first = create(graph, body)
    second = create(graph, body)
    assert second["id"] == first["id"]
    assert first["transactionId"] == "7E163156-7762-4BEB-A1C6-729EA81755A7"
    listed = graph.client.get(f"{graph.me}/events").json()["value"]
    assert [e["id"] for e in listed] == [first["id"]]
    other = create(graph, {**body, "transactionId": "another"})
    assert other["id"] != first["id"]


def test_all_day_events_stay_at_midnight_of_their_dates(graph: Graph) -> None:
    body = event(
        "Holiday", "2026-05-04T00:00:00", "2026-05-06T00:00:00", "Tokyo Standard Time", isAllDay=True
    )
    created = create(graph, body)
    url = f"{graph.me}/events/{created['id']}"
    for zone in ("Pacific Standard Time", "Tokyo Standard Time", "UTC", "Europe/Berlin"):
        shown = graph.client.get(url, headers=prefer(f'outlook.timezone="{zone}"')).json()
        assert shown["start"] == {"dateTime": "2026-05-04T00:00:00.0000000", "timeZone": zone}
        assert shown["end"] == {"dateTime": "2026-05-06T00:00:00.0000000", "timeZone": zone}
        assert shown["isAllDay"] is True

    off_midnight = event("Half", "2026-05-04T08:00:00", "2026-05-05T00:00:00", isAllDay=True)
    refused = graph.client.post(f"{graph.me}/events", json=off_midnight)
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        **refused.json()["error"],
        "code": "ErrorPropertyValidationFailure",
        "message": "At least one property failed validation.",
    }
    patched = graph.client.patch(url, json={"end": moment("2026-05-05T12:00:00", "Tokyo Standard Time")})
    assert patched.status_code == 400


def test_an_unknown_time_zone_is_refused(graph: Graph) -> None:
    refused = graph.client.post(
        f"{graph.me}/events", json=event("x", "2026-05-04T10:00:00", "2026-05-04T11:00:00", "Mars/Olympus")
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "TimeZoneNotSupportedException"


def test_calendars(graph: Graph) -> None:
    calendar = graph.client.get(f"{graph.me}/calendar").json()
    assert calendar["isDefaultCalendar"] is True and calendar["owner"]["address"] == graph.upn
    listed = graph.client.get(f"{graph.me}/calendars").json()["value"]
    assert [c["id"] for c in listed] == [calendar["id"]]


# -- series, occurrences, exceptions -----------------------------------------------------------------------
def test_calendar_view_of_a_series_follows_the_dst_change(graph: Graph) -> None:
    master = standup(graph)
    assert master["type"] == "seriesMaster"
    values = view(graph)
    # 09:00 in Berlin is 08:00Z before 2026-03-29 and 07:00Z from then on.
    assert starts(values) == [
        "2026-03-27T08:00:00.0000000",
        "2026-03-28T08:00:00.0000000",
        "2026-03-29T07:00:00.0000000",
        "2026-03-30T07:00:00.0000000",
    ]
    assert {v["type"] for v in values} == {"occurrence"}
    assert {v["seriesMasterId"] for v in values} == {master["id"]}
    assert values[2]["originalStart"] == "2026-03-29T07:00:00Z"
    assert master["id"] not in {v["id"] for v in values}  # masters never show in a view

    berlin = view(graph, headers=prefer(f'outlook.timezone="{BERLIN}"'))
    assert {s[11:] for s in starts(berlin)} == {"09:00:00.0000000"}
    assert {v["start"]["timeZone"] for v in berlin} == {BERLIN}

    same = graph.client.get(f"{graph.me}/calendar/calendarView?{WINDOW}").json()["value"]
    assert [v["id"] for v in same] == [v["id"] for v in values]

    occurrence = graph.client.get(f"{graph.me}/events/{values[1]['id']}").json()
    assert occurrence["id"] == values[1]["id"] and occurrence["type"] == "occurrence"

    listed = graph.client.get(f"{graph.me}/events").json()["value"]
    assert [e["id"] for e in listed] == [master["id"]]  # occurrences are not events of the calendar


@pytest.mark.parametrize("path", ["calendarView", "calendarView/delta", "instances"])
def test_views_need_a_window(graph: Graph, path: str) -> None:
    if path == "instances":
        path = f"events/{standup(graph)['id']}/instances"
    response = graph.client.get(f"{graph.me}/{path}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"
    assert response.json()["error"]["message"] == (
        "This request requires a time window specified by the query string parameters "
        "StartDateTime and EndDateTime."
    )


def test_exceptions_and_cancelled_occurrences(graph: Graph) -> None:
    master = standup(graph)
    occurrences = view(graph)
    moved, cancelled = occurrences[1], occurrences[2]

    patched = graph.client.patch(
        f"{graph.me}/events/{moved['id']}",
        json={
            "subject": "Stand-up (late)",
            "start": moment("2026-03-28T11:00:00", BERLIN),
            "end": moment("2026-03-28T11:30:00", BERLIN),
        },
    )
    assert patched.status_code == 200, patched.text
    exception = patched.json()
    assert exception["id"] == moved["id"]
    assert exception["type"] == "exception" and exception["seriesMasterId"] == master["id"]
    assert exception["originalStart"] == "2026-03-28T08:00:00Z"
    assert exception["start"]["dateTime"] == "2026-03-28T10:00:00.0000000"

    deleted = graph.client.delete(f"{graph.me}/events/{cancelled['id']}")
    assert deleted.status_code == 204
    assert graph.client.get(f"{graph.me}/events/{cancelled['id']}").status_code == 404

    now = view(graph)
    assert [(v["id"], v["type"]) for v in now] == [
        (occurrences[0]["id"], "occurrence"),
        (moved["id"], "exception"),
        (occurrences[3]["id"], "occurrence"),
    ]
    assert now[1]["subject"] == "Stand-up (late)"
    instances = graph.client.get(f"{graph.me}/events/{master['id']}/instances?{WINDOW}").json()["value"]
    assert [v["id"] for v in instances] == [v["id"] for v in now]

    series = graph.client.get(f"{graph.me}/events/{master['id']}").json()
    assert series["cancelledOccurrences"] == [f"OID.{master['id']}.2026-03-29"]
    assert series["subject"] == "Stand-up"

    # A new pattern regenerates the occurrences; the exception's date no longer has one, so it goes.
    weekdays = {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        },
        "range": {"type": "endDate", "startDate": "2026-03-26", "endDate": "2026-04-02"},
    }
    assert (
        graph.client.patch(f"{graph.me}/events/{master['id']}", json={"recurrence": weekdays}).status_code
        == 200
    )
    assert graph.client.get(f"{graph.me}/events/{moved['id']}").status_code == 404
    assert starts(view(graph)) == ["2026-03-27T08:00:00.0000000", "2026-03-30T07:00:00.0000000"]


def test_moving_a_series_keeps_the_exceptions_that_still_fit(graph: Graph) -> None:
    master = standup(graph)
    occurrence = view(graph)[0]
    graph.client.patch(f"{graph.me}/events/{occurrence['id']}", json={"subject": "Kept"}).raise_for_status()
    later = {"start": moment("2026-03-26T10:00:00", BERLIN), "end": moment("2026-03-26T10:30:00", BERLIN)}
    graph.client.patch(f"{graph.me}/events/{master['id']}", json=later).raise_for_status()
    values = view(graph)
    assert starts(values) == [
        "2026-03-27T09:00:00.0000000",
        "2026-03-28T09:00:00.0000000",
        "2026-03-29T08:00:00.0000000",
        "2026-03-30T08:00:00.0000000",
    ]
    assert (values[0]["id"], values[0]["type"], values[0]["subject"]) == (
        occurrence["id"],
        "exception",
        "Kept",
    )
    assert values[0]["originalStart"] == "2026-03-27T09:00:00Z"


def test_patching_an_occurrence_twice_keeps_one_exception(graph: Graph) -> None:
    standup(graph)
    occurrence = view(graph)[0]
    url = f"{graph.me}/events/{occurrence['id']}"
    first = graph.client.patch(url, json={"subject": "One"}, headers={"If-Match": occurrence["@odata.etag"]})
    assert first.status_code == 200
    assert (
        graph.client.patch(
            url, json={"subject": "Two"}, headers={"If-Match": occurrence["@odata.etag"]}
        ).status_code
        == 412
    )
    second = graph.client.patch(
        url, json={"location": {"displayName": "Room 1"}}, headers={"If-Match": first.json()["@odata.etag"]}
    )
    assert second.status_code == 200
    assert (second.json()["subject"], second.json()["location"]["displayName"]) == ("One", "Room 1")
    assert [v["subject"] for v in view(graph)].count("One") == 1


# -- calendarView delta ------------------------------------------------------------------------------------
def test_calendar_view_delta_rounds(graph: Graph) -> None:
    a = create(graph, event("A", "2026-03-27T10:00:00", "2026-03-27T11:00:00"))
    b = create(graph, event("B", "2026-03-28T10:00:00", "2026-03-28T11:00:00"))
    c = create(graph, event("C", "2026-03-29T10:00:00", "2026-03-29T11:00:00"))
    create(graph, event("Outside", "2026-04-10T10:00:00", "2026-04-10T11:00:00"))

    first_url = f"{graph.me}/calendarView/delta?{WINDOW}"
    values, delta_link, pages = round_of(graph, first_url, headers=prefer("odata.maxpagesize=2"))
    assert len(pages) == 2 and len(pages[0]["value"]) == 2
    assert set(changed(values)) == {a["id"], b["id"], c["id"]}
    assert "$skiptoken=" in unquote(pages[0]["@odata.nextLink"]) and "$deltatoken=" in unquote(delta_link)

    # A replayed nextLink answers the same page again.
    again = graph.client.get(pages[0]["@odata.nextLink"]).json()
    assert again == pages[1]

    quiet, delta_link, _ = round_of(graph, delta_link)
    assert quiet == []

    graph.client.patch(f"{graph.me}/events/{a['id']}", json={"subject": "A2"}).raise_for_status()
    graph.client.delete(f"{graph.me}/events/{b['id']}").raise_for_status()
    outside = {"start": moment("2026-05-01T10:00:00"), "end": moment("2026-05-01T11:00:00")}
    graph.client.patch(f"{graph.me}/events/{c['id']}", json=outside).raise_for_status()

    values, next_link, _ = round_of(graph, delta_link)
    assert {k: v["subject"] for k, v in changed(values).items()} == {a["id"]: "A2"}
    assert tombstones(values) == {b["id"], c["id"]}  # deleted, and moved out of the window

    replayed, _, _ = round_of(graph, delta_link)  # a replayed deltaLink gives the same changes again
    assert set(changed(replayed)) == {a["id"]} and tombstones(replayed) == {b["id"], c["id"]}

    # The window is the first request's: parameters added later change nothing.
    elsewhere = "&startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-02-01T00:00:00Z"
    later, _, _ = round_of(graph, next_link + elsewhere)
    assert later == []

    assert graph.control.post("/_sandbox/expire-delta-tokens").status_code == 200
    expired = graph.client.get(next_link)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "syncStateNotFound"


def test_calendar_view_delta_of_a_series(graph: Graph) -> None:
    master = standup(graph)
    values, delta_link, _ = round_of(graph, f"{graph.me}/calendar/calendarView/delta?{WINDOW}")
    occurrences = sorted(changed(values).values(), key=lambda v: v["start"]["dateTime"])
    assert [v["type"] for v in occurrences] == ["occurrence"] * 4
    assert master["id"] not in changed(values)

    graph.client.patch(
        f"{graph.me}/events/{occurrences[0]['id']}", json={"subject": "Changed once"}
    ).raise_for_status()
    graph.client.delete(f"{graph.me}/events/{occurrences[1]['id']}").raise_for_status()
    values, delta_link, _ = round_of(graph, delta_link)
    assert {k: (v["type"], v["subject"]) for k, v in changed(values).items()} == {
        occurrences[0]["id"]: ("exception", "Changed once")
    }
    assert tombstones(values) == {occurrences[1]["id"]}

    # A change to the master is a change to every occurrence it shows.
    graph.client.patch(f"{graph.me}/events/{master['id']}", json={"subject": "Renamed"}).raise_for_status()
    values, _, _ = round_of(graph, delta_link)
    assert {v["subject"] for v in changed(values).values()} == {"Renamed", "Changed once"}
    assert len(changed(values)) == 3


def test_calendar_view_delta_has_the_shape_of_the_docs(graph: Graph) -> None:
    examples = load_examples()
    address = {
        "street": "900 Broadway",
        "city": "Seattle",
        "state": "WA",
        "countryOrRegion": "United States",
        "postalCode": "",
    }
    place = {
        "displayName": "Chapel of Saint Ignatius",
        "address": address,
        "coordinates": {"latitude": 47.6105, "longitude": -122.321},
    }
    for day in ("09", "10", "11"):
        create(graph, event("Plan", f"2016-12-{day}T20:30:00", f"2016-12-{day}T22:00:00", location=place))
    url = f"{graph.me}/calendarView/delta?startdatetime=2016-12-01T00:00:00Z&enddatetime=2016-12-30T00:00:00Z"
    values, delta_link, pages = round_of(graph, url, headers=prefer("odata.maxpagesize=2"))
    assert same_shape(pages[0], examples["event-delta.calendarView.concept.step1.response.http"]) == []
    assert same_shape(pages[-1], examples["event-delta.calendarView.concept.step3-final.response.http"]) == []

    first, second = values[0]["id"], values[1]["id"]
    graph.client.delete(f"{graph.me}/events/{first}").raise_for_status()
    graph.client.patch(f"{graph.me}/events/{second}", json={"subject": "Attend service"}).raise_for_status()
    page = graph.client.get(delta_link).json()
    assert same_shape(page, examples["event-delta.calendarView.concept.nextround.response.http"]) == []
    assert [v.get("@removed") for v in page["value"]] == [{"reason": "deleted"}, None]


# -- events delta, extended properties ---------------------------------------------------------------------
def test_events_delta_lists_single_events_and_masters(graph: Graph) -> None:
    master = standup(graph)
    single = create(graph, event("Single", "2026-06-01T10:00:00", "2026-06-01T11:00:00"))
    values, delta_link, _ = round_of(graph, f"{graph.me}/events/delta")
    assert {v["id"]: v["type"] for v in values} == {
        master["id"]: "seriesMaster",
        single["id"]: "singleInstance",
    }
    assert set(values[0]) >= {"id", "type", "start", "end"}

    graph.client.delete(f"{graph.me}/events/{single['id']}").raise_for_status()
    values, _, _ = round_of(graph, delta_link)
    assert tombstones(values) == {single["id"]} and changed(values) == {}


def test_extended_properties_filter_and_expand(graph: Graph) -> None:
    keyed = create(
        graph,
        event(
            "Keyed",
            "2026-06-01T10:00:00",
            "2026-06-01T11:00:00",
            singleValueExtendedProperties=[{"id": KEY_ID, "value": "k-1"}],
        ),
    )
    create(graph, event("Plain", "2026-06-02T10:00:00", "2026-06-02T11:00:00"))
    assert "singleValueExtendedProperties" not in keyed

    wanted = quote(f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_ID}' and ep/value eq 'k-1')")
    found = graph.client.get(f"{graph.me}/events?$filter={wanted}").json()["value"]
    assert [e["id"] for e in found] == [keyed["id"]]

    expand = quote(f"singleValueExtendedProperties($filter=id eq '{KEY_ID}')")
    got = graph.client.get(f"{graph.me}/events/{keyed['id']}?$expand={expand}").json()
    assert got["singleValueExtendedProperties"] == [{"id": KEY_ID, "value": "k-1"}]

    in_view = graph.client.get(
        f"{graph.me}/calendarView?startDateTime=2026-06-01T00:00:00Z&endDateTime=2026-06-03T00:00:00Z&$filter={wanted}"
    )
    assert [e["id"] for e in in_view.json()["value"]] == [keyed["id"]]
