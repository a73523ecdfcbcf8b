"""The Graph contacts connector: its pure mapping, then the connector against the sandbox over HTTPS (the
conformance suite, fields as Graph holds them, the default folder and its category, a vanished folder,
finding items again by their stamp), and whole runs of the engine with a business side in memory.

Changes "made by a user" go to the sandbox as raw HTTP requests written from Microsoft's documentation;
Graph has no way to move a contact, so a user's move in Outlook is played on the sandbox's store.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailbox_fixtures import trust

from exsync.connector import Connector, Create, Entry, Rejected, Scope, Side, TokenExpired, Update, Written
from exsync.engine import PairRun, Policy, RunOptions, RunReport, direction
from exsync.mailbox.graph.client import KEY_PROPERTY, GraphClient
from exsync.mailbox.graph.contact_map import (
    LIMITS,
    birthday_from_graph,
    contact_from_graph,
    create_body,
    to_graph,
    version_of,
)
from exsync.mailbox.graph.contacts import MOVED_OUT, ContactsConnector, delta_entries
from exsync.mailbox.graph.folders import check_due
from exsync.model import Contact, Task
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import SandboxServer
from exsync.settings import ContactsSettings
from exsync.state import StateStore
from exsync.state.records import ProfileRow
from exsync.testing.conformance import ConnectorConformance, full_token, written
from exsync.testing.memory import MemoryConnector, MemoryStore

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "graph" / "examples"
FOLDER = "Firm Contacts"
FOLDERS = "GET /users/{user-id}/contactFolders"  # routes as the sandbox counts them
DELTA = "GET /users/{user-id}/contactFolders/{contactFolder-id}/contacts/delta"

ADA = Contact(
    first_name="Ada",
    last_name="Lovelace-Byron",
    title="Countess",
    job_title="Analyst",
    department="Engines",
    company="Analytical Engines Ltd",
    emails=["ada@example.com", "countess@lovelace.example"],
    business_phones=["+44 20 7946 0000", "+44 20 7946 0001"],
    mobile_phone="+44 7700 900000",
    home_phone="+44 20 7946 0002",
    street="12 St James's Square",
    city="London",
    region="Greater London",
    postal_code="SW1Y 4JH",
    country="United Kingdom",
    birthday="1815-12-10",
    notes="Met at the engine demo.\nPrefers letters.",
    categories=["Client", "VIP"],
)
ADA_IN_GRAPH: dict[str, Any] = {
    "givenName": "Ada",
    "surname": "Lovelace-Byron",
    "title": "Countess",
    "jobTitle": "Analyst",
    "department": "Engines",
    "companyName": "Analytical Engines Ltd",
    "mobilePhone": "+44 7700 900000",
    "personalNotes": "Met at the engine demo.\nPrefers letters.",
    "emailAddresses": [
        {"name": "ada@example.com", "address": "ada@example.com"},
        {"name": "countess@lovelace.example", "address": "countess@lovelace.example"},
    ],
    "businessPhones": ["+44 20 7946 0000", "+44 20 7946 0001"],
    "homePhones": ["+44 20 7946 0002"],
    "businessAddress": {
        "street": "12 St James's Square",
        "city": "London",
        "state": "Greater London",
        "postalCode": "SW1Y 4JH",
        "countryOrRegion": "United Kingdom",
    },
    "birthday": "1815-12-10T11:59:00Z",
    "categories": ["Client", "VIP"],
}
UNICODE = Contact(
    first_name="Zoë",
    last_name="Ørsted-Müller",
    company="Société Générale d'Études",
    emails=["zoë@münchen.de"],
    city="Łódź",
    notes="日本語のメモ 🙂",
)


# -- the mapping, without a client ------------------------------------------------------------------------
def test_every_field_maps_to_its_graph_property_and_back() -> None:
    assert to_graph(ADA.projection()) == ADA_IN_GRAPH
    assert contact_from_graph(ADA_IN_GRAPH) == ADA
    assert contact_from_graph(to_graph(UNICODE.projection())) == UNICODE


def test_a_new_contact_carries_only_set_values_and_the_stamp() -> None:
    body = create_body(Contact(first_name="Ada", city="London"), "contacts:people:1")
    assert body == {
        "givenName": "Ada",
        "businessAddress": {"city": "London"},
        "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": "contacts:people:1"}],
    }


def test_null_empty_and_missing_values_all_read_as_empty() -> None:
    nulls = {"givenName": None, "emailAddresses": None, "businessAddress": None, "birthday": None}
    empties = {"givenName": "", "emailAddresses": [], "businessAddress": {}, "birthday": "", "homePhones": []}
    assert contact_from_graph(nulls) == contact_from_graph(empties) == contact_from_graph({}) == Contact()


def test_writing_clears_with_null_and_keeps_what_sync_does_not_own() -> None:
    current = {
        "jobTitle": "Analyst",
        "nickName": "Countess",  # never sent: it survives any patch
        "emailAddresses": [{"name": "Ada L. (work)", "address": "ada@example.com"}],
        "homePhones": ["+44 1", "+44 2"],
        "businessAddress": {"street": "12 Square", "city": "London", "postalCode": "SW1"},
    }
    patch = {
        "job_title": "",
        "emails": ["ada@example.com", "ada@home.example"],
        "home_phone": "+44 9",
        "city": "Paris",
    }
    assert to_graph(patch, current) == {
        "jobTitle": None,
        "emailAddresses": [
            {"name": "Ada L. (work)", "address": "ada@example.com"},  # the user's display name stays
            {"name": "ada@home.example", "address": "ada@home.example"},
        ],
        "homePhones": ["+44 9", "+44 2"],  # a second home phone is the user's
        # the whole address, with the parts the patch does not name as they were
        "businessAddress": {
            "street": "12 Square",
            "city": "Paris",
            "state": None,
            "postalCode": "SW1",
            "countryOrRegion": None,
        },
    }
    assert to_graph({"home_phone": ""}, current) == {"homePhones": ["+44 2"]}


def test_only_properties_whose_value_changes_are_sent() -> None:
    assert to_graph(ADA.projection(), ADA_IN_GRAPH) == {}
    assert to_graph({"job_title": "Engineer", "city": "London"}, ADA_IN_GRAPH) == {"jobTitle": "Engineer"}
    assert to_graph({"notes": ""}, {"personalNotes": None}) == {}


def test_lists_are_cut_to_what_graph_holds() -> None:
    many = Contact(emails=[f"a{n}@example.com" for n in range(5)], business_phones=["1", "2", "3"])
    graph = to_graph(many.projection())
    assert [e["address"] for e in graph["emailAddresses"]] == [
        "a0@example.com",
        "a1@example.com",
        "a2@example.com",
    ]
    assert graph["businessPhones"] == ["1", "2"]
    assert LIMITS == {"emails": 3, "business_phones": 2}


@pytest.mark.parametrize(
    "graph",
    [
        "1974-05-06T11:59:00Z",  # Exchange's own time of day for a birthday
        "1974-05-06T11:59:00.0000000Z",  # Graph's seven fractional digits
        "1974-05-05T22:00:00Z",  # Outlook: local midnight in UTC+2, as UTC
        "1974-05-06T05:00:00Z",  # Outlook: local midnight in UTC-5
        "1974-05-06T00:00:00+02:00",
        "1974-05-06",
    ],
)
def test_scenario_58_a_birthday_is_a_floating_date(graph: str) -> None:
    assert birthday_from_graph(graph) == "1974-05-06"
    assert contact_from_graph({"birthday": graph}).birthday == "1974-05-06"


def test_scenario_58_a_birthday_is_written_at_exchanges_time_and_not_rewritten_when_the_date_holds() -> None:
    assert to_graph({"birthday": "1974-05-06"}) == {"birthday": "1974-05-06T11:59:00Z"}
    assert to_graph({"birthday": "1974-05-06"}, {"birthday": "1974-05-05T22:00:00Z"}) == {}
    assert to_graph({"birthday": ""}, {"birthday": "1974-05-06T11:59:00Z"}) == {"birthday": None}


def test_the_default_folders_category_is_bookkeeping() -> None:
    graph = {"categories": ["VIP", "firm"]}
    assert contact_from_graph(graph, marker="Firm").categories == ["VIP"]
    assert to_graph({"categories": ["Client"]}, graph, marker="Firm") == {"categories": ["Client", "firm"]}
    assert to_graph({"categories": []}, {}, marker="Firm") == {"categories": ["Firm"]}


def test_microsofts_contact_delta_example_parses() -> None:
    """Placeholder values, and no id or changeKey: the fields read, and no entry is made of it."""
    raw = (EXAMPLES / "contact-delta.response.http").read_text(encoding="utf-8")
    head, _, body = raw.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK")
    page = json.loads(body)
    [item] = page["value"]
    contact = contact_from_graph(item)
    assert (contact.first_name, contact.birthday) == ("givenName-value", "2016-10-19")
    assert version_of(item) == ""
    assert delta_entries(page["value"]) == ([], [])
    with_id = {**item, "id": "AAMkAGI2", "changeKey": "EQAAABYAAAA"}
    assert delta_entries([with_id, with_id]) == (
        [Entry("AAMkAGI2", "EQAAABYAAAA")],
        [],
    )  # a replay: one entry


# -- raw Graph, as a user's Outlook would change things ----------------------------------------------------
@dataclass
class Raw:
    """Raw HTTP on one sandbox mailbox, as Microsoft documents the requests."""

    server: SandboxServer
    upn: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        verify = trust(self.server)
        response = httpx.post(
            f"{self.server.url}/firm/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "scope": "https://graph.microsoft.com/.default",
            },
            verify=verify,
        )
        response.raise_for_status()
        headers = {
            "Authorization": f"Bearer {response.json()['access_token']}",
            "Prefer": 'IdType="ImmutableId"',
        }
        self.http = httpx.Client(
            base_url=f"{self.server.url}/v1.0/users/{self.upn}", verify=verify, headers=headers
        )

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.patch(path, json=body)
        response.raise_for_status()
        return response.json()

    def delete(self, path: str) -> None:
        self.http.delete(path).raise_for_status()

    def folder(self, name: str = FOLDER) -> dict[str, Any] | None:
        return next((f for f in self.get("/contactFolders")["value"] if f["displayName"] == name), None)

    def contacts(self, folder_id: str | None = None) -> list[dict[str, Any]]:
        path = "/contacts" if folder_id is None else f"/contactFolders/{folder_id}/contacts"
        return list(self.get(path, **{"$top": "100"})["value"])

    def move(self, item_id: str, folder: str) -> None:
        """A user moves an item in Outlook (to a well-known folder: contacts, deleteditems, …)."""
        store = self.server.sandbox.store
        with store.lock:
            mailbox = store.mailbox(self.upn)
            item = store.get(item_id)
            assert mailbox is not None and item is not None
            store.move(item, mailbox.folders[folder])
            store.flush()


@dataclass
class Clock:
    """The connector's clock, moved on by hand (epoch seconds)."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_connector(client: GraphClient, clock: Clock | None = None, **settings: Any) -> ContactsConnector:
    profile = ProfileRow("JD", 1, client.mailbox)
    return ContactsConnector(client, ContactsSettings(**settings), profile, clock=clock or time.time)


