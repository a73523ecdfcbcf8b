"""The tasks connector over Microsoft To Do, against the HTTPS sandbox: the conformance suite (changes made
outside sync through raw HTTP, as a user's To Do app would make them), the mapping both ways, the list's
life (vanished, renamed, adopted), finding our tasks after a lost state store, floating due dates
(SCENARIOS 58), and Microsoft's own todoTask delta example read through the mapping."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailbox_fixtures import new_upn, trust

from exsync.connector import (
    Connector,
    Create,
    Delete,
    Deleted,
    Scope,
    TokenExpired,
    Update,
    VersionConflict,
    Written,
)
from exsync.engine import PairRun, Policy, RunOptions, RunReport
from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.task_map import (
    UTC_ZONE,
    LocalZone,
    create_body,
    entry_of,
    patch_body,
    record_of,
    stamp_of,
    to_task,
)
from exsync.mailbox.graph.tasks import TasksConnector
from exsync.mailbox.graph.testing import sandbox_client
from exsync.model import Task
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import SandboxServer
from exsync.settings import TasksSettings
from exsync.state import StateStore
from exsync.state.records import ProfileRow
from exsync.testing.conformance import ConnectorConformance, written
from exsync.testing.memory import MemoryConnector, memory_pair
from services import need_service

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "graph" / "examples"
BERLIN = LocalZone.of("Europe/Berlin")
LIST = "Firm Tasks"
LISTS = "GET /users/{user-id}/todo/lists"  # routes as the sandbox counts them
DELTA = "GET /users/{user-id}/todo/lists/{todoTaskList-id}/tasks/delta"


# -- raw HTTP: what a user's To Do app does, written from Microsoft's docs (never through the connector) -----
@dataclass
class Raw:
    http: httpx.Client
    upn: str

    @property
    def lists(self) -> str:
        return f"/v1.0/users/{self.upn}/todo/lists"

    def list_id(self, name: str = LIST) -> str:
        response = self.http.get(self.lists)
        response.raise_for_status()
        return next(str(x["id"]) for x in response.json()["value"] if x["displayName"] == name)

    def list_names(self) -> list[str]:
        response = self.http.get(self.lists)
        response.raise_for_status()
        return [str(x["displayName"]) for x in response.json()["value"]]

    def task_url(self, task_id: str, list_name: str = LIST) -> str:
        return f"{self.lists}/{self.list_id(list_name)}/tasks/{task_id}"

    def get(self, task_id: str, prefer: str = "") -> dict[str, Any]:
        headers = {"Prefer": prefer} if prefer else {}
        response = self.http.get(
            self.task_url(task_id), params={"$expand": "linkedResources"}, headers=headers
        )
        response.raise_for_status()
        return dict(response.json())

    def patch(self, task_id: str, body: dict[str, Any]) -> None:
        self.http.patch(self.task_url(task_id), json=body).raise_for_status()

    def post(self, body: dict[str, Any], list_name: str = LIST) -> str:
        response = self.http.post(f"{self.lists}/{self.list_id(list_name)}/tasks", json=body)
        response.raise_for_status()
        return str(response.json()["id"])


def raw_client(server: SandboxServer, upn: str) -> Iterator[Raw]:
    token = httpx.post(
        f"{server.url}/firm/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=trust(server),
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}", "Prefer": 'IdType="ImmutableId"'}
    with httpx.Client(base_url=server.url, verify=trust(server), headers=headers, timeout=30) as http:
        yield Raw(http, upn)


@pytest.fixture
def raw(sandbox_server: SandboxServer, graph_client: GraphClient) -> Iterator[Raw]:
    """Raw HTTP on the mailbox of ``graph_client``."""
    yield from raw_client(sandbox_server, graph_client.mailbox)


def profile(upn: str, zone: str = "Europe/Berlin") -> ProfileRow:
    return ProfileRow(code="JD", staff_id=1, email=upn, time_zone=zone)


@dataclass
class Clock:
    """The connector's clock, moved on by hand (epoch seconds)."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def tasks_connector(
    client: GraphClient, zone: str = "Europe/Berlin", name: str = LIST, clock: Clock | None = None
) -> TasksConnector:
    settings, owner = TasksSettings(list=name), profile(client.mailbox, zone)
    return TasksConnector(client, settings, owner, clock=clock or time.time)


