"""SCENARIOS.md 46–49 and 84–86: scale, direction switches, idempotence, convergence, custom resolvers."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from exsync.connector import Side
from exsync.engine import Policy, Resolution, direction
from exsync.model import Canonical, Contact, Event, Task
from exsync.testing.faults import Crash

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

TO_MAILBOX_MERGE = Policy(direction=direction("to-mailbox", "merge"))
TO_MAILBOX_REPLICATE = Policy(direction=direction("to-mailbox", "replicate"))


def switch(h: Harness, policy: Policy) -> None:
    """Change the part's direction: a settings change, so the next run lists everything."""
    h.policy = policy
    h.fingerprint = policy.direction.name


def contact(n: int, **fields: Any) -> Contact:
    return Contact(first_name=f"Person{n}", last_name="Tester", city="Leeds", emails=[f"p{n}@example.com"],
                   **fields)  # fmt: skip


def ok(report: Any) -> Any:
    assert report.outcome == "ok", report.as_json()
    return report


def writes(report: Any) -> dict[str, dict[str, int]]:
    return {side.value: report.tally.writes[side].as_dict() for side in Side}


NONE = {"created": 0, "updated": 0, "deleted": 0}


def assert_stamps_unique(h: Harness) -> None:
    stamps = [r.stamp for r in h.records(Side.MAILBOX)]
    assert len(stamps) == len(set(stamps)), "a duplicate mailbox copy"


# -- 46. huge initial sync over existing copies ---------------------------------------------------
N = 5_000


def big(h: Harness) -> list[str]:
    return [h.b.put(contact(i)) for i in range(N)]


def test_scenario_46_existing_copies_are_matched_not_created(harness: Harness) -> None:
    h = harness
    big(h)
    assert ok(h.run()).tally.writes[Side.MAILBOX].created == N
    h.forget_state()  # an install whose state store was lost: the copies are all there, stamped
    creates = h.m.calls.creates

    # The first pass dies part-way (after 40 chunks are recorded) and is run again.
    recorded = itertools.count(1)

    def die(step: str) -> None:
        if step == "after-record" and next(recorded) == 40:
            raise Crash("killed mid-run")

    with pytest.raises(Crash):
        h.run(on_step=die)
    assert 0 < len(h.links()) < N
    report = ok(h.run())

    assert writes(report) == {"business": NONE, "mailbox": NONE}
    assert h.m.calls.creates == creates and h.writes == (0, N)
    assert len(h.links()) == N
    assert h.count(Side.MAILBOX) == N
    assert_stamps_unique(h)
    h.assert_quiet()


