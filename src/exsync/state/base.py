"""What every part of the state store shares: the engine and the two kinds of transaction."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from sqlalchemy import Column, ColumnElement, Engine, Table
from sqlalchemy.engine import Connection

from exsync.state.engine import BEGIN_OPTION


def _where(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return f"memory:{id(engine)}"  # an in-memory database is only ever its own engine's
        return f"sqlite:{os.path.realpath(database)}"
    return url.set(drivername=url.get_backend_name(), password=None).render_as_string(hide_password=True)


def columns_for(table: Table, record: type[Any]) -> tuple[Column[Any], ...]:
    """The table's columns named like the record's fields, in field order, so ``record(*row)`` works."""
    return tuple(table.c[f.name] for f in fields(record))


def pair_of(table: Table, profile: str, part: str) -> ColumnElement[bool]:
    return (table.c.profile == profile) & (table.c.part == part)


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{BEGIN_OPTION: "immediate"})
        self._local = threading.local()  # the connection of a ``joined`` transaction, per thread

    @contextmanager
    def joined(self, conn: Connection) -> Iterator[None]:
        """Within: this thread's calls run on ``conn``, inside its owner's transaction.

        The SQL business connector uses it when the state store lives in the business database, so
        the rows sync writes and the links that record them commit (or roll back) together.
        """
        self._local.conn = conn
        try:
            yield
        finally:
            self._local.conn = None

    def _shared(self) -> Connection | None:
        conn: Connection | None = getattr(self._local, "conn", None)
        return conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        shared = self._shared()
        if shared is not None:
            yield shared
            return
        with self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction, committed on success; on SQLite it holds the write lock from its start."""
        shared = self._shared()
        if shared is not None:
            yield shared  # committed with the joined transaction
            return
        with self._writer.begin() as conn:
            yield conn

    def same_database(self, engine: Engine) -> bool:
        """True when ``engine`` opens the database this store is in."""
        return _where(engine) == _where(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()