def requests_of(control: httpx.Client, upn: str) -> Counter[str]:
    """The requests the sandbox has counted for mailbox ``upn``, by route."""
    return Counter(control.get("/_sandbox/stats").json()["requests"].get(upn, {}))


# What a user types in To Do, for the fields the conformance suite edits (canonical name -> todoTask JSON).
def todo_fields(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "subject":
            body["title"] = value
        elif name == "body":
            body["body"] = {"content": value, "contentType": "text"}
        elif name == "priority":
            body["importance"] = value
        elif name == "done":
            body["status"] = "completed" if value else "notStarted"
        else:
            raise AssertionError(f"no raw spelling for {name}")
    return body


# -- the conformance suite --------------------------------------------------------------------------------
class TestGraphTasksConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, graph_client: GraphClient) -> TasksConnector:
        return tasks_connector(graph_client)

    @pytest.fixture(autouse=True)
    def _raw(self, raw: Raw) -> None:
        self.raw = raw

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        self.raw.patch(id, todo_fields(**fields))

    def outside_delete(self, connector: Connector, id: str) -> None:
        self.raw.http.delete(self.raw.task_url(id)).raise_for_status()

    def outside_touch(self, connector: Connector, id: str) -> None:
        self.raw.patch(id, {"categories": ["Touched"]})  # a property sync does not own


# -- mapping, pure ----------------------------------------------------------------------------------------
def todo_task(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@odata.etag": 'W/"abc=="',
        "id": "AAMk-1",
        "title": "File the brief",
        "status": "notStarted",
        "importance": "normal",
        "isReminderOn": False,
        "body": {"content": "", "contentType": "text"},
        "createdDateTime": "2026-03-01T10:00:00.1234567Z",
        "linkedResources": [
            {
                "id": "0f0",
                "applicationName": "exsync",
                "displayName": "exsync",
                "externalId": "tasks:activities:7",
            }
        ],
    }
    data.update(overrides)
    return data


def test_reading_a_task() -> None:
    data = todo_task(
        title="  Call the court ",
        body={
            "content": "<html><body><p>Bring the <b>file</b>.</p><p>Room 3</p></body></html>",
            "contentType": "html",
        },
        importance="high",
        status="inProgress",
        # written by an app in Berlin: midnight of 1 April there is 22:00 UTC the day before
        dueDateTime={"dateTime": "2026-03-31T22:00:00.0000000", "timeZone": "UTC"},
    )
    task = to_task(data, BERLIN)
    assert task.projection() == {
        "subject": "Call the court",
        "body": "Bring the file.\n\nRoom 3",  # paragraphs stay apart
        "due": "2026-04-01",
        "done": False,  # inProgress is not done
        "priority": "high",
    }
    assert task.body_html.startswith("<html>")
    assert (stamp_of(data), entry_of(data).version) == ("tasks:activities:7", 'W/"abc=="')


def test_a_reminder_on_the_due_date_is_the_due_time_and_one_on_another_day_is_not() -> None:
    due = {"dateTime": "2026-03-31T22:00:00.0000000", "timeZone": "UTC"}
    same_day = {"dateTime": "2026-04-01T15:00:00.0000000", "timeZone": "UTC"}  # 17:00 in Berlin (CEST)
    assert to_task(todo_task(dueDateTime=due, isReminderOn=True, reminderDateTime=same_day), BERLIN).due == (
        "2026-04-01 17:00"
    )
    assert to_task(todo_task(dueDateTime=due, isReminderOn=False, reminderDateTime=same_day), BERLIN).due == (
        "2026-04-01"
    )
    day_before = {"dateTime": "2026-03-31T07:00:00.0000000", "timeZone": "UTC"}
    assert to_task(
        todo_task(dueDateTime=due, isReminderOn=True, reminderDateTime=day_before), BERLIN
    ).due == ("2026-04-01")


