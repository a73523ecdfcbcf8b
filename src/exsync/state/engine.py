"""Engines for the state store: SQLite tuned for several processes, PostgreSQL as is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

SUPPORTED = ("sqlite", "postgresql")

# Execution option read by the SQLite "begin" hook: write transactions take the write lock up front.
BEGIN_OPTION = "exsync_sqlite_begin"
_BEGIN = {"deferred": "BEGIN", "immediate": "BEGIN IMMEDIATE"}


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ValueError(
            f"state store URL {parsed.render_as_string()!r}: use sqlite:// or postgresql+psycopg://"
        )
    if backend != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {}
    if in_memory:
        # One connection for the whole store, or each call would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself: pysqlite's implicit BEGIN is always DEFERRED,
    # and a deferred transaction that reads then writes fails with SQLITE_BUSY instead of waiting.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")  # first, so the WAL switch itself waits too
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, across processes
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_OPTION, "deferred")
    connection.exec_driver_sql(_BEGIN[mode])