def requests_of(control: httpx.Client, upn: str) -> Counter[str]:
    """The requests the sandbox has counted for mailbox ``upn``, by route."""
    return Counter(control.get("/_sandbox/stats").json()["requests"].get(upn, {}))


@pytest.fixture
def raw(sandbox_server: SandboxServer, graph_client: GraphClient) -> Iterator[Raw]:
    graph = Raw(sandbox_server, graph_client.mailbox)
    with graph.http:
        yield graph


# -- the conformance suite -----------------------------------------------------------------------------------
class TestGraphContactsConformance(ConnectorConformance):
    raw: Raw

    @pytest.fixture
    def connector(
        self, sandbox_server: SandboxServer, graph_client: GraphClient
    ) -> Iterator[ContactsConnector]:
        self.raw = Raw(sandbox_server, graph_client.mailbox)
        with self.raw.http:
            yield make_connector(graph_client)

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        graph = {"job_title": "jobTitle"}  # the field patch_for() changes
        self.raw.patch(f"/contacts/{id}", {graph[name]: value for name, value in fields.items()})

    def outside_delete(self, connector: Connector, id: str) -> None:
        self.raw.delete(f"/contacts/{id}")

    def outside_touch(self, connector: Connector, id: str) -> None:
        self.raw.patch(f"/contacts/{id}", {"jobTitle": self.raw.get(f"/contacts/{id}")["jobTitle"]})