def test_completed_is_done_and_other_applications_links_are_no_stamp() -> None:
    foreign = [
        {"id": "1", "applicationName": "Jira", "displayName": "PROJ-1", "externalId": "tasks:activities:7"}
    ]
    data = todo_task(status="completed", linkedResources=foreign, importance="urgent")
    task = to_task(data, UTC_ZONE)
    assert (task.done, task.priority) == (True, "normal")
    assert stamp_of(data) is None
    assert stamp_of(todo_task(linkedResources=None)) is None  # not expanded: no stamp to read


def test_a_task_that_cannot_be_read_is_answered_unreadable() -> None:
    record = record_of(todo_task(dueDateTime={"dateTime": "next Tuesday", "timeZone": "UTC"}), BERLIN)
    assert record.scope is Scope.UNREADABLE
    assert "next Tuesday" in record.scope_reason
    assert (record.id, record.stamp) == ("AAMk-1", "tasks:activities:7")


def test_writing_a_new_task() -> None:
    item = Task(subject="Deadline", body="a\nb", due="2026-04-01 17:00", done=True, priority="low")
    assert create_body(item, "tasks:activities:9", BERLIN) == {
        "title": "Deadline",
        "body": {"content": "a\nb", "contentType": "text"},
        "importance": "low",
        "status": "completed",
        "linkedResources": [
            {"externalId": "tasks:activities:9", "applicationName": "exsync", "displayName": "exsync"}
        ],
        "dueDateTime": {"dateTime": "2026-04-01T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
        "reminderDateTime": {
            "dateTime": "2026-04-01T17:00:00.0000000",
            "timeZone": "W. Europe Standard Time",
        },
        "isReminderOn": True,
    }
    dated = create_body(Task(subject="x", due="2026-04-01"), "k", LocalZone.of(""))
    assert dated["dueDateTime"] == {"dateTime": "2026-04-01T00:00:00.0000000", "timeZone": "UTC"}
    assert "reminderDateTime" not in dated and dated["status"] == "notStarted"
    assert "dueDateTime" not in create_body(Task(subject="x"), "k", BERLIN)


def test_patches_map_onto_the_existing_task() -> None:
    in_progress = todo_task(status="inProgress")
    assert patch_body({"done": False, "subject": "  a\r\nb "}, in_progress, BERLIN) == {"title": "a\nb"}
    assert patch_body({"done": False}, todo_task(status="completed"), BERLIN) == {"status": "notStarted"}
    assert patch_body({"done": True}, in_progress, BERLIN) == {"status": "completed"}
    assert patch_body({"due": ""}, in_progress, BERLIN) == {"dueDateTime": None}
    # a reminder on the new due date would read as a due time: it is switched off; on another day it stays
    reminded = todo_task(
        isReminderOn=True, reminderDateTime={"dateTime": "2026-04-01T07:00:00", "timeZone": "UTC"}
    )
    assert patch_body({"due": "2026-04-01"}, reminded, BERLIN) == {
        "dueDateTime": {"dateTime": "2026-04-01T00:00:00.0000000", "timeZone": "W. Europe Standard Time"},
        "reminderDateTime": None,
        "isReminderOn": False,
    }
    assert set(patch_body({"due": "2026-04-02"}, reminded, BERLIN)) == {"dueDateTime"}
    with pytest.raises(ValueError):
        patch_body({"priority": "whenever"}, in_progress, BERLIN)


def test_a_zone_windows_cannot_name_is_written_as_utc() -> None:
    assert LocalZone.of("Antarctica/Troll") == UTC_ZONE  # an IANA zone with no Windows equivalent
    assert LocalZone.of("Pacific/Honolulu").windows == "Hawaiian Standard Time"


# -- against the sandbox ----------------------------------------------------------------------------------
def test_the_list_is_created_once_and_tasks_land_in_it(graph_client: GraphClient, raw: Raw) -> None:
    connector = tasks_connector(graph_client)
    first = connector.changes(None)
    assert first.full and list(first.entries) == [] and first.token is not None
    w = written(connector.apply([Create(Task(subject="One"), "tasks:activities:1")]))
    tasks_connector(graph_client).changes(None)  # another run finds it by name
    assert raw.list_names().count(LIST) == 1
    shown = raw.get(w.id)
    assert shown["linkedResources"][0]["externalId"] == "tasks:activities:1"
    assert shown["linkedResources"][0]["applicationName"] == "exsync"


def test_a_due_time_survives_the_round_trip_as_the_due_days_reminder(
    graph_client: GraphClient, raw: Raw
) -> None:
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="Filing", due="2026-04-01 17:00"), "k:1")]))
    assert connector.fetch([w.id])[w.id].item.projection()["due"] == "2026-04-01 17:00"
    shown = raw.get(w.id, prefer='outlook.timezone="Europe/Berlin"')
    assert shown["dueDateTime"]["dateTime"].startswith("2026-04-01T00:00")  # To Do keeps the date
    assert shown["reminderDateTime"]["dateTime"].startswith("2026-04-01T17:00")
    assert shown["isReminderOn"] is True
    # the user completes it in To Do: the time of day is still read (no loss for the business row)
    raw.patch(w.id, {"status": "completed"})
    record = connector.fetch([w.id])[w.id]
    assert (record.item.projection()["due"], record.item.projection()["done"]) == ("2026-04-01 17:00", True)
    # the business drops the time: the reminder that carried it is switched off
    update = written(connector.apply([Update(w.id, {"due": "2026-04-01"}, record.version)]))
    assert connector.fetch([w.id])[w.id].item.projection()["due"] == "2026-04-01"
    assert raw.get(w.id)["isReminderOn"] is False
    assert update.version == raw.get(w.id)["@odata.etag"]


