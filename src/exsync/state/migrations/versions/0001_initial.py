"""The initial state store: links, tokens, fingerprints, pending, runs, conflicts, journal, settings,
suspensions, profiles, locks.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

JSON values are canonical JSON text (``Text``) and times ``DateTime(timezone=True)`` in UTC; the
store's column types (``exsync.state.tables``) wrap exactly these.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "links",
        _text("profile"),
        _text("part"),
        _text("key"),
        _text("business_id", nullable=True),
        _text("mailbox_id", nullable=True),
        _text("business_version"),
        _text("mailbox_version"),
        _text("snapshot", nullable=True),
        _flag("in_scope"),
        _flag("out_of_window"),
        _flag("removed_in_mailbox"),
        _flag("removed_in_business"),
        _flag("conflict"),
        _text("last_result"),
        _text("last_error"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("profile", "part", "key", name="pk_links"),
    )
    op.create_index(
        "ix_links_profile_part_mailbox_id", "links", ["profile", "part", "mailbox_id"], unique=True
    )
    op.create_index("ix_links_profile_part_business_id", "links", ["profile", "part", "business_id"])

    op.create_table(
        "tokens",
        _text("profile"),
        _text("part"),
        _text("collection"),
        _text("token"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("profile", "part", "collection", name="pk_tokens"),
    )
    op.create_table(
        "fingerprints",
        _text("profile"),
        _text("part"),
        _text("value"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("profile", "part", name="pk_fingerprints"),
    )
    op.create_table(
        "pending",
        _text("profile"),
        _text("part"),
        _text("side"),
        _text("item_id"),
        _text("error"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("profile", "part", "side", "item_id", name="pk_pending"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _text("profile"),
        _text("part"),
        _time("started_at"),
        _time("finished_at", nullable=True),
        _text("outcome"),
        _flag("dry_run"),
        _flag("full"),
        _text("counts"),
        _text("errors"),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_profile_part_id", "runs", ["profile", "part", "id"])

    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _text("profile"),
        _text("part"),
        _text("key"),
        _text("field"),
        _text("business_value", nullable=True),
        _text("mailbox_value", nullable=True),
        _text("business_version"),
        _text("mailbox_version"),
        _text("base_value", nullable=True),
        _text("winner"),
        _text("kept_value", nullable=True),
        _flag("resolved"),
        _time("at"),
        sa.PrimaryKeyConstraint("id", name="pk_conflicts"),
    )
    op.create_index("ix_conflicts_profile_part_key_field", "conflicts", ["profile", "part", "key", "field"])

    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _text("profile"),
        _text("part"),
        sa.Column("run_id", sa.Integer(), nullable=False),
        _text("side"),
        _text("action"),
        _text("key"),
        _text("item_id", nullable=True),
        _text("before", nullable=True),
        _text("after", nullable=True),
        _text("status"),
        _text("error"),
        _time("at"),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
    )
    op.create_index("ix_journal_profile_part_status", "journal", ["profile", "part", "status"])
    op.create_index("ix_journal_profile_part_key", "journal", ["profile", "part", "key"])

    op.create_table(
        "settings",
        _text("level"),
        _text("profile"),
        _text("key"),
        _text("value", nullable=True),
        _text("actor"),
        _text("by"),
        _time("at"),
        sa.PrimaryKeyConstraint("level", "profile", "key", name="pk_settings"),
    )
    op.create_table(
        "suspensions",
        _text("profile"),
        _text("part"),
        _text("reason"),
        _time("at"),
        sa.PrimaryKeyConstraint("profile", "part", name="pk_suspensions"),
    )
    op.create_table(
        "profiles",
        _text("code"),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        _text("email"),
        _text("name"),
        _text("time_zone"),
        _flag("active"),
        _text("stopped_reason"),
        sa.PrimaryKeyConstraint("code", name="pk_profiles"),
    )
    op.create_table(
        "locks",
        _text("profile"),
        _text("part"),
        _text("holder"),
        _time("acquired_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("profile", "part", name="pk_locks"),
    )


def downgrade() -> None:
    for table in (
        "locks",
        "profiles",
        "suspensions",
        "settings",
        "journal",
        "conflicts",
        "runs",
        "pending",
        "fingerprints",
        "tokens",
        "links",
    ):
        op.drop_table(table)
