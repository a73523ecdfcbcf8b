"""Field-level three-way merge (DESIGN.md rule 2).

Given the last agreed snapshot and both sides' current projections, decide per field what each
side should hold. Different fields changed on each side both survive; one field changed to
different values is a conflict the part's policy decides, and the losing value is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exsync.connector import Side
from exsync.engine.policy import Policy, Resolution
from exsync.model import Fields

_ABSENT = object()


@dataclass(frozen=True, slots=True)
class FieldConflict:
    field: str
    base: Any
    business: Any
    mailbox: Any
    resolution: Resolution | None  # None: record-only, nothing written


@dataclass(slots=True)
class Merge:
    business_patch: Fields = field(default_factory=dict)
    mailbox_patch: Fields = field(default_factory=dict)
    snapshot: Fields = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # edits this direction does not carry over

    @property
    def unresolved(self) -> bool:
        return any(c.resolution is None for c in self.conflicts)

    def patch(self, side: Side) -> Fields:
        return self.business_patch if side is Side.BUSINESS else self.mailbox_patch


def merge(
    base: Fields | None,
    business: Fields,
    mailbox: Fields,
    policy: Policy,
    *,
    mailbox_read_only: bool = False,
) -> Merge:
    """Merge both projections against ``base`` (None: no common base, e.g. a re-pair)."""
    result = Merge()
    writable = writable_sides(policy, mailbox_read_only)
    values = {Side.BUSINESS: business, Side.MAILBOX: mailbox}
    for name in business.keys() | mailbox.keys():
        b = business.get(name)
        m = mailbox.get(name)
        if b == m:
            result.snapshot[name] = b
            continue
        s = _ABSENT if base is None else base.get(name, _ABSENT)
        b_changed, m_changed = b != s, m != s
        if b_changed and m_changed:
            resolution = _resolve(name, None if s is _ABSENT else s, b, m, policy, writable)
            result.conflicts.append(FieldConflict(name, None if s is _ABSENT else s, b, m, resolution))
            if resolution is None:
                # Keep what made it a conflict, so that the next run sees the same conflict: the base,
                # or no value at all when there was no common base (a value from one side would make
                # that side look unchanged and let the other side's value through).
                if s is not _ABSENT:
                    result.snapshot[name] = s
                continue
            value = resolution.value
            winner = {"business": Side.BUSINESS, "mailbox": Side.MAILBOX}.get(resolution.winner)
        else:
            winner = Side.BUSINESS if b_changed else Side.MAILBOX
            value = values[winner][name]
        _settle(result, name, value, winner, values, writable, policy)
    return result


def writable_sides(policy: Policy, mailbox_read_only: bool = False) -> dict[Side, bool]:
    """The sides a merge may write: the direction's, and never a meeting someone else organises."""
    return {
        Side.BUSINESS: policy.direction.to_business,
        Side.MAILBOX: policy.direction.to_mailbox and not mailbox_read_only,
    }


def _resolve(
    name: str, base: Any, b: Any, m: Any, policy: Policy, writable: dict[Side, bool]
) -> Resolution | None:
    # When only one side may be written, the other side's value is the one that can win:
    # the sending side of a one-way direction, or the organizer's copy of a meeting.
    if writable[Side.MAILBOX] and not writable[Side.BUSINESS]:
        return Resolution(b, "business")
    if writable[Side.BUSINESS] and not writable[Side.MAILBOX]:
        return Resolution(m, "mailbox")
    return policy.conflict.resolve(name, base, b, m)


def _settle(
    result: Merge,
    name: str,
    value: Any,
    winner: Side | None,
    values: dict[Side, Fields],
    writable: dict[Side, bool],
    policy: Policy,
) -> None:
    """Write ``value`` wherever it is missing and allowed; hold it back where it is not."""
    targets = [side for side in Side if values[side].get(name) != value]
    blocked = [side for side in targets if not writable[side]]
    if not blocked:
        for side in targets:
            result.patch(side)[name] = value
        result.snapshot[name] = value
        return
    # The winning edit cannot be carried over. The other side's value stays the agreed one, so
    # the edit still counts as a change later; replicate reverts the edit where it may write.
    assert winner is not None  # a resolver value is only asked for when both sides are writable
    other = winner.other
    kept = values[other].get(name)
    result.snapshot[name] = kept
    result.held.append(name)
    if policy.direction.replicates_onto(winner) and writable[winner]:
        result.patch(winner)[name] = kept
