"""Fixtures of the business side's tests: a reference database on each dialect.

PostgreSQL and MariaDB databases are created once per session (creating one with the schema
takes a second or more) and emptied before each test; SQLite gets a new file per test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlfirm import DIALECTS, Firm, open_firm, release

from exsync.business.reference.schema import create_schema, schema_sql
from exsync.business.sql.engine import business_engine


def _shared(server: object, create_options: str = "") -> Iterator[str]:
    admin = server.admin()  # type: ignore[attr-defined]
    name = f"exsync_biz_{uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} {create_options}")
    url = make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    engine = business_engine(url)
    create_schema(engine)
    engine.dispose()
    try:
        yield url
    finally:
        release(url)
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                    "AND pid <> pg_backend_pid()"
                )
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture(scope="session")
def shared_postgres(postgres_server: object) -> Iterator[str]:
    yield from _shared(postgres_server)


@pytest.fixture(scope="session")
def shared_mariadb(mariadb_server: object) -> Iterator[str]:
    yield from _shared(mariadb_server, "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")


# Children before parents; tombstones last (the delete triggers write them).
_TABLES = [
    *(
        t
        for t in reversed(re.findall(r"^CREATE TABLE (\w+)", schema_sql("sqlite"), re.MULTILINE))
        if t != "exsync_tombstones"
    ),
    "exsync_stamps",
    "exsync_tombstones",
]


def _emptied(url: str) -> str:
    engine = business_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        tables = [t for t in _TABLES if t in present]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            else:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
                for name in tables:
                    conn.exec_driver_sql(f"DELETE FROM {name}")
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=DIALECTS)
def firm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Firm]:
    """The reference schema with three staff members, once per dialect."""
    if request.param == "sqlite":
        yield from open_firm(f"sqlite:///{tmp_path / 'firm.db'}")
    else:
        yield from open_firm(_emptied(request.getfixturevalue(f"shared_{request.param}")), shared=True)


@pytest.fixture
def sqlite_firm(tmp_path: Path) -> Iterator[Firm]:
    yield from open_firm(f"sqlite:///{tmp_path / 'firm.db'}")
