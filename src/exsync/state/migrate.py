"""Create or upgrade the state store's schema with the Alembic migrations shipped in this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from exsync.state.engine import BEGIN_OPTION

MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works: it only has to be the same for every exsync process sharing a PostgreSQL database.
_PG_MIGRATION_LOCK = 0x65787379


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file (also usable for ``command.revision`` during development)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine) -> None:
    """Bring the schema to head; safe when several processes start at once on the same database."""
    with engine.execution_options(**{BEGIN_OPTION: "immediate"}).begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent starts: the loser waits, then finds the schema at head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), "head")
