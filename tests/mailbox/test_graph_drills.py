"""Fault drills: whole `exsync sync` runs of a generated firm (reference SQLite database, one staff member)
into a sandbox mailbox over HTTPS (a config file with `[mailbox] kind = "sandbox"`, wired as the command
line wires it), while about 10 % of Graph requests fail — 429 with Retry-After, 503, dropped connections
(before the request ran, and after it ran with only the answer lost) — on single requests, `$batch`
sub-requests and `$batch` envelopes. Runs repeat until one writes nothing; with the faults cleared a last
run writes nothing either. Then the mailbox holds exactly one item per in-scope business row (by the
exsync-key property / the linked resource's externalId), none missing and none extra, and the business
database is unchanged.

The normal suite runs a small firm; the issue's size (≈ 2,000 contacts, 500 events, 200 tasks) is marked
`drill` and runs with `pytest -m drill tests/mailbox/test_graph_drills.py`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from mailbox_fixtures import trust
from sqlalchemy import create_engine, text

from exsync.business.reference.generate import generate
from exsync.business.reference.schema import create_schema
from exsync.connector import Scope
from exsync.engine import RunOptions
from exsync.mailbox.graph.transport import close_transports
from exsync.sandbox.server import SandboxServer
from exsync.service.sync import SyncResult, run_sync
from exsync.service.wiring import BusinessSide, open_business, open_mailbox
from exsync.settings import Config, effective, load_config
from exsync.state import StateStore

KEY_PROPERTY = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"  # DESIGN.md
EXPAND_KEY = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
PARTS = ("contacts", "calendar", "tasks")
TABLES = (
    "staff", "companies", "company_domains", "people", "activities", "activity_attendees",
    "activity_exceptions",
)  # fmt: skip
CONFIG = """\
[business]
url = "sqlite:///firm.db"
mapping = "reference"

[mailbox]
kind = "sandbox"
data = "sandbox"

[state]
url = "sqlite:///state.db"

