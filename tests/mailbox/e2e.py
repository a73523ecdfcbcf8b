"""Whole syncs against the sandbox, as a firm runs them (importable by name, unlike conftest).

An ``Office`` is one firm: a reference business database (SQLite, the reference schema, staff rows written
with plain SQL as the firm's application would), a mailbox in the sandbox per staff member, an
``exsync.toml`` with ``[mailbox] kind = "graph"`` pointing at the sandbox (its CA as ``ca_bundle``, the
secret through ``{ env = … }``), and a state store. ``office.sync(...)`` runs ``run_sync`` exactly as
``exsync sync`` does; ``office.quiet(...)`` syncs again and checks that nothing was written on either side:
by the run's own counts, by the sandbox's request counters (no POST/PATCH/PUT/DELETE on the staff's
mailboxes) and by the business tables' content.

Changes "outside sync" go through ``Outlook`` (raw HTTP requests on one mailbox, written from Microsoft's
documentation, never through exsync's client) and ``Office.sql`` (the firm's application).
"""

from __future__ import annotations

import json
import os
import random
import ssl
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from mailbox_fixtures import new_upn, trust
from sqlalchemy import Engine, create_engine, text

from exsync.business.reference.schema import create_schema
from exsync.engine import RunOptions, RunReport
from exsync.mailbox.graph.transport import close_transports
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.sandbox.server import SandboxServer
from exsync.service.sync import SyncResult, run_sync
from exsync.service.wiring import open_business, open_mailbox
from exsync.settings import load_config
from exsync.state import StateStore
from exsync.state.records import Link

SECRET_ENV = "EXSYNC_E2E_CLIENT_SECRET"
KEY_PROPERTY = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"  # DESIGN.md, fixed for ever
EXPAND_KEY = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
WRITES = ("POST ", "PATCH ", "PUT ", "DELETE ")
BUSINESS_TABLES = (
    "companies", "company_domains", "people", "activities", "activity_attendees", "activity_exceptions",
)  # fmt: skip
STAMPED_TABLES = ("companies", "people", "activities")  # the tables with updated_at
TODAY = datetime.now(UTC).date()
NO_WRITES = {"created": 0, "updated": 0, "deleted": 0}  # a run's counts of one side

CONFIG = """\
[business]
url = "sqlite:///firm.db"

[mailbox]
kind = "graph"
tenant = "firm"
client_id = "{client_id}"
client_secret = {{ env = "{env}" }}
graph_url = "{graph_url}"
login_url = "{login_url}"
ca_bundle = "{ca}"

[state]
url = "sqlite:///state.db"

[defaults]
time_zone = "UTC"

[defaults.mail]
direction = "off"
"""


def day(offset: int) -> str:
    """The date ``offset`` days from today (UTC), as the business database writes dates."""
    return (TODAY + timedelta(days=offset)).isoformat()


def weekday_code(day_text: str) -> str:
    return ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[date.fromisoformat(day_text[:10]).weekday()]


def graph_time(day_text: str, clock: str = "10:00", zone_name: str = "UTC") -> dict[str, str]:
    """A dateTimeTimeZone as a client writes it."""
    return {"dateTime": f"{day_text}T{clock}:00", "timeZone": zone_name}


def key_of(item: dict[str, Any]) -> str | None:
    """The correlation key a Graph item carries (read with ``$expand`` of ``EXPAND_KEY``)."""
    for prop in item.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == KEY_PROPERTY.lower():
            return str(prop.get("value"))
    return None


_tokens: dict[str, str] = {}


def outlook_token(server: SandboxServer) -> str:
    """An app token from the sandbox's identity endpoint (what a mail client's requests carry)."""
    if server.url not in _tokens:
        form = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        }
        response = httpx.post(f"{server.url}/firm/oauth2/v2.0/token", data=form, verify=trust(server))
        response.raise_for_status()
        _tokens[server.url] = str(response.json()["access_token"])
    return _tokens[server.url]


