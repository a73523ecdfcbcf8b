"""Fixtures shared by the whole test suite: throw-away databases on the local servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from services import need_service

POSTGRES_ADMIN_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/postgres",
)
MARIADB_ADMIN_URLS = ("mysql+pymysql://root@127.0.0.1:3306/",)


@dataclass(frozen=True)
class Server:
    name: str
    admin_url: str | None  # None: not reachable
    problem: str = ""

    def admin(self) -> Engine:
        if self.admin_url is None:
            need_service(self.name, self.problem)
        return create_engine(self.admin_url, isolation_level="AUTOCOMMIT")


def _probe(name: str, urls: tuple[str, ...]) -> Server:
    problems = []
    for url in urls:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return Server(name, url)
        except SQLAlchemyError as exc:
            problems.append(f"{make_url(url).render_as_string()}: {str(exc.orig or exc).strip()}")
        finally:
            engine.dispose()
    return Server(name, None, "no connection (" + "; ".join(problems) + ")")


@pytest.fixture(scope="session")
def postgres_server() -> Server:
    """Checked once per session: is PostgreSQL listening at 127.0.0.1:5432, as postgres or root?"""
    return _probe("PostgreSQL at 127.0.0.1:5432", POSTGRES_ADMIN_URLS)


@pytest.fixture(scope="session")
def mariadb_server() -> Server:
    return _probe("MariaDB at 127.0.0.1:3306", MARIADB_ADMIN_URLS)


def _test_database_name() -> str:
    return f"exsync_test_{uuid4().hex[:8]}"  # only [a-z0-9_]: safe to put into DDL unquoted


@pytest.fixture
def postgres_url(postgres_server: Server) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = postgres_server.admin()
    name = _test_database_name()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        yield make_url(admin.url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.dispose()


@pytest.fixture
def mariadb_url(mariadb_server: Server) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    admin = mariadb_server.admin()
    name = _test_database_name()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield make_url(admin.url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            sessions = conn.execute(
                text(
                    "SELECT id FROM information_schema.processlist WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            ).scalars()
            for session in list(sessions):
                conn.execute(text("KILL :id"), {"id": int(session)})
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A state store URL, once on SQLite (a file) and once on PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('state') / 'exsync-state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