# -- the connector on the sandbox --------------------------------------------------------------------------
def test_fields_reach_graph_as_graph_holds_them(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client)
    ada = written(connector.apply([Create(ADA, "contacts:people:1")]))
    uni = written(connector.apply([Create(UNICODE, "contacts:people:2")]))
    folder = raw.folder()
    assert folder is not None
    held = raw.get(
        f"/contacts/{ada.id}", **{"$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"}
    )
    assert held["parentFolderId"] == folder["id"]
    assert {k: held[k] for k in ADA_IN_GRAPH} == ADA_IN_GRAPH
    assert held["singleValueExtendedProperties"] == [{"id": KEY_PROPERTY, "value": "contacts:people:1"}]
    assert held["changeKey"] == ada.version
    found = connector.fetch([ada.id, uni.id])
    assert found[ada.id].item == ADA and found[uni.id].item == UNICODE
    assert raw.get(f"/contacts/{uni.id}")["emailAddresses"][0]["address"] == "zoë@münchen.de"


def test_an_update_changes_only_what_it_names_and_the_users_own_values_survive(
    graph_client: GraphClient, raw: Raw
) -> None:
    connector = make_connector(graph_client)
    w = written(connector.apply([Create(ADA, "contacts:people:1")]))
    user = raw.patch(
        f"/contacts/{w.id}",
        {
            "nickName": "Countess",
            "imAddresses": ["sip:ada@example.com"],
            "homePhones": ["+44 20 7946 0002", "+44 20 7946 0003"],
            "emailAddresses": [
                {"name": "Ada (work)", "address": "ada@example.com"},
                {"name": "countess@lovelace.example", "address": "countess@lovelace.example"},
            ],
        },
    )
    patch = {
        "job_title": "Engineer",
        "home_phone": "+44 20 7946 0009",
        "emails": [*ADA.emails, "ada@home.example"],
    }
    updated = written(connector.apply([Update(w.id, patch, user["changeKey"])]))
    held = raw.get(f"/contacts/{w.id}")
    assert held["changeKey"] == updated.version != user["changeKey"]
    assert (held["nickName"], held["imAddresses"]) == ("Countess", ["sip:ada@example.com"])
    assert held["homePhones"] == ["+44 20 7946 0009", "+44 20 7946 0003"]
    assert held["emailAddresses"][0] == {"name": "Ada (work)", "address": "ada@example.com"}
    assert held["jobTitle"] == "Engineer" and held["businessAddress"] == ADA_IN_GRAPH["businessAddress"]
    assert connector.fetch([w.id])[w.id].item == ADA.with_changes(patch)
    # nothing Graph holds changes: no write, the version stays
    same = written(connector.apply([Update(w.id, {"job_title": "Engineer"}, updated.version)]))
    assert same == updated and raw.get(f"/contacts/{w.id}")["changeKey"] == updated.version