[defaults.mail]
direction = "off"
"""
# Each request meets these in turn, so about 10 % of each kind of request fails. Faults without a path
# strike single requests and $batch sub-requests (which cannot lose a connection of their own); $batch
# envelopes meet only those named by path. Retry-After is short, so the drill waits seconds, not minutes;
# a few 503s name no wait, for the client's own back-off.
BATCH = r"^/\$batch$"
FAULTS: tuple[dict[str, Any], ...] = (
    {"status": 429, "retryAfter": 0.05, "probability": 0.04, "seed": 1},
    {"status": 503, "retryAfter": 0.05, "probability": 0.025, "seed": 2},
    {"status": 503, "probability": 0.005, "seed": 3},
    {"drop": "after", "probability": 0.03, "seed": 4},
    {"status": 429, "retryAfter": 0.05, "probability": 0.04, "seed": 5, "path": BATCH},
    {"status": 503, "retryAfter": 0.05, "probability": 0.03, "seed": 6, "path": BATCH},
    {"drop": True, "probability": 0.015, "seed": 7, "path": BATCH},
    {"drop": "after", "probability": 0.015, "seed": 8, "path": BATCH},
)
QUERY_SAFE = "$'(),:/@*!;"
MAX_RUNS = 40  # a dropped $batch fails its pair's run; the next one goes on from where it stopped


@dataclass(frozen=True)
class Size:
    people: int
    activities: int


# One staff member: every contact and every activity is theirs. The full size gives about 2,000 contacts,
# 510 events and 220 tasks in scope (the others are deleted, or of types the parts leave out).
SMALL = Size(people=300, activities=160)
FULL = Size(people=2083, activities=900)


def test_a_sync_converges_with_10_percent_of_requests_failing(tmp_path: Path) -> None:
    drill(tmp_path, SMALL)


@pytest.mark.drill
def test_a_full_size_sync_converges_with_10_percent_of_requests_failing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "drill" not in (request.config.option.markexpr or ""):
        pytest.skip("the full-size drill takes minutes: run it with `pytest -m drill`")
    drill(tmp_path, FULL)


# -- the drill --------------------------------------------------------------------------------------------
def drill(folder: Path, size: Size) -> None:
    upn = make_firm(folder, size)
    before = business_rows(folder)
    with running_sandbox(folder, upn) as server, control_client(server) as control:
        config = load_config(folder / "exsync.toml")
        business, mailbox = open_business(config), open_mailbox(config)
        store = StateStore(config.state.url)

        def sync() -> SyncResult:
            return run_sync(config, store, business, mailbox, parts=PARTS, options=RunOptions())

        for fault in FAULTS:
            control.post("/_sandbox/faults", json={**fault, "count": -1}).raise_for_status()
        try:
            runs = [sync()]
            while not quiet(runs[-1]) and len(runs) < MAX_RUNS:
                runs.append(sync())
            hits = dict(server.sandbox.faults.hits)
        finally:
            control.delete("/_sandbox/faults").raise_for_status()
        throttled = control.get("/_sandbox/stats").json()["throttled"]
        assert quiet(runs[-1]), f"no quiet run in {len(runs)}: {summary(runs[-1])}"
        assert quiet(sync()), "a run without faults after convergence writes nothing"
        found = mailbox_keys(server, control, upn)
        expected = in_scope(config, store, business)
    for part in PARTS:
        assert len(expected[part]) >= 20, f"{part}: too few items to prove anything"
        doubled = sorted(key for key, n in found[part].items() if n > 1)
        assert not doubled, f"{part}: {len(doubled)} duplicated in the mailbox, e.g. {doubled[:5]}"
        missing = sorted(expected[part] - found[part].keys())
        extra = sorted(found[part].keys() - expected[part])
        assert not missing and not extra, f"{part}: missing {missing[:5]}…, extra {extra[:5]}…"
    assert business_rows(folder) == before, "the business database changed"
    # The faults did strike: throttling, unavailability and lost connections.
    assert hits.get("429") and hits.get("503") and hits.get("drop", 0) + hits.get("drop-after", 0), hits
    assert throttled >= hits["429"]


def quiet(result: SyncResult) -> bool:
    """Every pair ran and wrote nothing on either side."""
    return {r.part for r in result.runs} == set(PARTS) and all(
        r.outcome == "ok" and not any(sum(r.as_json()[side].values()) for side in ("mailbox", "business"))
        for r in result.runs
    )


def summary(result: SyncResult) -> list[tuple[str, str, str]]:
    return [(r.part, r.outcome, r.message[:200]) for r in result.runs]


# -- the firm and the sandbox ------------------------------------------------------------------------------
def make_firm(folder: Path, size: Size) -> str:
    """The reference database with one staff member, and the config; the staff member's UPN."""
    engine = create_engine(f"sqlite:///{folder / 'firm.db'}")
    try:
        create_schema(engine)
        with engine.begin() as conn:
            generate(
                conn,
                seed=7,
                staff=1,
                companies=max(10, size.people // 8),
                people=size.people,
                activities=size.activities,
                now=datetime.now(UTC),  # the calendar window is around today
            )
            upn = str(conn.execute(text("SELECT email FROM staff")).scalar_one())
    finally:
        engine.dispose()
    (folder / "exsync.toml").write_text(CONFIG, encoding="utf-8")
    return upn


def business_rows(folder: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{folder / 'firm.db'}")
    try:
        with engine.connect() as conn:
            return {
                table: Counter(tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
                for table in TABLES
            }
    finally:
        engine.dispose()


class running_sandbox:
    """A sandbox server owning DATA = folder/sandbox (what `kind = "sandbox"` connects to over HTTPS), with
    the limit windows 60 times faster."""

    def __init__(self, folder: Path, upn: str) -> None:
        self.server = SandboxServer(folder / "sandbox", users=[upn], time_scale=60)

    def __enter__(self) -> SandboxServer:
        return self.server.start()

    def __exit__(self, *exc: object) -> None:
        close_transports(self.server.url)  # idle keep-alive connections would hold the stop up
        self.server.stop()


def in_scope(config: Config, store: StateStore, business: BusinessSide) -> dict[str, set[str]]:
    """The correlation keys ("part:business id") of the business rows in scope of the profile."""
    (profile,) = store.profiles()
    settings = effective(config, store.setting_changes(), profile.code, staff_time_zone=profile.time_zone)
    keys: dict[str, set[str]] = {}
    for part in PARTS:
        connector = business.connector(profile, part, settings.part(part))
        ids = [entry.id for entry in connector.changes(None).entries]
        records = connector.fetch(ids)
        keys[part] = {f"{part}:{ident}" for ident, record in records.items() if record.scope is Scope.IN}
    return keys


# -- the mailbox as Graph shows it ----------------------------------------------------------------------
def control_client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=trust(server), timeout=30)


def mailbox_keys(server: SandboxServer, control: httpx.Client, upn: str) -> dict[str, Counter[str]]:
    """How many items of each part carry each correlation key, as Graph lists them."""
    token = control.post(
        "/firm/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "exsync-sandbox",
            "client_secret": "exsync-sandbox",
            "scope": "https://graph.microsoft.com/.default",
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Prefer": 'IdType="ImmutableId"'}
    with httpx.Client(base_url=server.graph_url, verify=trust(server), timeout=60, headers=headers) as graph:
        return {
            "contacts": contact_keys(graph, upn),
            "calendar": event_keys(graph, upn),
            "tasks": task_keys(graph, upn),
        }


def every(graph: httpx.Client, url: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a collection, page after page."""
    # Spaces as %20, never "+" (which Graph reads as a plus sign).
    query = "&".join(f"{k}={quote(v, safe=QUERY_SAFE)}" for k, v in (params or {}).items())
    link: str | None = f"{url}?{query}" if query else url
    while link is not None:
        response = graph.get(link)
        response.raise_for_status()
        page = response.json()
        yield from page["value"]
        link = page.get("@odata.nextLink")


def extended_key(item: dict[str, Any]) -> str | None:
    for prop in item.get("singleValueExtendedProperties") or ():
        if prop["id"].casefold() == KEY_PROPERTY.casefold():
            return str(prop["value"])
    return None


def keyed(items: Iterator[dict[str, Any]], key_of: Any, what: str) -> Counter[str]:
    """How many items carry each key; an item without one is a failure (sync made everything there)."""
    keys: Counter[str] = Counter()
    for item in items:
        key = key_of(item)
        assert key, f"{what} without a correlation key: {item.get('id')}"
        keys[key] += 1
    return keys


def contact_keys(graph: httpx.Client, upn: str) -> Counter[str]:
    """In the main Contacts folder and every contact folder."""
    params = {"$expand": EXPAND_KEY, "$top": "200"}
    folders = [
        f"/users/{upn}/contactFolders/{f['id']}/contacts"
        for f in every(graph, f"/users/{upn}/contactFolders")
    ]
    keys: Counter[str] = Counter()
    for collection in (f"/users/{upn}/contacts", *folders):
        keys += keyed(every(graph, collection, params), extended_key, "a contact")
    return keys


def event_keys(graph: httpx.Client, upn: str) -> Counter[str]:
    """Single events and series masters of the calendar (the sandbox's mailboxes have one)."""
    events = every(graph, f"/users/{upn}/events", {"$expand": EXPAND_KEY, "$top": "200"})
    return keyed(events, extended_key, "an event")


def task_keys(graph: httpx.Client, upn: str) -> Counter[str]:
    """In every To Do list: the externalId of the linked resource exsync made."""

    def key_of(task: dict[str, Any]) -> str | None:
        ours = [r for r in task.get("linkedResources") or () if r.get("applicationName") == "exsync"]
        return str(ours[0]["externalId"]) if len(ours) == 1 else None

    keys: Counter[str] = Counter()
    for todo in every(graph, f"/users/{upn}/todo/lists"):
        tasks = every(graph, f"/users/{upn}/todo/lists/{todo['id']}/tasks", {"$expand": "linkedResources"})
        keys += keyed(tasks, key_of, "a task")
    return keys