def test_a_users_in_progress_survives_an_update(graph_client: GraphClient, raw: Raw) -> None:
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="Draft"), "k:1")]))
    raw.patch(w.id, {"status": "inProgress"})
    version = connector.fetch([w.id])[w.id].version
    written(connector.apply([Update(w.id, {"subject": "Draft 2", "done": False}, version)]))
    shown = raw.get(w.id)
    assert (shown["title"], shown["status"]) == ("Draft 2", "inProgress")


def test_an_update_that_reads_first_still_conflicts_on_a_stale_version(
    graph_client: GraphClient, raw: Raw
) -> None:
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="Draft"), "k:1")]))
    raw.patch(w.id, {"title": "Theirs"})
    [outcome] = connector.apply([Update(w.id, {"done": True}, w.version)])
    assert isinstance(outcome, VersionConflict)
    assert raw.get(w.id)["status"] == "notStarted"  # nothing written


def test_a_renamed_list_is_followed_by_id(graph_client: GraphClient, raw: Raw) -> None:
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="One"), "k:1")]))
    token = connector.changes(None).token
    assert token is not None
    list_id = raw.list_id()
    raw.http.patch(f"{raw.lists}/{list_id}", json={"displayName": "Kanzlei"}).raise_for_status()
    delta = tasks_connector(graph_client).changes(token)  # a new run: only the token remembers the list
    assert not delta.full
    assert json.loads(delta.token or "{}")["list"] == list_id
    assert raw.list_names().count(LIST) == 0  # no second list made
    connector = tasks_connector(graph_client)
    connector.changes(token)  # a run lists first, then reads and writes in the list it listed
    assert set(connector.fetch([w.id])) == {w.id}