def test_the_overflow_is_cut_and_the_limits_are_declared(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client)
    assert dict(connector.limits) == {"emails": 3, "business_phones": 2}
    many = Contact(
        first_name="Many", emails=[f"m{n}@example.com" for n in range(5)], business_phones=["1", "2", "3"]
    )
    w = written(connector.apply([Create(many, "contacts:people:1")]))
    held = raw.get(f"/contacts/{w.id}")
    assert [e["address"] for e in held["emailAddresses"]] == [
        "m0@example.com",
        "m1@example.com",
        "m2@example.com",
    ]
    assert held["businessPhones"] == ["1", "2"]
    item = connector.fetch([w.id])[w.id].item
    assert isinstance(item, Contact)
    assert (len(item.emails), len(item.business_phones)) == (3, 2)


def test_an_unreadable_value_is_reported_not_left_out(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client)
    w = written(connector.apply([Create(ADA, "contacts:people:1")]))
    raw.patch(f"/contacts/{w.id}", {"birthday": "the tenth of December"})
    record = connector.fetch([w.id])[w.id]
    assert record.scope is Scope.UNREADABLE and "Invalid isoformat" in record.scope_reason
    assert record.stamp == "contacts:people:1"


def test_a_write_graph_cannot_be_given_fails_alone(graph_client: GraphClient) -> None:
    connector = make_connector(graph_client)
    w = written(connector.apply([Create(ADA, "contacts:people:1")]))
    bad_day, bad_field, good, not_a_contact = connector.apply(
        [
            Update(w.id, {"birthday": "next Tuesday"}, w.version),
            Update(w.id, {"nickname": "Countess"}, w.version),
            Update(w.id, {"job_title": "Engineer"}, w.version),
            Create(Task(subject="File the brief"), "tasks:activities:1"),
        ]
    )
    assert isinstance(bad_day, Rejected) and "birthday" in str(bad_day)
    assert isinstance(bad_field, Rejected) and "nickname" in str(bad_field)
    assert isinstance(good, Written) and good.id == w.id
    assert isinstance(not_a_contact, Rejected)
    assert connector.fetch([w.id])[w.id].item == ADA.with_changes({"job_title": "Engineer"})


