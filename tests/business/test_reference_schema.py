"""The reference business schema (plain DDL per dialect) and the demo data generator, on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, inspect, text

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


def _old(conn: Connection) -> Any:
    old = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    if conn.dialect.name == "sqlite":
        return "2001-02-03T04:05:06Z"
    return old if conn.dialect.name == "postgresql" else old.replace(tzinfo=None)


def test_statements_split_on_delimiter_lines_only() -> None:
    statements = split_statements(schema_sql("postgresql"))
    function = [s for s in statements if s.startswith("CREATE OR REPLACE FUNCTION")]
    assert len(function) == 1 and function[0].rstrip().endswith("$$") and function[0].count(";") >= 3
    assert all(s.split()[0] == "CREATE" for s in statements)
    assert not any("-- statement" in s for s in statements)
    with pytest.raises(ValueError, match="no reference schema"):
        schema_sql("oracle")


def test_every_table_and_column_of_the_contract(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(EXPECTED)
    for table, columns in EXPECTED.items():
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
