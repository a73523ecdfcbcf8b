"""A firm's own schema, not the reference one: other table, key and column names, mapped by a file.

The tables are made with plain SQL on each dialect; everything else goes through ``SqlBusiness.open``
with the mapping file and the public connector API (``changes``, ``fetch``, ``find``, ``apply``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from exsync.business.sql import SqlBusiness
from exsync.business.sql.engine import business_engine
from exsync.connector import Connector, Create, Record, Scope, Staff, Update, Written
from exsync.model import Contact
from exsync.settings import ProfileSettings
from exsync.state.records import ProfileRow

# The firm's own tables: employees, clients and their contacts. `internal_ref` is a column the
# mapping does not know; sync must never touch it.
DDL = {
    "sqlite": [
        "CREATE TABLE employees (emp_no INTEGER PRIMARY KEY, initials TEXT NOT NULL, full_name TEXT,"
        " mail TEXT, is_active INTEGER NOT NULL DEFAULT 1)",
        "CREATE TABLE clients (client_no INTEGER PRIMARY KEY, client_name TEXT NOT NULL, segment TEXT,"
        " account_manager INTEGER, changed TEXT, removed INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE contacts (contact_no INTEGER PRIMARY KEY,"
        " client_no INTEGER REFERENCES clients (client_no), given TEXT, family TEXT, mail1 TEXT,"
        " mail2 TEXT, tel TEXT, notes TEXT, changed TEXT, removed INTEGER NOT NULL DEFAULT 0,"
        " owner INTEGER, internal_ref TEXT)",
    ],
    "postgresql": [
        "CREATE TABLE employees (emp_no INTEGER PRIMARY KEY, initials VARCHAR(10) NOT NULL,"
        " full_name VARCHAR(100), mail VARCHAR(200), is_active SMALLINT NOT NULL DEFAULT 1)",
        "CREATE TABLE clients (client_no SERIAL PRIMARY KEY, client_name VARCHAR(200) NOT NULL,"
        " segment VARCHAR(20), account_manager INTEGER, changed TIMESTAMPTZ,"
        " removed SMALLINT NOT NULL DEFAULT 0)",
        "CREATE TABLE contacts (contact_no SERIAL PRIMARY KEY,"
        " client_no INTEGER REFERENCES clients (client_no), given VARCHAR(100), family VARCHAR(100),"
        " mail1 VARCHAR(200), mail2 VARCHAR(200), tel VARCHAR(50), notes TEXT, changed TIMESTAMPTZ,"
        " removed SMALLINT NOT NULL DEFAULT 0, owner INTEGER, internal_ref VARCHAR(50))",
    ],
    "mysql": [
        "CREATE TABLE employees (emp_no INT PRIMARY KEY, initials VARCHAR(10) NOT NULL,"
        " full_name VARCHAR(100), mail VARCHAR(200), is_active SMALLINT NOT NULL DEFAULT 1)",
        "CREATE TABLE clients (client_no INT AUTO_INCREMENT PRIMARY KEY,"
        " client_name VARCHAR(200) NOT NULL, segment VARCHAR(20), account_manager INT,"
        " changed DATETIME, removed SMALLINT NOT NULL DEFAULT 0)",
        "CREATE TABLE contacts (contact_no INT AUTO_INCREMENT PRIMARY KEY,"
        " client_no INT REFERENCES clients (client_no), given VARCHAR(100), family VARCHAR(100),"
        " mail1 VARCHAR(200), mail2 VARCHAR(200), tel VARCHAR(50), notes TEXT, changed DATETIME,"
        " removed SMALLINT NOT NULL DEFAULT 0, owner INT, internal_ref VARCHAR(50))",
    ],
}

MAPPING = """
[staff]
table = "employees"
key = "emp_no"
code = "initials"
name = "full_name"
email = "mail"
active = "is_active"
time_zone = ""                  # the firm keeps no time zone per employee

[company]
table = "clients"
key = "client_no"
name = "client_name"
updated = "changed"
deleted = "removed"
owner = "account_manager"
new = { segment = "prospect" }

