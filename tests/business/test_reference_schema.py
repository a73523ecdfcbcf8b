"""The reference business schema (plain DDL per dialect) and the demo data generator, on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text

from exsync.business.reference.generate import COMPANY_KINDS, FIRM_DOMAIN, Counts, generate
from exsync.business.reference.schema import create_schema, schema_sql, split_statements

# Written once from DESIGN.md, "The reference business database": the contract.
EXPECTED: dict[str, list[str]] = {
    "staff": ["id", "code", "name", "email", "active", "time_zone"],
    "companies": [
        "id", "name", "kind", "phone", "website", "street", "city", "region", "postal_code", "country",
        "owner_id", "notes", "updated_at", "deleted",
    ],
    "company_domains": ["company_id", "domain"],
    "people": [
        "id", "company_id", "first_name", "last_name", "title", "job_title", "department", "email", "email2",
        "email3", "email4", "phone_work", "phone_work2", "phone_mobile", "phone_home", "street", "city",
        "region", "postal_code", "country", "birthday", "notes", "categories", "private", "owner_id",
        "updated_at", "deleted",
    ],
    "activities": [
        "id", "kind", "type", "series", "subject", "details", "location", "starts_at", "ends_at", "all_day",
        "time_zone", "recurrence", "due_at", "reminder_minutes", "priority", "status", "done", "done_at",
        "private", "staff_id", "person_id", "company_id", "matter", "ical_uid", "organizer_email",
        "updated_at", "deleted",
    ],
    "activity_attendees": ["activity_id", "email", "name", "role", "response"],
    "activity_exceptions": [
        "activity_id", "original_start", "cancelled", "starts_at", "ends_at", "subject", "location",
    ],
    "emails": [
        "id", "internet_message_id", "fingerprint", "subject", "sender_email", "sender_name", "sent_at",
        "received_at", "body_text", "body_html", "has_attachments", "size_bytes", "conversation_id",
        "in_reply_to", "raw_mime",
    ],
    "email_recipients": ["email_id", "kind", "address", "name"],
    "email_mailboxes": ["email_id", "staff_id", "folder", "direction", "mailbox_item_id", "archived_at"],
    "email_links": ["email_id", "person_id", "company_id", "rule", "detail"],
    "email_attachments": ["email_id", "name", "content_type", "size_bytes", "content"],
}  # fmt: skip
# Not in the contract: the schema's own bookkeeping of hard deletes, read by the SQL connector.
TOMBSTONES = {"exsync_tombstones": ["table_name", "row_key", "deleted_at"]}

NOW = datetime(2026, 11, 21, 14, 3, tzinfo=UTC)
SMALL = {"staff": 3, "companies": 20, "people": 100, "activities": 60}
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
RTL = re.compile(r"[\u0590-\u08ff]")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])  # fmt: skip
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of each dialect, with the reference schema created."""
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    elif request.param == "postgres":
        eng = create_engine(request.getfixturevalue("postgres_url"))
    else:
        # The schema's MariaDB defaults use CURRENT_TIMESTAMP: the session must be in UTC.
        url = request.getfixturevalue("mariadb_url")
        eng = create_engine(url, connect_args={"init_command": "SET time_zone = '+00:00'"})
    try:
        create_schema(eng)
        yield eng
    finally:
        eng.dispose()


def _utc(value: Any) -> datetime:
    """A stored ``updated_at`` as an aware UTC datetime, whatever the dialect returned."""
    if isinstance(value, str):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value), value
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _stamp(conn: Connection, moment: datetime) -> Any:
    """``moment`` as a value of the dialect's ``updated_at`` column."""
    if conn.dialect.name == "sqlite":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment if conn.dialect.name == "postgresql" else moment.astimezone(UTC).replace(tzinfo=None)


def _old(conn: Connection) -> Any:
    return _stamp(conn, datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC))


def _recent(value: Any) -> bool:
    return abs(_utc(value) - datetime.now(UTC)) < timedelta(minutes=5)


