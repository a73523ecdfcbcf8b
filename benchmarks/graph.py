"""Graph connector benchmark: the contacts connector, the calendar and tasks connectors and the engine
against the Graph sandbox over HTTPS, the sandbox in a process of its own.

Run from the repository root::

    .venv/bin/python benchmarks/graph.py            # 5,000 contacts; 200 mailboxes (a few minutes)
    .venv/bin/python benchmarks/graph.py --quick    # 1,000 contacts; 20 mailboxes (smoke run)
    .venv/bin/python benchmarks/graph.py --json     # the figures as one JSON document on stdout

Measures:

- ``push``: the initial sync of N contacts (business side: in-memory) into one mailbox's contact folder,
  under the sandbox's per-mailbox limit with its window time-scaled: 10,000 requests per 600 s / 10 = 60 s
  for 5,000 contacts; ``--quick`` keeps the same rate with a shorter window (1,000 per 6 s). Figures: the
  requests the limit let through for the mailbox (``GET /_sandbox/stats``, less its 429s; each ``$batch``
  sub-request counts, as it does for Microsoft's limit), wall time, the time the client spent waiting on
  Retry-After, 429s, the achieved rate as a share of the limit's rate (the sliding window lets a first
  window's worth through at once, so a push longer than one window can exceed 100 %), and the share of
  the shortest time the limit allows for that many requests (``W × floor((R − 1) / N)``; meaningful once
  R > N: the limit binds). Without 429s the limit did not bind: the client's and the server's CPU use
  over wall time say which did.
- ``no-op``: M mailboxes, each with contacts, events and tasks synced once; then two more runs of every
  (mailbox, part) with nothing changed: "echo" (the initial syncs' own writes come back in its delta round)
  and "steady". Figures: requests per (mailbox, part) by route (target for steady: 1, the delta call)
  and each cycle's wall time.
- ``cpu``: the client process's CPU per contact in the push (engine + Graph connector + HTTP client + TLS),
  against a baseline measured in the same run: the same N contacts synced by the engine into the in-memory
  connector with Graph's contact limits. ``× base`` is the ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from exsync.connector import Connector, Side
from exsync.engine import PairRun, RunOptions, RunReport
from exsync.engine.policy import policy_for
from exsync.mailbox.graph.auth import MsalTokens
from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.contacts import ContactsConnector
from exsync.mailbox.graph.side import GraphMailboxes
from exsync.mailbox.graph.transport import RetryPolicy, Transport, http_client, ssl_context
from exsync.model import Contact, Event, Task
from exsync.sandbox.identity import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from exsync.settings import CalendarSettings, ContactsSettings, PartSettings, TasksSettings, fingerprint
from exsync.state import StateStore
from exsync.state.records import ProfileRow
from exsync.testing.memory import MemoryConnector, MemoryStore

GRAPH_CONTACT_LIMITS = {"emails": 3, "business_phones": 2}  # what the Graph contacts connector keeps
LIMIT_WINDOW = 600.0  # Graph's Outlook limit: 10,000 requests per 10 minutes per app and mailbox
PARTS = ("contacts", "calendar", "tasks")
SETTINGS: dict[str, PartSettings] = {
    "contacts": ContactsSettings(),
    "calendar": CalendarSettings(),
    "tasks": TasksSettings(),
}
PUSH_TARGET = 0.9
NOOP_TARGET = 1.0


@dataclass(frozen=True)
class Plan:
    contacts: int  # pushed into one mailbox
    time_scale: float  # of the push's sandbox: its limit window is LIMIT_WINDOW / time_scale
    per_window: int
    mailboxes: int  # of the no-op cycle
    items: int  # per mailbox and part in the no-op cycle


FULL = Plan(contacts=5000, time_scale=10, per_window=10_000, mailboxes=200, items=2)
QUICK = Plan(contacts=1000, time_scale=100, per_window=1000, mailboxes=20, items=2)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the sandbox process -----------------------------------------------------------------------------------
def serve(conn: Connection, users: list[str], time_scale: float, per_window: int) -> None:
    """In its own process: a sandbox server (in-memory store) until told to stop; asked "cpu", it answers
    its process's CPU seconds so far."""
    from exsync.sandbox.server import SandboxServer

    with SandboxServer(users=users, time_scale=time_scale, requests_per_window=per_window) as server:
        conn.send((server.url, str(server.tls.ca)))
        while (message := conn.recv()) != "stop":
            if message == "cpu":
                conn.send(time.process_time())


