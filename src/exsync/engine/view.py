"""What a run knows about one side: its listing and the items it fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from exsync.connector import Changes, Entry, Record, Scope, Side
from exsync.state.records import Link


@dataclass(slots=True)
class SideView:
    side: Side
    full: bool
    listed: dict[str, Entry]
    removed: set[str] = field(default_factory=set)
    records: dict[str, Record] = field(default_factory=dict)
    fetched: set[str] = field(default_factory=set)  # ids asked for; those without a record are gone
    # Creation order of items sharing a stamp (from ``find``): the oldest is the original, the
    # others are a user's copies (rule 6).
    age: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, side: Side, changes: Changes) -> SideView:
        return cls(side, changes.full, {e.id: e for e in changes.entries}, set(changes.removed))

    def add(self, records: dict[str, Record], asked: set[str]) -> None:
        self.records.update(records)
        self.fetched |= asked


class Status(Enum):
    UNCHANGED = "unchanged"  # the version we recorded: the side still holds the snapshot
    SAME = "same"  # a new version with the same projection (bookkeeping only)
    CHANGED = "changed"
    GONE = "gone"  # deleted (hard)
    DELETED = "soft-deleted"
    OUT = "out of scope"
    WINDOW = "outside the window"
    MISSING = "no item"  # the link has no item on this side (removed earlier)


@dataclass(frozen=True, slots=True)
class SideState:
    status: Status
    record: Record | None = None
    version: str = ""

    @property
    def exists(self) -> bool:
        return self.status in (Status.UNCHANGED, Status.SAME, Status.CHANGED)

    @property
    def edited(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def removed(self) -> bool:
        return self.status in (Status.GONE, Status.DELETED, Status.MISSING)


def item_id(link: Link, side: Side) -> str | None:
    return link.business_id if side is Side.BUSINESS else link.mailbox_id


def recorded_version(link: Link, side: Side) -> str:
    return link.business_version if side is Side.BUSINESS else link.mailbox_version


_SCOPES = {Scope.FILTER: Status.OUT, Scope.WINDOW: Status.WINDOW, Scope.DELETED: Status.DELETED}


def side_state(link: Link, view: SideView) -> SideState:
    """Where one side of a link stands, from the listing and what was fetched."""
    ident = item_id(link, view.side)
    if ident is None:
        return SideState(Status.MISSING)
    record = view.records.get(ident)
    if record is None:
        if ident in view.fetched:
            return SideState(Status.GONE)
        return SideState(Status.UNCHANGED, version=recorded_version(link, view.side))
    if record.scope is not Scope.IN:
        return SideState(_SCOPES[record.scope], record, record.version)
    if record.version == recorded_version(link, view.side) and not link.conflict:
        return SideState(Status.UNCHANGED, record, record.version)
    if link.snapshot is not None and record.item.projection() == link.snapshot:
        return SideState(Status.SAME, record, record.version)
    return SideState(Status.CHANGED, record, record.version)