def test_the_folder_is_created_once_and_found_again_by_id_when_renamed(
    graph_client: GraphClient, raw: Raw
) -> None:
    connector = make_connector(graph_client)
    first = connector.changes(None)
    folder = raw.folder()
    assert folder is not None and first.full and not first.replaced
    w = written(connector.apply([Create(ADA, "contacts:people:1")]))
    assert first.token is not None
    raw.patch(f"/contacts/{w.id}", {"jobTitle": "Engineer"})
    raw.patch(f"/contactFolders/{folder['id']}", {"displayName": "Renamed by the user"})

    later = make_connector(graph_client).changes(first.token)  # another run: only the token remembers
    assert not later.full and not later.replaced
    assert [e.id for e in later.entries] == [w.id]
    assert [f["displayName"] for f in raw.get("/contactFolders")["value"]] == ["Renamed by the user"]


def test_a_vanished_folder_is_replaced_and_listed_in_full(
    graph_client: GraphClient, raw: Raw, control: httpx.Client
) -> None:
    """Deleted outright, the folder is noticed at once, though its check is not due: its delta link
    answers 404, and only then are the folders listed."""
    clock = Clock()
    connector = make_connector(graph_client, clock)
    for n in (1, 2):
        written(connector.apply([Create(ADA, f"contacts:people:{n}")]))
    token = full_token(connector)
    old = raw.folder()
    assert old is not None
    raw.delete(f"/contactFolders/{old['id']}")

    before = requests_of(control, graph_client.mailbox)
    listing = make_connector(graph_client, clock).changes(token)
    assert (listing.full, listing.replaced, list(listing.entries)) == (True, True, [])
    spent = requests_of(control, graph_client.mailbox) - before
    assert (spent[DELTA], spent[FOLDERS]) == (2, 1)  # the 404, one look for the folder, the new round
    new = raw.folder()
    assert new is not None and new["id"] != old["id"]
    assert listing.token is not None and json.loads(listing.token)["folder"] == new["id"]
    # the next listing is a delta of the new folder again
    again = make_connector(graph_client).changes(listing.token)
    assert (again.full, again.replaced, list(again.entries)) == (False, False, [])


def test_a_no_op_listing_is_one_request_and_the_folder_is_checked_when_due(
    graph_client: GraphClient, control: httpx.Client
) -> None:
    clock = Clock()
    token = full_token(make_connector(graph_client, clock))

    def spent(token: str) -> tuple[Counter[str], dict[str, Any]]:
        before = requests_of(control, graph_client.mailbox)
        listing = make_connector(graph_client, clock).changes(token)  # a new run: only the token remembers
        assert listing.token is not None and not listing.full and not listing.replaced
        return requests_of(control, graph_client.mailbox) - before, json.loads(listing.token)

    clock.now += ContactsConnector.folder_check_every - 1
    requests, later = spent(token)
    assert requests == Counter({DELTA: 1})  # the delta round alone
    assert later["checked"] == json.loads(token)["checked"]  # the last check is still remembered

    clock.now += 1  # the check is due: the folders are listed once
    requests, later = spent(json.dumps(later))
    assert requests == Counter({FOLDERS: 1, DELTA: 1})
    assert later["checked"] == clock.now

    del later["checked"]  # a token from before the time was kept: due
    assert spent(json.dumps(later))[0] == Counter({FOLDERS: 1, DELTA: 1})


