"""A mapping bound to a real database: reflected tables, resolved columns, checked at open.

``bind_schema`` reflects every table a mapping names and fails with a ``ConfigError`` naming the
mapping key when a table or column is missing, so a wrong mapping stops before any sync. It also
creates the side table of creation tokens (``exsync_stamps`` by default) when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from exsync.business.filters import FilterError, parse_filter
from exsync.business.mapping import ChildMap, CompanyMap, FieldMap, Mapping, PartMap, Value
from exsync.settings import ConfigError

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"
_MAY_BE_EMPTY = ("staff.active", "staff.time_zone")  # "" in the mapping: the table has no such column


@dataclass(frozen=True)
class Clock:
    """Reads and writes one change-tracking column: ISO text (SQLite) or a date-time type."""

    column: Column[Any]
    dialect: str

    @property
    def is_text(self) -> bool:
        return not isinstance(self.column.type, DateTime)

    def now(self) -> ColumnElement[Any]:
        """The database's time now, as the column holds it (the database's clock, not ours)."""
        if self.is_text:
            if self.dialect == "sqlite":
                return func.strftime(ISO_Z, "now")
            return literal(datetime.now(UTC).strftime(ISO_Z))
        return func.current_timestamp()

    def read(self, value: Any) -> datetime:
        """A value of the column (or of ``now()``) as an aware UTC datetime."""
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace(" ", "T", 1))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def param(self, moment: datetime) -> Any:
        """``moment`` in the form the column compares with."""
        moment = moment.astimezone(UTC)
        if self.is_text:
            return moment.strftime(ISO_Z)
        if getattr(self.column.type, "timezone", False):
            return moment
        return moment.replace(tzinfo=None)  # naive DATETIME columns hold UTC (sessions run in UTC)


@dataclass(frozen=True)
class Child:
    table: Table
    parent: Column[Any]
    fields: dict[str, Column[Any]]


@dataclass(frozen=True)
class Companies:
    map: CompanyMap
    table: Table
    key: Column[Any]
    name: Column[Any]
    updated: Clock | None
    deleted: Column[Any] | None
    owner: Column[Any] | None
    address: dict[str, Column[Any]]


@dataclass(frozen=True)
class Fields:
    """A canonical field's columns and how they hold it."""

    columns: tuple[Column[Any], ...]
    spec: FieldMap


@dataclass(frozen=True)
class PartSchema:
    part: str
    map: PartMap
    table: Table
    key: Column[Any]
    fields: dict[str, Fields]
    updated: Clock | None
    deleted: Column[Any] | None
    owner: Column[Any] | None
    private: Column[Any] | None
    type: Column[Any] | None
    series: Column[Any] | None
    fixed: dict[Column[Any], Value]
    company_key: Column[Any] | None  # this table's column holding the company's key
    companies: Companies | None
    attendees: Child | None
    exceptions: Child | None
    stamps: Table
    tombstones: Table | None
    done_at: Clock | None = None
    filterable: dict[str, ColumnElement[Any]] = field(default_factory=dict)

    @property
    def integer_key(self) -> bool:
        return isinstance(self.key.type, Integer)

    def business_id(self, key: Any) -> str:
        return f"{self.table.name}:{key}"


@dataclass(frozen=True)
class Staffs:
    table: Table
    key: Column[Any]
    code: Column[Any]
    name: Column[Any]
    email: Column[Any]
    active: Column[Any] | None
    time_zone: Column[Any] | None
    where: str


@dataclass(frozen=True)
class BusinessSchema:
    mapping: Mapping
    staff: Staffs
    parts: dict[str, PartSchema]
    dialect: str


