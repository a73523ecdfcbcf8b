"""The Graph calendar connector against the sandbox (over HTTPS), and its mapping (event JSON ↔ Event).

Changes "outside sync" are made with raw HTTP requests written from Microsoft's documentation, never through
the connector's own client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailbox_fixtures import new_upn, trust

from exsync.connector import (
    Changes,
    Connector,
    Create,
    Delete,
    Entry,
    Rejected,
    Scope,
    TokenExpired,
    Update,
    Written,
)
from exsync.connector.errors import SideError
from exsync.mailbox.graph import event_map as em
from exsync.mailbox.graph.calendar import CalendarConnector, group
from exsync.mailbox.graph.client import GraphClient
from exsync.model import Attendee, Event, Occurrence
from exsync.model.zones import zone
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import SandboxServer
from exsync.settings import CalendarSettings
from exsync.settings.parts import Window
from exsync.state.records import ProfileRow
from exsync.testing.conformance import ConnectorConformance, written

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "graph" / "examples"
TODAY = datetime.now(UTC).date()
WIDE = CalendarSettings(window=Window(past_days=400, future_days=800))
W_EUROPE = "W. Europe Standard Time"
GRAPH_DAYS = {"MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday", "FR": "friday",
              "SA": "saturday", "SU": "sunday"}  # fmt: skip


# -- fixtures ------------------------------------------------------------------------------------------------
@dataclass
class Outside:
    """Raw Graph requests on one mailbox: a user in Outlook, or another mailbox of the sandbox."""

    http: httpx.Client
    upn: str

    @property
    def me(self) -> str:
        return f"/v1.0/users/{self.upn}"

    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.ok(self.http.post(f"{self.me}/calendar/events", json=body)))

    def get(self, id: str, **params: str) -> dict[str, Any]:
        return dict(self.ok(self.http.get(f"{self.me}/events/{id}", params=params)))

    def patch(self, id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.ok(self.http.patch(f"{self.me}/events/{id}", json=body)))

    def delete(self, id: str) -> None:
        self.ok(self.http.delete(f"{self.me}/events/{id}"))

    def instances(self, id: str, start: str, end: str, **headers: str) -> list[dict[str, Any]]:
        params = {"startDateTime": start, "endDateTime": end, "$top": "1000"}
        response = self.http.get(f"{self.me}/events/{id}/instances", params=params, headers=headers)
        return list(self.ok(response)["value"])

    def inbox(self) -> list[dict[str, Any]]:
        return list(self.ok(self.http.get(f"{self.me}/mailFolders/inbox/messages"))["value"])

    def events(self) -> list[dict[str, Any]]:
        return list(self.ok(self.http.get(f"{self.me}/calendar/events", params={"$top": "100"}))["value"])

    def other(self, upn: str) -> Outside:
        return Outside(self.http, upn)


def _token(server: SandboxServer) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    response = httpx.post(f"{server.url}/firm/oauth2/v2.0/token", data=form, verify=trust(server))
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture
def outside(sandbox_server: SandboxServer, graph_client: GraphClient) -> Iterator[Outside]:
    headers = {"Authorization": f"Bearer {_token(sandbox_server)}", "Prefer": 'IdType="ImmutableId"'}
    verify = trust(sandbox_server)
    with httpx.Client(base_url=sandbox_server.url, verify=verify, headers=headers, timeout=30) as http:
        yield Outside(http, graph_client.mailbox)


def make(
    client: GraphClient, settings: CalendarSettings = WIDE, zone_name: str = "Europe/Berlin"
) -> CalendarConnector:
    profile = ProfileRow(code="AB", staff_id=1, email=client.mailbox, time_zone=zone_name)
    return CalendarConnector(client, settings, profile)


@pytest.fixture
def calendar(graph_client: GraphClient) -> CalendarConnector:
    return make(graph_client)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def event(n: int = 1, offset: int = 10, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "subject": f"Hearing {n}",
        "body": "Bring the file.",
        "location": "Court 3",
        "start": f"{day(offset)} 10:00",
        "end": f"{day(offset)} 11:30",
        "time_zone": "Europe/Berlin",
        "reminder_minutes": 15,
    }
    values.update(fields)
    return Event.model_validate(values)


def create(connector: Connector, item: Event, stamp: str = "calendar:activities:1") -> Written:
    return written(connector.apply([Create(item, stamp)]))


def entries(changes: Changes) -> dict[str, Entry]:
    return {e.id: e for e in changes.entries}


# -- the conformance suite -----------------------------------------------------------------------------------
class TestGraphCalendarConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, graph_client: GraphClient, outside: Outside) -> CalendarConnector:
        self.raw = outside
        return make(graph_client)

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        body: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "location":
                body["location"] = {"displayName": value}
            elif name == "body":
                body["body"] = {"contentType": "text", "content": value}
            else:
                body[name] = value
        self.raw.patch(id, body)

    def outside_delete(self, connector: Connector, id: str) -> None:
        self.raw.delete(id)

    def outside_touch(self, connector: Connector, id: str) -> None:
        self.raw.patch(id, {"categories": ["Touched"]})  # not a field sync owns: a new changeKey only


# -- the mapping: recurrence ---------------------------------------------------------------------------------
BERLIN = zone("Europe/Berlin")


@pytest.mark.parametrize(
    ("rule", "pattern", "rng"),
    [
        (
            "FREQ=DAILY;COUNT=5",
            {"type": "daily", "interval": 1},
            {"type": "numbered", "numberOfOccurrences": 5},
        ),
        ("FREQ=DAILY;INTERVAL=3", {"type": "daily", "interval": 3}, {"type": "noEnd"}),
        (
            "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10",
            {"type": "weekly", "daysOfWeek": ["monday", "wednesday", "friday"], "firstDayOfWeek": "monday"},
            {"type": "numbered", "numberOfOccurrences": 10},
        ),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
            {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["tuesday", "thursday"],
                "firstDayOfWeek": "sunday",
            },
            {"type": "noEnd"},
        ),
        (
            "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270221T225959Z",  # the last day's end in Berlin, in UTC
            {"type": "weekly", "daysOfWeek": ["monday"]},
            {"type": "endDate", "endDate": "2027-02-21"},
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=15", {"type": "absoluteMonthly", "dayOfMonth": 15}, {"type": "noEnd"}),
        (
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU",
            {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["tuesday"], "index": "second"},
            {"type": "noEnd"},
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=12",
            {
                "type": "relativeMonthly",
                "index": "last",
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            },
            {"type": "numbered", "numberOfOccurrences": 12},
        ),  # fmt: skip
        (
            "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1",
            {"type": "absoluteYearly", "month": 6, "dayOfMonth": 1},
            {"type": "noEnd"},
        ),
        (
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            {"type": "relativeYearly", "month": 11, "daysOfWeek": ["thursday"], "index": "fourth"},
            {"type": "noEnd"},
        ),
    ],
)
def test_rrule_round_trips_through_patterned_recurrence(
    rule: str, pattern: dict[str, Any], rng: dict[str, Any]
) -> None:
    graph = em.graph_recurrence(rule, date(2026, 11, 23), BERLIN, "W. Europe Standard Time")
    assert graph["pattern"].items() >= {"interval": 1, **pattern}.items()
    assert graph["range"].items() >= {"startDate": "2026-11-23", **rng}.items()
    assert em.rrule_from_graph(graph, BERLIN, all_day=False) == rule


def test_an_all_day_series_ends_on_a_date() -> None:
    graph = em.graph_recurrence("FREQ=DAILY;UNTIL=20261205", date(2026, 12, 1), BERLIN, "UTC")
    assert graph["range"] == {"type": "endDate", "endDate": "2026-12-05", "startDate": "2026-12-01",
                              "recurrenceTimeZone": "UTC"}  # fmt: skip
    assert em.rrule_from_graph(graph, BERLIN, all_day=True) == "FREQ=DAILY;UNTIL=20261205"


def test_rules_graph_reads_in_its_own_spelling() -> None:
    start = date(2026, 11, 23)  # a Monday
    assert em.canonical_rrule("FREQ=WEEKLY", start, BERLIN, False) == "FREQ=WEEKLY;BYDAY=MO"
    assert em.canonical_rrule("FREQ=MONTHLY", start, BERLIN, False) == "FREQ=MONTHLY;BYMONTHDAY=23"
    assert em.canonical_rrule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", start, BERLIN, False) == (
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    )
    assert (
        em.canonical_rrule("RRULE:FREQ=YEARLY", start, BERLIN, False)
        == "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=23"
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY",
        "FREQ=WEEKLY;BYWEEKNO=3",
        "FREQ=MONTHLY;BYDAY=1MO,3WE",
        "FREQ=MONTHLY;BYDAY=MO",
        "FREQ=MONTHLY;BYDAY=5FR",
        "FREQ=MONTHLY;BYMONTHDAY=1,15",
        "FREQ=DAILY;COUNT=3;UNTIL=20270101",
        "COUNT=3",
    ],
)
def test_rules_outlook_cannot_hold_are_refused(rule: str) -> None:
    with pytest.raises(em.Unmappable):
        em.graph_recurrence(rule, date(2026, 11, 23), BERLIN, "UTC")


# -- the mapping: times and zones ----------------------------------------------------------------------------
def test_all_day_end_is_inclusive_in_the_model_and_exclusive_in_graph() -> None:
    item = Event(
        subject="Trial", start="2026-12-01", end="2026-12-03", all_day=True, time_zone="Europe/Berlin"
    )
    times = em.times_body(item)
    assert times["start"] == {"dateTime": "2026-12-01T00:00:00", "timeZone": "W. Europe Standard Time"}
    assert times["end"] == {"dateTime": "2026-12-04T00:00:00", "timeZone": "W. Europe Standard Time"}
    shown = {"start": {"dateTime": "2026-12-01T00:00:00.0000000", "timeZone": "UTC"},
             "end": {"dateTime": "2026-12-04T00:00:00.0000000", "timeZone": "UTC"},
             "isAllDay": True, "originalStartTimeZone": "W. Europe Standard Time"}  # fmt: skip
    read = em.to_event(shown)
    assert (read.start, read.end, read.all_day) == ("2026-12-01", "2026-12-03", True)
    one_day = {**shown, "end": {"dateTime": "2026-12-02T00:00:00.0000000", "timeZone": "UTC"}}
    assert em.to_event(one_day).end == "2026-12-01"


def test_times_are_read_in_the_events_own_zone() -> None:
    data = {
        "start": {"dateTime": "2027-03-29T07:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-03-29T08:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "W. Europe Standard Time",
        "originalEndTimeZone": "W. Europe Standard Time",
    }
    read = em.to_event(data, default_zone="America/New_York")
    assert (read.start, read.end, read.time_zone) == ("2027-03-29 09:00", "2027-03-29 10:00", "Europe/Berlin")
    # Microsoft's delta examples carry no original zone: the profile's is taken
    bare = {k: v for k, v in data.items() if not k.startswith("original")}
    assert em.to_event(bare, default_zone="America/New_York").start == "2027-03-29 03:00"


def test_scenario_57_a_custom_zone_falls_back_to_utc_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = {
        "id": "custom",
        "start": {"dateTime": "2027-01-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-01-10T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Customized Time Zone",
    }
    with caplog.at_level("WARNING"):
        read = em.to_event(data, default_zone="Europe/Berlin")
    assert (read.time_zone, read.start) == ("UTC", "2027-01-10 09:00")
    assert "Customized Time Zone" in caplog.text


def test_scenario_57_windows_and_iana_names_follow_cldr() -> None:
    for windows, iana in (
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Romance Standard Time", "Europe/Paris"),
    ):
        assert em.event_zone({"originalStartTimeZone": windows}, "UTC") == iana
        assert em.windows_zone(iana) == windows
    # a zone that shares its Windows zone with another keeps its own name through the held property
    assert em.event_zone(
        {"originalStartTimeZone": "W. Europe Standard Time"}, "UTC", {"time_zone": "Europe/Zurich"}
    ) == ("Europe/Zurich")
    assert em.event_zone(
        {"originalStartTimeZone": "GMT Standard Time"}, "UTC", {"time_zone": "Europe/Zurich"}
    ) == ("Europe/London")


# -- the mapping: Microsoft's examples -----------------------------------------------------------------------
def example(name: str) -> dict[str, Any]:
    text = (EXAMPLES / name).read_text(encoding="utf-8").replace("\r\n", "\n")
    _, _, body = text.partition("\n\n")  # after the status line and headers (the body has blank lines too)
    return dict(json.loads(body))


def test_microsoft_calendar_view_delta_examples_parse() -> None:
    pages = [
        "event-delta.calendarView.concept.step1.response.http",
        "event-delta.calendarView.concept.step2.response.http",
        "event-delta.calendarView.concept.step3-final.response.http",
        "event-delta.calendarView.concept.nextround.response.http",
    ]
    read: dict[str, Event] = {}
    for name in pages:
        values = example(name)["value"]
        tombstones = [item for item in values if "@removed" in item]  # the client takes these out
        assert all(set(t) == {"@odata.type", "id", "@removed"} for t in tombstones)
        singles, series = group(item for item in values if "@removed" not in item)
        assert series == {}
        for id, item in singles.items():
            assert em.version_of(item) == em.version_of({"changeKey": item["@odata.etag"][3:-1]})
            read[id] = em.to_event(item, default_zone="America/Los_Angeles")
    assert len(read) == 6
    shopping = read["AAMkADNVxRAAA="]
    assert (shopping.subject, shopping.start, shopping.end) == (
        "Plan shopping list",
        "2016-12-09 12:30",
        "2016-12-09 14:00",
    )
    assert (shopping.organizer, shopping.is_organizer, shopping.attendees) == (
        "samanthab@contoso.onmicrosoft.com",
        True,
        [],
    )
    assert read["AAMkADj1HvAAA="].location == "Chapel of Saint Ignatius"


def test_microsoft_event_delta_example_with_placeholders_parses(caplog: pytest.LogCaptureFixture) -> None:
    [item] = example("event-delta.calendarView.response.http")["value"]
    with caplog.at_level("WARNING"):
        assert group([item]) == ({}, {})  # no id: it cannot be listed
        read = em.to_event(item, default_zone="Europe/Berlin")
    # "originalStartTimeZone-value" is no zone: UTC, said in the log; the placeholder response is not read
    assert (read.time_zone, read.reminder_minutes, read.ical_uid) == ("UTC", 99, "iCalUId-value")
    assert (read.start, read.end, read.recurrence) == ("", "", "")
    assert "originalStartTimeZone-value" in caplog.text


def test_scenario_52_an_occurrence_without_its_master_reads_as_an_event_of_its_own() -> None:
    # An invitation to one occurrence: Exchange shows it as an exception whose series is not in this mailbox.
    orphan = {
        "id": "AAMkOrphan=",
        "type": "exception",
        "seriesMasterId": "AAMkNotHere=",
        "subject": "Board meeting (moved)",
        "start": {"dateTime": "2027-02-03T14:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-02-03T15:00:00.0000000", "timeZone": "UTC"},
        "originalStart": "2027-02-03T13:00:00Z",
        "originalStartTimeZone": "GMT Standard Time",
        "isOrganizer": False,
        "attendees": [{"type": "required", "emailAddress": {"address": "me@firm.example", "name": "Me"},
                       "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}],
        "organizer": {"emailAddress": {"address": "chair@other.example", "name": "Chair"}},
        "changeKey": "ck1",
    }  # fmt: skip
    read = em.to_event(orphan)
    assert (read.start, read.end, read.time_zone, read.recurrence) == (
        "2027-02-03 14:00",
        "2027-02-03 15:00",
        "Europe/London",
        "",
    )
    assert read.mailbox_read_only() and read.organizer == "chair@other.example"
    assert em.version_of(orphan) == em.version_of({"changeKey": "ck1"})


# -- listing and windows -------------------------------------------------------------------------------------
def weekday_code(day_text: str) -> str:
    return ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[date.fromisoformat(day_text[:10]).weekday()]


def series(n: int = 1, offset: int = 7, count: int = 6, **fields: Any) -> Event:
    start = day(offset)
    return event(n, offset, recurrence=f"FREQ=WEEKLY;BYDAY={weekday_code(start)};COUNT={count}", **fields)


def week(offset: int, weeks: int, clock: str = "10:00") -> str:
    return f"{(TODAY + timedelta(days=offset + 7 * weeks)).isoformat()} {clock}"


def at(day_text: str, clock: str = "10:00", zone_name: str = W_EUROPE) -> dict[str, str]:
    """A dateTimeTimeZone as a client writes it."""
    return {"dateTime": f"{day_text}T{clock}:00", "timeZone": zone_name}


def weekly_on(day_text: str) -> dict[str, Any]:
    return {"type": "weekly", "interval": 1, "daysOfWeek": [GRAPH_DAYS[weekday_code(day_text)]]}


def test_a_moved_window_starts_a_new_chain(graph_client: GraphClient) -> None:
    today = [TODAY]
    connector = CalendarConnector(
        graph_client,
        WIDE,
        ProfileRow(code="AB", staff_id=1, email=graph_client.mailbox),
        today=lambda: today[0],
    )
    w = create(connector, event())
    first = connector.changes(None)
    assert first.full and list(entries(first)) == [w.id]
    quiet = connector.changes(first.token)
    assert not quiet.full and list(quiet.entries) == []
    today[0] += timedelta(days=1)  # the window moves: the token's chain is for the old one
    moved = connector.changes(quiet.token)
    assert moved.full and list(entries(moved)) == [w.id]
    assert not connector.changes(moved.token).full


def test_scenario_12_a_series_starting_before_the_window_is_listed_once_and_never_removed(
    graph_client: GraphClient, outside: Outside
) -> None:
    connector = make(graph_client, CalendarSettings())  # 90 days back, 730 ahead
    yearly = {"type": "absoluteYearly", "interval": 1, "month": 6, "dayOfMonth": 1}
    birthday = outside.create(
        {
            "subject": "Ada's birthday",
            "isAllDay": True,
            "start": at("2019-06-01", "00:00"),
            "end": at("2019-06-02", "00:00"),
            "recurrence": {"pattern": yearly, "range": {"type": "noEnd", "startDate": "2019-06-01"}},
        }
    )
    first = connector.changes(None)
    assert list(entries(first)) == [birthday["id"]]  # one series, not one entry per birthday in the window
    record = connector.fetch([birthday["id"]])[birthday["id"]]
    assert record.scope is Scope.IN
    assert (record.item.start, record.item.end, record.item.recurrence) == (
        "2019-06-01",
        "2019-06-01",
        "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1",
    )
    assert record.version == entries(first)[birthday["id"]].version
    assert sorted(map(astuple, connector.changes(None).entries)) == sorted(map(astuple, first.entries))
    later = connector.changes(first.token)
    assert (list(later.entries), list(later.removed)) == ([], [])


def test_scenario_32_an_expired_delta_token_raises_and_a_full_listing_follows(
    calendar: CalendarConnector, control: httpx.Client
) -> None:
    w = create(calendar, event())
    token = calendar.changes(None).token
    assert token is not None
    control.post("/_sandbox/expire-delta-tokens").raise_for_status()
    with pytest.raises(TokenExpired):
        calendar.changes(token)
    full = calendar.changes(None)
    assert full.full and list(entries(full)) == [w.id] and full.token is not None
    assert calendar.changes(full.token).entries == []


class _FailSecondPage(GraphClient):
    """The real client; a fault is armed in the sandbox once the first page of an incremental round is in."""

    control: httpx.Client

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = super()._send(method, path, **kwargs)
        if "calendarView/delta" in path and "deltatoken" in path:
            fault = {"status": 500, "path": "calendarView/delta", "count": 1}
            self.control.post("/_sandbox/faults", json=fault).raise_for_status()
        return response


def test_scenario_33_an_interrupted_delta_round_keeps_the_old_link(
    graph_client: GraphClient, control: httpx.Client, outside: Outside
) -> None:
    failing = _FailSecondPage(graph_client.transport, graph_client.mailbox)
    failing.control = control
    connector = make(failing)
    connector.delta_page = 2
    made = [create(connector, event(n, offset=n), f"calendar:activities:{n}") for n in range(5)]
    token = connector.changes(None).token
    assert token is not None
    for w in made:
        outside.patch(w.id, {"subject": f"Edited {w.id[-6:]}"})
    with pytest.raises(SideError):
        connector.changes(token)  # page 2 of 3 fails: no token comes out of the round
    control.delete("/_sandbox/faults")
    again = make(graph_client)
    again.delta_page = 2
    rerun = again.changes(token)  # the old link still works and replays the whole round
    assert set(entries(rerun)) == {w.id for w in made}
    fetched = again.fetch([w.id for w in made])
    assert {e.id: e.version for e in rerun.entries} == {id: r.version for id, r in fetched.items()}


def test_scenario_34_a_tombstone_for_an_event_that_still_exists_is_not_a_delete(
    calendar: CalendarConnector, outside: Outside
) -> None:
    w = create(calendar, event())
    token = calendar.changes(None).token
    assert token is not None
    far = (TODAY + timedelta(days=900)).isoformat()
    outside.patch(w.id, {"start": at(far), "end": at(far, "11:00")})
    later = calendar.changes(token)
    assert w.id not in later.removed
    assert w.id in entries(later)  # listed, so the engine learns it left the window
    record = calendar.fetch([w.id])[w.id]
    assert record.scope is Scope.WINDOW and record.item.start == f"{far} 10:00"


def test_scenario_35_a_fresh_create_is_found_by_fetch_even_when_no_listing_shows_it(
    calendar: CalendarConnector,
) -> None:
    before = calendar.changes(None)
    fresh = create(calendar, event(1))
    hidden = create(calendar, event(2, offset=1000), "calendar:activities:2")  # outside the window
    assert fresh.id not in entries(before)
    assert hidden.id not in entries(calendar.changes(None))
    found = calendar.fetch([fresh.id, hidden.id])
    assert (found[fresh.id].scope, found[fresh.id].stamp) == (Scope.IN, "calendar:activities:1")
    assert found[hidden.id].scope is Scope.WINDOW  # there, not gone


def test_private_events_made_in_the_mailbox_stay_out(calendar: CalendarConnector, outside: Outside) -> None:
    mine = outside.create(
        {"subject": "Doctor", "sensitivity": "private", "start": at(day(3), "09:00"), "end": at(day(3))}
    )
    synced = create(calendar, event(private=True))  # a private activity of the business side
    found = calendar.fetch([mine["id"], synced.id])
    assert found[mine["id"]].scope is Scope.FILTER and "private" in found[mine["id"]].scope_reason
    assert found[synced.id].scope is Scope.IN and found[synced.id].item.private


def astuple(entry: Entry) -> tuple[str, str, str | None]:
    return (entry.id, entry.version, entry.stamp)


# -- round trips through the sandbox -------------------------------------------------------------------------
def test_what_graph_cannot_hold_as_given_round_trips(calendar: CalendarConnector, outside: Outside) -> None:
    item = event(
        time_zone="Europe/Zurich",  # its Windows zone maps back to Europe/Berlin
        recurrence="FREQ=WEEKLY;COUNT=3",  # BYDAY implied by the start, as the business may write it
        status="cancelled",  # isCancelled is read-only in Graph
        attendees=[Attendee(email="client@example.com", name="Client", response="accepted")],  # not invited
    )
    w = create(calendar, item)
    raw = outside.get(w.id)
    assert raw["originalStartTimeZone"] == W_EUROPE
    assert raw["recurrence"]["pattern"]["daysOfWeek"] == [GRAPH_DAYS[weekday_code(item.start)]]
    assert raw["attendees"] == [] and raw["showAs"] == "free"
    assert calendar.fetch([w.id])[w.id].item.projection() == item.projection()
    # an edit in Outlook wins over what was held
    outside.patch(w.id, {"showAs": "busy", "start": at(day(10), "10:00", "GMT Standard Time"),
                         "end": at(day(10), "11:30", "GMT Standard Time")})  # fmt: skip
    read = calendar.fetch([w.id])[w.id].item
    assert (read.status, read.time_zone) == ("confirmed", "Europe/London")


def test_what_graph_cannot_hold_at_all_is_rejected_alone(calendar: CalendarConnector) -> None:
    hourly, fine = calendar.apply([Create(event(recurrence="FREQ=HOURLY"), "calendar:activities:1"),
                                   Create(event(2), "calendar:activities:2")])  # fmt: skip
    assert isinstance(hourly, Rejected) and "HOURLY" in str(hourly)
    assert isinstance(fine, Written)
    assert list(entries(calendar.changes(None))) == [fine.id]


def test_an_html_body_is_read_as_text_and_kept_unless_the_text_changes(
    calendar: CalendarConnector, outside: Outside
) -> None:
    html = "<html><body><div>Agenda:</div><div>1. Status<br>2. Costs</div></body></html>"
    body = {"contentType": "html", "content": html}
    made = outside.create(
        {
            "subject": "Review",
            "body": body,
            "start": at(day(4)),
            "end": at(day(4), "11:00"),
            "showAs": "tentative",
        }
    )
    record = calendar.fetch([made["id"]])[made["id"]]
    assert record.item.body.split() == ["Agenda:", "1.", "Status", "2.", "Costs"] and "\n" in record.item.body
    assert (record.item.body_html, record.item.status) == (html, "tentative")
    moved = written(calendar.apply([Update(made["id"], {"location": "Room 2", "status": "confirmed"},
                                           record.version)]))  # fmt: skip
    raw = outside.get(made["id"])
    assert (raw["body"]["content"], raw["showAs"]) == (html, "busy")  # the formatting survives (scenario 65)
    written(calendar.apply([Update(made["id"], {"body": "New agenda"}, moved.version)]))
    assert outside.get(made["id"])["body"] == {"contentType": "text", "content": "New agenda"}


def test_a_retried_create_returns_the_event_it_made(calendar: CalendarConnector) -> None:
    item = event()
    first = create(calendar, item)
    again = create(calendar, item)  # the answer was lost; the engine sends the same create again
    assert again.id == first.id
    assert [r.id for r in calendar.find(["calendar:activities:1"])["calendar:activities:1"]] == [first.id]


def test_scenario_55_a_multi_day_all_day_event(calendar: CalendarConnector, outside: Outside) -> None:
    item = Event(subject="Trial", start=day(20), end=day(22), all_day=True, time_zone="Europe/Berlin")
    w = create(calendar, item)
    raw = outside.get(w.id)
    assert raw["isAllDay"] is True
    assert (raw["start"]["dateTime"][:10], raw["end"]["dateTime"][:10]) == (day(20), day(23))  # exclusive
    assert calendar.fetch([w.id])[w.id].item.projection() == item.projection()
    pacific = "Pacific Standard Time"
    one = outside.create(
        {"subject": "Holiday", "isAllDay": True, "start": at(day(30), "00:00", pacific),
         "end": at(day(31), "00:00", pacific)}
    )  # fmt: skip
    read = calendar.fetch([one["id"]])[one["id"]].item
    assert (read.start, read.end, read.time_zone) == (day(30), day(30), "America/Los_Angeles")


def test_scenario_56_a_weekly_berlin_meeting_stays_at_nine_across_dst(
    calendar: CalendarConnector, outside: Outside
) -> None:
    rule = "FREQ=WEEKLY;BYDAY=MO;COUNT=3"  # 22 and 29 March, 5 April 2027; DST begins on the 28th
    item = Event(subject="Jour fixe", start="2027-03-22 09:00", end="2027-03-22 09:30", recurrence=rule,
                 time_zone="Europe/Berlin")  # fmt: skip
    w = create(calendar, item)
    raw = outside.get(w.id)
    assert raw["start"]["dateTime"].startswith("2027-03-22T08:00")  # shown in UTC (no Prefer) ...
    assert raw["originalStartTimeZone"] == W_EUROPE  # ... but kept in Berlin time
    berlin = 'IdType="ImmutableId", outlook.timezone="W. Europe Standard Time"'
    local = outside.instances(w.id, "2027-03-01T00:00:00Z", "2027-04-30T00:00:00Z", Prefer=berlin)
    assert [i["start"]["dateTime"][:16] for i in local] == [
        "2027-03-22T09:00", "2027-03-29T09:00", "2027-04-05T09:00"
    ]  # fmt: skip
    utc = outside.instances(w.id, "2027-03-01T00:00:00Z", "2027-04-30T00:00:00Z")
    assert [i["start"]["dateTime"][11:16] for i in utc] == ["08:00", "07:00", "07:00"]
    assert calendar.fetch([w.id])[w.id].item.projection() == item.projection()


def test_scenario_57_zones_round_trip_by_cldr(calendar: CalendarConnector, outside: Outside) -> None:
    paris = create(calendar, event(time_zone="Europe/Paris"))
    assert outside.get(paris.id)["originalStartTimeZone"] == "Romance Standard Time"
    assert calendar.fetch([paris.id])[paris.id].item.time_zone == "Europe/Paris"
    made = outside.create({"subject": "Call", "start": at(day(5), "09:00"), "end": at(day(5), "09:30")})
    read = calendar.fetch([made["id"]])[made["id"]].item
    assert (read.time_zone, read.start) == ("Europe/Berlin", f"{day(5)} 09:00")


def test_scenario_57_a_flight_keeps_its_arrival_zone(calendar: CalendarConnector, outside: Outside) -> None:
    eastern = "Eastern Standard Time"
    flight = outside.create(
        {"subject": "SFO to JFK", "start": at(day(9), "08:00", "Pacific Standard Time"),
         "end": at(day(9), "16:30", eastern)}
    )  # fmt: skip
    record = calendar.fetch([flight["id"]])[flight["id"]]
    item = record.item
    assert (item.time_zone, item.start, item.end) == (
        "America/Los_Angeles",
        f"{day(9)} 08:00",
        f"{day(9)} 13:30",
    )
    landed = written(calendar.apply([Update(flight["id"], {"end": f"{day(9)} 14:00"}, record.version)]))
    assert outside.get(flight["id"])["originalEndTimeZone"] == eastern
    prefer = {"Prefer": f'outlook.timezone="{eastern}"'}
    shown = outside.ok(outside.http.get(f"{outside.me}/events/{flight['id']}", headers=prefer))
    assert shown["end"]["dateTime"].startswith(f"{day(9)}T17:00")
    assert calendar.fetch([flight["id"]])[flight["id"]].version == landed.version


# -- recurrence: exceptions, cancellations, splits -----------------------------------------------------------
def test_scenario_50_modified_occurrences_survive_both_ways(
    calendar: CalendarConnector, outside: Outside
) -> None:
    moved = Occurrence(
        original_start=week(7, 1), start=week(8, 1, "11:00"), end=week(8, 1, "12:30"), subject="Moved hearing"
    )
    placed = Occurrence(
        original_start=week(7, 2), start=week(7, 2), end=week(7, 2, "11:30"), location="Room 9"
    )
    item = series(exceptions=[moved, placed])
    w = create(calendar, item)
    assert calendar.fetch([w.id])[w.id].item.projection() == item.projection()
    # found by its stamp as one series (occurrences carry the master's properties, but are not items)
    assert [r.id for r in calendar.find(["calendar:activities:1"])["calendar:activities:1"]] == [w.id]
    raw = outside.instances(w.id, f"{day(0)}T00:00:00Z", f"{day(60)}T00:00:00Z")
    kinds = ["occurrence", "exception", "exception", "occurrence", "occurrence", "occurrence"]
    assert [i["type"] for i in raw] == kinds
    listed = calendar.changes(None)
    assert entries(listed)[w.id].version == calendar.fetch([w.id])[w.id].version
    token = listed.token
    assert token is not None
    # the series is renamed in Outlook: the moved occurrence keeps its own subject (OCDS #32)
    outside.patch(w.id, {"subject": "Renamed"})
    outside.patch(raw[3]["id"], {"subject": "Changed in Outlook"})
    later = calendar.changes(token)
    assert list(entries(later)) == [w.id]  # one entry for the series, never its occurrences
    read = calendar.fetch([w.id])[w.id].item
    assert read.subject == "Renamed"
    subjects = {o.original_start: o.subject for o in read.exceptions}
    assert subjects == {week(7, 1): "Moved hearing", week(7, 2): "", week(7, 3): "Changed in Outlook"}
    assert next(o for o in read.exceptions if o.original_start == week(7, 1)).start == week(8, 1, "11:00")
    assert entries(later)[w.id].version == calendar.fetch([w.id])[w.id].version


def test_scenario_51_a_deleted_occurrence_cancels_only_that_occurrence(
    calendar: CalendarConnector, outside: Outside
) -> None:
    w = create(calendar, series())
    first = calendar.changes(None)
    raw = outside.instances(w.id, f"{day(0)}T00:00:00Z", f"{day(60)}T00:00:00Z")
    outside.delete(raw[1]["id"])  # the user deletes the second occurrence
    later = calendar.changes(first.token)
    assert w.id in entries(later) and w.id not in later.removed
    assert entries(later)[w.id].version != entries(first)[w.id].version
    record = calendar.fetch([w.id])[w.id]
    assert record.item.exceptions == [Occurrence(original_start=week(7, 1), cancelled=True)]
    assert record.version == entries(later)[w.id].version
    # the business side cancels the third one: only that occurrence goes
    wanted = [*record.item.exceptions, Occurrence(original_start=week(7, 2), cancelled=True)]
    patch = {"exceptions": [o.model_dump() for o in wanted]}
    done = written(calendar.apply([Update(w.id, patch, record.version)]))
    left = outside.instances(w.id, f"{day(0)}T00:00:00Z", f"{day(60)}T00:00:00Z")
    assert [i["start"]["dateTime"][:10] for i in left] == [week(7, n)[:10] for n in (0, 3, 4, 5)]
    again = calendar.fetch([w.id])[w.id]
    assert again.version == done.version and again.item.exceptions == wanted
    # restoring a deleted occurrence is impossible through Graph: refused, never deleted and re-created
    [refused] = calendar.apply([Update(w.id, {"exceptions": []}, again.version)])
    assert isinstance(refused, Rejected) and "cannot be restored" in str(refused)
    assert [i["id"] for i in outside.instances(w.id, f"{day(0)}T00:00:00Z", f"{day(60)}T00:00:00Z")] == [
        i["id"] for i in left
    ]


def test_a_long_series_keeps_exceptions_far_from_today(calendar: CalendarConnector) -> None:
    # 600 days from 300 days ago: its instances come in several pages, its early exceptions lie before the
    # window of a narrower profile, and leaving that window must not read as the exception being dropped
    first = TODAY - timedelta(days=300)
    early, late = first + timedelta(days=3), first + timedelta(days=590)
    item = Event(
        subject="Daily stand-up", start=f"{first} 09:00", end=f"{first} 09:15", time_zone="Europe/Berlin",
        recurrence="FREQ=DAILY;COUNT=600",
        exceptions=[Occurrence(original_start=f"{early} 09:00", start=f"{early} 10:00", end=f"{early} 10:15"),
                    Occurrence(original_start=f"{late} 09:00", cancelled=True)],
    )  # fmt: skip
    w = create(calendar, item)
    assert calendar.fetch([w.id])[w.id].item.projection() == item.projection()
    narrow = make(calendar.client, CalendarSettings())  # 90 days back: the early exception is outside
    record = narrow.fetch([w.id])[w.id]
    assert record.scope is Scope.IN and record.item.projection() == item.projection()
    assert record.version == entries(narrow.changes(None))[w.id].version


def test_a_deleted_series_is_removed(calendar: CalendarConnector, outside: Outside) -> None:
    w = create(calendar, series())
    token = calendar.changes(None).token
    assert token is not None
    outside.delete(w.id)
    later = calendar.changes(token)
    assert w.id in later.removed and w.id not in entries(later)


def test_scenario_53_this_and_following_split_gives_two_series(
    calendar: CalendarConnector, outside: Outside
) -> None:
    start, split = day(7), week(7, 3)[:10]
    weekly = weekly_on(start)
    old = outside.create(
        {"subject": "Weekly status", "start": at(start), "end": at(start, "10:30"),
         "recurrence": {"pattern": weekly, "range": {"type": "noEnd", "startDate": start}}}
    )  # fmt: skip
    token = calendar.changes(None).token
    assert token is not None
    # Outlook's "this and following": the old series ends before the split date, a new one starts on it
    until = {"type": "endDate", "startDate": start, "endDate": week(7, 2)[:10]}
    outside.patch(old["id"], {"recurrence": {"pattern": weekly, "range": until}})
    new = outside.create(
        {"subject": "Weekly status (new room)", "start": at(split), "end": at(split, "10:30"),
         "recurrence": {"pattern": weekly, "range": {"type": "noEnd", "startDate": split}}}
    )  # fmt: skip
    later = calendar.changes(token)
    assert set(entries(later)) == {old["id"], new["id"]}
    assert not {old["id"], new["id"]} & set(later.removed)  # only tombstones of the old series' occurrences
    found = calendar.fetch([old["id"], new["id"]])
    assert found[old["id"]].item.recurrence.startswith(f"FREQ=WEEKLY;BYDAY={weekday_code(start)};UNTIL=")
    assert found[new["id"]].item.ical_uid != found[old["id"]].item.ical_uid
    starts = [
        i["start"]["dateTime"][:10]
        for s in (old, new)
        for i in outside.instances(s["id"], f"{day(0)}T00:00:00Z", f"{day(60)}T00:00:00Z")
    ]
    assert starts.count(split) == 1 and len(starts) == len(set(starts))


# -- meetings ------------------------------------------------------------------------------------------------
def meeting_body(attendee: str, offset: int = 12) -> dict[str, Any]:
    return {
        "subject": "Settlement talks",
        "start": at(day(offset), "14:00"),
        "end": at(day(offset), "15:00"),
        "attendees": [{"type": "required", "emailAddress": {"address": attendee, "name": "Colleague"}}],
    }


def test_scenario_59_a_meeting_the_user_does_not_organise_is_read_only(
    calendar: CalendarConnector, outside: Outside, sandbox_server: SandboxServer
) -> None:
    organizer = outside.other(new_upn(sandbox_server, "colleague"))
    meeting = organizer.create(meeting_body(calendar.client.mailbox))
    listed = calendar.changes(None)
    [copy_id] = list(entries(listed))
    record = calendar.fetch([copy_id])[copy_id]
    assert record.scope is Scope.IN and not record.item.is_organizer
    assert record.item.mailbox_read_only() and record.item.organizer == organizer.upn
    # the copy shows as tentative until answered: that is the user's answer, not the meeting's status
    assert outside.get(copy_id)["showAs"] == "tentative" and record.item.status == "confirmed"
    writes = [Update(copy_id, {"subject": "Mine now"}, record.version), Delete(copy_id, record.version)]
    update, delete = calendar.apply(writes)
    assert isinstance(update, Rejected) and "organised by" in str(update)
    assert isinstance(delete, Rejected)
    assert outside.get(copy_id)["subject"] == "Settlement talks"
    # the organizer cancels: the copy says so (the business row's status = 'cancelled', rule 5)
    organizer.ok(organizer.http.post(f"{organizer.me}/events/{meeting['id']}/cancel", json={}))
    assert copy_id in entries(calendar.changes(listed.token))
    assert calendar.fetch([copy_id])[copy_id].item.status == "cancelled"


def test_scenario_60_attendee_responses_reach_the_organizers_copy(
    calendar: CalendarConnector, outside: Outside, sandbox_server: SandboxServer
) -> None:
    colleague = outside.other(new_upn(sandbox_server, "colleague"))
    made = outside.create(meeting_body(colleague.upn))
    token = calendar.changes(None).token
    assert token is not None
    before = calendar.fetch([made["id"]])[made["id"]]
    assert [(a.email, a.response) for a in before.item.attendees] == [(colleague.upn, "none")]
    [copy] = colleague.events()
    colleague.ok(
        colleague.http.post(f"{colleague.me}/events/{copy['id']}/accept", json={"sendResponse": True})
    )
    assert made["id"] in entries(calendar.changes(token))
    after = calendar.fetch([made["id"]])[made["id"]]
    assert [(a.email, a.response) for a in after.item.attendees] == [(colleague.upn, "accepted")]
    messages = len(colleague.inbox())
    # the business side's responses are not written back: the organizer's copy tracks them itself
    wrong = [Attendee(email=colleague.upn, name="Colleague", response="declined").model_dump()]
    outcome = written(calendar.apply([Update(made["id"], {"attendees": wrong}, after.version)]))
    assert outcome.version == after.version
    assert len(colleague.inbox()) == messages


def test_scenario_61_creating_events_with_attendees_sends_no_invitations(
    graph_client: GraphClient, outside: Outside, sandbox_server: SandboxServer
) -> None:
    colleague = outside.other(new_upn(sandbox_server, "colleague"))
    people = [
        Attendee(email=colleague.upn, name="Colleague"),
        Attendee(email="client@example.com", role="optional"),
    ]
    quiet = make(graph_client)
    item = event(attendees=people)
    w = create(quiet, item)
    assert outside.get(w.id)["attendees"] == []
    assert colleague.inbox() == [] and colleague.events() == []
    assert quiet.fetch([w.id])[w.id].item.projection() == item.projection()
    # with send_invitations, a future meeting invites; a past one never does (historical data)
    inviting = make(graph_client, WIDE.model_copy(update={"send_invitations": True}))
    create(inviting, event(2, offset=-5, attendees=people), "calendar:activities:2")
    assert colleague.inbox() == []
    invited = create(inviting, event(3, attendees=people), "calendar:activities:3")
    assert [m["@odata.type"] for m in colleague.inbox()] == ["#microsoft.graph.eventMessageRequest"]
    addresses = [a["emailAddress"]["address"] for a in outside.get(invited.id)["attendees"]]
    assert sorted(addresses) == sorted([colleague.upn, "client@example.com"])
    # once it is a real meeting, a quiet profile changes only what sends no update
    current = quiet.fetch([invited.id])[invited.id]
    [reminder] = quiet.apply([Update(invited.id, {"reminder_minutes": 30}, current.version)])
    assert isinstance(reminder, Written)
    [subject] = quiet.apply([Update(invited.id, {"subject": "Renamed"}, reminder.version)])
    assert isinstance(subject, Rejected) and "send_invitations" in str(subject)
    [deleting] = quiet.apply([Delete(invited.id, reminder.version)])
    assert isinstance(deleting, Rejected)
    assert len(colleague.inbox()) == 1 and outside.get(invited.id)["subject"] == "Hearing 3"


@pytest.mark.parametrize("status", [403, 409])
def test_scenario_87_a_refused_meeting_update_is_never_deleted_and_recreated(
    graph_client: GraphClient,
    outside: Outside,
    control: httpx.Client,
    sandbox_server: SandboxServer,
    status: int,
) -> None:
    colleague = outside.other(new_upn(sandbox_server, "colleague"))
    connector = make(graph_client, WIDE.model_copy(update={"send_invitations": True}))
    w = create(connector, event(attendees=[Attendee(email=colleague.upn)]))
    control.delete("/_sandbox/stats").raise_for_status()
    fault = {"status": status, "path": "/events/", "method": "PATCH", "count": 1}
    control.post("/_sandbox/faults", json=fault).raise_for_status()
    [outcome] = connector.apply([Update(w.id, {"location": "Elsewhere"}, w.version)])
    assert isinstance(outcome, Rejected)  # this item's refusal, not the whole side's
    requests = control.get("/_sandbox/stats").json()["requests"].get(graph_client.mailbox, {})
    assert [k for k in requests if k.startswith("PATCH")]  # the update was tried ...
    assert not [k for k in requests if k.startswith(("DELETE", "POST"))]  # ... and nothing else
    assert outside.get(w.id)["location"]["displayName"] == "Court 3"
    assert [m["@odata.type"] for m in colleague.inbox()] == ["#microsoft.graph.eventMessageRequest"]