[contacts]
table = "contacts"
key = "contact_no"
updated = "changed"
deleted = "removed"
owner = "owner"
owner_scope = "none"
company = "client_no"
filter = 'company.segment != "supplier"'
where = "client_no IN (SELECT client_no FROM clients WHERE account_manager = :staff_id)"

[contacts.fields]
first_name = "given"
last_name = "family"
emails = ["mail1", "mail2"]
business_phones = ["tel"]
notes = "notes"
"""

EMPLOYEES = [
    (1, "AB", "Ann Baker", "ann.baker@firm.example", 1),
    (2, "CD", "Carl Dunn", "carl.dunn@firm.example", 1),
    (3, "EF", "Eve Frost", "eve.frost@firm.example", 0),  # has left: still listed, flagged inactive
    (4, "GH", "Gus Hill", None, 1),  # no mailbox: never a profile
]
# client_no, client_name, segment, account_manager
CLIENTS = [
    (10, "Acme Ltd", "client", 1),
    (11, "Bolt Supplies", "supplier", 1),
    (12, "Cyan Partners", "client", 2),
]
# contact_no, client_no, given, family, mail1, mail2, tel, notes, removed, owner, internal_ref
# 100 holds values sync would write differently (surrounding blanks, an upper-case domain): an update
# that rewrote every mapped column instead of the patched one would change them.
CONTACTS = [
    (100, 10, " Alice ", "Archer", "alice@ACME.Example", None, "+44 20 1000 ", "met at fair", 0, 2, "R-100"),
    (101, 10, "Bob", "Brown", "bob@acme.example", None, None, None, 1, 1, "R-101"),  # soft-deleted
    (102, 11, "Sam", "Supply", "sam@bolt.example", None, None, None, 0, 1, "R-102"),  # a supplier's
    (103, 12, "Cara", "Cyan", "cara@cyan.example", None, None, None, 0, 1, "R-103"),  # Carl's client
    (104, None, "Nora", "Nobody", "nora@example.org", None, None, None, 0, 1, "R-104"),  # no client
    (105, 10, "Dan", "Dale", "dan@acme.example", "dan.dale@home.example", None, None, 0, 1, "R-105"),
]
OLD = datetime(2020, 1, 1, 10, 0, tzinfo=UTC)
CONTACT_COLUMNS = (
    "contact_no, client_no, given, family, mail1, mail2, tel, notes, changed, removed, owner, internal_ref"
)

DIALECTS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@dataclass
class OwnFirm:
    url: str
    engine: Engine
    business: SqlBusiness

    def connector(self, staff_id: int = 1, **changes: Any) -> Connector:
        row = next(e for e in EMPLOYEES if e[0] == staff_id)
        profile = ProfileRow(code=row[1], staff_id=row[0], email=row[3] or "", name=row[2], time_zone="UTC")
        settings = ProfileSettings().part("contacts")
        if changes:
            settings = settings.model_copy(update=changes)
        return self.business.connector(profile, "contacts", settings)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []

    def contact_row(self, key: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE contact_no = :k"), {"k": key}
            )
            return dict(row.one()._mapping)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            "employees": self.sql("SELECT * FROM employees ORDER BY emp_no"),
            "clients": self.sql("SELECT * FROM clients ORDER BY client_no"),
            "contacts": self.sql("SELECT * FROM contacts ORDER BY contact_no"),
        }


def _old_time(dialect: str) -> Any:
    if dialect == "sqlite":
        return OLD.strftime("%Y-%m-%dT%H:%M:%SZ")
    return OLD if dialect == "postgresql" else OLD.replace(tzinfo=None)


def _populate(engine: Engine) -> None:
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for statement in DDL[dialect]:
            conn.exec_driver_sql(statement)
        for employee in EMPLOYEES:
            conn.execute(
                text("INSERT INTO employees VALUES (:n, :i, :f, :m, :a)"),
                dict(zip("nifma", employee, strict=True)),
            )
        old = _old_time(dialect)
        for no, name, segment, manager in CLIENTS:
            conn.execute(
                text("INSERT INTO clients VALUES (:no, :name, :segment, :manager, :changed, 0)"),
                {"no": no, "name": name, "segment": segment, "manager": manager, "changed": old},
            )
        columns = [c for c in CONTACT_COLUMNS.split(", ") if c != "changed"]  # CONTACTS' order
        insert = "INSERT INTO contacts ({}, changed) VALUES ({}, :changed)".format(
            ", ".join(columns), ", ".join(f":{c}" for c in columns)
        )
        for contact in CONTACTS:
            conn.execute(text(insert), {**dict(zip(columns, contact, strict=True)), "changed": old})
        if dialect == "postgresql":  # explicit keys above: move the sequences past them
            conn.exec_driver_sql("SELECT setval('clients_client_no_seq', 100)")
            conn.exec_driver_sql("SELECT setval('contacts_contact_no_seq', 1000)")


@pytest.fixture(params=DIALECTS)
def own_firm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OwnFirm]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'own.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    engine = business_engine(url)
    _populate(engine)
    mapping = tmp_path / "own-mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    business = SqlBusiness.open(url, mapping)
    try:
        yield OwnFirm(url, engine, business)
    finally:
        business.close()
        engine.dispose()


def _listed(connector: Connector) -> set[str]:
    return {e.id for e in connector.changes(None).entries}


def _fetch(connector: Connector, id: str) -> Record:
    return connector.fetch([id])[id]


def test_staff_are_the_employees_with_a_mailbox(own_firm: OwnFirm) -> None:
    assert own_firm.business.staff() == [
        Staff(1, "AB", "Ann Baker", "ann.baker@firm.example", True, ""),
        Staff(2, "CD", "Carl Dunn", "carl.dunn@firm.example", True, ""),
        Staff(3, "EF", "Eve Frost", "eve.frost@firm.example", False, ""),
    ]


def test_listing_holds_the_people_of_ones_own_clients_never_suppliers(own_firm: OwnFirm) -> None:
    # 100 is owned by Carl but belongs to Ann's client: owner_scope = "none" keeps it in Ann's scope.
    assert _listed(own_firm.connector(1)) == {"contacts:100", "contacts:105"}
    assert _listed(own_firm.connector(2)) == {"contacts:103"}
    # Ann becomes account manager of the supplier too: the mapping's filter still keeps its people out.
    own_firm.sql("UPDATE clients SET account_manager = 1")
    assert _listed(own_firm.connector(1)) == {"contacts:100", "contacts:103", "contacts:105"}


def test_out_of_scope_rows_are_fetched_with_the_reason(own_firm: OwnFirm) -> None:
    connector = own_firm.connector(1)
    records = connector.fetch(["contacts:101", "contacts:102", "contacts:103", "contacts:104"])
    assert records["contacts:101"].scope is Scope.DELETED
    assert records["contacts:102"].scope is Scope.FILTER
    assert "contacts.filter" in records["contacts:102"].scope_reason
    assert records["contacts:103"].scope is Scope.FILTER
    assert "contacts.where" in records["contacts:103"].scope_reason


def test_fetch_reads_the_contact_with_its_clients_name(own_firm: OwnFirm) -> None:
    record = _fetch(own_firm.connector(1), "contacts:105")
    assert record.scope is Scope.IN
    assert record.item == Contact(
        first_name="Dan",
        last_name="Dale",
        company="Acme Ltd",
        emails=["dan@acme.example", "dan.dale@home.example"],
    )
    alice = _fetch(own_firm.connector(1), "contacts:100").item
    assert alice == Contact(
        first_name="Alice",
        last_name="Archer",
        company="Acme Ltd",
        emails=["alice@acme.example"],
        business_phones=["+44 20 1000"],
        notes="met at fair",
    )


def test_profile_filter_narrows_the_mappings_scope(own_firm: OwnFirm) -> None:
    assert _listed(own_firm.connector(1, filter='last_name == "Dale"')) == {"contacts:105"}
    # It narrows, never widens: the supplier's and Carl's people stay out.
    wide = 'last_name in ("Supply", "Cyan", "Archer")'
    assert _listed(own_firm.connector(1, filter=wide)) == {"contacts:100"}
    assert _listed(own_firm.connector(1, filter='company.client_name == "Cyan Partners"')) == set()


def test_update_writes_only_the_patched_column(own_firm: OwnFirm) -> None:
    connector = own_firm.connector(1)
    before = own_firm.contact_row(100)
    clients = own_firm.sql("SELECT * FROM clients ORDER BY client_no")
    version = _fetch(connector, "contacts:100").version

    [outcome] = connector.apply([Update("contacts:100", {"notes": "x"}, version)])

    assert isinstance(outcome, Written) and outcome.id == "contacts:100" and outcome.version != version
    after = own_firm.contact_row(100)
    assert after["notes"] == "x"
    assert after["changed"] is not None and after["changed"] != before["changed"]
    untouched = [c for c in before if c not in ("notes", "changed")]
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}
    assert (after["given"], after["mail1"], after["tel"]) == (" Alice ", "alice@ACME.Example", "+44 20 1000 ")
    assert after["internal_ref"] == "R-100" and after["owner"] == 2  # unmapped, and another's
    assert own_firm.sql("SELECT * FROM clients ORDER BY client_no") == clients
    assert _fetch(connector, "contacts:100").version == outcome.version


def test_create_links_to_the_client_of_the_same_name(own_firm: OwnFirm) -> None:
    connector = own_firm.connector(1)
    clients = own_firm.sql("SELECT * FROM clients ORDER BY client_no")
    item = Contact(first_name="Zoe", last_name="Zeal", company="ACME ltd.", emails=["zoe@acme.example"])

    [outcome] = connector.apply([Create(item, "stamp-zoe")])

    assert isinstance(outcome, Written)
    assert own_firm.sql("SELECT * FROM clients ORDER BY client_no") == clients  # no new client
    key = int(outcome.id.removeprefix("contacts:"))
    row = own_firm.contact_row(key)
    assert (row["client_no"], row["given"], row["family"], row["mail1"]) == (
        10,
        "Zoe",
        "Zeal",
        "zoe@acme.example",
    )
    assert (row["owner"], row["removed"], row["internal_ref"]) == (1, 0, None)
    assert outcome.id in _listed(connector)
    [found] = connector.find(["stamp-zoe"])["stamp-zoe"]
    assert found.id == outcome.id and found.item.company == "Acme Ltd"  # type: ignore[attr-defined]


def test_an_unseen_company_is_created_once_whatever_the_spelling(own_firm: OwnFirm) -> None:
    connector = own_firm.connector(1)
    first = Contact(first_name="Gil", last_name="Gray", company="Globex Corporation")
    second = Contact(first_name="Hal", last_name="Hunt", company="GLOBEX corp.")

    outcomes = connector.apply([Create(first, "stamp-gil"), Create(second, "stamp-hal")])

    assert all(isinstance(o, Written) for o in outcomes)
    new = own_firm.sql(
        "SELECT client_no, client_name, segment, account_manager, removed FROM clients WHERE client_no > 12"
    )
    assert len(new) == 1
    client_no, name, segment, manager, removed = new[0]
    assert (name, segment, manager, removed) == ("Globex Corporation", "prospect", 1, 0)
    keys = [int(o.id.removeprefix("contacts:")) for o in outcomes if isinstance(o, Written)]
    assert [own_firm.contact_row(k)["client_no"] for k in keys] == [client_no, client_no]
    # A later apply finds it by its normalised name too.
    [third] = connector.apply([Create(Contact(last_name="Ives", company="Globex"), "stamp-ives")])
    assert isinstance(third, Written)
    assert own_firm.contact_row(int(third.id.removeprefix("contacts:")))["client_no"] == client_no
    assert len(own_firm.sql("SELECT client_no FROM clients")) == len(CLIENTS) + 1
    # The new client is Ann's: its people are in her scope.
    assert {f"contacts:{k}" for k in keys} | {third.id} <= _listed(connector)


def test_sql_injection_in_the_profile_filter_selects_and_changes_nothing(own_firm: OwnFirm) -> None:
    before = own_firm.snapshot()
    attempts = [
        "last_name == \"x' OR '1'='1\"",
        'last_name == "\'; DROP TABLE contacts; --" or first_name == "x\') OR 1=1 --"',
    ]
    for attempt in attempts:
        connector = own_firm.connector(1, filter=attempt)
        assert connector.changes(None).entries == []
        assert connector.fetch(["contacts:100"])["contacts:100"].scope is Scope.FILTER
    assert own_firm.snapshot() == before
