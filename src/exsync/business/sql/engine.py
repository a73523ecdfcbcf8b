"""SQLAlchemy engines for a firm's database, whatever its dialect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from exsync.connector.errors import Unavailable
from exsync.settings import ConfigError
from exsync.sqlite import explicit_begin


def business_engine(url: str) -> Engine:
    """An engine for ``url``; a URL SQLAlchemy cannot use is a ``ConfigError`` on ``business.url``.

    MariaDB/MySQL sessions run in UTC so DATETIME change-tracking columns compare with our watermarks;
    SQLite waits for a busy database instead of failing (the business application writes too).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: a URL may carry a password.
        raise ConfigError(
            "business.url: this is not a database URL. Fix: write a SQLAlchemy URL such as "
            '"sqlite:///firm.db" or "postgresql+psycopg://user@host/firm"',
            key="business.url",
        ) from None
    backend = parsed.get_backend_name()
    try:
        kwargs: dict[str, Any] = {} if backend == "sqlite" else {"pool_pre_ping": True}
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"business.url: cannot open {parsed.drivername!r} databases ({type(exc).__name__}: {exc}). "
            "Fix: write a SQLAlchemy "
            'URL such as "sqlite:///firm.db", "postgresql+psycopg://user@host/firm" or '
            '"mysql+pymysql://user@host/firm" (and install that driver)',
            key="business.url",
        ) from None
    if backend == "sqlite":
        explicit_begin(engine)
        event.listen(engine, "connect", _foreign_keys)
    elif backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", _utc_session)
    return engine


def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")  # the schema's ON DELETE CASCADE of child rows
    finally:
        cursor.close()


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET time_zone = '+00:00'")
    finally:
        cursor.close()


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """A database that cannot be reached is the whole side failing (``Unavailable``), said in words."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0][:300]
        raise Unavailable(
            f"business database: cannot reach it ({reason}). Fix: check [business] url"
        ) from None
