"""Alembic environment: the caller (``exsync.state.migrate``) hands over an open connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from exsync.state.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the state migrations through exsync.state.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
