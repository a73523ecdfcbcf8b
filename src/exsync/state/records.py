"""Plain records the state store reads and writes (no SQLAlchemy types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Fields = dict[str, Any]


@dataclass(slots=True)
class Link:
    """One business record joined to one mailbox item, for one (profile, part).

    ``key`` is the correlation key ``<part>:<table>:<id>`` of the business row. ``snapshot`` is the
    last agreed normalised projection; it is ``None`` when it was not loaded (``StateStore.links``
    leaves it out for speed; ``StateStore.snapshots`` loads it for the links a run needs).
    """

    key: str
    business_id: str | None
    mailbox_id: str | None
    business_version: str = ""
    mailbox_version: str = ""
    snapshot: Fields | None = None
    in_scope: bool = True  # False: left the filter/ownership on a side; parked, not deleted
    out_of_window: bool = False
    removed_in_mailbox: bool = False  # the user deleted the mailbox copy; not re-created unless edited
    removed_in_business: bool = False
    conflict: bool = False  # an unresolved record-only conflict: both sides are re-read every run
    last_result: str = ""  # what the last run did to it, in words
    last_error: str = ""
    updated_at: datetime | None = None


@dataclass(slots=True)
class Pending:
    """An item whose write failed: fetched again on the next run even if no listing names it."""

    side: Literal["business", "mailbox"]
    item_id: str
    error: str = ""
    attempts: int = 1


@dataclass(slots=True)
class ConflictEntry:
    """A field both sides changed to different values, and what was decided."""

    profile: str
    part: str
    key: str
    field: str
    business_value: Any
    mailbox_value: Any
    business_version: str = ""
    mailbox_version: str = ""
    base_value: Any = None
    winner: Literal["business", "mailbox", "resolver", "none", "delete"] = "business"
    kept_value: Any = None  # the value now on both sides (None for record-only)
    resolved: bool = False
    id: int | None = None
    at: datetime | None = None


@dataclass(slots=True)
class JournalEntry:
    """One write, journaled before it is made and marked done (or failed) after."""

    profile: str
    part: str
    run_id: int
    side: Literal["business", "mailbox"]
    action: Literal["create", "update", "delete"]
    key: str  # the correlation key (or, for an item not yet linked, its side's id)
    item_id: str | None  # None for a create until it is done
    before: Any = None
    after: Any = None
    status: Literal["pending", "done", "failed", "interrupted"] = "pending"
    error: str = ""
    id: int | None = None
    at: datetime | None = None


@dataclass(slots=True)
class RunRecord:
    profile: str
    part: str
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str = "running"  # ok | failed | suspended | skipped | running
    dry_run: bool = False
    full: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None


@dataclass(slots=True)
class Suspension:
    profile: str
    part: str
    reason: str
    at: datetime | None = None


@dataclass(slots=True)
class SettingChange:
    """A setting changed through the CLI or the web console (a layer above the file)."""

    level: Literal["defaults", "profile"]
    profile: str | None  # None at the defaults level
    key: str  # dotted, e.g. "calendar.direction"
    value: Any  # JSON-compatible
    actor: Literal["admin", "user"] = "admin"
    by: str = ""  # who made it, for the record
    at: datetime | None = None


@dataclass(slots=True)
class ProfileRow:
    """A provisioned profile: a staff member joined to one mailbox."""

    code: str
    staff_id: int
    email: str
    name: str = ""
    time_zone: str = ""
    active: bool = True
    stopped_reason: str = ""  # why it was stopped (e.g. the staff member left); links are kept


@dataclass(slots=True)
class LockInfo:
    """Who holds the one-writer lock of a (profile, part), and until when (DESIGN rule 11).

    ``holder`` is ``host:pid:token`` (see ``make_holder``); the lease ends at ``expires_at``.
    """

    profile: str
    part: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
