"""The connector contract both sides implement (DESIGN.md, "The connector contract").

A connector instance is bound to one profile and one part: it knows its protocol, its wire format
and the mapping to the canonical model, and nothing of the other side or of sync rules. It reports
typed outcomes (``exsync.connector.errors``); the engine decides what they mean.

Ids and stamps:
- Business ids are ``<table>:<row id>`` (``people:42``); the correlation key of a business row is
  ``<part>:<business id>`` (``contacts:people:42``).
- A mailbox item created by sync carries the correlation key as its ``stamp`` (Graph: the
  ``exsync-key`` extended property).
- A business row created by sync from a mailbox item carries that item's id as its ``stamp``
  (the creation token), so a crash between the insert and recording the link is harmless too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from exsync.model import Canonical, Fields


class Side(StrEnum):
    BUSINESS = "business"
    MAILBOX = "mailbox"

    @property
    def other(self) -> Side:
        return Side.MAILBOX if self is Side.BUSINESS else Side.BUSINESS


class Scope(StrEnum):
    """Where a fetched item stands relative to the (profile, part) it was asked for."""

    IN = "in"
    FILTER = "filter"  # exists, but outside the filter, the ownership, the folder or the privacy rule
    WINDOW = "window"  # exists, but outside the time window: simply not looked at
    DELETED = "deleted"  # soft-deleted (the row is still there, flagged)
    # exists, but cannot be turned into a canonical item; scope_reason says why (a NULL the mapping
    # needs, a malformed RRULE). Its ``item`` is an empty canonical of the part: never to be read.
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a listing: its id, its version and, if it has one, its stamp."""

    id: str
    version: str
    stamp: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """A listing. ``full``: every in-scope item; otherwise what changed since the token."""

    entries: Sequence[Entry]
    removed: Sequence[str] = ()
    token: str | None = None  # to save once the whole round is applied
    full: bool = True
    # A full listing of a folder or list that took the place of a vanished one (rule 7): the linked items
    # it lacks were lost with the old one, not deleted by a user, and are re-created from the other side.
    replaced: bool = False


@dataclass(frozen=True, slots=True)
class Record:
    """A fetched item."""

    id: str
    version: str
    item: Canonical
    stamp: str | None = None
    scope: Scope = Scope.IN
    scope_reason: str = ""  # in words, for `exsync explain`


@dataclass(frozen=True, slots=True)
class Written:
    """The answer to a create or update: the item's id and its new version."""

    id: str
    version: str


@dataclass(frozen=True, slots=True)
class Create:
    item: Canonical
    stamp: str


@dataclass(frozen=True, slots=True)
class Update:
    id: str
    patch: Fields  # canonical field -> normalised value; fields not named are left as they are
    version: str  # expected version (optimistic concurrency)


@dataclass(frozen=True, slots=True)
class Delete:
    id: str
    version: str


Write = Create | Update | Delete


@dataclass(frozen=True, slots=True)
class Deleted:
    id: str


Outcome = Written | Deleted | Exception  # an Exception here is a ConnectorError for that one item


@runtime_checkable
class Connector(Protocol):
    """One side of one (profile, part).

    Optional attribute ``limits: Mapping[str, int]``: for list-valued canonical fields, the most
    values this side can hold (Graph contacts: ``{"emails": 3, "business_phones": 2}``). Such a
    connector truncates what it is given; the engine keeps the overflow in the link's snapshot and
    never lets it shrink. Absent: no limits.

    Optional method ``transaction()``, a context manager: the engine applies a chunk's writes to
    this side and records their links within it, so a side that keeps the state store in its own
    database commits both at once (the SQL connector does).
    """

    side: Side

    def changes(self, token: str | None) -> Changes:
        """A full listing when ``token`` is None, else the changes since it.

        Raises ``TokenExpired`` when the token can no longer be used.
        """
        ...

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        """The items that still exist, in or out of scope. An id missing from the answer is gone.

        An item that exists but cannot be mapped is answered with ``Scope.UNREADABLE``, never left out.
        """
        ...

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        """Items carrying each stamp, wherever they are (copies included), in a stable order."""
        ...

    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        """Carry out independent writes; one outcome per write, in order.

        A write that fails alone yields its ``ConnectorError``; deleting what is already gone
        yields ``Deleted``. Errors that concern the whole side (auth, network) are raised.
        """
        ...


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff member of the business side: who profiles are provisioned for."""

    id: int
    code: str
    name: str
    email: str
    active: bool = True
    time_zone: str = ""


@runtime_checkable
class StaffDirectory(Protocol):
    """The business side's staff list."""

    def staff(self) -> list[Staff]: ...
