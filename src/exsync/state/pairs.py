"""Per-(profile, part) bookkeeping: delta tokens, the settings fingerprint, pending retries, suspensions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, select

from exsync.state import tables as t
from exsync.state.base import StoreBase, columns_for, pair_of
from exsync.state.records import Pending, Suspension
from exsync.state.sql import upsert
from exsync.state.tables import utcnow


def _attempt_again(excluded: Any) -> dict[str, Any]:
    return {"error": excluded.error, "updated_at": excluded.updated_at, "attempts": t.pending.c.attempts + 1}


class PairStore(StoreBase):
    # delta tokens ---------------------------------------------------------------------------------

    def tokens(self, profile: str, part: str) -> dict[str, str]:
        """Collection name (``"mailbox"``, ``"mailbox:calendarView"``, …) -> delta token."""
        query = select(t.tokens.c.collection, t.tokens.c.token).where(pair_of(t.tokens, profile, part))
        with self._read() as conn:
            return dict(conn.execute(query).tuples().all())

    def save_tokens(self, profile: str, part: str, tokens: Mapping[str, str | None]) -> None:
        """Store the tokens of a finished round; a None token forgets that collection's token."""
        now = utcnow()
        keep = [
            {"profile": profile, "part": part, "collection": name, "token": token, "updated_at": now}
            for name, token in tokens.items()
            if token is not None
        ]
        forget = [name for name, token in tokens.items() if token is None]
        with self._write() as conn:
            upsert(conn, t.tokens, keep, ("profile", "part", "collection"))
            if forget:
                conn.execute(
                    delete(t.tokens).where(
                        pair_of(t.tokens, profile, part), t.tokens.c.collection.in_(forget)
                    )
                )

    def fingerprint(self, profile: str, part: str) -> str | None:
        """The fingerprint of the settings the pair's state was built with (a change forces a full run)."""
        query = select(t.fingerprints.c.value).where(pair_of(t.fingerprints, profile, part))
        with self._read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def save_fingerprint(self, profile: str, part: str, value: str) -> None:
        row = {"profile": profile, "part": part, "value": value, "updated_at": utcnow()}
        with self._write() as conn:
            upsert(conn, t.fingerprints, [row], ("profile", "part"))

    # pending retries ------------------------------------------------------------------------------

    def pending(self, profile: str, part: str) -> list[Pending]:
        query = (
            select(*columns_for(t.pending, Pending))
            .where(pair_of(t.pending, profile, part))
            .order_by(t.pending.c.side, t.pending.c.item_id)
        )
        with self._read() as conn:
            return [Pending(*row) for row in conn.execute(query)]

    def mark_pending(self, profile: str, part: str, items: Iterable[Pending]) -> None:
        """Remember failed items; an item already pending gets its attempts counted up and the new error."""
        now = utcnow()
        rows = (
            {
                "profile": profile,
                "part": part,
                "side": item.side,
                "item_id": item.item_id,
                "error": item.error,
                "attempts": item.attempts,
                "updated_at": now,
            }
            for item in items
        )
        with self._write() as conn:
            upsert(conn, t.pending, rows, ("profile", "part", "side", "item_id"), set_=_attempt_again)

    def clear_pending(self, profile: str, part: str, items: Iterable[tuple[str, str]]) -> None:
        """Forget the given (side, item_id) pairs: they were written, or are gone."""
        params = [{"b_side": side, "b_item": item_id} for side, item_id in items]
        if not params:
            return
        stmt = delete(t.pending).where(
            pair_of(t.pending, profile, part),
            t.pending.c.side == bindparam("b_side"),
            t.pending.c.item_id == bindparam("b_item"),
        )
        with self._write() as conn:
            conn.execute(stmt, params)

    # suspensions (guards, DESIGN rule 10) ---------------------------------------------------------

    def suspend(self, profile: str, part: str, reason: str) -> None:
        row = {"profile": profile, "part": part, "reason": reason, "at": utcnow()}
        with self._write() as conn:
            upsert(conn, t.suspensions, [row], ("profile", "part"))

    def resume(self, profile: str, part: str) -> bool:
        """Lift the pair's suspension; False when it was not suspended."""
        with self._write() as conn:
            return (
                conn.execute(delete(t.suspensions).where(pair_of(t.suspensions, profile, part))).rowcount > 0
            )

    def suspension(self, profile: str, part: str) -> Suspension | None:
        found = self._suspensions(pair_of(t.suspensions, profile, part))
        return found[0] if found else None

    def suspensions(self) -> list[Suspension]:
        return self._suspensions(None)

    def _suspensions(self, where: ColumnElement[bool] | None) -> list[Suspension]:
        s = t.suspensions
        query = select(*columns_for(s, Suspension)).order_by(s.c.profile, s.c.part)
        if where is not None:
            query = query.where(where)
        with self._read() as conn:
            return [Suspension(*row) for row in conn.execute(query)]
