"""What every part of the state store shares: the engine and the two kinds of transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from sqlalchemy import Column, ColumnElement, Engine, Table
from sqlalchemy.engine import Connection

from exsync.state.engine import BEGIN_OPTION


def columns_for(table: Table, record: type[Any]) -> tuple[Column[Any], ...]:
    """The table's columns named like the record's fields, in field order, so ``record(*row)`` works."""
    return tuple(table.c[f.name] for f in fields(record))


def pair_of(table: Table, profile: str, part: str) -> ColumnElement[bool]:
    return (table.c.profile == profile) & (table.c.part == part)


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{BEGIN_OPTION: "immediate"})

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction, committed on success; on SQLite it holds the write lock from its start."""
        with self._writer.begin() as conn:
            yield conn

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()
