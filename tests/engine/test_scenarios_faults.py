"""SCENARIOS.md 36–39, 42, 43: throttling, partial failures, 412/404 on writes, guards, server rewrites."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pytest

from exsync.connector import Create, Outcome, Scope, Side, Unavailable, Update, Write
from exsync.engine import Policy, RecordOnly
from exsync.model import Contact
from exsync.testing.faults import Crash
from exsync.testing.memory import MemoryConnector, MemoryStore

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type


def people(n: int) -> list[Contact]:
    return [
        Contact(first_name=f"Person{i:02d}", last_name="Tester", city="Leeds", emails=[f"p{i}@example.com"])
        for i in range(1, n + 1)
    ]


def synced(h: Harness, n: int) -> list[tuple[str, str]]:
    """``n`` business contacts and their mailbox copies after a clean run: [(business id, mailbox id)]."""
    bids = [h.b.put(c) for c in people(n)]
    report = h.run()
    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == n
    pairs = [(bid, h.mailbox_id(bid)) for bid in bids]
    assert all(mid is not None and mid in h.m for _, mid in pairs)
    return pairs  # type: ignore[return-value]


class WriteLog:
    """Wraps a connector's ``apply`` to keep every batch of writes it was asked for."""

    def __init__(self, connector: MemoryConnector) -> None:
        self.batches: list[list[Write]] = []
        inner = connector.apply

        def apply(writes: Sequence[Write]) -> list[Outcome]:
            self.batches.append(list(writes))
            return inner(writes)

        connector.apply = apply  # type: ignore[method-assign]

    def targets(self) -> list[str]:
        """What each write attempt named: a create's stamp, else the item id."""
        return [w.stamp if isinstance(w, Create) else w.id for batch in self.batches for w in batch]


def planned_keys(h: Harness) -> list[str]:
    """The correlation keys of the coming run's operations, in the order it will write them."""
    plan = h.run(dry_run=True).plan
    assert plan is not None
    return [op.key or "" for op in plan.ops]


def one_mailbox_copy_each(h: Harness, bids: list[str]) -> None:
    stamps = [r.stamp for r in h.records(Side.MAILBOX)]
    assert sorted(stamps) == sorted(h.key(b) for b in bids), "a duplicate or a missing mailbox copy"


# -- 36. throttled in the middle of a batch -------------------------------------------------------
def test_scenario_36_throttled_write_waits_and_is_retried_alone(harness: Harness) -> None:
    h = harness
    bids = [h.b.put(c) for c in people(20)]
    order = planned_keys(h)
    seventh = order[6]
    h.m.faults.throttle(item=seventh, wait=30.0)  # 429 with Retry-After: 30 on write 7 of 20
    log = WriteLog(h.mailbox)
    waits: list[float] = []
    written_when_waiting: list[set[str | None]] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        written_when_waiting.append({r.stamp for r in h.records(Side.MAILBOX)})

    report = h.run(sleep=sleep)

    assert report.outcome == "ok", report.message
    assert waits and sum(waits) >= 30.0
    # Requests 1–6 (and 8–20) were carried out before the wait; 7 was not.
    assert set(order[:6]) <= written_when_waiting[0]
    assert seventh not in written_when_waiting[0]
    # The throttled write alone is sent again, with the same correlation key; nothing else repeats.
    targets = log.targets()
    assert len(targets) == 21 and targets.count(seventh) == 2
    assert len(set(targets)) == 20
    assert targets[:20] == order and targets[20] == seventh
    assert len(log.batches[-1]) == 1 and isinstance(log.batches[-1][0], Create)
    assert h.m.calls.creates == 21
    assert report.tally.writes[Side.MAILBOX].created == 20
    assert not report.tally.errors
    assert all(h.mailbox_record(b) is not None for b in bids)  # every item recorded
    one_mailbox_copy_each(h, bids)
    h.assert_quiet()


