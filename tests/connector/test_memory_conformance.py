"""The conformance suite on the in-memory connector: both sides, every synced part."""

from __future__ import annotations

from typing import Any

import pytest

from exsync.connector import Connector, Side
from exsync.testing import MemoryConnector, MemoryStore
from exsync.testing.conformance import ConnectorConformance

CASES = [(side, part) for side in Side for part in ("contacts", "calendar", "tasks")]


def memory(connector: Connector) -> MemoryConnector:
    assert isinstance(connector, MemoryConnector)
    return connector


class TestMemoryConformance(ConnectorConformance):
    @pytest.fixture(params=CASES, ids=[f"{side.value}-{part}" for side, part in CASES])
    def connector(self, request: pytest.FixtureRequest) -> MemoryConnector:
        side, part = request.param
        return MemoryConnector(MemoryStore(side), side, part)

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        memory(connector).store.edit(id, **fields)

    def outside_delete(self, connector: Connector, id: str) -> None:
        memory(connector).store.remove(id)

    def outside_touch(self, connector: Connector, id: str) -> None:
        memory(connector).store.touch(id)


class TestWithoutHooks(ConnectorConformance):
    """A subclass that provides no outside hooks: the tests needing them skip, the rest pass."""

    @pytest.fixture
    def connector(self) -> MemoryConnector:
        return MemoryConnector(MemoryStore(Side.MAILBOX), Side.MAILBOX, "contacts")
