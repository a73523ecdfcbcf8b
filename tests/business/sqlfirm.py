"""A reference business database on SQLite, PostgreSQL or MariaDB, for the SQL connector's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from exsync.business.reference.schema import create_schema
from exsync.business.sql import SqlBusiness, SqlConnector
from exsync.business.sql.engine import business_engine
from exsync.business.sql.schema import ISO_Z
from exsync.settings import PartSettings, ProfileSettings
from exsync.state.records import ProfileRow

DIALECTS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
# A day inside the window of the default calendar settings for the dates the tests use.
TODAY = date(2026, 3, 15)
STAFF = [
    (1, "AB", "Ann Baker", "ann.baker@firm.example", 1, "Europe/London"),
    (2, "CD", "Carl Dunn", "carl.dunn@firm.example", 1, "Europe/Paris"),
    (3, "EF", "Eve Frost", "eve.frost@firm.example", 0, "UTC"),
]


@dataclass
class Firm:
    """A reference database with three staff members, and ways to play the business application."""

    url: str
    engine: Engine  # the business application's own connection pool
    business: SqlBusiness

    def profile(self, code: str = "AB") -> ProfileRow:
        row = next(s for s in STAFF if s[1] == code)
        return ProfileRow(code=code, staff_id=row[0], email=row[3], name=row[2], time_zone=row[5])

    def connector(
        self, part: str, *, code: str = "AB", profile: ProfileRow | None = None, **changes: Any
    ) -> SqlConnector:
        settings: PartSettings = ProfileSettings().part(part)  # type: ignore[arg-type]
        if changes:
            settings = settings.model_copy(update=changes)
        connector = self.business.connector(profile or self.profile(code), part, settings)
        assert isinstance(connector, SqlConnector)
        return connector

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run one statement as the business application would, committed."""
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    def change_time(self, delta: timedelta = timedelta(0)) -> Any:
        """A change time ``delta`` from now, in the form this database's updated_at holds."""
        moment = datetime.now(UTC) + delta
        if self.engine.dialect.name == "sqlite":
            return moment.strftime(ISO_Z)
        if self.engine.dialect.name == "postgresql":
            return moment
        return moment.replace(tzinfo=None)  # MariaDB DATETIME in a UTC session


_SHARED: dict[str, tuple[Engine, SqlBusiness]] = {}


def open_firm(url: str, *, shared: bool = False) -> Iterator[Firm]:
    """A firm at ``url``: a new database gets the schema; a ``shared`` one (emptied by the caller)
    keeps its engines for the session, as reflecting the schema again per test would be slow."""
    if shared and url in _SHARED:
        engine, business = _SHARED[url]
    else:
        engine = business_engine(url)
        if not shared:
            create_schema(engine)
        business = SqlBusiness.open(url, today=TODAY)
        if shared:
            _SHARED[url] = engine, business
    with engine.begin() as conn:
        for row in STAFF:
            conn.execute(
                text(
                    "INSERT INTO staff (id, code, name, email, active, time_zone)"
                    " VALUES (:i, :c, :n, :e, :a, :z)"
                ),
                dict(zip("icneaz", row, strict=True)),
            )
    try:
        yield Firm(url, engine, business)
    finally:
        if not shared:
            business.close()
            engine.dispose()


def release(url: str) -> None:
    """Close the engines of a shared firm (before its database is dropped)."""
    pair = _SHARED.pop(url, None)
    if pair is not None:
        engine, business = pair
        business.close()
        engine.dispose()
