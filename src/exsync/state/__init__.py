"""The state store: links, delta tokens, runs, conflicts, the write journal, settings changes and locks."""

from exsync.state.locks import holder_is_dead, make_holder
from exsync.state.records import (
    ConflictEntry,
    Fields,
    JournalEntry,
    Link,
    LockInfo,
    Pending,
    ProfileRow,
    RunRecord,
    SettingChange,
    Suspension,
)
from exsync.state.store import StateStore

__all__ = [
    "ConflictEntry",
    "Fields",
    "JournalEntry",
    "Link",
    "LockInfo",
    "Pending",
    "ProfileRow",
    "RunRecord",
    "SettingChange",
    "StateStore",
    "Suspension",
    "holder_is_dead",
    "make_holder",
]