def vanish(raw: Raw) -> str:
    """The user deletes the list in To Do; its delta token is what remembers it. Returns the old id."""
    old = raw.list_id()
    raw.http.delete(f"{raw.lists}/{old}").raise_for_status()
    return old


def test_a_vanished_list_is_replaced_and_listed_in_full(
    graph_client: GraphClient, raw: Raw, control: httpx.Client
) -> None:
    """Deleted, the list is noticed at once, though its check is not due: its delta link answers 404, and
    only then are the lists listed."""
    clock = Clock()
    connector = tasks_connector(graph_client, clock=clock)
    for n in range(3):
        written(connector.apply([Create(Task(subject=f"T{n}"), f"k:{n}")]))
    token = connector.changes(None).token
    assert token is not None
    old = vanish(raw)
    before = requests_of(control, graph_client.mailbox)
    listing = tasks_connector(graph_client, clock=clock).changes(token)
    assert listing.full and listing.replaced, "a vanished list is a full listing, never a delta of deletions"
    assert (list(listing.entries), list(listing.removed)) == ([], [])
    spent = requests_of(control, graph_client.mailbox) - before
    assert (spent[DELTA], spent[LISTS]) == (2, 1)  # the 404, one look for the list, the new round
    new = json.loads(listing.token or "{}")["list"]
    assert new != old and raw.list_id() == new
    # the next write goes to the new list
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="Again"), "k:0")]))
    assert [e.id for e in connector.changes(listing.token).entries] == [w.id]


def test_a_no_op_listing_is_one_request_and_the_list_is_checked_when_due(
    graph_client: GraphClient, control: httpx.Client
) -> None:
    clock = Clock()
    token = tasks_connector(graph_client, clock=clock).changes(None).token
    assert token is not None

    def spent(token: str) -> tuple[Counter[str], dict[str, Any]]:
        before = requests_of(control, graph_client.mailbox)
        listing = tasks_connector(graph_client, clock=clock).changes(token)  # a new run: the token remembers
        assert listing.token is not None and not listing.full and not listing.replaced
        return requests_of(control, graph_client.mailbox) - before, json.loads(listing.token)

    clock.now += TasksConnector.folder_check_every - 1
    requests, later = spent(token)
    assert requests == Counter({DELTA: 1})  # the delta round alone
    assert later["checked"] == json.loads(token)["checked"]  # the last check is still remembered

    clock.now += 1  # the check is due: the lists are listed once
    requests, later = spent(json.dumps(later))
    assert requests == Counter({LISTS: 1, DELTA: 1})
    assert later["checked"] == clock.now

    del later["checked"]  # a token from before the time was kept: due
    assert spent(json.dumps(later))[0] == Counter({LISTS: 1, DELTA: 1})


def test_a_due_check_notices_a_vanished_list_before_its_delta_link_is_tried(
    graph_client: GraphClient, raw: Raw, control: httpx.Client
) -> None:
    """To Do keeps no deleted lists, so a list that vanished always answers 404 on its delta link; once its
    check is due, though, the listing of lists notices it first."""
    clock = Clock()
    token = tasks_connector(graph_client, clock=clock).changes(None).token
    assert token is not None
    old = vanish(raw)
    clock.now += TasksConnector.folder_check_every
    before = requests_of(control, graph_client.mailbox)
    listing = tasks_connector(graph_client, clock=clock).changes(token)
    assert listing.full and listing.replaced
    spent = requests_of(control, graph_client.mailbox) - before
    assert (spent[LISTS], spent[DELTA]) == (1, 1)  # no 404: the new list's round alone
    later = json.loads(listing.token or "{}")
    assert later["list"] == raw.list_id() != old and later["checked"] == clock.now