def test_scenario_36_crash_while_waiting_leaves_no_duplicate(harness: Harness) -> None:
    """Writes 1–6 are durable before the wait: a crash during it is recovered by their stamps."""
    h = harness
    bids = [h.b.put(c) for c in people(20)]
    h.m.faults.throttle(item=planned_keys(h)[6], wait=30.0)

    def die(seconds: float) -> None:
        raise Crash(f"killed while waiting {seconds} s")

    with pytest.raises(Crash):
        h.run(sleep=die)
    assert h.count(Side.MAILBOX) == 19

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1  # only the throttled one
    assert len(h.links()) == 20
    one_mailbox_copy_each(h, bids)
    h.assert_quiet()


# -- 37. partial failure inside a batch ----------------------------------------------------------
def test_scenario_37_mixed_outcomes_in_one_chunk_of_updates(harness: Harness) -> None:
    h = harness
    pairs = synced(h, 20)
    for bid, _ in pairs:
        h.b.edit(bid, job_title="Partner")
    throttled = [pairs[3][1], pairs[8][1], pairs[12][1]]
    for mid, wait in zip(throttled, (2.0, 5.0, 1.0), strict=True):
        h.m.faults.throttle(item=mid, wait=wait)
    bad_bid, bad_mid = pairs[15]
    h.m.faults.reject(bad_mid, "400 Bad Request: invalid property value")  # for ever, until cleared
    before = h.link(bad_bid)
    waits: list[float] = []

    report = h.run(sleep=waits.append)

    assert report.outcome == "failed"
    assert report.tally.writes[Side.MAILBOX].updated == 19  # 16 at once + 3 after one wait
    assert waits == [5.0]  # one retry round, after the longest Retry-After of the round
    assert [e["item"] for e in report.tally.errors] == [bad_mid]
    assert "400 Bad Request" in report.tally.errors[0]["message"]
    # The rejected item's link is left exactly as it was; the others moved on.
    after = h.link(bad_bid)
    assert after is not None and before is not None
    assert (after.mailbox_version, after.business_version) == (
        before.mailbox_version,
        before.business_version,
    )
    assert h.snapshot(bad_bid)["job_title"] == ""  # type: ignore[index]
    assert h.m.get(bad_mid).item.job_title == ""  # type: ignore[union-attr]
    for bid, mid in pairs:
        if mid != bad_mid:
            assert h.m.get(mid).item.job_title == "Partner"  # type: ignore[union-attr]
            assert h.snapshot(bid)["job_title"] == "Partner"  # type: ignore[index]
    assert ("mailbox", bad_mid) in {(p.side, p.item_id) for p in h.store.pending(h.profile, h.part)}

    # Still refused: retried (it is pending although no listing names it), fails alone again.
    updates = h.m.calls.updates
    again = h.run()
    assert again.outcome == "failed" and [e["item"] for e in again.tally.errors] == [bad_mid]
    assert h.m.calls.updates == updates + 1

    # The fault is gone: the next run carries it over, and clears the pending entry.
    h.m.faults.clear()
    fixed = h.run()
    assert fixed.outcome == "ok", fixed.message
    assert fixed.tally.writes[Side.MAILBOX].updated == 1
    assert h.m.get(bad_mid).item.job_title == "Partner"  # type: ignore[union-attr]
    assert h.store.pending(h.profile, h.part) == []
    h.assert_quiet()


def test_scenario_37_rejected_create_leaves_no_link_and_is_retried(harness: Harness) -> None:
    h = harness
    bids = [h.b.put(c) for c in people(20)]
    bad = bids[4]
    h.m.faults.reject(h.key(bad), "400 Bad Request")
    h.m.faults.throttle(item=h.key(bids[9]), wait=3.0)

    report = h.run()

    assert report.outcome == "failed"
    assert report.tally.writes[Side.MAILBOX].created == 19
    assert len(report.tally.errors) == 1 and report.tally.errors[0]["key"] == h.key(bad)
    assert h.link(bad) is None  # nothing recorded for it
    assert h.count(Side.MAILBOX) == 19

    h.m.faults.clear()
    fixed = h.run()
    assert fixed.outcome == "ok", fixed.message
    assert fixed.tally.writes[Side.MAILBOX].created == 1
    one_mailbox_copy_each(h, bids)
    h.assert_quiet()


