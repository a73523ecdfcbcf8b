"""Engines for the state store: SQLite tuned for several processes, PostgreSQL as is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from exsync.sqlite import BEGIN_OPTION, explicit_begin

__all__ = ["BEGIN_OPTION", "SUPPORTED", "make_engine"]

SUPPORTED = ("sqlite", "postgresql")


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
    explicit_begin(engine)
    event.listen(engine, "connect", _wal)
    return engine


def _wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, across processes
    finally:
        cursor.close()