def test_statements_split_on_delimiter_lines_only() -> None:
    statements = split_statements(schema_sql("postgresql"))
    functions = [s for s in statements if s.startswith("CREATE OR REPLACE FUNCTION")]
    assert len(functions) == 4
    assert all(f.rstrip().endswith("$$") and f.count(";") >= 3 for f in functions)
    for dialect in ("sqlite", "postgresql", "mariadb"):
        statements = split_statements(schema_sql(dialect))
        assert all(s.split()[0] == "CREATE" for s in statements), dialect
        assert not any("-- statement" in s for s in statements), dialect
    with pytest.raises(ValueError, match="no reference schema"):
        schema_sql("oracle")


def test_every_table_and_column_of_the_contract(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(EXPECTED) | set(TOMBSTONES)
    for table, columns in (EXPECTED | TOMBSTONES).items():
        assert [c["name"] for c in inspector.get_columns(table)] == columns, table
    for table in ("staff", "companies", "people", "activities", "emails"):
        assert inspector.get_pk_constraint(table)["constrained_columns"] == ["id"], table
    unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("staff")}
    unique |= {tuple(i["column_names"]) for i in inspector.get_indexes("staff") if i["unique"]}
    assert {("code",), ("email",)} <= unique
    people_fks = {
        (tuple(fk["constrained_columns"]), fk["referred_table"])
        for fk in inspector.get_foreign_keys("people")
    }
    assert people_fks == {(("company_id",), "companies"), (("owner_id",), "staff")}
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("activities")}
    assert ("staff_id", "kind") in indexed
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("exsync_tombstones")}
    assert ("table_name", "deleted_at") in indexed
    assert not any(c["nullable"] for c in inspector.get_columns("exsync_tombstones"))


def test_defaults_and_updated_at_kept_current(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO staff (code, name, email, time_zone) VALUES ('JD', 'Jana', 'jd@x.test', 'UTC')")
        )
        conn.execute(text("INSERT INTO companies (name, kind) VALUES ('Acme', 'client')"))
        conn.execute(text("INSERT INTO people (first_name, last_name) VALUES ('Ann', 'Lee')"))
        conn.execute(text("INSERT INTO activities (kind, type, subject) VALUES ('task', 'To-do', 'Call')"))
        staff = conn.execute(text("SELECT active FROM staff")).one()
        assert staff.active == 1
        person = conn.execute(text("SELECT private, deleted, updated_at FROM people")).one()
        assert (person.private, person.deleted) == (0, 0)
        assert abs(_utc(person.updated_at) - datetime.now(UTC)) < timedelta(minutes=5)
        task = conn.execute(text("SELECT done, all_day, private, deleted FROM activities")).one()
        assert tuple(task) == (0, 0, 0, 0)
    for table, column in (("companies", "name"), ("people", "last_name"), ("activities", "subject")):
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET updated_at = :old"), {"old": _old(conn)})
            assert _utc(conn.execute(text(f"SELECT updated_at FROM {table}")).scalar_one()).year == 2001
        with engine.begin() as conn:  # an update that does not set updated_at moves it to now
            conn.execute(text(f"UPDATE {table} SET {column} = 'changed'"))
            moved = _utc(conn.execute(text(f"SELECT updated_at FROM {table}")).scalar_one())
        assert abs(moved - datetime.now(UTC)) < timedelta(minutes=5), table
        with engine.begin() as conn:  # one that sets it keeps the value it set
            conn.execute(
                text(f"UPDATE {table} SET {column} = 'again', updated_at = :old"), {"old": _old(conn)}
            )
            assert _utc(conn.execute(text(f"SELECT updated_at FROM {table}")).scalar_one()).year == 2001