def test_scenario_37_side_unavailable_fails_the_pair_and_records_nothing_wrongly(harness: Harness) -> None:
    """A 503 for the whole side (``Unavailable`` is side-level): the run fails; what was written
    before it is found again by its stamp, nothing is linked to an item that does not exist."""
    h = harness
    bids = [h.b.put(c) for c in people(20)]
    eighth = planned_keys(h)[7]
    h.m.faults.add(Unavailable, kinds=("create",), item=eighth, message="503 Service Unavailable")

    report = h.run()

    assert report.outcome == "failed"
    assert "503" in report.message
    assert h.count(Side.MAILBOX) == 7  # writes 1–7 happened before the side went away
    for link in h.links().values():
        assert link.mailbox_id is not None and link.mailbox_id in h.m
    assert h.store.tokens(h.profile, h.part) == {} or all(
        v is None for v in h.store.tokens(h.profile, h.part).values()
    )

    fixed = h.run()

    assert fixed.outcome == "ok", fixed.message
    assert fixed.tally.writes[Side.MAILBOX].created == 13
    assert len(h.links()) == 20
    one_mailbox_copy_each(h, bids)
    h.assert_quiet()


# -- 38. 412 on update ---------------------------------------------------------------------------
def test_scenario_38_flaky_etag_is_reread_and_written_once_more(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")
    h.m.faults.conflict(item=mid)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].updated == 1
    assert h.m.calls.updates == 2  # the 412, then the write decided again
    assert report.tally.conflicts == 0 and not report.tally.errors
    assert h.m.get(mid).item.city == "Paris"  # type: ignore[union-attr]
    h.assert_quiet()


def once_at(step: str, action: Callable[[], object]) -> Callable[[str], None]:
    done = False

    def on_step(name: str) -> None:
        nonlocal done
        if name == step and not done:
            done = True
            action()

    return on_step