def test_the_folder_check_is_due_once_an_interval_has_passed_or_the_clock_went_back() -> None:
    assert [check_due(100.0, now, 60.0) for now in (100.0, 159.9, 160.0, 99.0)] == [False, False, True, True]
    assert check_due(None, 100.0, 60.0) and check_due(100.0, 100.0, 0.0)


def test_a_folder_moved_away_is_noticed_when_its_check_falls_due(graph_client: GraphClient, raw: Raw) -> None:
    """Moved to Deleted Items, the folder still answers its delta link: only the folder listing shows it
    gone, so it is noticed at the next check, not before."""
    clock = Clock()
    connector = make_connector(graph_client, clock)
    written(connector.apply([Create(ADA, "contacts:people:1")]))
    token = full_token(connector)
    old = raw.folder()
    assert old is not None
    raw.move(old["id"], "deleteditems")

    clock.now += ContactsConnector.folder_check_every - 1
    listing = make_connector(graph_client, clock).changes(token)
    assert (listing.full, listing.replaced, list(listing.entries)) == (False, False, [])
    assert listing.token is not None and raw.folder() is None  # nothing made yet

    clock.now += 1
    listing = make_connector(graph_client, clock).changes(listing.token)
    assert (listing.full, listing.replaced, list(listing.entries)) == (True, True, [])
    new = raw.folder()
    assert new is not None and new["id"] != old["id"]
    assert listing.token is not None and json.loads(listing.token)["folder"] == new["id"]


def test_a_folder_of_that_name_is_adopted_with_what_it_holds(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client)
    written(connector.apply([Create(ADA, "contacts:people:1")]))
    token = full_token(connector)
    old = raw.folder()
    assert old is not None
    raw.delete(f"/contactFolders/{old['id']}")
    mine = raw.post(
        "/contactFolders", {"displayName": FOLDER}
    )  # the user made one again, and restored a card
    card = raw.post(
        f"/contactFolders/{mine['id']}/contacts",
        {
            "givenName": "Ada",
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": "contacts:people:1"}],
        },
    )

    listing = make_connector(graph_client).changes(token)
    assert listing.full and listing.replaced
    assert [(e.id, e.version, e.stamp) for e in listing.entries] == [
        (card["id"], card["changeKey"], "contacts:people:1")
    ]
    assert [f["id"] for f in raw.get("/contactFolders")["value"]] == [mine["id"]]


def test_find_searches_the_whole_mailbox_oldest_first(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client)
    original = written(connector.apply([Create(ADA, "contacts:people:1")]))
    other = written(connector.apply([Create(UNICODE, "contacts:people:2")]))
    stamp = [{"id": KEY_PROPERTY, "value": "contacts:people:1"}]
    copy = raw.post(
        "/contacts", {"givenName": "Ada", "singleValueExtendedProperties": stamp}
    )  # a user's copy
    elsewhere = raw.post("/contactFolders", {"displayName": "Private"})
    raw.post(f"/contactFolders/{elsewhere['id']}/contacts", {"givenName": "Someone else"})

    lost_state = make_connector(graph_client)  # a new run after the state store was lost: no token
    found = lost_state.find(["contacts:people:1", "contacts:people:2", "contacts:people:404"])
    assert set(found) == {"contacts:people:1", "contacts:people:2"}
    assert [r.id for r in found["contacts:people:1"]] == [original.id, copy["id"]]
    assert [r.scope for r in found["contacts:people:1"]] == [Scope.IN, Scope.FILTER]
    assert found["contacts:people:1"][1].scope_reason == MOVED_OUT
    [mine] = found["contacts:people:2"]
    assert (mine.id, mine.version, mine.stamp, mine.item) == (
        other.id,
        other.version,
        "contacts:people:2",
        UNICODE,
    )


