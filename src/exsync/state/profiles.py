"""Provisioned profiles and the settings changed through the CLI or the web console."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import delete, select

from exsync.state import tables as t
from exsync.state.base import StoreBase, columns_for
from exsync.state.records import ProfileRow, SettingChange
from exsync.state.sql import upsert
from exsync.state.tables import utcnow

_NO_PROFILE = ""  # the defaults level's profile in the table (None is not allowed in a primary key)
_PROFILE = columns_for(t.profiles, ProfileRow)
_SETTING = columns_for(t.settings, SettingChange)


class ProfileStore(StoreBase):
    # settings changes -----------------------------------------------------------------------------

    def setting_changes(self) -> list[SettingChange]:
        """Oldest first."""
        s = t.settings
        query = select(*_SETTING).order_by(s.c.at, s.c.level, s.c.profile, s.c.key)
        with self._read() as conn:
            changes = [SettingChange(*row) for row in conn.execute(query)]
        for change in changes:
            change.profile = change.profile or None
        return changes

    def set_setting(self, change: SettingChange) -> None:
        """Record a change (replacing an earlier one of the same level, profile and key), stamped now."""
        row = asdict(change)
        row["profile"] = change.profile or _NO_PROFILE
        row["at"] = utcnow()
        with self._write() as conn:
            upsert(conn, t.settings, [row], ("level", "profile", "key"))

    def unset_setting(self, level: str, profile: str | None, key: str) -> bool:
        """Forget a change (the layer below applies again); False when there was none."""
        s = t.settings
        stmt = delete(s).where(s.c.level == level, s.c.profile == (profile or _NO_PROFILE), s.c.key == key)
        with self._write() as conn:
            return conn.execute(stmt).rowcount > 0

    # profiles -------------------------------------------------------------------------------------

    def profiles(self) -> list[ProfileRow]:
        """Ordered by staff id (the order runs go in)."""
        query = select(*_PROFILE).order_by(t.profiles.c.staff_id, t.profiles.c.code)
        with self._read() as conn:
            return [ProfileRow(*row) for row in conn.execute(query)]

    def profile(self, code: str) -> ProfileRow | None:
        query = select(*_PROFILE).where(t.profiles.c.code == code)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else ProfileRow(*row)

    def save_profile(self, row: ProfileRow) -> None:
        with self._write() as conn:
            upsert(conn, t.profiles, [asdict(row)], ("code",))
