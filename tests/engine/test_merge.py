"""The field-level three-way merge (DESIGN.md rule 2), on plain projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given

from exsync.connector import Side
from exsync.engine import BusinessWins, MailboxWins, Policy, RecordOnly, Resolution, direction, merge

BOTH = Policy()
BASE = {"subject": "Call", "location": "Room 1", "body": "Agenda"}


def test_different_fields_both_survive() -> None:
    m = merge(BASE, {**BASE, "location": "Room 7"}, {**BASE, "subject": "Call (moved)"}, BOTH)
    assert m.business_patch == {"subject": "Call (moved)"}
    assert m.mailbox_patch == {"location": "Room 7"}
    assert m.snapshot == {"subject": "Call (moved)", "location": "Room 7", "body": "Agenda"}
    assert m.conflicts == [] and m.held == [] and not m.unresolved


def test_same_field_same_value_is_not_a_conflict() -> None:
    m = merge(BASE, {**BASE, "location": "Room 7"}, {**BASE, "location": "Room 7"}, BOTH)
    assert (m.business_patch, m.mailbox_patch, m.conflicts) == ({}, {}, [])
    assert m.snapshot["location"] == "Room 7"


def test_nothing_changed() -> None:
    m = merge(BASE, dict(BASE), dict(BASE), BOTH)
    assert (m.business_patch, m.mailbox_patch, m.conflicts, m.snapshot) == ({}, {}, [], BASE)


@pytest.mark.parametrize(
    ("policy", "business_patch", "mailbox_patch", "kept"),
    [
        (BusinessWins(), {}, {"location": "Room 7"}, "Room 7"),
        (MailboxWins(), {"location": "Room 9"}, {}, "Room 9"),
    ],
)
def test_conflict_is_decided_by_the_policy(
    policy: Any, business_patch: dict[str, str], mailbox_patch: dict[str, str], kept: str
) -> None:
    m = merge(BASE, {**BASE, "location": "Room 7"}, {**BASE, "location": "Room 9"}, Policy(conflict=policy))
    assert (m.business_patch, m.mailbox_patch) == (business_patch, mailbox_patch)
    assert m.snapshot["location"] == kept
    [c] = m.conflicts
    assert (c.field, c.base, c.business, c.mailbox) == ("location", "Room 1", "Room 7", "Room 9")
    assert c.resolution is not None and c.resolution.value == kept and not m.unresolved


def test_record_only_writes_neither_and_keeps_the_base() -> None:
    m = merge(
        BASE, {**BASE, "location": "Room 7", "body": "B"}, {**BASE, "location": "Room 9"},
        Policy(conflict=RecordOnly()),
    )  # fmt: skip
    assert m.unresolved
    assert m.mailbox_patch == {"body": "B"}  # other fields merge as usual
    assert m.business_patch == {}
    assert m.snapshot["location"] == "Room 1"  # still a conflict next time
    [c] = m.conflicts
    assert c.resolution is None


def test_conflicts_are_per_field() -> None:
    business = {**BASE, "subject": "B", "location": "B"}
    mailbox = {**BASE, "subject": "M", "body": "M"}
    m = merge(BASE, business, mailbox, BOTH)
    assert [c.field for c in m.conflicts] == ["subject"]
    assert m.mailbox_patch == {"subject": "B", "location": "B"}
    assert m.business_patch == {"body": "M"}


def test_a_resolver_may_return_a_third_value() -> None:
    @dataclass(frozen=True)
    class Join:
        name: str = "join"

        def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
            return Resolution(f"{business}+{mailbox}", "resolver")

    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "subject": "M"}, Policy(conflict=Join()))
    assert m.business_patch == m.mailbox_patch == {"subject": "B+M"}
    assert m.snapshot["subject"] == "B+M"
    assert m.conflicts[0].resolution == Resolution("B+M", "resolver")


# -- directions -----------------------------------------------------------------------------------
TO_MAILBOX = Policy(direction=direction("to-mailbox"))
TO_BUSINESS = Policy(direction=direction("to-business"))


def test_to_mailbox_carries_business_edits_and_holds_mailbox_edits() -> None:
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "location": "M"}, TO_MAILBOX)
    assert m.business_patch == {}
    assert m.mailbox_patch == {"subject": "B"}
    assert m.held == ["location"]
    assert m.snapshot["location"] == "Room 1"  # the business value stays the agreed one


def test_to_business_mirrors_it() -> None:
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "location": "M"}, TO_BUSINESS)
    assert m.mailbox_patch == {}
    assert m.business_patch == {"location": "M"}
    assert m.held == ["subject"]


@pytest.mark.parametrize("conflict", [BusinessWins(), MailboxWins(), RecordOnly()])
def test_one_way_conflict_the_sending_side_wins_whatever_the_policy(conflict: Any) -> None:
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "subject": "M"},
              Policy(direction=direction("to-mailbox"), conflict=conflict))  # fmt: skip
    assert m.mailbox_patch == {"subject": "B"} and m.business_patch == {}
    assert not m.unresolved and m.conflicts[0].resolution == Resolution("B", "business")


def test_replicate_reverts_edits_on_the_receiving_side() -> None:
    policy = Policy(direction=direction("to-mailbox", "replicate"))
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "location": "M"}, policy)
    assert m.mailbox_patch == {"subject": "B", "location": "Room 1"}
    assert m.business_patch == {}
    assert m.snapshot == {**BASE, "subject": "B"}


def test_to_business_replicate_reverts_business_edits() -> None:
    policy = Policy(direction=direction("to-business", "replicate"))
    m = merge(BASE, {**BASE, "subject": "B"}, dict(BASE), policy)
    assert m.business_patch == {"subject": "Call"} and m.mailbox_patch == {}


def test_read_only_meeting_is_never_written_in_the_mailbox() -> None:
    """A meeting organised by someone else: its mailbox copy wins and is never patched."""
    business = {**BASE, "subject": "B", "location": "B"}
    mailbox = {**BASE, "subject": "M", "body": "M"}
    m = merge(BASE, business, mailbox, BOTH, mailbox_read_only=True)
    assert m.mailbox_patch == {}
    assert m.business_patch == {"subject": "M", "body": "M"}
    assert m.held == ["location"]
    assert m.conflicts[0].resolution == Resolution("M", "mailbox")


def test_direction_off_writes_nothing() -> None:
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "location": "M"}, Policy(direction=direction("off")))
    assert m.business_patch == m.mailbox_patch == {}
    assert sorted(m.held) == ["location", "subject"]


# -- no common base (a re-pair) -------------------------------------------------------------------
def test_base_none_equal_fields_agree_and_different_ones_are_conflicts() -> None:
    m = merge(None, {**BASE, "subject": "B"}, {**BASE, "subject": "M"}, BOTH)
    assert m.mailbox_patch == {"subject": "B"} and m.business_patch == {}
    assert [(c.field, c.base) for c in m.conflicts] == [("subject", None)]
    assert m.snapshot == {**BASE, "subject": "B"}


def test_base_none_record_only_leaves_the_field_out_of_the_snapshot() -> None:
    m = merge(None, {**BASE, "subject": "B"}, {**BASE, "subject": "M"}, Policy(conflict=RecordOnly()))
    assert m.unresolved and m.business_patch == m.mailbox_patch == {}
    assert "subject" not in m.snapshot and m.snapshot["location"] == "Room 1"


def test_a_field_missing_on_one_side_counts_as_none() -> None:
    m = merge({"a": None}, {"a": None}, {}, BOTH)
    assert (m.business_patch, m.mailbox_patch, m.conflicts) == ({}, {}, [])
    m = merge({"a": 1}, {"a": 2}, {}, BOTH)
    assert m.conflicts and m.mailbox_patch == {"a": 2}


def test_patch_by_side() -> None:
    m = merge(BASE, {**BASE, "subject": "B"}, {**BASE, "location": "M"}, BOTH)
    assert m.patch(Side.BUSINESS) is m.business_patch and m.patch(Side.MAILBOX) is m.mailbox_patch


# -- properties -----------------------------------------------------------------------------------
FIELDS = ["subject", "location", "body", "start"]
VALUE = st.sampled_from(["", "a", "b", "c"])
PROJECTION = st.fixed_dictionaries({f: VALUE for f in FIELDS})


@dataclass(frozen=True)
class Longest:
    """A resolver of its own: the longer value, ties to a third value."""

    name: str = "longest"

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        if len(business) == len(mailbox):
            return Resolution(f"{business}|{mailbox}", "resolver")
        return Resolution(max(business, mailbox, key=len), "resolver")


RESOLVING = st.sampled_from([BusinessWins(), MailboxWins(), Longest()])


@given(st.none() | PROJECTION, PROJECTION, PROJECTION, RESOLVING)
def test_both_directions_and_a_resolving_policy_converge(
    base: dict[str, str] | None, business: dict[str, str], mailbox: dict[str, str], conflict: Any
) -> None:
    m = merge(base, business, mailbox, Policy(conflict=conflict))
    b_after, m_after = {**business, **m.business_patch}, {**mailbox, **m.mailbox_patch}
    assert b_after == m_after == m.snapshot
    assert not m.unresolved and m.held == []
    # Patches name only fields whose value changes on that side.
    assert all(business[f] != v for f, v in m.business_patch.items())
    assert all(mailbox[f] != v for f, v in m.mailbox_patch.items())
    for f in FIELDS:
        s = None if base is None else base[f]
        b_changed, m_changed = business[f] != s, mailbox[f] != s
        if b_changed != m_changed or business[f] == mailbox[f]:
            # One side changed (or both agree): its value survives, no conflict.
            assert f not in {c.field for c in m.conflicts}
            assert m.snapshot[f] == (business[f] if b_changed else mailbox[f])
        else:
            assert f in {c.field for c in m.conflicts}


@given(PROJECTION, PROJECTION, PROJECTION, st.sampled_from(["merge", "replicate"]))
def test_to_mailbox_never_writes_the_business_and_carries_its_changes(
    base: dict[str, str], business: dict[str, str], mailbox: dict[str, str], flavour: str
) -> None:
    m = merge(base, business, mailbox, Policy(direction=direction("to-mailbox", flavour)))
    assert m.business_patch == {}
    after = {**mailbox, **m.mailbox_patch}
    for f in FIELDS:
        if business[f] != base[f]:
            assert after[f] == business[f]  # a business change always arrives
    if flavour == "replicate":
        assert after == business  # the receiving side is made identical
    assert m.snapshot == business  # the agreed values are the business's


@given(PROJECTION, PROJECTION, PROJECTION)
def test_record_only_never_writes_a_conflicting_field(
    base: dict[str, str], business: dict[str, str], mailbox: dict[str, str]
) -> None:
    m = merge(base, business, mailbox, Policy(conflict=RecordOnly()))
    for c in m.conflicts:
        assert c.field not in m.business_patch and c.field not in m.mailbox_patch
        assert m.snapshot[c.field] == base[c.field]
