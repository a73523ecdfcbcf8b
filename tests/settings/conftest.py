"""Helpers for the settings tests: config files in tmp_path and a list-backed settings store."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from exsync.settings import Config, load_config
from exsync.state.records import SettingChange

BASE = """
[business]
url = "sqlite:///firm.db"

[mailbox]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = { env = "EXSYNC_TEST_CLIENT_SECRET" }
"""

WriteConfig = Callable[..., Config]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write BASE plus ``extra`` (or ``text`` instead of BASE) to tmp_path/exsync.toml and load it."""

    def write(extra: str = "", *, text: str | None = None, name: str = "exsync.toml") -> Config:
        body = textwrap.dedent(text) if text is not None else BASE + textwrap.dedent(extra)
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return load_config(path)

    return write


class FakeStore:
    """The settings-store protocol over a list; set replaces the change in the same slot."""

    def __init__(self, changes: list[SettingChange] | None = None) -> None:
        self.changes: list[SettingChange] = list(changes or [])

    def setting_changes(self) -> list[SettingChange]:
        return list(self.changes)

    def set_setting(self, change: SettingChange, /) -> None:
        self.unset_setting(change.level, change.profile, change.key)
        self.changes.append(change)

    def unset_setting(self, level: str, profile: str | None, key: str, /) -> bool:
        before = len(self.changes)
        self.changes = [
            c for c in self.changes if not (c.level == level and c.profile == profile and c.key == key)
        ]
        return len(self.changes) != before


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()