@dataclass
class Remote:
    url: str
    ca: Path
    conn: Connection

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def cpu(self) -> float:
        self.conn.send("cpu")
        return float(self.conn.recv())

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl_context(self.ca), timeout=60)

    def stats(self) -> dict[str, Any]:
        with self.control() as control:
            response = control.get("/_sandbox/stats")
            response.raise_for_status()
            return dict(response.json())

    def reset_stats(self) -> None:
        with self.control() as control:
            control.delete("/_sandbox/stats").raise_for_status()


@contextmanager
def sandbox(users: list[str], time_scale: float = 1.0, per_window: int = 10_000) -> Iterator[Remote]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs, users, time_scale, per_window), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 60
        while not ours.poll(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox process did not start")
        url, ca = ours.recv()
        yield Remote(url, Path(ca), ours)
    finally:
        ours.send("stop")
        process.join(30)


class Waits:
    """The transport's sleep, adding up what it slept (Retry-After and back-off)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, seconds: float) -> None:
        self.seconds += seconds
        time.sleep(seconds)


def transport(remote: Remote, waits: Waits | None = None) -> Transport:
    """Production's path: MSAL against the sandbox's identity endpoint, httpx trusting its CA, the default
    retry policy (Retry-After honoured up to 120 s per request)."""
    tokens = MsalTokens(
        tenant="firm",
        client_id=DEFAULT_CLIENT_ID,
        login_url=remote.url,
        graph_url=remote.graph_url,
        client_secret=lambda: DEFAULT_CLIENT_SECRET,
        ca_bundle=remote.ca,
    )
    return Transport(
        remote.graph_url, tokens, http_client(remote.ca), policy=RetryPolicy(), sleep=waits or time.sleep
    )


# -- business data -----------------------------------------------------------------------------------------
FIRST = ("Anna", "Jan", "Petra", "Martin", "Emily", "Oliver", "Hana", "Lukas", "Sofia", "Tomas")
LAST = ("Novak", "Schneider", "Carter", "Tanaka", "Smith", "Dvorak", "Keller", "Moreau", "Rossi", "Berg")
CITIES = (("Prague", "CZ", "110 00"), ("Berlin", "DE", "10115"), ("Boston", "US", "02108"))


def contact(n: int) -> Contact:
    first, last = FIRST[n % len(FIRST)], LAST[n // len(FIRST) % len(LAST)]
    city, country, postal = CITIES[n % len(CITIES)]
    return Contact(
        first_name=first,
        last_name=f"{last} {n}",
        job_title="Counsel" if n % 3 else "Clerk",
        company=f"Company {n % 97}",
        emails=[f"{first}.{last}{n}@example.com".lower(), f"{first}{n}@mail.example".lower()],
        business_phones=[f"+420 2{n:08d}"],
        mobile_phone=f"+420 6{n:08d}" if n % 2 else "",
        street=f"Long Road {n % 90 + 1}",
        city=city,
        postal_code=postal,
        country=country,
        notes="Met at the 2025 conference." if n % 5 == 0 else "",
    )


def event(n: int, today: date) -> Event:
    day = today + timedelta(days=n % 60 + 1)
    return Event(
        subject=f"Hearing {n}",
        location="Court 2",
        start=f"{day.isoformat()} 09:00",
        end=f"{day.isoformat()} 10:00",
        time_zone="Europe/Prague",
        reminder_minutes=15,
    )


def task(n: int, today: date) -> Task:
    return Task(subject=f"File the appeal {n}", due=(today + timedelta(days=n % 30 + 1)).isoformat())


def business_store(items: list[Any]) -> MemoryStore:
    store = MemoryStore(Side.BUSINESS)
    for item in items:
        store.put(item)
    return store


def pair_run(
    profile: ProfileRow, part: str, business: MemoryStore, mailbox: Connector, state: StateStore
) -> RunReport:
    settings = SETTINGS[part]
    business_side = MemoryConnector(business, Side.BUSINESS, part)
    return PairRun(
        profile.code, part, policy_for(settings), business_side, mailbox, state, fingerprint(settings),
        RunOptions(),
    ).run()  # fmt: skip


def profile_of(n: int, upn: str) -> ProfileRow:
    return ProfileRow(code=f"P{n}", staff_id=n, email=upn, time_zone="Europe/Prague")


def checked(report: RunReport, created: int | None = None) -> RunReport:
    if report.outcome != "ok":
        raise RuntimeError(f"{report.profile} {report.part}: {report.outcome}: {report.message}")
    made = report.tally.writes[Side.MAILBOX].created
    if created is not None and made != created:
        raise RuntimeError(f"{report.profile} {report.part}: {made} created, not {created}")
    return report


# -- (a) the push, and (c) its CPU against the in-memory baseline -------------------------------------------
def push(plan: Plan, folder: Path) -> dict[str, Any]:
    upn = "push@firm.example"
    business = business_store([contact(n) for n in range(plan.contacts)])
    window = LIMIT_WINDOW / plan.time_scale
    with sandbox([upn], plan.time_scale, plan.per_window) as remote:
        waits = Waits()
        client = GraphClient(transport(remote, waits), upn)
        profile = profile_of(1, upn)
        connector = ContactsConnector(client, ContactsSettings(), profile)
        with StateStore(f"sqlite:///{folder / 'push.db'}") as state:
            client.get(client.root)  # the token and the connection first: not part of the measure
            remote.reset_stats()
            server_cpu, cpu, started = remote.cpu(), time.process_time(), time.monotonic()
            checked(pair_run(profile, "contacts", business, connector, state), plan.contacts)
            wall, cpu = time.monotonic() - started, time.process_time() - cpu
            server_cpu = remote.cpu() - server_cpu
        client.transport.close()
        stats = remote.stats()
    counted = sum(stats["requests"].get(upn, {}).values())  # the throttled ones included
    requests = counted - stats["throttled"]  # those the limit let through (only they use up the window)
    limit_rate = plan.per_window / window
    binding = requests > plan.per_window
    shortest = window * math.floor((requests - 1) / plan.per_window) if binding else None
    return {
        "contacts": plan.contacts,
        "limit": f"{plan.per_window:,} per {window:g} s",
        "limit_rate": limit_rate,
        "requests": requests,
        "requests_per_contact": requests / plan.contacts,
        "by_route": dict(Counter(stats["requests"].get(upn, {})).most_common()),
        "throttled": stats["throttled"],
        "wall_seconds": wall,
        "waited_seconds": waits.seconds,
        "rate": requests / wall,
        "share_of_limit_rate": requests / wall / limit_rate,
        "limit_binds": binding,
        "shortest_seconds_the_limit_allows": shortest,
        "share_of_shortest": (shortest / wall) if shortest else None,
        "client_cpu_seconds": cpu,
        "client_busy": cpu / wall,
        "server_cpu_seconds": server_cpu,
        "server_busy": server_cpu / wall,
        "cpu_ms_per_contact": cpu / plan.contacts * 1000,
    }


def baseline(plan: Plan, folder: Path) -> dict[str, Any]:
    """The same contacts synced by the engine into the in-memory connector (Graph's contact limits)."""
    business = business_store([contact(n) for n in range(plan.contacts)])
    mailbox = MemoryConnector(
        MemoryStore(Side.MAILBOX), Side.MAILBOX, "contacts", limits=GRAPH_CONTACT_LIMITS
    )
    with StateStore(f"sqlite:///{folder / 'baseline.db'}") as state:
        cpu, started = time.process_time(), time.monotonic()
        checked(
            pair_run(profile_of(1, "base@firm.example"), "contacts", business, mailbox, state), plan.contacts
        )
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
    return {"wall_seconds": wall, "cpu_seconds": cpu, "cpu_ms_per_contact": cpu / plan.contacts * 1000}


# -- (b) the no-op cycle ----------------------------------------------------------------------------------
def route_part(route: str) -> str:
    lowered = route.lower()
    if "contact" in lowered:
        return "contacts"
    if "todo" in lowered:
        return "tasks"
    if "calendar" in lowered or "event" in lowered:
        return "calendar"
    return "other"


def noop(plan: Plan, folder: Path) -> dict[str, Any]:
    """The initial syncs, then two cycles with nothing changed: the first reads back what the initial syncs
    wrote (their own writes come back in the next delta round), the second is the steady state."""
    upns = [f"staff{n:03d}@firm.example" for n in range(plan.mailboxes)]
    today = datetime.now(UTC).date()
    makers: dict[str, Callable[[int], Any]] = {
        "contacts": contact,
        "calendar": lambda n: event(n, today),
        "tasks": lambda n: task(n, today),
    }
    stores = {
        (upn, part): business_store([makers[part](n) for n in range(plan.items)])
        for upn in upns
        for part in PARTS
    }
    cycles: dict[str, dict[str, Any]] = {}
    with sandbox(upns) as remote:
        mailboxes = GraphMailboxes(transport(remote))
        with StateStore(f"sqlite:///{folder / 'noop.db'}") as state:

            def cycle(created: int) -> float:
                started = time.monotonic()
                for n, upn in enumerate(upns):
                    profile = profile_of(n, upn)
                    for part in PARTS:
                        connector = mailboxes.connector(profile, part, SETTINGS[part])
                        checked(pair_run(profile, part, stores[(upn, part)], connector, state), created)
                return time.monotonic() - started

            progress("  the initial syncs…")
            cycle(plan.items)
            for name in ("echo", "steady"):
                progress(f"  the no-op cycle ({name})…")
                remote.reset_stats()
                wall = cycle(0)
                cycles[name] = requests_per_pair(remote.stats(), plan.mailboxes)
                cycles[name].update(
                    wall_seconds=wall, ms_per_pair=wall / (plan.mailboxes * len(PARTS)) * 1000
                )
        mailboxes.transport.close()
    return {"mailboxes": plan.mailboxes, "items_per_pair": plan.items, **cycles}


def requests_per_pair(stats: dict[str, Any], mailboxes: int) -> dict[str, Any]:
    routes: Counter[str] = Counter()
    for counts in stats["requests"].values():
        routes.update(counts)
    per_part = dict.fromkeys(PARTS, 0.0)
    by_route = []
    for route, count in routes.most_common():
        part = route_part(route)
        per_part[part] = per_part.get(part, 0.0) + count / mailboxes
        by_route.append({"part": part, "route": route, "per_mailbox": count / mailboxes})
    return {"requests": sum(routes.values()), "requests_per_pair": per_part, "by_route": by_route}


# -- report --------------------------------------------------------------------------------------------------
def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    p, n = doc["push"], doc["noop"]
    share = p["share_of_shortest"] if p["limit_binds"] else None
    out = [
        {
            "what": "push: share of the shortest time the limit allows (when the limit binds)",
            "value": share,
            "target": f">= {PUSH_TARGET:.0%}",
            "met": None if share is None else share >= PUSH_TARGET,
        }
    ]
    for part in PARTS:
        value = n["steady"]["requests_per_pair"].get(part, 0.0)
        out.append(
            {
                "what": f"no-op (steady): requests per (mailbox, {part})",
                "value": value,
                "target": f"{NOOP_TARGET:g}",
                "met": value <= NOOP_TARGET,
            }
        )
    return out


def print_report(doc: dict[str, Any]) -> None:
    w = print
    m, p, b, n = doc["machine"], doc["push"], doc["baseline"], doc["noop"]
    w(f"exsync Graph benchmark: Python {m['python']} on {m['platform']}, {m['cpus']} CPUs")
    w("the sandbox over HTTPS in a process of its own; MSAL, httpx and the connectors in this one")
    w("")
    w(f"(a) push: initial sync of {p['contacts']:,} contacts into one mailbox, limit {p['limit']}")
    w(f"  requests let through     {p['requests']:>10,}   ({p['requests_per_contact']:.2f} per contact); "
      "by route, the throttled ones included:")  # fmt: skip
    for route, count in p["by_route"].items():
        w(f"    {count:>8,}  {route}")
    w(f"  wall                     {p['wall_seconds']:>10.1f} s  (waiting on Retry-After/back-off "
      f"{p['waited_seconds']:.1f} s)")  # fmt: skip
    w(f"  429 answers              {p['throttled']:>10,}")
    w(f"  rate                     {p['rate']:>10.1f} req/s = {p['share_of_limit_rate']:.0%} of the limit's "
      f"{p['limit_rate']:.1f} req/s")  # fmt: skip
    if p["limit_binds"]:
        shortest, share = p["shortest_seconds_the_limit_allows"], p["share_of_shortest"]
        w(f"  shortest the limit allows {shortest:>9.1f} s = {share:.0%} of the wall time "
          "(the limit binds: more than a window's worth)")  # fmt: skip
    else:
        w("  the limit does not bind (fewer requests than one window): CPU over wall says what did")
    w(f"  client CPU               {p['client_cpu_seconds']:>10.1f} s  (busy {p['client_busy']:.0%})")
    w(f"  server CPU               {p['server_cpu_seconds']:>10.1f} s  (busy {p['server_busy']:.0%})")
    w("")
    w("(c) client CPU per contact in the push, against the engine + in-memory connector doing the same sync")
    ratio = p["cpu_ms_per_contact"] / b["cpu_ms_per_contact"]
    w(f"  Graph connector          {p['cpu_ms_per_contact']:>10.2f} ms")
    w(f"  in-memory baseline       {b['cpu_ms_per_contact']:>10.2f} ms   -> {ratio:.1f}x base")
    w("")
    w(f"(b) no-op cycles: {n['mailboxes']} mailboxes x {len(PARTS)} parts ({n['items_per_pair']} items each)"
      ", nothing changed; echo = the first cycle after the initial syncs (their writes come back in the"
      " delta), steady = the next one")  # fmt: skip
    for name in ("echo", "steady"):
        c = n[name]
        per_pair = ", ".join(f"{part} {value:.2f}" for part, value in c["requests_per_pair"].items())
        w(f"  {name:<6}  wall {c['wall_seconds']:5.1f} s ({c['ms_per_pair']:.0f} ms per pair); requests per "
          f"(mailbox, part): {per_pair}")  # fmt: skip
        for route in c["by_route"]:
            w(f"    {route['per_mailbox']:>6.2f}  {route['part']:<8}  {route['route']}")
    w("")
    w("Targets:")
    for t in doc["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        w(f"  {t['what']:<72} {value:>6}  (target {t['target']})  {verdict(t['met'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 contacts and 20 mailboxes (smoke run)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="exsync-bench-graph-") as tmp:
        folder = Path(tmp)
        progress(f"(a) pushing {plan.contacts:,} contacts…")
        pushed = push(plan, folder)
        progress("(c) the in-memory baseline…")
        base = baseline(plan, folder)
        progress(f"(b) {plan.mailboxes} mailboxes: initial syncs, then the no-op cycle…")
        cycled = noop(plan, folder)
    doc: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "plan": asdict(plan),
        "push": pushed,
        "baseline": base,
        "noop": cycled,
    }
    doc["targets"] = targets(doc)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print_report(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
