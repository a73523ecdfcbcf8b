"""Direction and conflict strategies: small classes the planner consults (GenSync's shape).

A ``Direction`` says which side may be written and whether the receiving side is made identical
(``replicate``) or only receives (``merge``). A ``ConflictPolicy`` picks the value when both sides
changed one field to different values; it may return a third value (a custom resolver).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from exsync.connector import Side
from exsync.settings import PartSettings, SyncedPartSettings

Winner = Literal["business", "mailbox", "resolver", "none"]


@dataclass(frozen=True, slots=True)
class Direction:
    name: str
    to_mailbox: bool  # business changes reach the mailbox
    to_business: bool  # mailbox changes reach the business side
    replicate: bool = False  # the receiving side is made identical (foreign items removed, edits reverted)

    def writes(self, side: Side) -> bool:
        return self.to_mailbox if side is Side.MAILBOX else self.to_business

    def replicates_onto(self, side: Side) -> bool:
        """True when ``side`` is the receiving side of a replicate direction."""
        return self.replicate and self.writes(side) and not self.writes(side.other)


def direction(name: str, flavour: str = "merge") -> Direction:
    """The strategy for a part's ``direction`` and ``flavour`` settings."""
    replicate = flavour == "replicate"
    match name:
        case "both":
            return Direction("both", to_mailbox=True, to_business=True)
        case "to-mailbox":
            return Direction(f"to-mailbox/{flavour}", to_mailbox=True, to_business=False, replicate=replicate)
        case "to-business":
            return Direction(
                f"to-business/{flavour}", to_mailbox=False, to_business=True, replicate=replicate
            )
        case "off":
            return Direction("off", to_mailbox=False, to_business=False)
    raise ValueError(f"unknown direction {name!r}")


@dataclass(frozen=True, slots=True)
class Resolution:
    value: Any
    winner: Winner


class ConflictPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        """The value both sides get, or None to write neither and flag the item (record-only)."""
        ...


@dataclass(frozen=True, slots=True)
class BusinessWins:
    name: str = "business-wins"

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        return Resolution(business, "business")


@dataclass(frozen=True, slots=True)
class MailboxWins:
    name: str = "mailbox-wins"

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        return Resolution(mailbox, "mailbox")


@dataclass(frozen=True, slots=True)
class RecordOnly:
    name: str = "record-only"

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        return None


CONFLICT_POLICIES: dict[str, ConflictPolicy] = {
    p.name: p for p in (BusinessWins(), MailboxWins(), RecordOnly())
}


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the planner needs to know about one (profile, part)'s settings."""

    direction: Direction = field(default_factory=lambda: direction("both"))
    conflict: ConflictPolicy = field(default_factory=BusinessWins)
    delete_in_mailbox: bool = True
    delete_in_business: bool = False
    max_deletes: int = 25
    max_delete_share: float = 0.1


def policy_for(settings: PartSettings) -> Policy:
    """The policy a part's effective settings ask for (mail is one-way and never deletes)."""
    if not isinstance(settings, SyncedPartSettings):
        return Policy(direction=direction(settings.direction), delete_in_mailbox=False)
    return Policy(
        direction=direction(settings.direction, settings.flavour),
        conflict=CONFLICT_POLICIES[settings.conflict],
        delete_in_mailbox=settings.delete_in_mailbox,
        delete_in_business=settings.delete_in_business,
        max_deletes=settings.guard.max_deletes,
        max_delete_share=settings.guard.max_delete_share,
    )