def test_scenario_46_crash_in_the_initial_sync_resumes_without_duplicates(harness: Harness) -> None:
    h = harness
    big(h)
    h.m.faults.crash_after(N // 2)

    with pytest.raises(Crash):
        h.run()
    assert h.count(Side.MAILBOX) == N // 2
    report = ok(h.run())

    assert report.tally.writes[Side.MAILBOX].created == N - N // 2
    assert h.count(Side.MAILBOX) == N and len(h.links()) == N
    assert_stamps_unique(h)
    h.assert_quiet()


# -- 47. both -> to-mailbox ------------------------------------------------------------------------
@dataclass
class Setup:
    """Synced under ``both``: three business rows, one item made in the mailbox (now a row too)."""

    a_bid: str
    a_mid: str
    mailbox_made: str  # a mailbox item created by the user and synced to the business side
    links: dict[str, tuple[str | None, str | None]]


def synced_both(h: Harness) -> Setup:
    bids = [h.b.put(contact(i)) for i in range(3)]
    made = h.m.put(contact(9, job_title="Made in Outlook"))
    ok(h.run())
    assert h.count(Side.BUSINESS) == 4 and h.count(Side.MAILBOX) == 4
    links = {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()}
    return Setup(bids[0], h.mailbox_id(bids[0]) or "", made, links)


def same_links(h: Harness, s: Setup) -> None:
    """The links of before the switch, each still naming the same two items (no re-create)."""
    now = {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()}
    assert now == s.links


def test_scenario_47_to_mailbox_merge_leaves_mailbox_items_and_edits_alone(harness: Harness) -> None:
    h = harness
    s = synced_both(h)
    h.m.edit(s.a_mid, city="Rome")  # an edit made in the mailbox
    own = h.m.put(contact(42, job_title="Mine"))  # an item only the mailbox has
    creates = h.m.calls.creates

    switch(h, TO_MAILBOX_MERGE)
    report = ok(h.run())

    assert report.full
    assert writes(report) == {"business": NONE, "mailbox": NONE}
    assert h.m.calls.creates == creates
    same_links(h, s)
    assert own in h.m and h.link_of_mailbox(own) is None
    assert s.mailbox_made in h.m
    assert h.m.get(s.a_mid).item.city == "Rome"  # type: ignore[union-attr]
    assert h.b.get(s.a_bid).item.city == "Leeds"  # type: ignore[union-attr]
    h.assert_quiet()

    # A business edit of another field reaches the mailbox; the mailbox's edit stays.
    h.b.edit(s.a_bid, job_title="Partner")
    ok(h.run())
    assert (h.m.get(s.a_mid).item.job_title, h.m.get(s.a_mid).item.city) == ("Partner", "Rome")  # type: ignore[union-attr]
    assert h.b.get(s.a_bid).item.city == "Leeds"  # type: ignore[union-attr]
    h.assert_quiet()

    # Until the business side changes that field: then the business value goes over it.
    h.b.edit(s.a_bid, city="Paris")
    ok(h.run())
    assert h.m.get(s.a_mid).item.city == "Paris"  # type: ignore[union-attr]
    assert own in h.m and h.count(Side.BUSINESS) == 4
    same_links(h, s)
    h.assert_quiet()


def test_scenario_47_to_mailbox_replicate_reverts_and_removes_after_confirmation(
    harness: Harness,
) -> None:
    h = harness
    s = synced_both(h)
    h.m.edit(s.a_mid, city="Rome")
    own = [h.m.put(contact(40 + i)) for i in range(3)]  # three items only the mailbox has
    creates = h.m.calls.creates
    replicate = Policy(direction=direction("to-mailbox", "replicate"), max_deletes=2, max_delete_share=0.1)
    switch(h, replicate)

    # The plan shows what replicate would do; above the threshold it waits for a person.
    dry = h.run(dry_run=True)
    assert dry.outcome == "suspended" and dry.plan is not None
    assert dry.plan.deletes(Side.MAILBOX) == 3
    assert h.store.suspension(h.profile, h.part) is None  # a dry run records nothing
    held = h.run()
    assert held.outcome == "suspended"
    assert h.writes == (1, 3) and all(i in h.m for i in own)  # nothing written since the first run

    report = ok(h.run(force=True))

    assert writes(report) == {"business": NONE, "mailbox": {"created": 0, "updated": 1, "deleted": 3}}
    assert not any(i in h.m for i in own)
    assert h.m.get(s.a_mid).item.city == "Leeds"  # type: ignore[union-attr]  # the edit is reverted
    assert s.mailbox_made in h.m  # linked: it has a business row now, so it stays
    assert h.m.calls.creates == creates
    same_links(h, s)
    h.assert_quiet()

    # From now on, mailbox edits are reverted at once (a single revert is under the guard).
    h.m.edit(s.a_mid, last_name="Changed")
    report = ok(h.run())
    assert writes(report)["mailbox"] == {"created": 0, "updated": 1, "deleted": 0}
    assert h.m.get(s.a_mid).item.last_name == "Tester"  # type: ignore[union-attr]
    h.assert_quiet()


def test_scenario_47_merge_then_replicate_reverts_edits_kept_under_merge(harness: Harness) -> None:
    h = harness
    s = synced_both(h)
    switch(h, TO_MAILBOX_MERGE)
    ok(h.run())
    h.m.edit(s.a_mid, city="Rome")
    ok(h.run())
    assert h.m.get(s.a_mid).item.city == "Rome"  # type: ignore[union-attr]

    switch(h, TO_MAILBOX_REPLICATE)
    report = ok(h.run())

    assert writes(report)["mailbox"] == {"created": 0, "updated": 1, "deleted": 0}
    assert h.m.get(s.a_mid).item.city == "Leeds"  # type: ignore[union-attr]
    h.assert_quiet()


# -- 48. one-way replicate whose business filter now returns nothing ------------------------------
@pytest.mark.parametrize("listing", ["full", "delta"])
def test_scenario_48_replicate_over_an_empty_filter_is_stopped(
    make_harness: Callable[..., Harness], listing: str
) -> None:
    from exsync.connector import Scope

    h = make_harness(policy=TO_MAILBOX_REPLICATE)
    h.fingerprint = "filter: kind = 'client'"
    bids = [h.b.put(contact(i)) for i in range(12)]
    ok(h.run())
    for bid in bids:
        h.b.set_scope(bid, Scope.FILTER, "the filter matches nothing")
    if listing == "full":
        h.fingerprint = "filter: kind = 'cleint'"  # the typo that empties the filter

    dry = h.run(dry_run=True)
    assert dry.outcome == "suspended" and dry.plan is not None
    report = h.run()

    assert report.outcome == "suspended"
    assert "empty" in report.message
    assert h.m.calls.deletes == 0 and h.count(Side.MAILBOX) == 12
    assert h.store.suspension(h.profile, h.part) is not None
    assert h.run().outcome == "suspended"  # and stays so

    forced = ok(h.run(force=True))  # a person confirmed: the copies go, the rows stay

    assert forced.tally.writes[Side.MAILBOX].deleted == 12
    assert h.count(Side.MAILBOX) == 0
    assert len(h.records(Side.BUSINESS, in_scope=False)) == 12 and h.b.calls.writes == 0
    h.assert_quiet()


# -- 49. one-way -> both ---------------------------------------------------------------------------
def test_scenario_49_back_to_both_recreates_and_deletes_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(policy=TO_MAILBOX_MERGE)
    h.fingerprint = TO_MAILBOX_MERGE.direction.name
    bids = [h.b.put(contact(i)) for i in range(3)]
    ok(h.run())
    mids = [h.mailbox_id(b) for b in bids]
    own = h.m.put(contact(42, job_title="Mine"))  # made in the mailbox under one-way: left alone
    h.m.edit(mids[0] or "", city="Rome")  # an edit one-way did not carry over
    ok(h.run())
    h.assert_quiet()
    links = {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()}
    mailbox_creates = h.m.calls.creates

    switch(h, Policy())
    report = ok(h.run())

    assert report.full
    assert h.m.calls.creates == mailbox_creates  # nothing re-created in the mailbox
    assert report.tally.writes[Side.MAILBOX].deleted == 0
    assert report.tally.writes[Side.BUSINESS].deleted == 0
    now = {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()}
    assert {k: v for k, v in now.items() if k in links} == links  # links made under one-way stay valid
    # What only the mailbox had is now synced like any item made there under `both`.
    assert report.tally.writes[Side.BUSINESS].created == 1
    assert h.business_record(own) is not None
    # The edit one-way held back is an edit like any other now: both sides agree.
    assert h.b.get(bids[0]).item.city == h.m.get(mids[0] or "").item.city == "Rome"  # type: ignore[union-attr]
    h.assert_quiet()


def test_scenario_49_replicate_back_to_both_changes_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(policy=TO_MAILBOX_REPLICATE)
    h.fingerprint = TO_MAILBOX_REPLICATE.direction.name
    bids = [h.b.put(contact(i)) for i in range(3)]
    ok(h.run())
    before = h.writes
    links = {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()}

    switch(h, Policy())
    report = ok(h.run())

    assert report.full and h.writes == before
    assert {k: (link.business_id, link.mailbox_id) for k, link in h.links().items()} == links
    assert h.count(Side.MAILBOX) == len(bids)
    h.assert_quiet()


# -- 84. idempotence on every part ------------------------------------------------------------------
def items_for(part: str, n: int, origin: str) -> list[Canonical]:
    if part == "contacts":
        return [Contact(first_name=f"{origin}{i}", emails=[f"{origin}{i}@Example.COM"]) for i in range(n)]
    if part == "calendar":
        return [
            Event(
                subject=f"{origin} meeting {i}",
                body="Agenda\r\n",
                location="Room 1",
                start=f"2026-05-0{i + 1} 09:00",
                end=f"2026-05-0{i + 1} 10:00",
                time_zone="Europe/Berlin",
                reminder_minutes=15,
            )  # fmt: skip
            for i in range(n)
        ]
    return [Task(subject=f"{origin} task {i}", due=f"2026-06-0{i + 1}", priority="high") for i in range(n)]


@pytest.mark.parametrize("part", ["contacts", "calendar", "tasks"])
def test_scenario_84_idempotence_after_creates_on_both_sides(
    make_harness: Callable[..., Harness], part: str
) -> None:
    h = make_harness(part)
    for item in items_for(part, 3, "B"):
        h.b.put(item)
    for item in items_for(part, 3, "M"):
        h.m.put(item)

    report = ok(h.run())

    assert report.tally.writes[Side.MAILBOX].created == 3
    assert report.tally.writes[Side.BUSINESS].created == 3
    assert len(h.links()) == 6
    for link in h.links().values():
        b, m = h.b.get(link.business_id or ""), h.m.get(link.mailbox_id or "")
        assert b is not None and m is not None
        assert (
            b.item.projection()
            == m.item.projection()
            == h.store.snapshots(h.profile, h.part, [link.key])[link.key]
        )
    h.assert_quiet()
    h.assert_quiet(full=True)  # a full reconciliation finds nothing to do either


# -- 85. convergence under random operations (deterministic examples; the state machine is
#        tests/engine/test_state_machine.py) -------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_scenario_85_convergence_under_random_operations(harness: Harness, seed: int) -> None:
    h = harness
    rnd = random.Random(seed)
    counter = itertools.count(1)
    for _ in range(12):
        for _ in range(rnd.randint(1, 4)):
            store = rnd.choice([h.b, h.m])
            ids = [r.id for r in store.records(h.part)]
            action = rnd.choice(["create", "edit", "edit", "touch", "remove"] if ids else ["create"])
            if action == "create":
                n = next(counter)
                store.put(Contact(first_name=f"N{n}", notes=f"e{n}"))
            elif action == "edit":
                store.edit(rnd.choice(ids), **{rnd.choice(["city", "job_title"]): f"v{next(counter)}"})
            elif action == "touch":
                store.touch(rnd.choice(ids))
            else:
                store.remove(rnd.choice(ids))
        ok(h.run())
        links = h.links()
        snapshots = h.store.snapshots(h.profile, h.part, links)
        for key, link in links.items():
            if link.business_id and link.mailbox_id:
                b, m = h.b.get(link.business_id), h.m.get(link.mailbox_id)
                assert b is not None and m is not None
                assert b.item.projection() == m.item.projection() == snapshots[key]
        h.assert_quiet()


# -- 86. a custom resolver returning a third value ------------------------------------------------
@dataclass(frozen=True)
class JoinCities:
    """Keeps both cities ("Paris / Rome"); any other field: the business wins."""

    name: str = "join-cities"

    def resolve(self, field: str, base: Any, business: Any, mailbox: Any) -> Resolution | None:
        if field == "city":
            return Resolution(f"{business} / {mailbox}", "resolver")
        return Resolution(business, "business")


def test_scenario_86_custom_resolver_third_value_goes_to_both_sides(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(policy=Policy(conflict=JoinCities()))
    bid = h.b.put(contact(1))
    ok(h.run())
    mid = h.mailbox_id(bid) or ""
    h.b.edit(bid, city="Paris")
    h.m.edit(mid, city="Rome")

    report = ok(h.run())

    assert writes(report) == {
        "business": {"created": 0, "updated": 1, "deleted": 0},
        "mailbox": {"created": 0, "updated": 1, "deleted": 0},
    }
    assert h.b.get(bid).item.city == h.m.get(mid).item.city == "Paris / Rome"  # type: ignore[union-attr]
    assert report.tally.conflicts == 1
    [c] = h.conflicts()
    assert (c.field, c.business_value, c.mailbox_value) == ("city", "Paris", "Rome")
    assert (c.winner, c.kept_value, c.base_value) == ("resolver", "Paris / Rome", "Leeds")
    assert h.snapshot(bid)["city"] == "Paris / Rome"  # type: ignore[index]
    h.assert_quiet()
