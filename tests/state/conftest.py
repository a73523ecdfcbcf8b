from __future__ import annotations

from collections.abc import Iterator

import pytest

from exsync.state import StateStore


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    """A migrated state store, on SQLite and on PostgreSQL."""
    store = StateStore(state_url)
    yield store
    store.close()
