"""SQL business connector benchmark: the contacts part of one profile on the reference schema.

Run from the repository root::

    python benchmarks/business_sql.py                     # 100,000 people, SQLite (+ PostgreSQL if reachable)
    python benchmarks/business_sql.py --quick             # 5,000 people (smoke run)
    python benchmarks/business_sql.py --people 20000 --no-postgres
    python benchmarks/business_sql.py --postgres postgresql+psycopg://user:pw@host:5432/postgres
    python benchmarks/business_sql.py --profile           # plus a cProfile of one full listing
    python benchmarks/business_sql.py --json              # the figures as one JSON document on stdout

Each database gets the reference schema (``create_schema``) and ``generate(conn, seed=…)`` data:
N people, N * 15 / 100 companies (generate's own default proportion, 300 per 2,000), 5 staff, no
activities (contacts do not read them), anchored one hour in the past so that every ``updated_at``
is at least 61 minutes old; a share of the people (``--stamped``, default 10%) also get a creation
stamp (a Graph-like id in ``exsync_stamps``), as rows sync created from a mailbox do. SQLite is a
file in a temporary folder; PostgreSQL is a throw-away database on the server (``--postgres URL``,
or the local server at the default URL if it answers), dropped afterwards, and ANALYZEd after
loading as autovacuum would do (SQLite is left as a firm's database usually is: never analysed).
Setup time is printed, not benchmarked: ``generate`` makes about 5,000 people a second on a busy
2-core machine (20-25 s for 100,000, three quarters of it Python building the rows), fast enough
that a separate bulk loader is not worth having.

Measured for profile staff 1, contacts part (``SqlBusiness.connector``), against baselines run in
the same process on the same database, interleaved with the connector's runs (these machines are
noisy: the ratio ours / baseline is the figure to compare across machines):

- full: ``connector.changes(None)``, the full listing with versions; rows/s, best of ``--repeat``.
  Baseline: a plain SQLAlchemy Core ``SELECT`` of the same columns (the people columns the mapping
  reads and the company columns of the outer join) of all people, ``.all()``. The ratio is of times:
  the baseline reads every row (100%), the listing the profile's rows (about 90%).
- incremental: the token of a delta chain (the first from a full listing, with nothing inside its
  overlap), then 100 random in-scope people updated as the business application would (plain SQL
  setting ``job_title`` and ``updated_at`` = the database's now), then ``connector.changes(token)``
  timed; it must list exactly those 100 ids and remove nothing. Between repeats the 100 rows are
  aged back to an hour ago (the steady state: the token's overlap holds nothing old) and the next
  token is the one that listing returned. Baseline: ``SELECT`` of the same columns
  ``WHERE updated_at >= :t`` (indexed), with the connector's own cut (token time - overlap).
- fetch: ``connector.fetch`` of those 100 ids; baseline ``SELECT … WHERE id IN (…)``.

Targets: full listing at least 20,000 rows/s on SQLite; incremental listing under 50 ms. When one
is missed, the time is broken down: the full listing by phase (token, query, stamps, Row building,
child rows, hashing, Entry building; on every database once SQLite's full target is missed), the
incremental listing by SQL statement. ``--breakdown`` shows both anyway.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import io
import itertools
import json
import os
import platform
import pstats
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, bindparam, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from exsync.business.reference.generate import generate
from exsync.business.reference.schema import create_schema
from exsync.business.sql import SqlBusiness, SqlConnector
from exsync.business.sql.connector import Token, _at_or_after
from exsync.business.sql.engine import business_engine
from exsync.business.sql.reading import Reader, Row
from exsync.business.sql.scope import all_of
from exsync.connector import Entry
from exsync.settings import PartSettings, ProfileSettings
from exsync.state.records import ProfileRow

PART: Final = "contacts"
STAFF_ID = 1  # the profile: staff 1 sees non-private people and its own private ones
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AGE = timedelta(hours=1)  # how old the token's rows are in the steady state
CHANGED = 100  # rows changed before each incremental listing
SEED = 20260315

TARGET_FULL_ROWS_PER_SECOND = 20_000.0  # SQLite
TARGET_INCREMENTAL_MS = 50.0

# Wide enough for the tables when the output goes to a file or a pipe (Rich assumes 80 columns there).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False)


def progress(message: str) -> None:
    err.print(f"[dim]{message}[/dim]")


# -- databases -------------------------------------------------------------------------------------


@dataclass
class Database:
    label: str  # "SQLite", "PostgreSQL 15.2"
    url: str  # with its password, for the engines
    shown: str  # without it, for the report


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Database]:
    path = folder / "firm.db"
    import sqlite3

    yield Database(f"SQLite {sqlite3.sqlite_version}", f"sqlite:///{path}", f"sqlite:///{path}")


def postgres_reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except (SQLAlchemyError, OSError):
        return False
    finally:
        engine.dispose()


@contextmanager
def postgres_database(server_url: str) -> Iterator[Database]:
    """A throw-away database on the server at ``server_url``, dropped on the way out."""
    server = make_url(server_url)
    name = f"exsync_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version = str(conn.scalar(text("SHOW server_version")) or "").split(" ")[0]
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name)
        try:
            yield Database(f"PostgreSQL {version}", url.render_as_string(hide_password=False),
                           url.render_as_string(hide_password=True))  # fmt: skip
        finally:
            with admin.connect() as conn:
                try:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except SQLAlchemyError:  # before PostgreSQL 13
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


# -- setup -----------------------------------------------------------------------------------------


def graph_like_id(rng: random.Random) -> str:
    """A stamp shaped like a Microsoft Graph item id (the mailbox item a row was created from)."""
    raw = b"\x00\x00\x00\x00" + rng.randbytes(106)
    return "AAMkA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def setup(db: Database, people: int, stamped: float) -> dict[str, Any]:
    """Schema, generated rows and stamps; returns the figures of the setup (not benchmarked)."""
    engine = business_engine(db.url)
    companies = max(1, people * 15 // 100)
    figures: dict[str, Any] = {"people": people, "companies": companies}
    try:
        started = time.perf_counter()
        create_schema(engine)
        with engine.begin() as conn:
            counts = generate(conn, seed=SEED, staff=5, companies=companies, people=people, activities=0,
                              now=datetime.now(UTC) - AGE)  # fmt: skip
        figures["generate_seconds"] = time.perf_counter() - started
        figures["company_domains"] = counts.company_domains
        started = time.perf_counter()
        business = SqlBusiness.open(db.url)  # creates the stamps table
        try:
            stamps = business.schema.parts[PART].stamps
            rng = random.Random(SEED)
            chosen = sorted(rng.sample(range(1, people + 1), int(people * stamped)))
            rows = [{"table_name": "people", "row_key": str(k), "stamp": graph_like_id(rng)} for k in chosen]
            with engine.begin() as conn:
                for i in range(0, len(rows), 5000):
                    conn.execute(insert(stamps), rows[i : i + 5000])
        finally:
            business.close()
        figures["stamps"] = len(rows)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        figures["finish_seconds"] = time.perf_counter() - started
    finally:
        engine.dispose()
    return figures


# -- measuring -------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@dataclass
class Figure:
    """One measurement: the connector's times and the baseline's, both best-of."""

    name: str
    ours: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    rows: int = 0  # rows the connector listed
    base_rows: int = 0  # rows the baseline read

    @property
    def best(self) -> float:
        return min(self.ours)

    @property
    def best_base(self) -> float:
        return min(self.base)

    @property
    def ratio(self) -> float:
        return self.best / self.best_base

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": self.ours, "baseline_seconds": self.base, "rows": self.rows,
                "baseline_rows": self.base_rows, "best": self.best, "best_baseline": self.best_base,
                "ratio": self.ratio}  # fmt: skip


class Bench:
    """One database: the business application's engine, the connector and the baseline statements."""

    def __init__(self, db: Database, today: date) -> None:
        self.db = db
        self.business = SqlBusiness.open(db.url, today=today)
        self.app = business_engine(db.url)  # the business application's own pool
        self.connector = self._connector()
        s = self.connector.schema
        reader = self.connector.reader
        assert s.updated is not None and s.companies is not None and s.company_key is not None
        self.schema, self.clock, self.reader = s, s.updated, reader
        # The same columns as the connector's listing: the mapped people columns, then the company's.
        joined = s.table.outerjoin(s.companies.table, s.companies.key == s.company_key)
        columns = [*reader.columns, *(column for _, column in reader.company_columns)]
        self.base_select = select(*columns).select_from(joined)
        self.dialect = self.app.dialect.name

    def _connector(self) -> SqlConnector:
        s = self.business.schema.staff
        with self.business.engine.connect() as conn:
            code, email, zone = conn.execute(
                select(s.code, s.email, s.time_zone).where(s.key == STAFF_ID)  # type: ignore[arg-type]
            ).one()
        profile = ProfileRow(code=code, staff_id=STAFF_ID, email=email, time_zone=zone or "UTC")
        settings: PartSettings = ProfileSettings().part(PART)
        connector = self.business.connector(profile, PART, settings)
        assert isinstance(connector, SqlConnector)
        return connector

    def close(self) -> None:
        self.business.close()
        self.app.dispose()

    # -- the business application ----------------------------------------------------------------

    def now_sql(self) -> str:
        return "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')" if self.dialect == "sqlite" else "CURRENT_TIMESTAMP"

    def edit(self, ids: Sequence[int], title: str) -> None:
        """What the business application does: a plain UPDATE setting a column and updated_at = now."""
        statement = text(
            f"UPDATE people SET job_title = :title, updated_at = {self.now_sql()} WHERE id IN :ids"  # noqa: S608
        ).bindparams(bindparam("ids", expanding=True))
        with self.app.begin() as conn:
            assert conn.execute(statement, {"title": title, "ids": list(ids)}).rowcount == len(ids)

    def age(self, ids: Sequence[int] | None) -> None:
        """Move ``updated_at`` (of ``ids``, or of every people and companies row) an hour back."""
        old = self.clock.param(datetime.now(UTC) - AGE)
        with self.app.begin() as conn:
            if ids is None:
                conn.execute(text("UPDATE people SET updated_at = :old"), {"old": old})
                conn.execute(text("UPDATE companies SET updated_at = :old"), {"old": old})
            else:
                statement = text("UPDATE people SET updated_at = :old WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                )
                conn.execute(statement, {"old": old, "ids": list(ids)})

    def newest_change(self) -> datetime:
        with self.app.connect() as conn:
            people = conn.scalar(select(func.max(self.clock.column)))
            companies = self.schema.companies
            assert companies is not None and companies.updated is not None
            firms = conn.scalar(select(func.max(companies.updated.column)))
        return max(self.clock.read(v) for v in (people, firms) if v is not None)

    # -- baselines --------------------------------------------------------------------------------

    def base_full(self) -> int:
        with self.app.connect() as conn:
            return len(conn.execute(self.base_select).all())

    def base_since(self, cut: Any) -> int:
        with self.app.connect() as conn:
            return len(conn.execute(self.base_select.where(self.clock.column >= cut)).all())

    def base_fetch(self, ids: Sequence[int]) -> int:
        with self.app.connect() as conn:
            return len(conn.execute(self.base_select.where(self.schema.key.in_(list(ids)))).all())


def measure_full(bench: Bench, repeat: int) -> tuple[Figure, str]:
    """Full listings and baselines, interleaved; returns the figure and the last listing's token."""
    figure, token = Figure("full listing"), ""
    for rep in range(repeat):
        progress(f"  full listing {rep + 1}/{repeat}…")
        seconds, changes = timed(lambda: bench.connector.changes(None))
        assert changes.full and changes.token
        figure.ours.append(seconds)
        figure.rows, token = len(changes.entries), changes.token
        seconds, figure.base_rows = timed(bench.base_full)
        figure.base.append(seconds)
    return figure, token


def measure_incremental(
    bench: Bench, token: str, in_scope: list[int], repeat: int, rng: random.Random
) -> tuple[Figure, Figure, list[int], str]:
    """Incremental listings of 100 changed rows and fetches of them, with their baselines."""
    listing, fetching = Figure(f"incremental, {CHANGED} changed"), Figure(f"fetch of {CHANGED} ids")
    overlap = bench.schema.map.overlap
    ids: list[int] = []
    for rep in range(repeat):
        progress(f"  incremental listing {rep + 1}/{repeat}…")
        if ids:
            bench.age(ids)  # the steady state: last round's changes are old news
        ids = rng.sample(in_scope, CHANGED)
        bench.edit(ids, f"Benchmark {rep}")
        cut = bench.clock.param(Token.decode(token).at - overlap)
        seconds, changes = timed(partial(bench.connector.changes, token))
        expected = {bench.schema.business_id(k) for k in ids}
        listed = {e.id for e in changes.entries}
        assert not changes.full, "the incremental listing turned into a full one"
        assert listed == expected, (
            f"listed {len(listed)} ids, {len(listed & expected)} of the {CHANGED} changed"
        )
        assert not changes.removed, f"{len(changes.removed)} removed"
        listing.ours.append(seconds)
        listing.rows = len(changes.entries)
        token = changes.token or ""
        seconds, listing.base_rows = timed(partial(bench.base_since, cut))
        listing.base.append(seconds)
        assert listing.base_rows == CHANGED, f"the baseline read {listing.base_rows} rows"

        names = [bench.schema.business_id(k) for k in ids]
        seconds, records = timed(partial(bench.connector.fetch, names))
        assert set(records) == expected and all(r.scope.value == "in" for r in records.values()), records
        fetching.ours.append(seconds)
        fetching.rows = len(records)
        seconds, fetching.base_rows = timed(partial(bench.base_fetch, ids))
        fetching.base.append(seconds)
    return listing, fetching, ids, token


# -- where the time goes ---------------------------------------------------------------------------


def full_phases(bench: Bench, best: float) -> list[tuple[str, float]]:
    """One full listing taken apart with the connector's own reader, phase by phase.

    Mirrors ``SqlConnector._full``: token, listing query, stamps, ``Row`` building, child rows,
    versions (hashing), ``Entry`` building, the overlap's ``seen`` set. Each phase is timed on its own,
    once (on a busy machine the shares are approximate); rows in parentheses are comparisons, outside
    the sum."""
    c, reader, schema = bench.connector, bench.reader, bench.schema
    scope = all_of(c.criteria)
    query = reader.query().where(scope)
    with c.engine.connect() as conn:
        token, _ = timed(partial(c._token, conn))
        listed, raw = timed(lambda: list(conn.execute(query, c.params)))
        fetchall, _ = timed(lambda: conn.execute(query, c.params).all())
        stamps_seconds, stamps = timed(partial(reader.stamps, conn, None))
        building, rows = timed(partial(_build_rows, reader, raw, stamps))
        parents = select(schema.key).where(scope)
        child, children = timed(partial(reader.child_rows, conn, parents, c.params))
    hashing, versions = timed(lambda: [reader.version(row, children) for row in rows])
    pairs = list(zip(rows, versions, strict=True))
    entries, _ = timed(lambda: [Entry(schema.business_id(row.key), v, row.stamp) for row, v in pairs])
    phases = [
        ("token: database clock, count(*) and max(key) of the table", token),
        ("listing query: execute, list(result) as Reader.rows does (fetchone per row)", listed),
        ("  (the same query with .all(), i.e. fetchall)", -fetchall),
        ("stamps: every stamp of the table", stamps_seconds),
        ("Row objects: values and company dicts via row._mapping (Reader.rows' loop)", building),
        ("child rows (none mapped for contacts)", child),
        ("versions: Reader.version, repr + blake2b per row", hashing),
        ("Entry objects: business id and Entry()", entries),
    ]  # fmt: skip
    assert schema.updated is not None
    clock = schema.updated
    cut, name = clock.param(datetime.now(UTC) - schema.map.overlap), clock.column.name

    def seen() -> str:
        recent = {schema.business_id(row.key): v for row, v in pairs if _at_or_after(row.values[name], cut)}
        return Token(datetime.now(UTC), 0, None, "").with_seen(recent).encode()

    phases.append(("seen set (rows inside the overlap) and token encoding", timed(seen)[0]))
    counted = sum(seconds for _, seconds in phases if seconds > 0)
    phases.append(("total: the sum of the phases", counted))
    phases.append(("  (the best full listing, for reference)", -best))
    return phases


def _build_rows(reader: Reader, result: list[Any], stamps: dict[str, str]) -> list[Row]:
    """``Reader.rows``' loop over fetched rows (copied: that method fetches and builds in one)."""
    out = []
    names = [c.name for c in reader.columns]
    key_name = reader.schema.key.name
    for r in result:
        m = r._mapping
        company = None
        if reader.company_columns:
            company = {name: m[f"exsync_company_{name}"] for name, _ in reader.company_columns}
        key = m[key_name]
        out.append(Row(key, stamps.get(str(key)), {n: m[n] for n in names}, company, ()))
    return out


@contextmanager
def statement_timeline(engine: Engine) -> Iterator[list[tuple[str, float]]]:
    """(statement, start) of every statement the engine runs inside the block, then ("end", end)."""
    marks: list[tuple[str, float]] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        marks.append((" ".join(statement.split()), time.perf_counter()))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield marks
    finally:
        event.remove(engine, "before_cursor_execute", before)
        marks.append(("end", time.perf_counter()))


def incremental_phases(
    bench: Bench, token: str, ids: list[int], rng: random.Random, in_scope: list[int]
) -> list[tuple[str, float]]:
    """One more incremental listing, split at each SQL statement it runs (a statement's share runs
    to the next statement's start, so it includes fetching its rows and the Python work after it)."""
    bench.age(ids)
    changed = rng.sample(in_scope, CHANGED)
    bench.edit(changed, "Benchmark phases")
    gc.collect()
    started = time.perf_counter()
    with statement_timeline(bench.connector.engine) as marks:
        changes = bench.connector.changes(token)
    assert len(changes.entries) == CHANGED
    phases = [("connect (until the first statement)", marks[0][1] - started if marks else 0.0)]
    for (statement, at), (_, then) in itertools.pairwise(marks):
        phases.append((statement if len(statement) <= 110 else statement[:107] + "…", then - at))
    phases.append(("total: connector.changes(token)", marks[-1][1] - started))
    bench.age(changed)
    return phases


def profile_exsync(fn: Callable[[], Any], limit: int = 20) -> str:
    """cProfile of one call: the top exsync functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    text_ = io.StringIO()
    stats = pstats.Stats(profiler, stream=text_).sort_stats("cumulative")
    stats.print_stats(r"[/\\]exsync[/\\]", limit)
    lines = text_.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    return "\n".join(
        line.replace(str(Path(__file__).resolve().parents[1]) + "/", "") for line in lines[start:]
    )


# -- one database ----------------------------------------------------------------------------------


def run_database(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    progress(f"{db.label}: setup ({args.people:,} people)…")
    figures = setup(db, args.people, args.stamped)
    progress(f"{db.label}: setup took {figures['generate_seconds'] + figures['finish_seconds']:.1f} s")
    bench = Bench(db, date.today())
    try:
        result: dict[str, Any] = {"database": db.label, "url": db.shown, "setup": figures}
        newest = bench.newest_change()
        if newest > datetime.now(UTC) - bench.schema.map.overlap - timedelta(minutes=1):
            progress(f"{db.label}: rows changed recently ({newest:%H:%M:%S}); aging every row by an hour")
            bench.age(None)
        full, token = measure_full(bench, args.repeat)
        assert not Token.decode(token).seen, "the full listing's token has rows inside its overlap"
        in_scope = sorted(int(e.removeprefix("people:")) for e in _listed_ids(bench))
        listing, fetching, last_ids, token = measure_incremental(
            bench, token, in_scope, args.incremental_repeat, random.Random(SEED)
        )
        result["figures"] = {"full": full, "incremental": listing, "fetch": fetching}
        full_rate = full.rows / full.best
        targets = [
            {"name": "full listing, rows/s", "value": full_rate, "limit": TARGET_FULL_ROWS_PER_SECOND,
             "unit": "rows/s", "met": (full_rate >= TARGET_FULL_ROWS_PER_SECOND)
             if bench.dialect == "sqlite" else None},
            {"name": "incremental listing, ms", "value": listing.best * 1000, "limit": TARGET_INCREMENTAL_MS,
             "unit": "ms", "met": listing.best * 1000 < TARGET_INCREMENTAL_MS},
        ]  # fmt: skip
        result["targets"] = targets
        if targets[0]["met"] is False:
            args.full_missed = True  # the other database's listing is broken down too, to compare
        if args.full_missed or args.breakdown:
            progress(f"{db.label}: full listing phase by phase…")
            result["full_phases"] = full_phases(bench, full.best)
        if targets[1]["met"] is False or args.breakdown:
            progress(f"{db.label}: incremental listing statement by statement…")
            result["incremental_phases"] = incremental_phases(
                bench, token, last_ids, random.Random(SEED + 1), in_scope
            )
        if args.profile:
            progress(f"{db.label}: full listing under cProfile…")
            result["profile"] = profile_exsync(lambda: bench.connector.changes(None))
    finally:
        bench.close()
    return result


def _listed_ids(bench: Bench) -> list[str]:
    """The in-scope ids (what a full listing lists), read without timing."""
    with bench.connector.engine.connect() as conn:
        query = select(bench.schema.key).where(all_of(bench.connector.criteria))
        return [bench.schema.business_id(k) for (k,) in conn.execute(query, bench.connector.params)]


# -- report ----------------------------------------------------------------------------------------


def verdict(met: bool | None) -> str:
    return "[dim]n/a[/dim]" if met is None else ("[green]PASS[/green]" if met else "[red]MISS[/red]")


def report(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    out.print(f"[bold]exsync SQL business connector benchmark[/bold]: Python {m['python']} on "
              f"{m['platform']}, {m['cpus']} CPUs")  # fmt: skip
    out.print(f"contacts part of staff {STAFF_ID}, reference schema and mapping; {doc['people']:,} people; "
              f"full listing best of {doc['repeat']}, incremental and fetch best of "
              f"{doc['incremental_repeat']}")  # fmt: skip
    setup_table = Table(title="Setup (not benchmarked)", title_justify="left")
    for name in (
        "database",
        "people",
        "companies",
        "domains",
        "stamps",
        "generate s",
        "stamps+analyze s",
        "people/s",
    ):
        setup_table.add_column(name, justify="left" if name == "database" else "right")
    for r in doc["databases"]:
        s = r["setup"]
        setup_table.add_row(r["database"], f"{s['people']:,}", f"{s['companies']:,}",
                            f"{s['company_domains']:,}", f"{s['stamps']:,}", f"{s['generate_seconds']:.1f}",
                            f"{s['finish_seconds']:.1f}",
                            f"{s['people'] / s['generate_seconds']:,.0f}")  # fmt: skip
    out.print(setup_table)

    for r in doc["databases"]:
        f = r["figures"]
        table = Table(title=f"{r['database']}  ({r['url']})", title_justify="left")
        for name in ("measure", "rows", "ours", "baseline", "base rows", "ours/base", "all runs (ours)"):
            table.add_column(name, justify="left" if name in ("measure", "all runs (ours)") else "right")
        full = f["full"]
        table.add_row(full.name, f"{full.rows:,}",
                      f"{full.best:.2f} s  {full.rows / full.best:,.0f}/s",
                      f"{full.best_base:.2f} s  {full.base_rows / full.best_base:,.0f}/s",
                      f"{full.base_rows:,}", f"{full.ratio:.1f}x",
                      "/".join(f"{x:.2f}" for x in full.ours))  # fmt: skip
        for fig in (f["incremental"], f["fetch"]):
            table.add_row(fig.name, f"{fig.rows:,}", f"{fig.best * 1000:.1f} ms",
                          f"{fig.best_base * 1000:.1f} ms", f"{fig.base_rows:,}", f"{fig.ratio:.1f}x",
                          "/".join(f"{x * 1000:.1f}" for x in fig.ours))  # fmt: skip
        out.print(table)
        out.print("  baselines: plain Core SELECT of the same columns: full = all people; incremental = "
                  "WHERE updated_at >= the connector's cut; fetch = WHERE id IN (the 100 ids)")  # fmt: skip
        for t in r["targets"]:
            value = (
                f"{t['value']:,.0f} {t['unit']}" if t["unit"] == "rows/s" else f"{t['value']:.1f} {t['unit']}"
            )
            limit = f">= {t['limit']:,.0f}" if t["unit"] == "rows/s" else f"< {t['limit']:g}"
            scope = " (target is for SQLite)" if t["met"] is None else ""
            out.print(f"  {verdict(t['met'])}  {t['name']}: {value} (target {limit} {t['unit']}){scope}")
        if "full_phases" in r:
            phases = Table(title=f"{r['database']}: where the full listing's time goes (one run)",
                           title_justify="left")  # fmt: skip
            phases.add_column("phase")
            phases.add_column("s", justify="right")
            phases.add_column("share", justify="right")
            total = r["full_phases"][-2][1]
            for name, seconds in r["full_phases"]:
                share = "" if seconds < 0 or name.startswith("total") else f"{seconds / total:.0%}"
                phases.add_row(name, f"{abs(seconds):.3f}", share)
            out.print(phases)
        if "incremental_phases" in r:
            phases = Table(title=f"{r['database']}: where the incremental listing's time goes (one run, "
                           "by statement)", title_justify="left")  # fmt: skip
            phases.add_column("from the start of … to the next statement")
            phases.add_column("ms", justify="right")
            for name, seconds in r["incremental_phases"]:
                phases.add_row(name, f"{seconds * 1000:.1f}")
            out.print(phases)
        if "profile" in r:
            out.print(f"[bold]{r['database']}: cProfile of one full listing, exsync functions by cumulative "
                      "time[/bold] (profiler overhead included)")  # fmt: skip
            out.print(r["profile"], markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--people", type=int, default=None, help="people rows (default 100,000; --quick 5,000)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 5,000 people unless --people is given"
    )
    parser.add_argument("--repeat", type=int, default=3, help="full listings (fastest kept)")
    parser.add_argument(
        "--incremental-repeat", type=int, default=5, help="incremental listings (fastest kept)"
    )
    parser.add_argument("--stamped", type=float, default=0.10, help="share of people with a creation stamp")
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server URL (a database is created on it)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--breakdown", action="store_true", help="break the time down even when targets are met"
    )
    parser.add_argument("--profile", action="store_true", help="plus a cProfile of one full listing")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)
    args.people = args.people or (5000 if args.quick else 100_000)
    args.full_missed = False
    if args.people < 2 * CHANGED:
        parser.error(f"--people must be at least {2 * CHANGED}")
    if args.repeat < 1 or args.incremental_repeat < 1 or not 0 <= args.stamped <= 1:
        parser.error("repeats must be at least 1 and --stamped between 0 and 1")

    postgres: str | None = None
    if args.postgres:
        if not postgres_reachable(args.postgres):
            parser.error("--postgres: the server does not answer")
        postgres = args.postgres
    elif not args.no_postgres and postgres_reachable(DEFAULT_POSTGRES):
        postgres = DEFAULT_POSTGRES
    elif not args.no_postgres:
        progress(f"no PostgreSQL at {DEFAULT_POSTGRES}: SQLite only")

    results = []
    with tempfile.TemporaryDirectory(prefix="exsync-bench-sql-") as tmp:
        if not args.no_sqlite:
            with sqlite_database(Path(tmp)) as db:
                results.append(run_database(db, args))
        if postgres is not None:
            with postgres_database(postgres) as db:
                results.append(run_database(db, args))
    doc = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "people": args.people,
        "repeat": args.repeat,
        "incremental_repeat": args.incremental_repeat,
        "databases": results,
    }
    if args.json:
        for r in results:
            r["figures"] = {k: v.as_json() for k, v in r["figures"].items()}
        json.dump(doc, sys.stdout, indent=2, default=str)
        print()
    else:
        report(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