def test_scenario_38_same_field_changed_meanwhile_becomes_a_logged_conflict(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")

    # Someone edits the mailbox copy after our read, before our PATCH: the PATCH answers 412.
    report = h.run(on_step=once_at("after-journal", lambda: h.m.edit(mid, city="Rome")))

    assert report.outcome == "ok", report.message
    assert report.tally.conflicts == 1
    [c] = h.conflicts()
    assert (c.field, c.business_value, c.mailbox_value, c.winner) == ("city", "Paris", "Rome", "business")
    assert h.m.get(mid).item.city == h.b.get(bid).item.city == "Paris"  # type: ignore[union-attr]
    h.assert_quiet()


def test_scenario_38_record_only_overwrites_nothing_after_a_412(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(policy=Policy(conflict=RecordOnly()))
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")

    report = h.run(on_step=once_at("after-journal", lambda: h.m.edit(mid, city="Rome")))

    assert report.outcome == "ok", report.message
    assert h.m.get(mid).item.city == "Rome"  # type: ignore[union-attr]
    assert h.b.get(bid).item.city == "Paris"  # type: ignore[union-attr]
    assert report.tally.writes[Side.MAILBOX].updated == 0
    assert h.link(bid).conflict  # type: ignore[union-attr]
    assert [(c.field, c.winner) for c in h.conflicts()] == [("city", "none")]
    h.assert_quiet()  # flagged: re-read every run, logged once, written never


def test_scenario_38_other_field_changed_meanwhile_both_survive(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")

    report = h.run(on_step=once_at("after-journal", lambda: h.m.edit(mid, job_title="Judge")))

    assert report.outcome == "ok", report.message
    assert report.tally.conflicts == 0
    for record in (h.b.get(bid), h.m.get(mid)):
        assert record is not None
        assert (record.item.city, record.item.job_title) == ("Paris", "Judge")  # type: ignore[attr-defined]
    h.assert_quiet()


# -- 39. 404 on update or delete -----------------------------------------------------------------
def test_scenario_39_update_of_a_vanished_item_recreates_it_from_the_business_edit(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")

    report = h.run(on_step=once_at("after-journal", lambda: h.m.remove(mid)))

    assert report.outcome == "ok", report.message
    assert not report.tally.errors
    assert report.tally.writes[Side.MAILBOX].created == 1
    assert report.tally.writes[Side.MAILBOX].updated == 0
    [record] = h.records(Side.MAILBOX)
    assert record.id != mid and record.item.city == "Paris"  # type: ignore[attr-defined]
    assert h.mailbox_id(bid) == record.id
    h.assert_quiet()


def test_scenario_39_delete_of_a_vanished_item_counts_as_done(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.remove(bid)

    report = h.run(on_step=once_at("after-journal", lambda: h.m.remove(mid)))

    assert report.outcome == "ok", report.message
    assert not report.tally.errors
    assert h.links() == {}
    assert h.count(Side.MAILBOX) == 0 and h.count(Side.BUSINESS) == 0
    h.assert_quiet()


def test_scenario_39_business_update_of_a_vanished_row_is_decided_again(harness: Harness) -> None:
    """The mirror: the business row goes while we write the mailbox edit to it. With direction
    ``both``, the mailbox edit beats the delete (scenario 5): the row is made again, once."""
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.m.edit(mid, city="Rome")

    report = h.run(on_step=once_at("after-journal", lambda: h.b.remove(bid)))

    assert report.outcome == "ok", report.message
    assert not report.tally.errors
    assert report.tally.writes[Side.BUSINESS].created == 1
    [row] = h.records(Side.BUSINESS)
    assert row.id != bid and row.item.city == "Rome"  # type: ignore[attr-defined]
    assert h.business_id(mid) == row.id
    assert h.count(Side.MAILBOX) == 1
    h.assert_quiet()


# -- 42. a side suddenly empty; the mass-delete guard ---------------------------------------------
DANGEROUS = Policy(delete_in_business=True)  # a mailbox that looks empty would delete business rows


def test_scenario_42_wrong_folder_looks_empty_and_suspends(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(policy=DANGEROUS)
    synced(h, 12)
    real = h.mailbox
    wrong = MemoryStore(Side.MAILBOX, name="wrong folder")
    wrong.expire_tokens()  # our delta token means nothing to another folder
    h.mailbox = MemoryConnector(wrong, Side.MAILBOX, h.part)

    report = h.run()

    assert report.outcome == "suspended"
    assert "empty" in report.message
    suspension = h.store.suspension(h.profile, h.part)
    assert suspension is not None and "empty" in suspension.reason
    assert h.count(Side.BUSINESS) == 12 and h.b.calls.writes == 0
    assert report.tally.writes[Side.BUSINESS].deleted == 0

    # Stays suspended, even once the folder is right again, until a person says so.
    h.mailbox = real
    still = h.run()
    assert still.outcome == "suspended" and "resume" in still.message
    forced = h.run(force=True)
    assert forced.outcome == "ok", forced.message
    assert h.store.suspension(h.profile, h.part) is None
    assert h.count(Side.BUSINESS) == 12
    h.assert_quiet()


@pytest.mark.parametrize("policy", [Policy(), DANGEROUS], ids=["default", "delete_in_business"])
def test_scenario_42_mailbox_emptied_between_runs_suspends(
    make_harness: Callable[..., Harness], policy: Policy
) -> None:
    """Every linked item reported removed by an incremental listing is "suddenly empty" as well."""
    h = make_harness(policy=policy)
    pairs = synced(h, 12)
    for _, mid in pairs:
        h.m.remove(mid)

    report = h.run()

    assert report.outcome == "suspended", report.as_json()
    assert h.store.suspension(h.profile, h.part) is not None
    assert h.b.calls.writes == 0 and h.count(Side.BUSINESS) == 12
    assert len(h.links()) == 12  # nothing forgotten either

    # Forced once: the policy decides what a user's deletes mean; no re-creates, and deletes only
    # where the policy asks for them.
    forced = h.run(force=True)
    assert forced.outcome == "ok", forced.message
    assert forced.tally.writes[Side.MAILBOX].created == 0
    assert forced.tally.writes[Side.BUSINESS].deleted == (12 if policy.delete_in_business else 0)
    h.assert_quiet()


@pytest.mark.parametrize(
    ("linked", "deleted", "suspended"),
    [(30, 6, True), (30, 5, False), (100, 6, False), (100, 11, True)],
    ids=["over-both", "at-max-deletes", "under-share", "over-share"],
)
def test_scenario_42_mass_delete_guard(
    make_harness: Callable[..., Harness], linked: int, deleted: int, suspended: bool
) -> None:
    """Stops when deletes > max_deletes AND > max_delete_share of the side (both, not either)."""
    h = make_harness(policy=Policy(max_deletes=5, max_delete_share=0.1))
    pairs = synced(h, linked)
    for bid, _ in pairs[:deleted]:
        h.b.remove(bid)

    report = h.run()

    if not suspended:
        assert report.outcome == "ok", report.message
        assert report.tally.writes[Side.MAILBOX].deleted == deleted
        h.assert_quiet()
        return
    assert report.outcome == "suspended"
    assert f"delete {deleted} of {linked}" in report.message
    assert h.m.calls.deletes == 0 and h.count(Side.MAILBOX) == linked
    assert h.store.suspension(h.profile, h.part) is not None
    dry = h.run(dry_run=True, force=True)
    assert dry.plan is not None and dry.plan.deletes(Side.MAILBOX) == deleted
    assert h.m.calls.deletes == 0

    forced = h.run(force=True)  # passes once

    assert forced.outcome == "ok", forced.message
    assert forced.tally.writes[Side.MAILBOX].deleted == deleted
    assert h.count(Side.MAILBOX) == linked - deleted
    assert h.store.suspension(h.profile, h.part) is None
    h.assert_quiet()


def test_scenario_42_business_filter_empties_the_side_suspends(harness: Harness) -> None:
    h = harness
    pairs = synced(h, 12)
    for bid, _ in pairs:
        h.b.set_scope(bid, Scope.FILTER, "filter matches nothing")

    report = h.run()

    assert report.outcome == "suspended", report.as_json()
    assert h.m.calls.deletes == 0 and h.count(Side.MAILBOX) == 12

    forced = h.run(force=True)  # a person confirmed: the copies go (rule 4), the rows stay
    assert forced.outcome == "ok", forced.message
    assert forced.tally.writes[Side.MAILBOX].deleted == 12 and h.b.calls.writes == 0
    h.assert_quiet()


# -- 43. the server rewrites an item -------------------------------------------------------------
def test_scenario_43_bookkeeping_rewrite_on_both_sides_refreshes_versions_only(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    bv, mv = h.b.touch(bid), h.m.touch(mid)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == (0, 1)  # only the first run's create
    assert report.tally.conflicts == 0 and h.conflicts() == []
    link = h.link(bid)
    assert link is not None and (link.business_version, link.mailbox_version) == (bv, mv)
    h.assert_quiet()


def test_scenario_43_rewrite_right_after_our_write_causes_no_ping_pong(harness: Harness) -> None:
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="Paris")
    rewritten: list[str] = []

    report = h.run(on_step=once_at("after-record", lambda: rewritten.append(h.m.touch(mid))))
    assert report.tally.writes[Side.MAILBOX].updated == 1

    after = h.run()  # sees a new mailbox version with the content it wrote

    assert after.outcome == "ok", after.message
    assert after.tally.writes[Side.MAILBOX].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    assert after.tally.writes[Side.BUSINESS].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    assert after.tally.conflicts == 0
    assert h.link(bid).mailbox_version == rewritten[0]  # type: ignore[union-attr]
    h.assert_quiet()


def test_scenario_43_equivalent_rewrite_is_not_a_change(harness: Harness) -> None:
    """A server that re-serialises values (line endings, spaces) changes nothing after normalising."""
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.m.edit(mid, city="  Leeds\r\n", emails=["p1@EXAMPLE.COM."])
    assert h.m.get(mid).item.projection() == h.b.get(bid).item.projection()  # type: ignore[union-attr]
    h.assert_quiet()


def test_scenario_36_37_write_log_sees_updates_too(harness: Harness) -> None:
    """The retry of a throttled update names the same item and the same expected version."""
    h = harness
    [(bid, mid)] = synced(h, 1)
    h.b.edit(bid, city="York")
    h.m.faults.throttle(item=mid, wait=2.0)
    log = WriteLog(h.mailbox)

    report = h.run()

    assert report.outcome == "ok", report.message
    [first], [second] = log.batches
    assert isinstance(first, Update) and first == second
    h.assert_quiet()
