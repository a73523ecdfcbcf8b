"""What happened: runs, the conflict log and the write journal (DESIGN rules 2 and 9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, insert, select, update

from exsync.state import tables as t
from exsync.state.base import StoreBase, columns_for, pair_of
from exsync.state.records import ConflictEntry, JournalEntry, RunRecord
from exsync.state.sql import IN_CHUNK, chunks
from exsync.state.tables import json_text, utcnow


def _filtered(query: Select[Any], table: Table, **equal: Any) -> Select[Any]:
    """``query`` narrowed to the given column values; a None value means "any"."""
    for name, value in equal.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    return query


_RUN = columns_for(t.runs, RunRecord)
_CONFLICT = columns_for(t.conflicts, ConflictEntry)
_JOURNAL = columns_for(t.journal, JournalEntry)


def _insertable(entry: ConflictEntry | JournalEntry, at: datetime) -> dict[str, Any]:
    row = asdict(entry)
    del row["id"]  # the database numbers them
    row["at"] = at
    return row


class HistoryStore(StoreBase):
    # runs -----------------------------------------------------------------------------------------

    def start_run(self, profile: str, part: str, *, dry_run: bool, full: bool) -> int:
        stmt = (
            insert(t.runs)
            .values(
                profile=profile,
                part=part,
                started_at=utcnow(),
                outcome="running",
                dry_run=dry_run,
                full=full,
                counts={},
                errors=[],
            )
            .returning(t.runs.c.id)
        )
        with self._write() as conn:
            run_id: int = conn.execute(stmt).scalar_one()
        return run_id

    def finish_run(
        self, run_id: int, outcome: str, counts: dict[str, Any], errors: list[dict[str, Any]]
    ) -> None:
        stmt = (
            update(t.runs)
            .where(t.runs.c.id == run_id)
            .values(outcome=outcome, counts=counts, errors=errors, finished_at=utcnow())
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise KeyError(f"no run {run_id}")

    def runs(self, profile: str | None = None, part: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first."""
        query = _filtered(select(*_RUN), t.runs, profile=profile, part=part)
        with self._read() as conn:
            return [RunRecord(*row) for row in conn.execute(query.order_by(t.runs.c.id.desc()).limit(limit))]

    def last_run(self, profile: str, part: str) -> RunRecord | None:
        found = self.runs(profile, part, limit=1)
        return found[0] if found else None

    # conflict log ---------------------------------------------------------------------------------

    def log_conflicts(self, entries: Iterable[ConflictEntry]) -> int:
        """Log conflicts; one already logged and unresolved with the same values is not logged again
        (a record-only conflict is seen again every run). Returns how many were added."""
        c = t.conflicts
        added = 0
        now = utcnow()
        with self._write() as conn:
            for entry in entries:
                same_place = (
                    pair_of(c, entry.profile, entry.part)
                    & (c.c.key == entry.key)
                    & (c.c.field == entry.field)
                    & ~c.c.resolved
                )
                seen = {
                    (json_text(b), json_text(m))
                    for b, m in conn.execute(select(c.c.business_value, c.c.mailbox_value).where(same_place))
                }
                if (json_text(entry.business_value), json_text(entry.mailbox_value)) in seen:
                    continue
                conn.execute(insert(c), _insertable(entry, now))
                added += 1
        return added

    def conflicts(
        self,
        profile: str | None = None,
        part: str | None = None,
        unresolved_only: bool = False,
        limit: int = 500,
    ) -> list[ConflictEntry]:
        """Newest first."""
        query = _filtered(select(*_CONFLICT), t.conflicts, profile=profile, part=part)
        if unresolved_only:
            query = query.where(~t.conflicts.c.resolved)
        query = query.order_by(t.conflicts.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [ConflictEntry(*row) for row in conn.execute(query)]

    def resolve_conflicts(
        self, profile: str, part: str, key: str, fields: Iterable[str] | None = None
    ) -> int:
        """Mark the key's unresolved conflicts (all, or those of ``fields``) resolved; returns how many."""
        c = t.conflicts
        where: ColumnElement[bool] = pair_of(c, profile, part) & (c.c.key == key) & ~c.c.resolved
        if fields is not None:
            where = where & c.c.field.in_(list(fields))
        with self._write() as conn:
            return conn.execute(update(c).where(where).values(resolved=True)).rowcount

    # write journal --------------------------------------------------------------------------------

    def journal(self, entries: Iterable[JournalEntry]) -> list[int]:
        """Journal intended writes (before they are made); returns their ids in the given order."""
        now = utcnow()
        rows = [_insertable(entry, now) for entry in entries]
        if not rows:
            return []
        stmt = insert(t.journal).returning(t.journal.c.id, sort_by_parameter_order=True)
        with self._write() as conn:
            return list(conn.execute(stmt, rows).scalars())

    def journal_finish(self, results: Iterable[tuple[int, str, Any, str]]) -> None:
        """Record outcomes as (id, status, after, error); an ``after`` of None keeps the journaled one."""
        params = [
            {"b_id": id_, "b_status": s, "b_after": after, "b_error": e} for id_, s, after, e in results
        ]
        if not params:
            return
        j = t.journal
        stmt = (
            update(j)
            .where(j.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                error=bindparam("b_error"),
                after=func.coalesce(bindparam("b_after", type_=j.c.after.type), j.c.after),
            )
        )
        with self._write() as conn:
            conn.execute(stmt, params)

    def journal_entries(
        self, profile: str | None = None, part: str | None = None, key: str | None = None, limit: int = 100
    ) -> list[JournalEntry]:
        """Newest first."""
        query = _filtered(select(*_JOURNAL), t.journal, profile=profile, part=part, key=key)
        with self._read() as conn:
            return [
                JournalEntry(*row) for row in conn.execute(query.order_by(t.journal.c.id.desc()).limit(limit))
            ]

    def interrupt_pending(self, profile: str, part: str) -> list[JournalEntry]:
        """Mark the pair's still-pending writes (a crashed run's intents) interrupted and return them,
        oldest first, for the next run to check against both sides."""
        j = t.journal
        query = select(*_JOURNAL).where(pair_of(j, profile, part), j.c.status == "pending").order_by(j.c.id)
        with self._write() as conn:
            found = [JournalEntry(*row) for row in conn.execute(query)]
            for batch in chunks([entry.id for entry in found], IN_CHUNK):
                conn.execute(update(j).where(j.c.id.in_(batch)).values(status="interrupted"))
        for entry in found:
            entry.status = "interrupted"
        return found