def test_scenario_14_an_item_moved_out_of_the_synced_folder_is_filtered(
    graph_client: GraphClient, raw: Raw
) -> None:
    connector = make_connector(graph_client)
    w = written(connector.apply([Create(ADA, "contacts:people:1")]))
    token = full_token(connector)
    raw.move(w.id, "contacts")  # to the main Contacts folder, in Outlook

    delta = connector.changes(token)
    assert (list(delta.entries), list(delta.removed)) == ([], [w.id])
    record = connector.fetch([w.id])[w.id]  # the immutable id did not change
    assert (record.scope, record.scope_reason, record.stamp) == (Scope.FILTER, MOVED_OUT, "contacts:people:1")
    assert record.item == ADA
    assert [r.id for r in connector.find(["contacts:people:1"])["contacts:people:1"]] == [w.id]


def test_a_contact_the_user_deleted_in_outlook_is_gone(graph_client: GraphClient, raw: Raw) -> None:
    """Outlook moves a deleted contact to Deleted Items (a mail folder), where a GET by id still finds it:
    it counts as deleted, not as moved out of the sync."""
    connector = make_connector(graph_client)
    deleted, kept = (written(connector.apply([Create(ADA, f"contacts:people:{n}")])) for n in (1, 2))
    token = full_token(connector)
    raw.move(deleted.id, "deleteditems")
    assert raw.get(f"/contacts/{deleted.id}")["id"] == deleted.id

    delta = connector.changes(token)
    assert list(delta.removed) == [deleted.id]
    assert set(connector.fetch([deleted.id, kept.id])) == {kept.id}
    assert connector.find(["contacts:people:1"]) == {}


def test_the_default_folder_holds_only_items_with_the_category(graph_client: GraphClient, raw: Raw) -> None:
    connector = make_connector(graph_client, folder="default", category="Firm")
    ours = written(connector.apply([Create(ADA, "contacts:people:1")]))
    users = raw.post("/contacts", {"givenName": "Grace", "categories": ["VIP"]})  # the user's own card
    assert raw.get("/contactFolders")["value"] == []  # no folder of our own
    held = raw.get(f"/contacts/{ours.id}")
    assert held["categories"] == ["Client", "VIP", "Firm"]

    listing = connector.changes(None)
    assert [(e.id, e.stamp) for e in listing.entries] == [(ours.id, "contacts:people:1")]
    found = connector.fetch([ours.id, users["id"]])
    assert found[ours.id].scope is Scope.IN and found[ours.id].item == ADA  # the category is bookkeeping
    assert found[users["id"]].scope is Scope.FILTER and "Firm" in found[users["id"]].scope_reason

    assert listing.token is not None
    raw.patch(f"/contacts/{ours.id}", {"categories": ["VIP"]})  # the user took the category off
    delta = connector.changes(listing.token)
    assert (list(delta.entries), list(delta.removed)) == ([], [ours.id])
    assert connector.fetch([ours.id])[ours.id].scope is Scope.FILTER
    # an update writes the category again with the rest
    updated = written(
        connector.apply(
            [Update(ours.id, {"categories": ["Client"]}, raw.get(f"/contacts/{ours.id}")["changeKey"])]
        )
    )
    assert raw.get(f"/contacts/{ours.id}")["categories"] == ["Client", "Firm"]
    assert connector.fetch([ours.id])[ours.id].version == updated.version


def test_a_folder_token_is_not_a_default_folder_token(graph_client: GraphClient) -> None:
    token = full_token(make_connector(graph_client))
    with pytest.raises(TokenExpired):
        make_connector(graph_client, folder="default").changes(token)


# -- whole runs: the engine with a business side in memory -------------------------------------------------
@dataclass
class Pair:
    client: GraphClient
    policy: Policy = field(default_factory=lambda: Policy(direction=direction("to-mailbox")))
    clock: Clock = field(default_factory=Clock)
    business: MemoryConnector = field(init=False)
    store: StateStore = field(init=False)

    def __post_init__(self) -> None:
        self.business = MemoryConnector(MemoryStore(Side.BUSINESS), Side.BUSINESS, "contacts")
        self.store = StateStore("sqlite://")

    def run(self) -> RunReport:
        mailbox = make_connector(
            self.client, self.clock
        )  # a new connector per run, as the service makes them
        options = RunOptions(sleep=lambda seconds: None)
        report = PairRun(
            "JD", "contacts", self.policy, self.business, mailbox, self.store, options=options
        ).run()
        assert report.outcome == "ok", report.as_json()
        return report

    def mailbox_ids(self) -> dict[str, str | None]:
        return {
            link.business_id or "": link.mailbox_id for link in self.store.links("JD", "contacts").values()
        }


