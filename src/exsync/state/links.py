"""Links: the rows joining a business record to a mailbox item, with the last agreed snapshot."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.engine import Connection

from exsync.state.base import StoreBase, columns_for, pair_of
from exsync.state.records import Fields, Link
from exsync.state.sql import IN_CHUNK, chunks
from exsync.state.sql import upsert as upsert_rows
from exsync.state.tables import links, utcnow

_LINK = columns_for(links, Link)
_WITHOUT_SNAPSHOT = tuple(c for c in _LINK if c.name != "snapshot")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Build many objects without the cyclic GC rescanning the heap as they pile up: for 100,000 links
    those collections cost about 40% of the load, and a load creates no cycles to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _row(profile: str, part: str, link: Link, now: datetime) -> dict[str, Any]:
    return {
        "profile": profile,
        "part": part,
        "key": link.key,
        "business_id": link.business_id,
        "mailbox_id": link.mailbox_id,
        "business_version": link.business_version,
        "mailbox_version": link.mailbox_version,
        "snapshot": link.snapshot,
        "in_scope": link.in_scope,
        "out_of_window": link.out_of_window,
        "removed_in_mailbox": link.removed_in_mailbox,
        "removed_in_business": link.removed_in_business,
        "conflict": link.conflict,
        "last_result": link.last_result,
        "last_error": link.last_error,
        "updated_at": now,
    }


def _keep_snapshot(excluded: Any) -> dict[str, Any]:
    """Overwrite every column, except that a Link saved without its snapshot keeps the stored one."""
    values = {c.name: excluded[c.name] for c in links.columns if not c.primary_key}
    values["snapshot"] = func.coalesce(excluded.snapshot, links.c.snapshot)
    return values


class LinkStore(StoreBase):
    def links(self, profile: str, part: str) -> dict[str, Link]:
        """Every link of the pair, keyed by correlation key, without snapshots (the hot path)."""
        query = select(*_WITHOUT_SNAPSHOT).where(pair_of(links, profile, part))
        with self._read() as conn, _gc_paused():
            # Unpacking each row by name is the cheapest way to put the snapshot's None in its place.
            return {
                k: Link(k, b, m, bv, mv, None, s, w, rm, rb, c, lr, le, u)
                for k, b, m, bv, mv, s, w, rm, rb, c, lr, le, u in conn.execute(query).all()
            }

    def snapshots(self, profile: str, part: str, keys: Iterable[str]) -> dict[str, Fields]:
        """The stored snapshots of ``keys`` (keys without a link or a snapshot are left out)."""
        found: dict[str, Fields] = {}
        with self._read() as conn:
            for batch in chunks(keys, IN_CHUNK):
                query = select(links.c.key, links.c.snapshot).where(
                    pair_of(links, profile, part), links.c.key.in_(batch), links.c.snapshot.is_not(None)
                )
                found.update(conn.execute(query).tuples().all())
        return found

    def link(self, profile: str, part: str, key: str) -> Link | None:
        return self._one(profile, part, links.c.key == key)

    def link_by_mailbox(self, profile: str, part: str, mailbox_id: str) -> Link | None:
        return self._one(profile, part, links.c.mailbox_id == mailbox_id)

    def link_by_business(self, profile: str, part: str, business_id: str) -> Link | None:
        """The link of a business row (the first by key, should several links name the same row)."""
        return self._one(profile, part, links.c.business_id == business_id)

    def _one(self, profile: str, part: str, where: ColumnElement[bool]) -> Link | None:
        query = select(*_LINK).where(pair_of(links, profile, part), where).order_by(links.c.key).limit(1)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else Link(*row)

    def save_links(self, profile: str, part: str, upsert: Iterable[Link], drop: Iterable[str] = ()) -> None:
        """Drop then upsert, in one transaction (dropping first frees mailbox ids the upserts may take).

        A link whose ``snapshot`` is None keeps its stored snapshot: None means "not loaded".
        """
        now = utcnow()
        with self._write() as conn:
            self._drop(conn, profile, part, drop)
            upsert_rows(
                conn,
                links,
                (_row(profile, part, link, now) for link in upsert),
                ("profile", "part", "key"),
                set_=_keep_snapshot,
            )

    @staticmethod
    def _drop(conn: Connection, profile: str, part: str, keys: Iterable[str]) -> None:
        for batch in chunks(keys, IN_CHUNK):
            conn.execute(delete(links).where(pair_of(links, profile, part), links.c.key.in_(batch)))

    def count_links(self, profile: str, part: str) -> int:
        with self._read() as conn:
            return conn.execute(
                select(func.count()).select_from(links).where(pair_of(links, profile, part))
            ).scalar_one()

    def delete_links(self, profile: str, part: str) -> None:
        """Forget every link of the pair (what a lost state store looks like)."""
        with self._write() as conn:
            conn.execute(delete(links).where(pair_of(links, profile, part)))