def stamps_table(metadata: MetaData, name: str) -> Table:
    """Creation tokens: the mailbox item a row sync created came from (see the connector contract)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("table_name", String(64), nullable=False),
        Column("row_key", String(64), nullable=False),
        Column("stamp", String(255), nullable=False),
        Index(f"ix_{name}_row", "table_name", "row_key", unique=True),
        Index(f"ix_{name}_stamp", "table_name", "stamp"),
    )


class _Binder:
    def __init__(self, engine: Engine, mapping: Mapping) -> None:
        self.engine = engine
        self.mapping = mapping
        self.metadata = MetaData()
        self.dialect = engine.dialect.name

    def table(self, name: str, key: str) -> Table:
        if name in self.metadata.tables:
            return self.metadata.tables[name]
        try:
            return Table(name, self.metadata, autoload_with=self.engine, resolve_fks=False)
        except NoSuchTableError:
            raise ConfigError(
                f"mapping {key}: the business database has no table {name!r}. "
                "Fix: correct the table name in the mapping (or create the table)",
                key=f"mapping.{key}",
            ) from None

    def column(self, table: Table, name: str | None, key: str) -> Column[Any]:
        if name is None:
            raise AssertionError(key)
        try:
            return table.c[name]
        except KeyError:
            columns = ", ".join(c.name for c in table.columns)
            if key in _MAY_BE_EMPTY:
                columns += f', or {key.split(".")[-1]} = "" if it has none'
            raise ConfigError(
                f"mapping {key}: table {table.name!r} has no column {name!r}. Fix: use one of {columns}",
                key=f"mapping.{key}",
            ) from None

    def optional(self, table: Table, name: str | None, key: str) -> Column[Any] | None:
        return None if name is None else self.column(table, name, key)

    def clock(self, table: Table, name: str | None, key: str) -> Clock | None:
        column = self.optional(table, name, key)
        return None if column is None else Clock(column, self.dialect)

    def staff(self) -> Staffs:
        m = self.mapping.staff
        t = self.table(m.table, "staff.table")
        return Staffs(
            t, self.column(t, m.key, "staff.key"), self.column(t, m.code, "staff.code"),
            self.column(t, m.name, "staff.name"), self.column(t, m.email, "staff.email"),
            self.optional(t, m.active, "staff.active"), self.optional(t, m.time_zone, "staff.time_zone"),
            m.where,
        )  # fmt: skip

    def companies(self, m: CompanyMap) -> Companies:
        t = self.table(m.table, "company.table")
        return Companies(
            m, t, self.column(t, m.key, "company.key"), self.column(t, m.name, "company.name"),
            self.clock(t, m.updated, "company.updated"), self.optional(t, m.deleted, "company.deleted"),
            self.optional(t, m.owner, "company.owner"),
            {f: self.column(t, c, f"company.address.{f}") for f, c in m.address.items()},
        )  # fmt: skip

    def child(self, m: ChildMap, key: str) -> Child:
        t = self.table(m.table, f"{key}.table")
        return Child(
            t, self.column(t, m.parent, f"{key}.parent"),
            {f: self.column(t, c, f"{key}.fields.{f}") for f, c in m.fields.items()},
        )  # fmt: skip

    def part(self, name: str, m: PartMap, stamps: Table, tombstones: Table | None) -> PartSchema:
        t = self.table(m.table, f"{name}.table")
        fields = {
            f: Fields(tuple(self.column(t, c, f"{name}.fields.{f}") for c in spec.columns), spec)
            for f, spec in m.fields.items()
        }
        companies = None
        if m.company and self.mapping.company is not None:
            companies = self.companies(self.mapping.company)
        filterable: dict[str, ColumnElement[Any]] = {
            f: fs.columns[0] for f, fs in fields.items() if not fs.spec.is_list
        }
        filterable.update({f: self.column(t, c, f"{name}.filterable.{f}") for f, c in m.filterable.items()})
        part = PartSchema(
            part=name, map=m, table=t,
            key=self.column(t, m.key, f"{name}.key"),
            fields=fields,
            updated=self.clock(t, m.updated, f"{name}.updated"),
            deleted=self.optional(t, m.deleted, f"{name}.deleted"),
            owner=self.optional(t, m.owner, f"{name}.owner"),
            private=self.optional(t, m.private, f"{name}.private"),
            type=self.optional(t, m.type, f"{name}.type"),
            series=self.optional(t, m.series, f"{name}.series"),
            fixed={self.column(t, c, f"{name}.fixed.{c}"): v for c, v in m.fixed.items()},
            company_key=self.optional(t, m.company, f"{name}.company"),
            companies=companies,
            attendees=None if m.attendees is None else self.child(m.attendees, f"{name}.attendees"),
            exceptions=None if m.exceptions is None else self.child(m.exceptions, f"{name}.exceptions"),
            stamps=stamps,
            tombstones=tombstones,
            done_at=self.clock(t, m.done_at, f"{name}.done_at"),
            filterable=filterable,
        )  # fmt: skip
        for label, column in (("type", part.type), ("series", part.series), ("owner", part.owner)):
            if column is not None:
                part.filterable.setdefault(label, column)
        if companies is not None:
            for column in companies.table.columns:
                part.filterable[f"company.{column.name}"] = column
        self.check_filter(name, part)
        self.check_where(name, part)
        return part

    def check_filter(self, name: str, part: PartSchema) -> None:
        """The mapping's own filter may name only what this part can filter on (known only now)."""
        try:
            parse_filter(part.map.filter, known=part.filterable)
        except FilterError as exc:
            raise ConfigError(f"mapping {name}.filter: {exc}", key=f"mapping.{name}.filter") from None

    def check_where(self, name: str, part: PartSchema) -> None:
        """Run the admin's WHERE fragment once so a mistake shows now, naming the key."""
        if not part.map.where:
            return
        probe = select(part.key).where(text(part.map.where)).limit(1)
        try:
            with self.engine.connect() as conn:
                conn.execute(probe, {"staff_id": 0, "staff_code": ""}).all()
        except DBAPIError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
            raise ConfigError(
                f"mapping {name}.where: the database rejects {part.map.where!r}: {reason}. "
                "Fix: write a condition "
                f"over the columns of {part.table.name!r}, with :staff_id or :staff_code for the profile",
                key=f"mapping.{name}.where",
            ) from None

    def stamps(self) -> Table:
        table = stamps_table(self.metadata, self.mapping.stamps)
        table.create(self.engine, checkfirst=True)
        return table

    def reflect(self) -> None:
        """Reflect every table the mapping names in one go (one catalogue round per kind, not per table)."""
        m = self.mapping
        names = {
            m.staff.table,
            *([m.company.table] if m.company else []),
            *([m.tombstones] if m.tombstones else []),
        }
        for part in (m.part(n) for n in ("contacts", "calendar", "tasks")):
            if part is not None:
                names |= {part.table, *(c.table for c in (part.attendees, part.exceptions) if c is not None)}
        present = set(inspect(self.engine).get_table_names())
        self.metadata.reflect(self.engine, only=sorted(names & present), resolve_fks=False)

    def bind(self) -> BusinessSchema:
        self.reflect()
        stamps = self.stamps()
        tombstones = None
        if self.mapping.tombstones:
            tombstones = self.table(self.mapping.tombstones, "tombstones")
            for column in ("table_name", "row_key", "deleted_at"):
                self.column(tombstones, column, "tombstones")
        parts = {}
        for name in ("contacts", "calendar", "tasks"):
            m = self.mapping.part(name)
            if m is not None:
                parts[name] = self.part(name, m, stamps, tombstones)
        return BusinessSchema(self.mapping, self.staff(), parts, self.dialect)


def bind_schema(engine: Engine, mapping: Mapping) -> BusinessSchema:
    return _Binder(engine, mapping).bind()