def test_hard_delete_leaves_a_tombstone(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, name) VALUES (7, 'Acme'), (8, 'Kept')"))
        conn.execute(text("INSERT INTO people (id, last_name) VALUES (41, 'Lee'), (42, 'Kim')"))
        conn.execute(text("INSERT INTO activities (id, subject) VALUES (1234567, 'Call'), (5, 'Kept')"))
        conn.execute(text("INSERT INTO company_domains (company_id, domain) VALUES (7, 'acme.test')"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE people SET deleted = 1 WHERE id = 42"))  # a soft delete: no tombstone
        conn.execute(text("DELETE FROM company_domains"))  # not a tracked table
        conn.execute(text("DELETE FROM companies WHERE id = 7"))
        conn.execute(text("DELETE FROM people WHERE id = 41"))
        conn.execute(text("DELETE FROM activities WHERE id = 1234567"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT table_name, row_key, deleted_at FROM exsync_tombstones")).all()
    assert sorted((r.table_name, r.row_key) for r in rows) == [
        ("activities", "1234567"),
        ("companies", "7"),
        ("people", "41"),
    ]
    assert all(_recent(r.deleted_at) for r in rows)


# child table, parent table, foreign key column, the other columns of a child row
CHILDREN = (
    ("activity_attendees", "activities", "activity_id", {"email": "ann@x.test"}),
    ("activity_exceptions", "activities", "activity_id", {"original_start": "2026-12-01 09:00"}),
    ("company_domains", "companies", "company_id", {"domain": "acme.test"}),
)


@pytest.mark.parametrize(("child", "parent", "key", "values"), CHILDREN, ids=[c[0] for c in CHILDREN])
def test_child_rows_move_the_parents_updated_at(
    engine: Engine, child: str, parent: str, key: str, values: dict[str, str]
) -> None:
    columns = ", ".join([key, *values])
    placeholders = ", ".join(f":{c}" for c in [key, *values])
    with engine.begin() as conn:
        name = "name" if parent == "companies" else "subject"
        conn.execute(text(f"INSERT INTO {parent} (id, {name}) VALUES (1, 'one'), (2, 'two')"))

    def age_parents() -> None:
        with engine.begin() as conn:
            old = _stamp(conn, datetime(2020, 1, 1, tzinfo=UTC))
            # Not where it is old already: setting updated_at to its own value would move it to now.
            conn.execute(
                text(f"UPDATE {parent} SET updated_at = :old WHERE updated_at <> :old"), {"old": old}
            )

    def moved() -> set[int]:
        with engine.connect() as conn:
            stamps = conn.execute(text(f"SELECT id, updated_at FROM {parent}")).all()
        assert all(_recent(s.updated_at) or _utc(s.updated_at).year == 2020 for s in stamps)
        return {s.id for s in stamps if _utc(s.updated_at).year != 2020}

    first_column = next(iter(values))
    for statement, params, expected in (
        (f"INSERT INTO {child} ({columns}) VALUES ({placeholders})", {key: 1, **values}, {1}),
        (f"UPDATE {child} SET {first_column} = 'changed'", {}, {1}),
        (f"UPDATE {child} SET {key} = 2", {}, {1, 2}),  # moved to the other parent: both changed
        (f"DELETE FROM {child}", {}, {2}),
    ):
        age_parents()
        with engine.begin() as conn:
            conn.execute(text(statement), params)
        assert moved() == expected, statement

    with engine.begin() as conn:  # never back: a parent stamped later than now keeps its stamp
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        conn.execute(text(f"UPDATE {parent} SET updated_at = :later"), {"later": _stamp(conn, later)})
        conn.execute(text(f"INSERT INTO {child} ({columns}) VALUES ({placeholders})"), {key: 1, **values})
        stamps = conn.execute(text(f"SELECT updated_at FROM {parent}")).scalars().all()
    assert [_utc(s) for s in stamps] == [later, later]


def test_sqlite_triggers_with_recursive_triggers_and_foreign_keys_on(tmp_path: Path) -> None:
    """The triggers neither recurse nor fight when SQLite runs nested triggers and cascades."""
    eng = create_engine(f"sqlite:///{tmp_path / 'business.db'}")

    def pragmas(dbapi: Any, _record: Any) -> None:
        dbapi.executescript("PRAGMA recursive_triggers = ON; PRAGMA foreign_keys = ON;")

    event.listen(eng, "connect", pragmas)
    try:
        create_schema(eng)
        with eng.begin() as conn:
            insert = "INSERT INTO activities (id, subject, updated_at) VALUES (1, 'a', :old)"
            conn.execute(text(insert), {"old": _old(conn)})
            conn.execute(text("INSERT INTO activity_attendees (activity_id, email) VALUES (1, 'a@x.test')"))
            conn.execute(text("UPDATE activity_attendees SET response = 'accepted'"))
            assert _recent(conn.execute(text("SELECT updated_at FROM activities")).scalar_one())
            conn.execute(text("DELETE FROM activities"))  # cascades to the attendee, whose parent is gone
            assert _count(conn, "activity_attendees") == 0
            assert conn.execute(text("SELECT row_key FROM exsync_tombstones")).scalars().all() == ["1"]
    finally:
        eng.dispose()


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_generated_data(engine: Engine) -> None:
    with engine.begin() as conn:
        counts = generate(conn, seed=7, now=NOW, **SMALL)
    assert (counts.staff, counts.companies, counts.people, counts.activities) == (3, 20, 100, 60)
    with engine.connect() as conn:
        for table in ("staff", "companies", "company_domains", "people", "activities", "activity_attendees",
                      "activity_exceptions"):  # fmt: skip
            assert _count(conn, table) == getattr(counts, table), table
        assert all(_count(conn, t) == 0 for t in EXPECTED if t.startswith("email"))
        staff = conn.execute(text("SELECT code, email, active, time_zone FROM staff")).all()
        assert all(s.email.endswith("@" + FIRM_DOMAIN) for s in staff)
        assert sorted(s.active for s in staff) == [0, 1, 1]
        assert set(conn.execute(text("SELECT DISTINCT kind FROM companies")).scalars()) == set(COMPANY_KINDS)
        domains = list(conn.execute(text("SELECT domain FROM company_domains")).scalars())
        assert domains and all(d == d.lower() for d in domains)
        per_company = conn.execute(text("SELECT count(*) FROM company_domains GROUP BY company_id")).scalars()
        assert set(per_company) <= {1, 2, 3}

        names = [f"{p.first_name} {p.last_name}" for p in conn.execute(text("SELECT * FROM people"))]
        assert any(CJK.search(n) for n in names) and any(RTL.search(n) for n in names)
        assert any("ř" in n for n in names)
        private = conn.execute(text("SELECT owner_id FROM people WHERE private = 1")).scalars().all()
        assert private and all(owner is not None for owner in private)
        assert _count(conn, "people WHERE deleted = 1") + _count(conn, "people WHERE deleted = 0") == 100

        all_day = conn.execute(text("SELECT starts_at, ends_at FROM activities WHERE all_day = 1")).all()
        assert all_day and all(re.fullmatch(r"\d{4}-\d\d-\d\d", a.starts_at) for a in all_day)
        assert all(a.ends_at >= a.starts_at for a in all_day)
        assert any(a.ends_at > a.starts_at for a in all_day)  # a multi-day one
        timed = conn.execute(
            text("SELECT starts_at, ends_at FROM activities WHERE kind = 'event' AND all_day = 0")
        )
        assert all(
            re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", t.starts_at) and t.ends_at > t.starts_at for t in timed
        )
        lo, hi = (NOW - timedelta(days=92)).date().isoformat(), (NOW + timedelta(days=367)).date().isoformat()
        starts = conn.execute(text("SELECT starts_at FROM activities WHERE starts_at IS NOT NULL")).scalars()
        assert all(lo <= s[:10] <= hi for s in starts)

        recurring = conn.execute(
            text("SELECT id, recurrence FROM activities WHERE recurrence IS NOT NULL")
        ).all()
        assert recurring and all(r.recurrence.startswith("FREQ=") for r in recurring)
        for r in recurring:
            flags = sorted(
                conn.execute(
                    text("SELECT cancelled FROM activity_exceptions WHERE activity_id = :id"), {"id": r.id}
                ).scalars()
            )
            assert flags == [0, 1]

        meetings = conn.execute(
            text("SELECT id, ical_uid, organizer_email FROM activities WHERE type = 'Meeting'")
        )
        meetings = meetings.all()
        assert meetings and all(m.ical_uid and m.organizer_email for m in meetings)
        attendees = conn.execute(text("SELECT activity_id, email FROM activity_attendees")).all()
        assert {a.activity_id for a in attendees} <= {m.id for m in meetings}
        assert any(a.email.endswith("@" + FIRM_DOMAIN) for a in attendees)

        tasks = conn.execute(
            text("SELECT type, due_at, done, done_at FROM activities WHERE kind = 'task'")
        ).all()
        assert tasks and {t.type for t in tasks} <= {"To-do", "Deadline"}
        assert all(t.due_at for t in tasks) and all((t.done == 1) == (t.done_at is not None) for t in tasks)
        assert {row.series for row in conn.execute(text("SELECT DISTINCT series FROM activities"))} <= {
            "LIT",
            "SALES",
            "ADMIN",
        }
        for table in ("companies", "people", "activities"):  # not moved to now by the child triggers
            stamps = conn.execute(text(f"SELECT updated_at FROM {table}")).scalars()
            assert all(NOW - timedelta(days=91) < _utc(s) <= NOW for s in stamps), table
    with engine.begin() as conn:  # ids go on after the generated ones (identity sequences moved)
        conn.execute(text("INSERT INTO companies (name, kind) VALUES ('Later', 'other')"))
        assert conn.execute(text("SELECT id FROM companies WHERE name = 'Later'")).scalar_one() == 21


def _dump(path: Path, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    eng = create_engine(f"sqlite:///{path}")
    try:
        create_schema(eng)
        with eng.begin() as conn:
            generate(conn, seed=seed, now=NOW, **SMALL)
        with eng.connect() as conn:
            return {
                t: [tuple(r) for r in conn.execute(text(f"SELECT {', '.join(cols)} FROM {t} ORDER BY 1, 2"))]
                for t, cols in EXPECTED.items()
            }
    finally:
        eng.dispose()


def test_same_seed_same_rows(tmp_path: Path) -> None:
    first = _dump(tmp_path / "a.db", seed=3)
    assert _dump(tmp_path / "b.db", seed=3) == first
    other = _dump(tmp_path / "c.db", seed=4)
    assert other != first
    assert other["people"] != first["people"] and other["activities"] != first["activities"]


def test_generate_defaults_to_now_and_counts() -> None:
    eng = create_engine("sqlite://")
    try:
        create_schema(eng)
        with eng.begin() as conn:
            counts = generate(conn, staff=2, companies=5, people=10, activities=10)
        assert isinstance(counts, Counts) and counts.people == 10
    finally:
        eng.dispose()


Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def default_rows() -> Rows:
    """Every generated row at the default size, by table (SQLite: the content is the same everywhere)."""
    eng = create_engine("sqlite://")
    try:
        create_schema(eng)
        with eng.begin() as conn:
            generate(conn, now=NOW)
            return {t: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {t}"))] for t in EXPECTED}
    finally:
        eng.dispose()


def test_default_size_has_every_kind_type_and_shape(default_rows: Rows) -> None:
    staff = default_rows["staff"]
    assert all(ZoneInfo(s["time_zone"]) for s in staff) and len({s["time_zone"] for s in staff}) > 1
    assert len({s["email"] for s in staff}) == len(staff)

    companies = default_rows["companies"]
    assert {c["kind"] for c in companies} == set(COMPANY_KINDS)
    domains = Counter(d["company_id"] for d in default_rows["company_domains"])
    assert set(domains) == {c["id"] for c in companies} and max(domains.values()) > 1

    people = default_rows["people"]
    emails = Counter(sum(p[k] is not None for k in ("email", "email2", "email3", "email4")) for p in people)
    assert set(emails) == {0, 1, 2, 3, 4}
    phones = ("phone_work", "phone_work2", "phone_mobile", "phone_home")
    assert any(sum(p[k] is not None for k in phones) >= 3 for p in people)
    names = [f"{p['first_name']} {p['last_name']}" for p in people]
    for script in (re.compile(r"[ěřůäöüéèçñ]"), CJK, RTL, re.compile(r"[\U0001F300-\U0001FAFF]")):
        assert any(script.search(n) for n in names), script.pattern
    assert any(p["private"] for p in people) and any(p["deleted"] for p in people)

    activities = default_rows["activities"]
    events = [a for a in activities if a["kind"] == "event"]
    tasks = [a for a in activities if a["kind"] == "task"]
    assert {"Meeting", "Hearing", "Appointment", "Call"} <= {e["type"] for e in events}
    assert {t["type"] for t in tasks} == {"To-do", "Deadline"}
    assert {a["series"] for a in activities} == {"LIT", "SALES", "ADMIN"}
    assert {e["status"] for e in events} == {"confirmed", "tentative", "cancelled"}
    assert any(a["private"] for a in events) and any(a["private"] for a in tasks)
    timed = [e for e in events if not e["all_day"]]
    all_day = [e for e in events if e["all_day"]]
    assert any(not e["recurrence"] for e in timed) and any(e["recurrence"] for e in timed)
    assert any(e["ends_at"] == e["starts_at"] and not e["recurrence"] for e in all_day)  # one day
    assert any(e["ends_at"] > e["starts_at"] for e in all_day)  # several days, last day inclusive
    assert any(e["recurrence"] for e in all_day)
    exceptions = default_rows["activity_exceptions"]
    assert {x["cancelled"] for x in exceptions} == {0, 1}

    attendees = default_rows["activity_attendees"]
    staff_emails = {s["email"] for s in staff}
    assert any(a["email"] in staff_emails for a in attendees)
    assert any(a["email"] not in staff_emails for a in attendees)
    assert {a["role"] for a in attendees} == {"required", "optional", "resource"}

    assert any(len(t["due_at"]) == 10 for t in tasks) and any(len(t["due_at"]) == 16 for t in tasks)
    assert any(t["done"] for t in tasks) and any(not t["done"] for t in tasks)
    assert all((t["done"] == 1) == (t["done_at"] is not None) for t in tasks)


def test_exceptions_are_occurrences_of_their_series(default_rows: Rows) -> None:
    series = {a["id"]: a for a in default_rows["activities"] if a["recurrence"]}
    exceptions = default_rows["activity_exceptions"]
    assert series and {x["activity_id"] for x in exceptions} == set(series)
    occurrences: dict[int, set[str]] = {}
    for a in series.values():
        assert "COUNT=" in a["recurrence"] or "UNTIL=" in a["recurrence"]  # a finite series
        if a["all_day"]:
            fmt, start = "%Y-%m-%d", datetime.strptime(a["starts_at"], "%Y-%m-%d")
        else:  # RFC 5545: a zoned start needs a UTC UNTIL, which dateutil enforces
            fmt = "%Y-%m-%d %H:%M"
            start = datetime.strptime(a["starts_at"], fmt).replace(tzinfo=ZoneInfo(a["time_zone"]))
        occurrences[a["id"]] = {o.strftime(fmt) for o in rrulestr(a["recurrence"], dtstart=start)}
        assert a["starts_at"] in occurrences[a["id"]]  # the first occurrence is the series' start
    for x in exceptions:
        assert x["original_start"] in occurrences[x["activity_id"]], x
        if not x["cancelled"]:
            assert len(x["starts_at"]) == len(x["original_start"]) == len(x["ends_at"])