def created(report: RunReport, side: Side) -> int:
    return report.tally.writes[side].created


def writes(report: RunReport) -> int:
    return sum(sum(report.tally.writes[side].as_dict().values()) for side in Side)


def test_rule_7_items_lost_with_a_deleted_folder_are_re_created(graph_client: GraphClient, raw: Raw) -> None:
    pair = Pair(graph_client)
    people = [pair.business.store.put(Contact(first_name=f"Person {n}", city="Leeds")) for n in range(11)]
    assert created(pair.run(), Side.MAILBOX) == 11
    before = pair.mailbox_ids()
    old = raw.folder()
    assert old is not None
    raw.delete(f"/contactFolders/{old['id']}")  # the user deletes the whole folder

    report = pair.run()  # more than the guard's 10 items: still no suspension, nothing deleted
    assert created(report, Side.MAILBOX) == 11 and writes(report) == 11
    assert len(pair.business.store) == 11
    new = raw.folder()
    assert new is not None and new["id"] != old["id"]
    names = sorted(c["givenName"] for c in raw.contacts(new["id"]))
    assert names == sorted(f"Person {n}" for n in range(11))
    after = pair.mailbox_ids()
    assert set(after) == set(people) and not set(after.values()) & set(before.values())
    assert writes(pair.run()) == 0


def test_rule_7_a_folder_moved_to_deleted_items_counts_as_vanished(
    graph_client: GraphClient, raw: Raw
) -> None:
    """Exchange moves a deleted folder, contents and all, to Deleted Items, where a GET by id still finds
    its contacts: they are lost with it all the same (once the folder's check notices), not moved out of
    the sync."""
    pair = Pair(graph_client)
    for n in range(2):
        pair.business.store.put(Contact(first_name=f"Person {n}"))
    pair.run()
    old = raw.folder()
    assert old is not None
    raw.move(old["id"], "deleteditems")
    pair.clock.now += ContactsConnector.folder_check_every  # the folder's check is due

    report = pair.run()
    assert created(report, Side.MAILBOX) == 2 and writes(report) == 2
    new = raw.folder()
    assert new is not None and len(raw.contacts(new["id"])) == 2
    links = pair.store.links("JD", "contacts").values()
    assert all(link.in_scope and link.mailbox_id for link in links)
    assert writes(pair.run()) == 0


def test_a_lost_state_store_re_pairs_by_stamp(graph_client: GraphClient) -> None:
    pair = Pair(graph_client)
    for n in range(3):
        pair.business.store.put(Contact(first_name=f"Person {n}"))
    pair.run()
    before = pair.mailbox_ids()
    pair.store = StateStore("sqlite://")  # restored empty

    report = pair.run()
    assert writes(report) == 0
    assert pair.mailbox_ids() == before


def test_scenario_68_what_fits_goes_to_graph_and_nothing_is_lost_on_the_business_side(
    graph_client: GraphClient, raw: Raw
) -> None:
    pair = Pair(graph_client, Policy())  # both directions: the user's edit comes back
    emails = [f"p{n}@example.com" for n in range(5)]
    bid = pair.business.store.put(
        Contact(
            first_name="Many", emails=emails, business_phones=["1", "2", "3"], mobile_phone="+44 7700 900001"
        )
    )
    pair.run()
    folder = raw.folder()
    assert folder is not None
    [held] = raw.contacts(folder["id"])
    assert [e["address"] for e in held["emailAddresses"]] == emails[:3]
    assert (held["businessPhones"], held["mobilePhone"]) == (["1", "2"], "+44 7700 900001")

    raw.patch(
        f"/contacts/{held['id']}",
        {"emailAddresses": [{"address": "new@example.com"}, *held["emailAddresses"][1:]]},
    )
    report = pair.run()
    assert report.tally.writes[Side.BUSINESS].updated == 1 and report.tally.writes[Side.MAILBOX].updated == 0
    record = pair.business.store.get(bid)
    assert record is not None and isinstance(record.item, Contact)
    assert record.item.emails == ["new@example.com", *emails[1:]]  # the overflow stays in the business row
    assert record.item.business_phones == ["1", "2", "3"]
    assert writes(pair.run()) == 0
