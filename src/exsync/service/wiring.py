"""Open the business and mailbox sides a configuration names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from exsync.connector import Connector, Side, Staff
from exsync.settings import Config, ConfigError, PartSettings
from exsync.state.base import StoreBase
from exsync.state.records import ProfileRow

if TYPE_CHECKING:
    from exsync.testing.jsonfile import JsonFileStore


class BusinessSide(Protocol):
    """The business database: its staff list, and a connector per (profile, part)."""

    def staff(self) -> list[Staff]: ...

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector: ...

    def join_state_store(self, store: StoreBase) -> bool:
        """Commit writes together with their link rows when ``store`` is in the same database."""
        ...


class MailboxSide(Protocol):
    """The mailboxes: a connector per (profile, part)."""

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector: ...


@dataclass
class MemoryBusiness:
    """``[business] url = "memory:FILE"``: a JSON-file business side, for tests and trials."""

    path: Path

    def __post_init__(self) -> None:
        from exsync.testing.jsonfile import JsonFileStore

        self.store = JsonFileStore(self.path, Side.BUSINESS)

    def staff(self) -> list[Staff]:
        return self.store.staff()

    def join_state_store(self, store: StoreBase) -> bool:
        return False  # a file, never the state store's database

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector:
        from exsync.testing.memory import MemoryConnector

        return MemoryConnector(self.store, Side.BUSINESS, part, owner=profile.code)


@dataclass
class MemoryMailboxes:
    """``[mailbox] kind = "memory"``: one JSON file per mailbox in the ``data`` folder."""

    folder: Path
    # One store per mailbox file, shared by its parts (a store reloads itself when the file changes).
    stores: dict[str, JsonFileStore] = field(default_factory=dict)

    def connector(self, profile: ProfileRow, part: str, settings: PartSettings) -> Connector:
        from exsync.testing.jsonfile import JsonFileStore
        from exsync.testing.memory import MemoryConnector

        store = self.stores.get(profile.code)
        if store is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            store = JsonFileStore(self.folder / f"{profile.code}.json", Side.MAILBOX, name=profile.email)
            self.stores[profile.code] = store
        return MemoryConnector(store, Side.MAILBOX, part)


def open_business(config: Config) -> BusinessSide:
    url = config.business.url
    if url.startswith("memory:"):
        return MemoryBusiness(_memory_path(config, url[len("memory:") :]))
    from exsync.business.sql import SqlBusiness

    return SqlBusiness.open(url, config.business.mapping)


def open_mailbox(config: Config) -> MailboxSide:
    section = config.mailbox
    if section.kind == "memory" and section.data is not None:
        return MemoryMailboxes(Path(section.data))
    if section.kind == "graph":
        from exsync.mailbox.graph.side import graph_mailboxes

        return graph_mailboxes(section)
    if section.kind == "sandbox":
        from exsync.mailbox.graph.side import sandbox_mailboxes

        return sandbox_mailboxes(section)
    raise ConfigError(f'mailbox.kind: unknown kind "{section.kind}"', key="mailbox.kind")


def _memory_path(config: Config, raw: str) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else config.folder / path
