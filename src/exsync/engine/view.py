"""What a run knows about one side: its listing and the items it fetched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any

from exsync.connector import Changes, Connector, Entry, Record, Scope, Side
from exsync.model import Fields
from exsync.state.records import Link

NO_LIMITS: Mapping[str, int] = MappingProxyType({})
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


def limits_of(connector: Connector) -> Mapping[str, int]:
    """The most values a side holds of each list field (the optional ``Connector.limits``)."""
    return getattr(connector, "limits", NO_LIMITS)


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
    limits: Mapping[str, int] = field(default_factory=lambda: NO_LIMITS)  # the side's capacity: see ``read``
    replaced: bool = False  # the listing's folder replaced a vanished one: what it lacks is LOST, not GONE

    @classmethod
    def of(cls, side: Side, changes: Changes, limits: Mapping[str, int] = NO_LIMITS) -> SideView:
        return cls(
            side,
            changes.full,
            {e.id: e for e in changes.entries},
            set(changes.removed),
            limits=limits,
            replaced=changes.replaced,
        )

    def add(self, records: dict[str, Record], asked: set[str]) -> None:
        self.records.update(records)
        self.fetched |= asked


class Status(Enum):
    UNCHANGED = "unchanged"  # the version we recorded: the side still holds the snapshot
    SAME = "same"  # a new version with the same projection (bookkeeping only)
    CHANGED = "changed"
    GONE = "gone"  # deleted (hard)
    LOST = "lost with its folder"  # gone with a vanished folder or list (rule 7): never a user's delete
    DELETED = "soft-deleted"
    OUT = "out of scope"
    WINDOW = "outside the window"
    MISSING = "no item"  # the link has no item on this side (removed earlier)
    UNREADABLE = "unreadable"  # exists, but cannot be read: nothing is decided about it this run


@dataclass(frozen=True, slots=True)
class SideState:
    status: Status
    record: Record | None = None  # as the engine reads it (see ``read``)
    version: str = ""
    limits: Mapping[str, int] = field(default_factory=lambda: NO_LIMITS)
    held: Mapping[str, Any] = field(default_factory=lambda: _NO_FIELDS)  # what ``read`` completed: as held

    @property
    def exists(self) -> bool:
        return self.status in (Status.UNCHANGED, Status.SAME, Status.CHANGED)

    @property
    def edited(self) -> bool:
        return self.status is Status.CHANGED

    @property
    def removed(self) -> bool:
        return self.status in (Status.GONE, Status.LOST, Status.DELETED, Status.MISSING)

    def fit(self, patch: Fields, now: Fields, agreed: Fields, writable: bool) -> Fields:
        """The patch this side needs once its limits are taken into account.

        ``now`` is its projection as read, ``agreed`` the merged snapshot. A limited field is written
        when what the side can hold of the value differs from what it holds: not for an edit of the
        overflow alone, but also when it holds less than it has room for (a user removed a value:
        the overflow moves up).
        """
        if not self.limits:
            return patch
        out = dict(patch)
        for name, limit in self.limits.items():
            value: list[Any] | None = out.get(name, agreed.get(name))
            if value is None:
                continue
            holds = self.held.get(name, (now.get(name) or [])[:limit])
            if value[:limit] == holds:
                out.pop(name, None)
            elif writable and name not in out and now.get(name) == value:
                out[name] = value
        return out


def item_id(link: Link, side: Side) -> str | None:
    return link.business_id if side is Side.BUSINESS else link.mailbox_id


def recorded_version(link: Link, side: Side) -> str:
    return link.business_version if side is Side.BUSINESS else link.mailbox_version


_SCOPES = {
    Scope.FILTER: Status.OUT,
    Scope.WINDOW: Status.WINDOW,
    Scope.DELETED: Status.DELETED,
    Scope.UNREADABLE: Status.UNREADABLE,
}


def read(status: Status, record: Record, base: Fields | None, limits: Mapping[str, int]) -> SideState:
    """``record`` as the engine reads it on a side with ``limits``.

    Each limited field is read as the side's values followed by the values of ``base`` (the agreed
    value) past the limit: the overflow the side could not hold. So a side holding what it can of
    the agreed value reads as unchanged, and a user's edit there changes only what the user saw.
    """
    overflow = {
        name: base[name][limit:]
        for name, limit in limits.items()
        if base and len(base.get(name) or ()) > limit
    }
    if not overflow:
        return SideState(status, record, record.version, limits)
    held = {name: getattr(record.item, name) for name in overflow}
    item = record.item.with_changes({name: [*held[name], *overflow[name]] for name in overflow})
    return SideState(status, replace(record, item=item), record.version, limits, held)


def side_state(link: Link, view: SideView) -> SideState:
    """Where one side of a link stands, from the listing and what was fetched."""
    ident = item_id(link, view.side)
    if ident is None:
        return SideState(Status.MISSING)
    record = view.records.get(ident)
    if record is None:
        if ident in view.fetched:
            return SideState(Status.LOST if view.replaced else Status.GONE)
        return SideState(Status.UNCHANGED, version=recorded_version(link, view.side), limits=view.limits)
    if record.scope is not Scope.IN:
        return SideState(_SCOPES[record.scope], record, record.version)
    unchanged = record.version == recorded_version(link, view.side) and not link.conflict
    state = read(Status.UNCHANGED if unchanged else Status.CHANGED, record, link.snapshot, view.limits)
    assert state.record is not None
    if not unchanged and link.snapshot is not None and state.record.item.projection() == link.snapshot:
        return replace(state, status=Status.SAME)
    return state
