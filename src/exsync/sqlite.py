"""SQLite transactions that take the write lock when they start (state store and SQL connector)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

# Execution option read by the "begin" hook: write transactions take the write lock up front.
BEGIN_OPTION = "exsync_sqlite_begin"
_BEGIN = {"deferred": "BEGIN", "immediate": "BEGIN IMMEDIATE"}


def explicit_begin(engine: Engine, *, busy_timeout_ms: int = 30000) -> None:
    """Let SQLAlchemy issue BEGIN itself, IMMEDIATE on connections with ``BEGIN_OPTION="immediate"``.

    pysqlite's implicit BEGIN is always DEFERRED, and a deferred transaction that reads then writes
    fails with SQLITE_BUSY instead of waiting for the other writer.
    """
    event.listen(engine, "connect", lambda conn, _record: _connect(conn, busy_timeout_ms))
    event.listen(engine, "begin", _begin)


def _connect(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_OPTION, "deferred")
    connection.exec_driver_sql(_BEGIN[mode])
