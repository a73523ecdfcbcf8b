"""The schema comes from the shipped Alembic migrations and matches the tables' metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from exsync.state import Link, StateStore
from exsync.state.migrate import head
from exsync.state.tables import metadata


def test_migrated_schema_matches_the_metadata(store: StateStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == head() == "0001"
        tables = set(inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables


def test_reopening_keeps_the_data_and_does_not_migrate_again(state_url: str) -> None:
    with StateStore(state_url) as first:
        first.save_links("JD", "contacts", [Link("contacts:people:1", "1", "AAA")])
    with StateStore(state_url) as second:
        assert second.count_links("JD", "contacts") == 1


def test_create_false_leaves_an_empty_database_alone(state_url: str) -> None:
    with StateStore(state_url, create=False) as store:
        with store.engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        with pytest.raises(SQLAlchemyError):
            store.count_links("JD", "contacts")


def test_in_memory_sqlite_is_one_database_for_every_call() -> None:
    with StateStore("sqlite://") as store:
        store.save_links("JD", "contacts", [Link("contacts:people:1", "1", "AAA")])
        assert store.count_links("JD", "contacts") == 1
        assert store.link("JD", "contacts", "contacts:people:1") is not None


def test_an_unsupported_database_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="postgresql"):
        StateStore("mysql+pymysql://root@127.0.0.1/x")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    with StateStore(f"sqlite:///{tmp_path}/s.db") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
