"""One writer per (profile, part) (DESIGN rule 11): a leased lock row, taken over when its holder died.

Atomicity comes from the database, not from a read-then-write: the first holder gets the row with an
INSERT that does nothing on a conflicting primary key, and a takeover is an UPDATE that only matches
the exact holder and lease it judged dead, so of two processes racing for it one updates a row and
the other updates none.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from sqlalchemy import delete, select, update

from exsync.state.base import StoreBase, columns_for, pair_of
from exsync.state.records import LockInfo
from exsync.state.sql import upsert
from exsync.state.tables import locks, utcnow


def make_holder() -> str:
    """``host:pid:token``: who holds a lock, precise enough to tell when that process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True only when the holder is a process of this host that no longer runs.

    A holder on another host, or one we cannot parse, counts as alive: only its lease can end it.
    """
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host != socket.gethostname() or pid <= 0:
        return False
    if pid == os.getpid():
        return False  # another store in this very process: alive by definition
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by another user
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet still answers signal 0 (Linux only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class LockStore(StoreBase):
    make_holder = staticmethod(make_holder)  # also reachable from a store object

    def acquire_lock(self, profile: str, part: str, holder: str, *, lease_seconds: float = 600) -> bool:
        """Take the pair's lock for ``lease_seconds``; False while another live holder has it.

        Taking it again with the same holder renews it.
        """
        for _ in range(3):  # the row may vanish between our attempts (released); then simply retry
            now = utcnow()
            expires = now + timedelta(seconds=lease_seconds)
            row = {
                "profile": profile,
                "part": part,
                "holder": holder,
                "acquired_at": now,
                "expires_at": expires,
            }
            with self._write() as conn:
                if upsert(conn, locks, [row], ("profile", "part"), on_conflict="nothing") == 1:
                    return True
            current = self.lock_holder(profile, part)
            if current is None:
                continue
            if current.holder == holder:
                return self.renew_lock(profile, part, holder, lease_seconds)
            if current.expires_at > now and not holder_is_dead(current.holder):
                return False
            takeover = (
                update(locks)
                .where(
                    pair_of(locks, profile, part),
                    locks.c.holder == current.holder,
                    locks.c.expires_at == current.expires_at,
                )
                .values(holder=holder, acquired_at=now, expires_at=expires)
            )
            with self._write() as conn:
                return conn.execute(takeover).rowcount == 1
        return False

    def renew_lock(self, profile: str, part: str, holder: str, lease_seconds: float) -> bool:
        """Extend the lease; False when ``holder`` no longer holds the lock (it was taken over)."""
        stmt = (
            update(locks)
            .where(pair_of(locks, profile, part), locks.c.holder == holder)
            .values(expires_at=utcnow() + timedelta(seconds=lease_seconds))
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def release_lock(self, profile: str, part: str, holder: str) -> None:
        """Give the lock up (a no-op when ``holder`` does not hold it any more)."""
        with self._write() as conn:
            conn.execute(delete(locks).where(pair_of(locks, profile, part), locks.c.holder == holder))

    def lock_holder(self, profile: str, part: str) -> LockInfo | None:
        query = select(*columns_for(locks, LockInfo)).where(pair_of(locks, profile, part))
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else LockInfo(*row)