def test_a_vanished_list_adopts_one_of_that_name(graph_client: GraphClient, raw: Raw) -> None:
    connector = tasks_connector(graph_client)
    written(connector.apply([Create(Task(subject="Mine"), "k:1")]))
    token = connector.changes(None).token
    assert token is not None
    vanish(raw)
    created = raw.http.post(raw.lists, json={"displayName": "firm tasks"})  # the user made one again
    created.raise_for_status()
    user_task = raw.post({"title": "Users own"}, list_name="firm tasks")
    listing = tasks_connector(graph_client).changes(token)
    assert listing.full
    assert json.loads(listing.token or "{}")["list"] == created.json()["id"]
    assert [(e.id, e.stamp) for e in listing.entries] == [(user_task, None)]


def test_an_expired_delta_link_passes_through(graph_client: GraphClient, control: httpx.Client) -> None:
    connector = tasks_connector(graph_client)
    token = connector.changes(None).token
    assert token is not None
    control.post("/_sandbox/expire-delta-tokens").raise_for_status()
    with pytest.raises(TokenExpired):
        connector.changes(token)
    assert connector.changes(None).full


def test_find_after_a_lost_state_store(graph_client: GraphClient, raw: Raw) -> None:
    first = tasks_connector(graph_client)
    made = {
        f"tasks:activities:{n}": written(
            first.apply([Create(Task(subject=f"T{n}"), f"tasks:activities:{n}")])
        )
        for n in range(3)
    }
    raw.post({"title": "The user's own"})
    # the state store is gone: a new connector knows no list id and no token
    again = tasks_connector(graph_client)
    found = again.find([*made, "tasks:activities:99"])
    assert {stamp: [r.id for r in records] for stamp, records in found.items()} == {
        **{stamp: [w.id] for stamp, w in made.items()},
        "tasks:activities:99": [],
    }
    record = found["tasks:activities:1"][0]
    assert (record.version, record.item.projection()["subject"]) == (made["tasks:activities:1"].version, "T1")
    assert raw.list_names().count(LIST) == 1


def test_a_throttled_write_is_retried_by_the_client(graph_client: GraphClient, control: httpx.Client) -> None:
    connector = tasks_connector(graph_client)
    w = written(connector.apply([Create(Task(subject="One"), "k:1")]))
    before = control.get("/_sandbox/stats").json()["throttled"]
    control.post("/_sandbox/faults", json={"status": 429, "count": 1, "retryAfter": 0.1, "path": "/tasks/"})
    outcomes = connector.apply([Update(w.id, {"subject": "Two"}, w.version), Delete("no-such-id", "1")])
    assert isinstance(outcomes[0], Written) and outcomes[1] == Deleted("no-such-id")
    assert control.get("/_sandbox/stats").json()["throttled"] > before


# -- SCENARIOS 58: floating due dates -------------------------------------------------------------------
@pytest.mark.parametrize("zone", ["Pacific/Honolulu", "Europe/Berlin", "Pacific/Kiritimati"])
def test_scenario_58_floating_due_dates_do_not_shift_between_zones(
    sandbox_server: SandboxServer, zone: str
) -> None:
    client = sandbox_client(sandbox_server, new_upn(sandbox_server, "float"))
    connector = tasks_connector(client, zone)
    w = written(connector.apply([Create(Task(subject="Renew the lease", due="2026-04-01"), "k:1")]))
    for raw in raw_client(sandbox_server, client.mailbox):
        # the user's To Do app, in the profile's zone, shows the date the business wrote
        shown = raw.get(w.id, prefer=f'outlook.timezone="{zone}"')
        assert shown["dueDateTime"]["dateTime"].startswith("2026-04-01T00:00:00")
        # and a date the user picks in the app (at midnight of the app's zone) reads as that date …
        windows = LocalZone.of(zone).windows
        mine = raw.post(
            {"title": "Mine", "dueDateTime": {"dateTime": "2026-04-02T00:00:00", "timeZone": windows}}
        )
        # … also when the app runs a few zones off the profile's (a phone on a trip)
        trip = raw.post(
            {"title": "Trip", "dueDateTime": {"dateTime": "2026-04-03T00:00:00", "timeZone": "UTC"}}
        )
    fetched = tasks_connector(client, zone).fetch([w.id, mine, trip])
    assert {i: r.item.projection()["due"] for i, r in fetched.items()} == {
        w.id: "2026-04-01",
        mine: "2026-04-02",
        trip: "2026-04-03" if zone != "Pacific/Kiritimati" else "2026-04-04",  # 14 hours off: a day ahead
    }


