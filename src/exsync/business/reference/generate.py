"""Deterministic demo data for the reference business database.

``generate(connection, seed=…)`` fills ``staff``, ``companies``, ``company_domains``, ``people``,
``activities``, ``activity_attendees`` and ``activity_exceptions`` (the ``emails*`` tables stay empty)
on SQLite, PostgreSQL or MariaDB. The same seed and ``now`` always give the same rows: all randomness
comes from one ``random.Random(seed)`` and all dates from ``now``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, column, func, select, table
from sqlalchemy.sql.expression import TableClause

__all__ = ["COMPANY_KINDS", "FIRM_DOMAIN", "Counts", "generate"]

FIRM_DOMAIN = "firm.example"
COMPANY_KINDS = ("client", "prospect", "supplier", "court", "other")
BATCH = 5000  # rows per executemany: few round trips, bounded memory per statement

Row = dict[str, Any]


@dataclass(frozen=True)
class Counts:
    """How many rows ``generate`` inserted into each table."""

    staff: int = 0
    companies: int = 0
    company_domains: int = 0
    people: int = 0
    activities: int = 0
    activity_attendees: int = 0
    activity_exceptions: int = 0


def _table(name: str, *columns: str) -> TableClause:
    return table(name, *(column(c) for c in columns))


STAFF = _table("staff", "id", "code", "name", "email", "active", "time_zone")
COMPANIES = _table(
    "companies", "id", "name", "kind", "phone", "website", "street", "city", "region", "postal_code",
    "country", "owner_id", "notes", "updated_at", "deleted",
)  # fmt: skip
COMPANY_DOMAINS = _table("company_domains", "company_id", "domain")
PEOPLE = _table(
    "people", "id", "company_id", "first_name", "last_name", "title", "job_title", "department", "email",
    "email2", "email3", "email4", "phone_work", "phone_work2", "phone_mobile", "phone_home", "street", "city",
    "region", "postal_code", "country", "birthday", "notes", "categories", "private", "owner_id",
    "updated_at", "deleted",
)  # fmt: skip
ACTIVITIES = _table(
    "activities", "id", "kind", "type", "series", "subject", "details", "location", "starts_at", "ends_at",
    "all_day", "time_zone", "recurrence", "due_at", "reminder_minutes", "priority", "status", "done",
    "done_at", "private", "staff_id", "person_id", "company_id", "matter", "ical_uid", "organizer_email",
    "updated_at", "deleted",
)  # fmt: skip
ATTENDEES = _table("activity_attendees", "activity_id", "email", "name", "role", "response")
EXCEPTIONS = _table(
    "activity_exceptions", "activity_id", "original_start", "cancelled", "starts_at", "ends_at", "subject",
    "location",
)  # fmt: skip

# --- source material -------------------------------------------------------------------------------

STAFF_PEOPLE = (
    ("Jana", "Dvořáková", "Europe/Prague"),
    ("Martin", "Schneider", "Europe/Berlin"),
    ("Emily", "Carter", "America/New_York"),
    ("Hiroshi", "Tanaka", "Asia/Tokyo"),
    ("Oliver", "Smith", "UTC"),
    ("Zoé", "Lefèvre", "Europe/Paris"),
    ("Lukas", "Novák", "Europe/Prague"),
    ("Sofia", "García", "Europe/Madrid"),
)
# (first, last, country, city): Latin with accents, CJK, right-to-left scripts, an emoji.
NAMES = (
    ("Antonín", "Dvořák", "CZ", "Praha"),
    ("Božena", "Němcová", "CZ", "Brno"),
    ("Jürgen", "Müller", "DE", "München"),
    ("Anne", "Schäfer", "DE", "Köln"),
    ("François", "Ségal", "FR", "Lyon"),
    ("Chloé", "Dubois", "FR", "Paris"),
    ("José", "Núñez", "ES", "Sevilla"),
    ("Łukasz", "Wiśniewski", "PL", "Kraków"),
    ("Søren", "Kierkegaard", "DK", "København"),
    ("John", "Miller", "US", "Boston"),
    ("Mary", "O'Brien", "IE", "Dublin"),
    ("Ingrid", "Åström", "SE", "Göteborg"),
    ("太郎", "山田", "JP", "東京"),
    ("花子", "佐藤", "JP", "大阪"),
    ("伟", "王", "CN", "北京"),
    ("محمد", "العلي", "AE", "دبي"),
    ("فاطمة", "الزهراء", "EG", "القاهرة"),
    ("דוד", "כהן", "IL", "תל אביב"),
    ("Ольга", "Иванова", "UA", "Київ"),
    ("Γιώργος", "Παπαδόπουλος", "GR", "Αθήνα"),
    ("Lucie 🌸", "Veselá", "CZ", "Olomouc"),
)
COMPANY_WORDS = (
    "Acme", "Nordwind", "Vltava", "Sakura", "Atlas", "Helios", "Kovo", "Brightline", "Müller", "Orion",
    "Delta", "Zenith", "Baltic", "Cedar", "Pioneer", "Lumen", "Granit", "Aurora",
)  # fmt: skip
COMPANY_SUFFIXES = {
    "client": ("s.r.o.", "GmbH", "Ltd", "Inc.", "a.s."),
    "prospect": ("Holdings", "Group", "AG", "SE"),
    "supplier": ("Supplies", "Services", "Logistics"),
    "court": ("District Court", "Regional Court", "Court of Appeal"),
    "other": ("Foundation", "Association", "Institute"),
}
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "seznam.cz", "gmx.de")
TITLES = ("", "", "", "Dr.", "Mgr.", "Ing.", "Prof.", "JUDr.")
JOB_TITLES = ("CEO", "CFO", "General Counsel", "Office Manager", "Buyer", "Clerk", "Judge", "Engineer")
DEPARTMENTS = ("Legal", "Finance", "Purchasing", "Management", "IT", "")
CATEGORIES = ("VIP", "Newsletter", "Litigation", "Supplier", "Christmas card", "Prospect")
NOTES = (
    "Prefers calls in the morning ☎️",
    "Met at the conference 🎉 — follow up in Q2.",
    "Speaks German and Czech.",
    "Allergic to nuts 🥜; lunch meetings elsewhere.",
    "",
    "Line one\nline two",
)
EVENT_TYPES = ("Meeting", "Hearing", "Appointment", "Call")
TASK_TYPES = ("To-do", "Deadline")
SERIES = ("LIT", "SALES", "ADMIN")
LOCATIONS = ("Office, room 2", "Client's office", "Courtroom 14", "Teams", "Café Slavia", "")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")


_LATIN = str.maketrans("áäåčďéěíłňóöřšťúůüýžñçèàøßœæ", "aaacdeeilnoorstuuuyznceaosea")


@cache  # the names repeat: people reuse a few dozen of them
def _ascii(value: str) -> str:
    """A mail-safe local part from a name (non-Latin names fall back to a neutral word)."""
    cleaned = "".join(ch for ch in value.lower().translate(_LATIN) if ch.isascii() and ch.isalnum())
    return cleaned or "contact"


def _slug(value: str) -> str:
    return _ascii(value.replace(" ", ""))


class _Generator:
    def __init__(self, conn: Connection, seed: int, now: datetime) -> None:
        self.conn = conn
        self.rng = random.Random(seed)
        self.now = now.astimezone(UTC)
        self.sqlite = conn.dialect.name == "sqlite"
        self.postgres = conn.dialect.name == "postgresql"

    # --- value helpers ------------------------------------------------------------------------------

    def stamp(self, moment: datetime) -> Any:
        """A UTC timestamp in the column format of the dialect."""
        moment = moment.astimezone(UTC).replace(microsecond=0)
        if self.sqlite:
            return moment.replace(tzinfo=None).isoformat() + "Z"  # faster than strftime, same text
        if self.postgres:
            return moment
        return moment.replace(tzinfo=None)  # MariaDB DATETIME(6), UTC

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def recent(self) -> Any:
        return self.stamp(self.now - timedelta(minutes=self.rng.randint(1, 60 * 24 * 90)))

    def phone(self, country: str) -> str:
        prefix = {"CZ": "+420", "DE": "+49", "US": "+1", "JP": "+81", "FR": "+33"}.get(country, "+44")
        first, rest = divmod(self.rng.randrange(900**3), 900**2)  # three groups of 100-999, one draw
        return f"{prefix} {first + 100} {rest // 900 + 100} {rest % 900 + 100}"

    def next_id(self, tab: TableClause) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(tab.c.id), 0))).scalar_one()) + 1

    def insert(self, tab: TableClause, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        # The DB-API's executemany with plain tuples: at 100,000 rows SQLAlchemy's per-row parameter
        # processing cost half as much again as SQLite's own work.
        columns = list(rows[0])
        quote = self.conn.dialect.identifier_preparer.quote
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"  # sqlite3; psycopg and PyMySQL
        sql = (  # only the fixed table and column names above go into the text
            f"INSERT INTO {quote(tab.name)} ({', '.join(map(quote, columns))})"  # noqa: S608
            f" VALUES ({', '.join([mark] * len(columns))})"
        )
        values = itemgetter(*columns)  # a row's values as a tuple, in the order of ``columns``
        for start in range(0, len(rows), BATCH):
            self.conn.exec_driver_sql(sql, [values(row) for row in rows[start : start + BATCH]])
        if self.postgres and "id" in rows[0]:
            # Explicit ids do not move an identity's sequence: move it so later inserts get fresh ids.
            sequence = func.pg_get_serial_sequence(tab.name, "id")
            self.conn.execute(select(func.setval(sequence, select(func.max(tab.c.id)).scalar_subquery())))
        return len(rows)

    def restore_updated_at(self, tab: TableClause, rows: Sequence[Row], ids: set[int]) -> None:
        """Put back the generated ``updated_at`` of the ``rows`` whose id is in ``ids``."""
        # Only where it differs: an update that sets updated_at to its current value looks like one that
        # does not set it to the SQLite and PostgreSQL updated_at triggers, which would move it to now.
        stmt = (
            tab.update()
            .where(tab.c.id == bindparam("row_id"), tab.c.updated_at != bindparam("stamp"))
            .values(updated_at=bindparam("stamp"))
        )
        params = [{"row_id": r["id"], "stamp": r["updated_at"]} for r in rows if r["id"] in ids]
        for start in range(0, len(params), BATCH):
            self.conn.execute(stmt, params[start : start + BATCH])

    # --- tables ---------------------------------------------------------------------------------------

    def staff(self, count: int) -> list[Row]:
        first_id = self.next_id(STAFF)
        rows: list[Row] = []
        used_codes: set[str] = set()
        for n in range(count):
            first, last, zone = STAFF_PEOPLE[n % len(STAFF_PEOPLE)]
            round_ = n // len(STAFF_PEOPLE)
            code = (first[0] + last[0]).upper() + (str(round_ + 1) if round_ else "")
            while code in used_codes:
                code += "X"
            used_codes.add(code)
            local = f"{_ascii(first)}.{_ascii(last)}" + (str(round_ + 1) if round_ else "")
            rows.append(
                {
                    "id": first_id + n,
                    "code": code,
                    "name": f"{first} {last}",
                    "email": f"{local}@{FIRM_DOMAIN}",
                    "active": 0 if count > 1 and n == count - 1 else 1,
                    "time_zone": zone,
                }
            )
        return rows

    def companies(self, count: int, staff: Sequence[Row]) -> tuple[list[Row], list[Row]]:
        first_id = self.next_id(COMPANIES)
        rows: list[Row] = []
        domains: list[Row] = []
        used_domains: set[str] = set()
        for n in range(count):
            kind = COMPANY_KINDS[n % len(COMPANY_KINDS)]
            word = self.rng.choice(COMPANY_WORDS)
            name = f"{word} {self.rng.choice(COMPANY_SUFFIXES[kind])}"
            if n >= len(COMPANY_WORDS):
                name = f"{word} {n} {self.rng.choice(COMPANY_SUFFIXES[kind])}"
            _first, _last, country, city = self.rng.choice(NAMES)
            base = f"{_slug(word)}{n}"
            tlds = self.rng.sample(("com", "cz", "de", "eu", "co.jp"), self.rng.randint(1, 3))
            company_id = first_id + n
            for tld in tlds:
                domain = f"{base}.{tld}".lower()
                if domain not in used_domains:
                    used_domains.add(domain)
                    domains.append({"company_id": company_id, "domain": domain})
            rows.append(
                {
                    "id": company_id,
                    "name": name,
                    "kind": kind,
                    "phone": self.phone(country),
                    "website": f"https://www.{base}.{tlds[0]}",
                    "street": f"{self.rng.choice(('Main Street', 'Hauptstraße', 'Národní', '銀座'))} "
                    f"{self.rng.randint(1, 200)}",
                    "city": city,
                    "region": self.rng.choice((None, "Bavaria", "Moravia", "Massachusetts")),
                    "postal_code": f"{self.rng.randint(10000, 99999)}",
                    "country": country,
                    "owner_id": self.rng.choice(staff)["id"] if staff else None,
                    "notes": self.rng.choice(NOTES),
                    "updated_at": self.recent(),
                    "deleted": 1 if self.rng.random() < 0.03 else 0,
                }
            )
        return rows, domains

    def people(
        self, count: int, staff: Sequence[Row], companies: Sequence[Row], domains: Sequence[Row]
    ) -> list[Row]:
        first_id = self.next_id(PEOPLE)
        by_company: dict[int, list[str]] = {}
        for d in domains:
            by_company.setdefault(d["company_id"], []).append(d["domain"])
        rows: list[Row] = []
        for n in range(count):
            # The first rows cycle through every name, so even small data sets have CJK and RTL names.
            first, last, country, city = NAMES[n] if n < len(NAMES) else self.rng.choice(NAMES)
            company = self.rng.choice(companies) if companies and self.rng.random() < 0.8 else None
            local = f"{_ascii(first)}.{_ascii(last)}{n}"
            addresses: list[str | None] = []
            for k in range(self.rng.choice((0, 1, 1, 1, 2, 2, 3, 4))):
                company_domains = by_company.get(company["id"], []) if company else []
                if company_domains and k % 2 == 0:
                    addresses.append(f"{local}@{self.rng.choice(company_domains)}")
                else:
                    addresses.append(f"{local}{k or ''}@{self.rng.choice(FREE_MAIL)}")
            addresses = [*dict.fromkeys(addresses), None, None, None, None]
            private = bool(staff) and self.rng.random() < 0.08
            birthday = (
                date(self.rng.randint(1945, 2002), self.rng.randint(1, 12), self.rng.randint(1, 28))
                if self.rng.random() < 0.4
                else None
            )
            cats = self.rng.sample(CATEGORIES, self.rng.randint(0, 3))
            rows.append(
                {
                    "id": first_id + n,
                    "company_id": company["id"] if company else None,
                    "first_name": first,
                    "last_name": last,
                    "title": self.rng.choice(TITLES) or None,
                    "job_title": self.rng.choice(JOB_TITLES) if company else None,
                    "department": (self.rng.choice(DEPARTMENTS) or None) if company else None,
                    "email": addresses[0],
                    "email2": addresses[1],
                    "email3": addresses[2],
                    "email4": addresses[3],
                    "phone_work": self.phone(country) if company else None,
                    "phone_work2": self.phone(country) if company and self.rng.random() < 0.2 else None,
                    "phone_mobile": self.phone(country) if self.rng.random() < 0.7 else None,
                    "phone_home": self.phone(country) if self.rng.random() < 0.2 else None,
                    "street": f"{self.rng.choice(('Long Road', 'Lindenallee', 'Vinohradská'))} "
                    f"{self.rng.randint(1, 90)}",
                    "city": city,
                    "region": None,
                    "postal_code": f"{self.rng.randint(10000, 99999)}",
                    "country": country,
                    "birthday": self.day(birthday) if birthday else None,
                    "notes": self.rng.choice(NOTES) or None,
                    "categories": ",".join(cats) or None,
                    "private": 1 if private else 0,
                    "owner_id": self.rng.choice(staff)["id"] if private or (staff and n % 3 == 0) else None,
                    "updated_at": self.recent(),
                    "deleted": 1 if self.rng.random() < 0.04 else 0,
                }
            )
        return rows

    def activities(
        self, count: int, staff: Sequence[Row], companies: Sequence[Row], people: Sequence[Row]
    ) -> tuple[list[Row], list[Row], list[Row]]:
        first_id = self.next_id(ACTIVITIES)
        rows: list[Row] = []
        attendees: list[Row] = []
        exceptions: list[Row] = []
        if not staff:
            return rows, attendees, exceptions
        contacts = [p for p in people if p["email"]]
        # Each shape appears early, so small data sets have every one of them.
        shapes = ("timed", "all_day", "multi_day", "recurring", "task", "timed", "task", "recurring_all_day")
        for n in range(count):
            who = staff[n % len(staff)]
            zone = ZoneInfo(who["time_zone"])
            today = self.now.astimezone(zone).date()
            shape = shapes[n] if n < len(shapes) else self.rng.choice(shapes)
            person = self.rng.choice(people) if people and self.rng.random() < 0.5 else None
            company = self.rng.choice(companies) if companies and self.rng.random() < 0.5 else None
            row: Row = {
                "id": first_id + n,
                "kind": "event",
                "type": None,
                "series": self.rng.choice(SERIES),
                "subject": None,
                "details": self.rng.choice(
                    ("", "Bring the file.", "Agenda:\n1. Status\n2. Costs", "Přípravy 📎")
                )
                or None,
                "location": None,
                "starts_at": None,
                "ends_at": None,
                "all_day": 0,
                "time_zone": who["time_zone"],
                "recurrence": None,
                "due_at": None,
                "reminder_minutes": self.rng.choice((None, 0, 15, 30, 60, 1440)),
                "priority": self.rng.choice(("low", "normal", "normal", "high")),
                "status": "confirmed",
                "done": 0,
                "done_at": None,
                "private": 1 if self.rng.random() < 0.05 else 0,
                "staff_id": who["id"],
                "person_id": person["id"] if person else None,
                "company_id": company["id"] if company else None,
                "matter": f"{self.rng.randint(2024, 2027)}/{self.rng.randint(1, 999):03d}"
                if self.rng.random() < 0.6
                else None,
                "ical_uid": None,
                "organizer_email": None,
                "updated_at": self.recent(),
                "deleted": 1 if self.rng.random() < 0.03 else 0,
            }
            day = today + timedelta(days=self.rng.randint(-90, 365))
            if shape == "task":
                self._task(row, day, zone)
            else:
                row["type"] = self.rng.choice(EVENT_TYPES)
                row["location"] = self.rng.choice(LOCATIONS) or None
                row["status"] = self.rng.choice(
                    ("confirmed", "confirmed", "confirmed", "tentative", "cancelled")
                )
                if shape in ("all_day", "multi_day", "recurring_all_day"):
                    row["all_day"] = 1
                    length = self.rng.randint(1, 5) if shape == "multi_day" else 0
                    row["starts_at"] = day.isoformat()
                    row["ends_at"] = (day + timedelta(days=length)).isoformat()
                    row["type"] = self.rng.choice(("Appointment", "Hearing")) if length else row["type"]
                else:
                    start = datetime(
                        day.year, day.month, day.day, self.rng.randint(7, 17), self.rng.choice((0, 30))
                    )
                    end = start + timedelta(minutes=self.rng.choice((15, 30, 60, 90, 120)))
                    row["starts_at"] = start.strftime("%Y-%m-%d %H:%M")
                    row["ends_at"] = end.strftime("%Y-%m-%d %H:%M")
                if shape.startswith("recurring"):
                    exceptions.extend(self._recur(row, day))
                row["subject"] = self._subject(row, person, company)
                if row["type"] == "Meeting" or (shape == "timed" and n < len(shapes)):
                    row["type"] = "Meeting"
                    row["subject"] = self._subject(row, person, company)
                    attendees.extend(self._meeting(row, who, staff, contacts))
            rows.append(row)
        return rows, attendees, exceptions

    def _subject(self, row: Row, person: Row | None, company: Row | None) -> str:
        about = f"{person['first_name']} {person['last_name']}" if person else ""
        if company:
            about = company["name"]
        kind = row["type"]
        return f"{kind}: {about}" if about else f"{kind} ({row['series']})"

    def _task(self, row: Row, day: date, zone: ZoneInfo) -> None:
        row["kind"] = "task"
        row["type"] = self.rng.choice(TASK_TYPES)
        row["time_zone"] = str(zone.key)
        if self.rng.random() < 0.5:
            row["due_at"] = day.isoformat()
        else:
            row["due_at"] = f"{day.isoformat()} {self.rng.randint(8, 18):02d}:00"
        row["subject"] = self.rng.choice(
            (
                "File the appeal",
                "Send the invoice",
                "Call back",
                "Prepare the contract",
                "Renew the licence 📄",
            )
        )
        if day < self.now.astimezone(zone).date() and self.rng.random() < 0.6:
            row["done"] = 1
            row["done_at"] = self.stamp(datetime(day.year, day.month, day.day, 16, 0, tzinfo=zone))

    def _recur(self, row: Row, day: date) -> list[Row]:
        """Make ``row`` a series starting on ``day`` (a weekday); one occurrence moved, one cancelled."""
        if day.weekday() >= 5:  # start on the next Monday, so the first occurrence matches BYDAY
            day += timedelta(days=7 - day.weekday())
            length = date.fromisoformat(row["ends_at"][:10]) - date.fromisoformat(row["starts_at"][:10])
            row["starts_at"] = day.isoformat() + row["starts_at"][10:]
            row["ends_at"] = (day + length).isoformat() + row["ends_at"][10:]
        byday = WEEKDAYS[day.weekday()]
        # RFC 5545: UNTIL has DTSTART's value type, and is UTC when DTSTART is a zoned date-time.
        last = day + timedelta(days=90)
        if row["all_day"]:
            until = f"{last:%Y%m%d}"
        else:
            zone = ZoneInfo(row["time_zone"])
            until = f"{datetime.combine(last, time(23, 59, 59), zone).astimezone(UTC):%Y%m%dT%H%M%SZ}"
        rules = (
            (f"FREQ=WEEKLY;BYDAY={byday};COUNT=10", 7),
            (f"FREQ=WEEKLY;INTERVAL=2;BYDAY={byday};COUNT=6", 14),
            ("FREQ=DAILY;COUNT=5", 1),
            (f"FREQ=WEEKLY;BYDAY={byday};UNTIL={until}", 7),
        )
        rule, step = self.rng.choice(rules)
        row["recurrence"] = rule
        moved: Row = {"activity_id": row["id"], "cancelled": 0, "subject": None, "location": None}
        cancelled: Row = {"activity_id": row["id"], "cancelled": 1, "starts_at": None, "ends_at": None}
        cancelled |= {"subject": None, "location": None}
        if row["all_day"]:
            moved["original_start"] = (day + timedelta(days=step)).isoformat()
            moved["starts_at"] = moved["ends_at"] = (day + timedelta(days=step + 1)).isoformat()
            moved["location"] = self.rng.choice((None, "Room 3"))
            cancelled["original_start"] = (day + timedelta(days=2 * step)).isoformat()
        else:
            fmt = "%Y-%m-%d %H:%M"
            start = datetime.strptime(row["starts_at"], fmt)
            end = datetime.strptime(row["ends_at"], fmt)
            later = timedelta(days=step, hours=1)
            moved["original_start"] = (start + timedelta(days=step)).strftime(fmt)
            moved["starts_at"] = (start + later).strftime(fmt)
            moved["ends_at"] = (end + later).strftime(fmt)
            moved["subject"] = self.rng.choice((None, "Moved: " + (row["subject"] or "status call")))
            cancelled["original_start"] = (start + timedelta(days=2 * step)).strftime(fmt)
        return [moved, cancelled]

    def _meeting(self, row: Row, who: Row, staff: Sequence[Row], contacts: Sequence[Row]) -> list[Row]:
        row["ical_uid"] = f"exsync-{row['id']}-{self.rng.getrandbits(64):016x}@{FIRM_DOMAIN}"
        row["organizer_email"] = who["email"]
        chosen: dict[str, Row] = {}
        for colleague in self.rng.sample(staff, min(len(staff), self.rng.randint(1, 3))):
            if colleague["email"] != who["email"]:
                chosen[colleague["email"]] = {"name": colleague["name"], "role": "required"}
        for contact in self.rng.sample(contacts, min(len(contacts), self.rng.randint(1, 3))):
            chosen[contact["email"]] = {
                "name": f"{contact['first_name']} {contact['last_name']}",
                "role": self.rng.choice(("required", "required", "optional")),
            }
        if self.rng.random() < 0.2:
            chosen[f"room2@{FIRM_DOMAIN}"] = {"name": "Room 2", "role": "resource"}
        return [
            {
                "activity_id": row["id"],
                "email": email,
                "name": info["name"],
                "role": info["role"],
                "response": self.rng.choice(("none", "accepted", "accepted", "declined", "tentative")),
            }
            for email, info in chosen.items()
        ]


def generate(
    connection: Connection,
    *,
    seed: int = 1,
    staff: int = 5,
    companies: int = 300,
    people: int = 2000,
    activities: int = 1000,
    now: datetime | None = None,
) -> Counts:
    """Insert deterministic demo rows into the reference tables on ``connection`` (not committed).

    ``now`` (default: the current time) anchors every date: activities fall between 90 days before
    and 365 days after it, ``updated_at`` values in the 90 days before it."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    gen = _Generator(connection, seed, now)
    staff_rows = gen.staff(staff)
    company_rows, domain_rows = gen.companies(companies, staff_rows)
    people_rows = gen.people(people, staff_rows, company_rows, domain_rows)
    activity_rows, attendee_rows, exception_rows = gen.activities(
        activities, staff_rows, company_rows, people_rows
    )
    counts = Counts(
        staff=gen.insert(STAFF, staff_rows),
        companies=gen.insert(COMPANIES, company_rows),
        company_domains=gen.insert(COMPANY_DOMAINS, domain_rows),
        people=gen.insert(PEOPLE, people_rows),
        activities=gen.insert(ACTIVITIES, activity_rows),
        activity_attendees=gen.insert(ATTENDEES, attendee_rows),
        activity_exceptions=gen.insert(EXCEPTIONS, exception_rows),
    )
    # The schema's triggers moved the parent of every domain, attendee and exception to the current
    # time: put the generated values back, so that the same seed and ``now`` give the same rows.
    gen.restore_updated_at(COMPANIES, company_rows, {d["company_id"] for d in domain_rows})
    children = {r["activity_id"] for r in (*attendee_rows, *exception_rows)}
    gen.restore_updated_at(ACTIVITIES, activity_rows, children)
    return counts
