"""The state store's tables, defined once; the Alembic migrations create exactly these."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def json_text(value: Any) -> str:
    """Canonical JSON: equal values give equal text (used for storage and for de-duplication).

    Non-JSON values (dates, sets, …) raise TypeError on purpose: storing them as strings would read
    back as a different value and make every later comparison see a change.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as canonical text; Python ``None`` is SQL NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; SQLite keeps no zone, so values are stored naive in UTC there."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the stored text; parsing it as UTC directly is several times faster than
        # the generic path (parse, then replace tzinfo), which matters when loading 100,000 links.
        def parse(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value + "+00:00")

        return parse


def _flag(name: str, default: bool) -> Column[bool]:
    return Column(name, Boolean, nullable=False, default=default)


def _text(name: str) -> Column[str]:
    """Free text that is never NULL (an absent value is the empty string)."""
    return Column(name, Text, nullable=False, default="")


links = Table(
    "links",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("business_id", Text),
    Column("mailbox_id", Text),
    _text("business_version"),
    _text("mailbox_version"),
    Column("snapshot", JSONText),
    _flag("in_scope", True),
    _flag("out_of_window", False),
    _flag("removed_in_mailbox", False),
    _flag("removed_in_business", False),
    _flag("conflict", False),
    _text("last_result"),
    _text("last_error"),
    Column("updated_at", UTCDateTime, nullable=False),
    # One mailbox item belongs to one link; NULLs (not yet created) never collide.
    Index(None, "profile", "part", "mailbox_id", unique=True),
    Index(None, "profile", "part", "business_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("collection", Text, primary_key=True),
    Column("token", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

pending = Table(
    "pending",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("side", Text, primary_key=True),
    Column("item_id", Text, primary_key=True),
    _text("error"),
    Column("attempts", Integer, nullable=False, default=1),
    Column("updated_at", UTCDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile", Text, nullable=False),
    Column("part", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", Text, nullable=False),
    _flag("dry_run", False),
    _flag("full", False),
    Column("counts", JSONText, nullable=False),
    Column("errors", JSONText, nullable=False),
    Index(None, "profile", "part", "id"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile", Text, nullable=False),
    Column("part", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("field", Text, nullable=False),
    Column("business_value", JSONText),
    Column("mailbox_value", JSONText),
    _text("business_version"),
    _text("mailbox_version"),
    Column("base_value", JSONText),
    Column("winner", Text, nullable=False),
    Column("kept_value", JSONText),
    _flag("resolved", False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "profile", "part", "key", "field"),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile", Text, nullable=False),
    Column("part", Text, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("side", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("item_id", Text),
    Column("before", JSONText),
    Column("after", JSONText),
    Column("status", Text, nullable=False),
    _text("error"),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "profile", "part", "status"),
    Index(None, "profile", "part", "key"),
)

# The defaults level has no profile; '' stands for it so it can be part of the primary key.
settings = Table(
    "settings",
    metadata,
    Column("level", Text, primary_key=True),
    Column("profile", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("value", JSONText),
    Column("actor", Text, nullable=False),
    _text("by"),
    Column("at", UTCDateTime, nullable=False),
)

suspensions = Table(
    "suspensions",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("code", Text, primary_key=True),
    Column("staff_id", Integer, nullable=False),
    Column("email", Text, nullable=False),
    _text("name"),
    _text("time_zone"),
    _flag("active", True),
    _text("stopped_reason"),
)

locks = Table(
    "locks",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("part", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