# -- rule 7 with the engine: what a run makes of the full listing of a replaced list ---------------------
@dataclass
class Pair:
    business: MemoryConnector
    client: GraphClient
    store: StateStore

    def run(self, policy: Policy | None = None) -> RunReport:
        mailbox = tasks_connector(self.client)  # a new connector per run, as the service builds them
        options = RunOptions(sleep=lambda s: None)
        return PairRun(
            "JD", "tasks", policy or Policy(), self.business, mailbox, self.store, options=options
        ).run()


@pytest.fixture
def pair(graph_client: GraphClient) -> Pair:
    business, _ = memory_pair("tasks")
    return Pair(business, graph_client, StateStore("sqlite://"))


def _mailbox_subjects(client: GraphClient) -> list[str]:
    connector = tasks_connector(client)
    ids = [e.id for e in connector.changes(None).entries]
    return sorted(r.item.projection()["subject"] for r in connector.fetch(ids).values())


def test_engine_run_after_the_list_vanished_deletes_nothing_in_the_business(pair: Pair, raw: Raw) -> None:
    rows = [pair.business.store.put(Task(subject=f"T{n}", due="2026-04-01")) for n in range(3)]
    assert pair.run().outcome == "ok"
    assert _mailbox_subjects(pair.client) == ["T0", "T1", "T2"]
    vanish(raw)
    report = pair.run()
    assert report.outcome == "ok"
    assert all(pair.business.store.get(row) is not None for row in rows)
    assert report.as_json()["business"] == {"created": 0, "updated": 0, "deleted": 0}
    assert raw.list_names().count(LIST) == 1  # the replacement was made


def test_engine_recreates_the_tasks_lost_with_a_vanished_list(pair: Pair, raw: Raw) -> None:
    for n in range(3):
        pair.business.store.put(Task(subject=f"T{n}"))
    pair.run()
    vanish(raw)
    pair.run()
    assert _mailbox_subjects(pair.client) == ["T0", "T1", "T2"]


def test_engine_never_deletes_business_rows_for_a_vanished_list(pair: Pair, raw: Raw) -> None:
    rows = [pair.business.store.put(Task(subject=f"T{n}")) for n in range(3)]
    policy = Policy(delete_in_business=True)
    pair.run(policy)
    vanish(raw)
    pair.run(policy)
    assert all(pair.business.store.get(row) is not None for row in rows)


# -- Microsoft's example -----------------------------------------------------------------------------------
def test_the_docs_todotask_delta_example_reads_through_the_mapping() -> None:
    path = EXAMPLES / "todotask-delta.response.http"
    if not path.is_file():
        need_service("the Graph documentation examples", f"{path} does not exist")
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    page = json.loads(body)  # its Content-length (337) does not match the body: ignored, as httpx would not
    [data] = page["value"]
    assert "@odata.type" not in data  # To Do's delta items carry no type
    entry = entry_of(data)
    assert (entry.version, entry.stamp) == ('W/"4rfRVIPi9EqXgDbc8U7HGwADLLQ9xQ=="', None)
    assert entry.id.startswith("AAMkADMwNTcyZjQz")
    record = record_of(data, BERLIN)
    assert record.scope is Scope.IN
    assert record.item.projection() == {
        "subject": "empty task3",
        "body": "",
        "due": "",
        "done": False,
        "priority": "normal",
    }
    assert page["@odata.deltaLink"].startswith("https://graph.microsoft.com/v1.0/me/todo/lists/")