@dataclass
class Outlook:
    """Raw Graph requests on one mailbox, as Outlook (or another client of the user) makes them. Paths are
    relative to the mailbox: ``outlook.get("/contacts")``."""

    http: httpx.Client
    upn: str

    @property
    def me(self) -> str:
        return f"/v1.0/users/{self.upn}"

    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, (
            f"{response.request.method} {response.request.url}: {response.text}"
        )
        return response.json() if response.content else None

    def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return self.ok(self.http.get(self.me + path, params=params, headers=headers))

    def all(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a collection (``@odata.nextLink`` followed)."""
        page = self.get(path, params, headers)
        items = list(page["value"])
        while page.get("@odata.nextLink"):
            page = self.ok(self.http.get(page["@odata.nextLink"], headers=headers))
            items += page["value"]
        return items

    def post(self, path: str, body: Any) -> Any:
        return self.ok(self.http.post(self.me + path, json=body))

    def patch(self, path: str, body: Any) -> Any:
        return self.ok(self.http.patch(self.me + path, json=body))

    def delete(self, path: str) -> None:
        self.ok(self.http.delete(self.me + path))

    # -- contacts ----------------------------------------------------------------------------------------
    def folder_id(self, name: str) -> str:
        [folder] = [f for f in self.all("/contactFolders") if f["displayName"] == name]
        return str(folder["id"])

    def contacts(self, folder: str | None = "Firm Contacts") -> list[dict[str, Any]]:
        """The contacts of a folder by name (None: the main Contacts folder), with their correlation key."""
        where = "/contacts" if folder is None else f"/contactFolders/{self.folder_id(folder)}/contacts"
        return self.all(where, {"$expand": EXPAND_KEY, "$top": "100"})

    # -- calendar ----------------------------------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        """Single events and series masters of the main calendar, with their correlation key."""
        return self.all("/calendar/events", {"$expand": EXPAND_KEY, "$top": "200"})

    def instances(
        self, id: str, zone_name: str | None = None, first: int = -100, last: int = 800
    ) -> list[Any]:
        """A series' occurrences and exceptions (times in ``zone_name``, else UTC)."""
        headers = {"Prefer": f'outlook.timezone="{zone_name}"'} if zone_name else None
        params = {"startDateTime": f"{day(first)}T00:00:00Z", "endDateTime": f"{day(last)}T00:00:00Z"}
        return self.all(f"/events/{id}/instances", params | {"$top": "500"}, headers)

    # -- To Do ---------------------------------------------------------------------------------------------
    def list_id(self, name: str = "Firm Tasks") -> str:
        [found] = [li for li in self.all("/todo/lists") if li["displayName"] == name]
        return str(found["id"])

    def tasks(self, list_name: str = "Firm Tasks") -> list[dict[str, Any]]:
        return self.all(f"/todo/lists/{self.list_id(list_name)}/tasks", {"$expand": "linkedResources"})


@dataclass
class Office:
    """One firm: business database, staff mailboxes in the sandbox, config, state store (see the module)."""

    server: SandboxServer
    folder: Path
    codes: Sequence[str] = ("AB",)
    config_extra: str = ""
    zones: dict[str, str] = field(default_factory=dict)  # staff code -> IANA zone (default UTC)
    staff: dict[str, str] = field(init=False)  # code -> UPN (staff ids count from 1 in ``codes`` order)
    engine: Engine = field(init=False)  # the firm's application's own connection
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        os.environ[SECRET_ENV] = DEFAULT_CLIENT_SECRET  # the config names it, as a real one would
        self.folder.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(f"sqlite:///{self.folder / 'firm.db'}")
        create_schema(self.engine)
        self.staff = {}
        for n, code in enumerate(self.codes, start=1):
            upn = self.staff[code] = new_upn(self.server, code.lower())
            self.sql(
                "INSERT INTO staff (id, code, name, email, active, time_zone) VALUES (:i, :c, :n, :e, 1, :z)",
                i=n, c=code, n=f"Staff {code}", e=upn, z=self.zones.get(code, "UTC"),
            )  # fmt: skip
        self.write_config()
        headers = {"Authorization": f"Bearer {outlook_token(self.server)}", "Prefer": 'IdType="ImmutableId"'}
        self.http = httpx.Client(
            base_url=self.server.url, verify=trust(self.server), headers=headers, timeout=30
        )
        self.store = StateStore(f"sqlite:///{self.folder / 'state.db'}")
        self.control = httpx.Client(base_url=self.server.url, verify=trust(self.server), timeout=30)

    def close(self) -> None:
        self.control.delete("/_sandbox/faults")
        for upn in self.staff.values():
            self.control.post("/_sandbox/permissions", json={"userPrincipalName": upn, "deny": []})
        self.store.close()
        self.engine.dispose()
        self.http.close()
        self.control.close()

    # -- configuration -----------------------------------------------------------------------------------
    def write_config(self, extra: str | None = None, graph_url: str | None = None) -> None:
        """The config file: the base, then ``extra`` TOML (kept for later rewrites unless given again)."""
        if extra is not None:
            self.config_extra = extra
        base = CONFIG.format(
            client_id=DEFAULT_CLIENT_ID,
            env=SECRET_ENV,
            graph_url=graph_url or self.server.graph_url,
            login_url=self.server.url,
            ca=self.server.tls.ca.as_posix(),
        )
        text_ = base + "\n" + textwrap.dedent(self.config_extra)
        (self.folder / "exsync.toml").write_text(text_, encoding="utf-8")

    def through(self, proxy: Proxy | None) -> None:
        """Reach Graph through ``proxy`` from now on (None: directly again)."""
        self.write_config(graph_url=f"{proxy.url}/v1.0" if proxy is not None else None)

    # -- the two sides, as their users change them -------------------------------------------------------
    def upn(self, code: str = "AB") -> str:
        return self.staff[code]

    def outlook(self, code: str = "AB") -> Outlook:
        return Outlook(self.http, self.staff[code])

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """One statement as the firm's application runs it, committed."""
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def insert(self, table: str, **values: Any) -> int:
        """A new row (``updated_at`` set where the table has one, as the application does); its id."""
        if table in STAMPED_TABLES:
            values.setdefault("updated_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        with self.engine.begin() as conn:
            result = conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)
            return int(result.lastrowid or 0)

    def update(self, table: str, row_id: int, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sets = ", ".join(f"{name} = :{name}" for name in values)
        self.sql(f"UPDATE {table} SET {sets} WHERE id = :row_id", row_id=row_id, **values)

    def rows(self, table: str, where: str = "1 = 1", **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY rowid"), params)
            return [dict(row._mapping) for row in result]

    def business(self) -> dict[str, list[dict[str, Any]]]:
        """Every business table's rows: what a write would change."""
        return {table: self.rows(table) for table in BUSINESS_TABLES}

    # -- the sandbox ---------------------------------------------------------------------------------------
    def fault(self, **fault: Any) -> None:
        """Arm a sandbox fault (``/_sandbox/faults``); the test's end clears them."""
        self.control.post("/_sandbox/faults", json=fault).raise_for_status()

    def clear_faults(self) -> None:
        self.control.delete("/_sandbox/faults").raise_for_status()

    def deny(self, *parts: str, code: str = "AB") -> None:
        body = {"userPrincipalName": self.upn(code), "deny": list(parts)}
        self.control.post("/_sandbox/permissions", json=body).raise_for_status()

    def requests(self) -> dict[str, Counter[str]]:
        """The sandbox's request counters of the staff's mailboxes ("METHOD /route template": n)."""
        counts = self.control.get("/_sandbox/stats").json()["requests"]
        return {upn: Counter(counts.get(upn, {})) for upn in self.staff.values()}

    def requests_since(self, before: dict[str, Counter[str]]) -> Counter[str]:
        """Requests the staff's mailboxes received since ``before`` ("UPN METHOD template": n)."""
        out: Counter[str] = Counter()
        for upn, counts in self.requests().items():
            for key, n in (counts - before.get(upn, Counter())).items():
                out[f"{upn} {key}"] += n
        return out

    def mailbox_writes(self, before: dict[str, Counter[str]]) -> dict[str, int]:
        """Writing requests the staff's mailboxes received since ``before`` (``$batch`` sub-requests too)."""
        return {
            key: n
            for key, n in self.requests_since(before).items()
            if key.split(" ", 1)[1].startswith(WRITES)
        }

    # -- syncing -------------------------------------------------------------------------------------------
    def sync(
        self,
        *parts: str,
        codes: Sequence[str] = (),
        full: bool = False,
        on_step: Callable[[str], None] | None = None,
        expect: str | None = "ok",
    ) -> Runs:
        """One ``exsync sync`` (of ``parts``, of the profiles ``codes``); every run's outcome is ``expect``
        unless that is None."""
        config = load_config(self.folder / "exsync.toml")
        business, mailbox = open_business(config), open_mailbox(config)
        options = RunOptions(full=full)
        if on_step is not None:
            options.on_step = on_step
        try:
            result = run_sync(
                config, self.store, business, mailbox, profiles=codes, parts=parts, options=options
            )
        finally:
            close = getattr(business, "close", None)
            if callable(close):
                close()
        runs = Runs(result)
        if expect is not None:
            assert runs.reports and all(r.outcome == expect for r in runs.reports), runs.describe()
        return runs

    def quiet(self, *parts: str, codes: Sequence[str] = (), full: bool = False) -> Runs:
        """Sync again with no outside change: zero writes on both sides, by every measure."""
        business = self.business()
        before = self.requests()
        runs = self.sync(*parts, codes=codes, full=full)
        for report in runs.reports:
            data = report.as_json()
            assert data["mailbox"] == data["business"] == NO_WRITES, runs.describe()
        assert self.mailbox_writes(before) == {}, runs.describe()
        assert self.business() == business
        return runs

    def settle(self, *parts: str, codes: Sequence[str] = ()) -> None:
        """The second run makes zero writes, by delta and by a full listing."""
        self.quiet(*parts, codes=codes)
        self.quiet(*parts, codes=codes, full=True)

    # -- the state store -------------------------------------------------------------------------------------
    def links(self, part: str, code: str = "AB") -> dict[str, Link]:
        return self.store.links(code, part)

    def lose_state_store(self) -> None:
        """The state store is lost (deleted; the next run starts an empty one)."""
        self.store.close()
        (self.folder / "state.db").unlink()
        self.store = StateStore(f"sqlite:///{self.folder / 'state.db'}")


@dataclass
class Runs:
    """What one sync did: a report per (profile, part)."""

    result: SyncResult

    @property
    def reports(self) -> list[RunReport]:
        return self.result.runs

    def one(self, part: str, code: str = "AB") -> RunReport:
        [report] = [r for r in self.reports if r.part == part and r.profile == code]
        return report

    def writes(self, side: str, part: str, code: str = "AB") -> dict[str, int]:
        counts: dict[str, int] = self.one(part, code).as_json()[side]
        return counts

    def describe(self) -> str:
        return "\n".join(str(r.as_json() | {"plan": None}) for r in self.reports) or "no runs"


@contextmanager
def office(
    server: SandboxServer, folder: Path, *codes: str, config: str = "", **zones: str
) -> Iterator[Office]:
    """An ``Office`` for one test, cleaned up after it (faults cleared, permissions given back)."""
    made = Office(server, folder, codes or ("AB",), config, dict(zones))
    try:
        yield made
    finally:
        made.close()


def seed_striking(n: int, probability: float = 0.5) -> int:
    """A ``seed`` for a sandbox fault armed with this ``probability`` (and ``count: 1``) that strikes exactly
    the ``n``-th request it matches: the sandbox draws one number per matching request from
    ``random.Random(seed)`` and strikes when it falls below the probability."""
    for seed in range(100_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(n)]
        if all(d >= probability for d in draws[:-1]) and draws[-1] < probability:
            return seed
    raise AssertionError(f"no seed strikes request {n} first")


class Proxy:
    """An HTTPS relay in front of the sandbox (with the sandbox's own certificate) that leaves the items whose
    ids are in ``hidden`` out of every collection it relays (``value`` lists, also inside ``$batch``
    answers), as an eventually consistent Graph does with a fresh item; ``mark`` adds properties to the items
    it names wherever they are relayed. Everything else passes unchanged, so every answer still comes from
    the sandbox. A config points ``graph_url`` at ``proxy.url + "/v1.0"``."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.hidden: set[str] = set()
        self.mark: dict[str, dict[str, Any]] = {}
        self.hits: Counter[str] = Counter()  # ids left out or marked, and how often
        self.upstream = httpx.Client(base_url=server.url, verify=trust(server), timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"content-length", "connection", "accept-encoding", "transfer-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                answer = proxy.upstream.request(self.command, self.path, headers=headers, content=body)
                content = answer.content
                if content and "json" in answer.headers.get("content-type", ""):
                    content = json.dumps(proxy.rewrite(answer.json())).encode()
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in skip | {"content-encoding", "date", "server"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = relay

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server.tls.cert, server.tls.key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def rewrite(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self.rewrite(item) for item in data if not self.is_hidden(item)]
        if isinstance(data, dict):
            out = {k: self.rewrite(v) for k, v in data.items()}
            if isinstance(data.get("id"), str) and data["id"] in self.mark and "value" not in data:
                out.update(self.mark[data["id"]])
                self.hits[data["id"]] += 1
            return out
        return data

    def is_hidden(self, item: Any) -> bool:
        hidden = isinstance(item, dict) and item.get("id") in self.hidden and "@removed" not in item
        if hidden:
            self.hits[item["id"]] += 1
        return hidden

    def __enter__(self) -> Proxy:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        close_transports(self.url)
        self.httpd.shutdown()
        self.httpd.server_close()
        self.upstream.close()
