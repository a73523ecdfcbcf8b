"""The in-memory store's test hooks, fault injection and call counters."""

from __future__ import annotations

import re
import time

import pytest

from exsync.connector import (
    Connector,
    Create,
    Delete,
    Deleted,
    Gone,
    PermissionDenied,
    Rejected,
    Scope,
    Side,
    Staff,
    StaffDirectory,
    Throttled,
    TokenExpired,
    Unavailable,
    Update,
    VersionConflict,
    Written,
)
from exsync.model import Contact, Event, Task
from exsync.testing import Crash, MemoryConnector, MemoryStore, memory_pair


def contact(n: int) -> Contact:
    return Contact(first_name=f"Ada{n}", last_name="Lovelace", emails=[f"ada{n}@example.com"])


@pytest.fixture
def mailbox() -> MemoryConnector:
    return memory_pair("contacts")[1]


@pytest.fixture
def business() -> MemoryConnector:
    return memory_pair("contacts")[0]


# -- ids, versions, scope --------------------------------------------------------------------


def test_pair_shapes() -> None:
    business, mailbox = memory_pair("calendar", owner="JD")
    assert (business.side, mailbox.side) == (Side.BUSINESS, Side.MAILBOX)
    assert business.part == mailbox.part == "calendar"
    assert isinstance(business, Connector) and isinstance(business, StaffDirectory)
    with pytest.raises(ValueError, match="business store"):
        MemoryConnector(business.store, Side.MAILBOX, "calendar")
    with pytest.raises(ValueError, match="unknown part"):
        MemoryConnector(business.store, Side.BUSINESS, "notes")


def test_business_ids_are_table_and_number_shared_by_calendar_and_tasks() -> None:
    store = MemoryStore(Side.BUSINESS, tables={"contacts": "persons"})
    calendar = MemoryConnector(store, Side.BUSINESS, "calendar")
    tasks = MemoryConnector(store, Side.BUSINESS, "tasks")
    assert store.put(contact(1)) == "persons:1"
    assert calendar.put(Event(subject="a")) == "activities:1"
    [w] = tasks.apply([Create(Task(subject="b"), "AAMk1")])
    assert isinstance(w, Written) and w.id == "activities:2"
    # each part sees only its own items
    assert [e.id for e in tasks.changes(None).entries] == ["activities:2"]
    assert tasks.fetch(["activities:1"]) == {}


def test_mailbox_ids_are_opaque_and_differ_between_mailboxes() -> None:
    one, two = MemoryStore(Side.MAILBOX, name="jd"), MemoryStore(Side.MAILBOX, name="ab")
    a, b = one.put(contact(1)), two.put(contact(1))
    assert re.fullmatch(r"AAMk[0-9a-f]{32}", a)
    assert a != b
    assert a == MemoryStore(Side.MAILBOX, name="jd").put(contact(1))  # deterministic


def test_touch_bumps_the_version_only(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1), "contacts:people:1")
    before = mailbox.fetch([id])[id]
    version = mailbox.store.touch(id)
    after = mailbox.fetch([id])[id]
    assert version == after.version != before.version
    assert after.item == before.item and after.stamp == before.stamp


def test_edit_normalises_and_keeps_other_fields(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1))
    mailbox.store.edit(id, notes="  a\r\nb ")
    item = mailbox.fetch([id])[id].item
    assert isinstance(item, Contact)
    assert (item.notes, item.first_name) == ("a\nb", "Ada1")


def test_out_of_scope_items_are_not_listed_but_fetched(business: MemoryConnector) -> None:
    store = business.store
    filtered, window, deleted, kept = (store.put(contact(n)) for n in range(4))
    token = business.changes(None).token
    assert token is not None
    store.set_scope(filtered, Scope.FILTER, "owner changed")
    store.set_scope(window, Scope.WINDOW, "before the window")
    store.soft_delete(deleted)
    assert [e.id for e in business.changes(None).entries] == [kept]
    delta = business.changes(token)
    assert (list(delta.entries), sorted(delta.removed)) == ([], sorted([filtered, window, deleted]))
    found = business.fetch([filtered, window, deleted])
    assert found[filtered].scope is Scope.FILTER and found[filtered].scope_reason == "owner changed"
    assert found[window].scope is Scope.WINDOW
    assert found[deleted].scope is Scope.DELETED
    # back in scope: listed again, and reported by delta as an entry
    token = business.changes(None).token
    assert token is not None
    store.set_scope(filtered, Scope.IN)
    assert [e.id for e in business.changes(token).entries] == [filtered]


def test_soft_delete_is_for_business_rows(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1))
    with pytest.raises(ValueError, match="remove"):
        mailbox.store.soft_delete(id)


def test_removed_items_are_gone_but_find_sees_out_of_scope_copies(mailbox: MemoryConnector) -> None:
    first = mailbox.put(contact(1), "contacts:people:1")
    copy = mailbox.put(contact(1), "contacts:people:1")
    mailbox.store.set_scope(first, Scope.FILTER, "moved to another folder")
    found = mailbox.find(["contacts:people:1"])["contacts:people:1"]
    assert [(r.id, r.scope) for r in found] == [(first, Scope.FILTER), (copy, Scope.IN)]
    mailbox.store.remove(first)
    assert mailbox.fetch([first]) == {}
    assert [r.id for r in mailbox.find(["contacts:people:1"])["contacts:people:1"]] == [copy]
    with pytest.raises(KeyError):
        mailbox.store.edit(first, notes="x")


def test_owned_rows_are_out_of_scope_for_other_owners() -> None:
    store = MemoryStore(Side.BUSINESS)
    jd = MemoryConnector(store, Side.BUSINESS, "contacts", owner="JD")
    ab = MemoryConnector(store, Side.BUSINESS, "contacts", owner="AB")
    shared, mine = store.put(contact(1)), jd.put(contact(2))
    assert {e.id for e in jd.changes(None).entries} == {shared, mine}
    assert {e.id for e in ab.changes(None).entries} == {shared}
    assert ab.fetch([mine])[mine].scope is Scope.FILTER
    token = ab.changes(None).token
    assert token is not None
    store.set_owner(mine, "AB")
    assert [e.id for e in ab.changes(token).entries] == [mine]


def test_update_with_an_invalid_field_is_rejected(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1))
    version = mailbox.fetch([id])[id].version
    [outcome] = mailbox.apply([Update(id, {"no_such_field": 1}, version)])
    assert isinstance(outcome, Rejected)
    [outcome] = mailbox.apply([Create(Task(subject="wrong part"), "k")])
    assert isinstance(outcome, Rejected)


def test_expired_tokens(mailbox: MemoryConnector) -> None:
    mailbox.put(contact(1))
    old = mailbox.changes(None).token
    assert old is not None
    mailbox.store.expire_tokens()
    with pytest.raises(TokenExpired):
        mailbox.changes(old)
    fresh = mailbox.changes(None).token
    assert fresh is not None
    assert mailbox.changes(fresh).entries == []
    for bogus in ("", "abc", str(10**9), "-1"):
        with pytest.raises(TokenExpired):
            mailbox.changes(bogus)


def test_staff_directory(business: MemoryConnector) -> None:
    staff = [Staff(1, "JD", "Jane Doe", "jd@firm.example", time_zone="Europe/Paris")]
    business.store.set_staff(staff)
    assert business.staff() == staff
    business.staff().clear()  # a copy: the directory is not changed through it
    assert business.staff() == staff


# -- faults ----------------------------------------------------------------------------------


def test_throttle_the_next_writes(mailbox: MemoryConnector) -> None:
    mailbox.faults.throttle(2, wait=7.5)
    outcomes = mailbox.apply([Create(contact(n), f"k{n}") for n in range(3)])
    assert [type(o) for o in outcomes] == [Throttled, Throttled, Written]
    assert isinstance(outcomes[0], Throttled) and outcomes[0].wait == 7.5
    assert len(mailbox.changes(None).entries) == 1  # the throttled ones were not written
    assert mailbox.faults.pending == []


def test_reject_one_item_by_id_or_by_stamp(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1))
    version = mailbox.fetch([id])[id].version
    mailbox.faults.reject(id, "invalid birthday")
    mailbox.faults.reject("k2")
    outcomes = mailbox.apply(
        [Update(id, {"notes": "x"}, version), Create(contact(2), "k2"), Create(contact(3), "k3")]
    )
    assert isinstance(outcomes[0], Rejected) and str(outcomes[0]) == "invalid birthday"
    assert isinstance(outcomes[1], Rejected)
    assert isinstance(outcomes[2], Written)
    # until cleared
    [again] = mailbox.apply([Update(id, {"notes": "x"}, version)])
    assert isinstance(again, Rejected)
    mailbox.faults.clear()
    [done] = mailbox.apply([Update(id, {"notes": "x"}, version)])
    assert isinstance(done, Written)


def test_flaky_version_conflict(mailbox: MemoryConnector) -> None:
    a, b = mailbox.put(contact(1)), mailbox.put(contact(2))
    records = mailbox.fetch([a, b])
    mailbox.faults.conflict(b)
    first = mailbox.apply([Update(a, {"notes": "x"}, records[a].version), Delete(b, records[b].version)])
    assert isinstance(first[0], Written) and isinstance(first[1], VersionConflict)
    assert b in mailbox.store  # nothing happened to it
    assert mailbox.apply([Delete(b, records[b].version)]) == [Deleted(b)]


def test_unavailable_on_the_next_call_only(mailbox: MemoryConnector) -> None:
    mailbox.put(contact(1))
    mailbox.faults.unavailable()
    with pytest.raises(Unavailable):
        mailbox.changes(None)
    assert len(mailbox.changes(None).entries) == 1
    mailbox.faults.unavailable()
    with pytest.raises(Unavailable):
        mailbox.apply([Create(contact(2), "k")])
    assert len(mailbox.store) == 1  # raised before the write


def test_side_errors_on_writes_are_raised_not_returned(mailbox: MemoryConnector) -> None:
    mailbox.faults.add(PermissionDenied, kinds=("create",), n=None)  # a read-only flip
    with pytest.raises(PermissionDenied):
        mailbox.apply([Create(contact(1), "k")])
    mailbox.faults.add(Gone, kinds=("fetch",), item="x")
    assert mailbox.fetch(["y"]) == {}
    with pytest.raises(Gone):
        mailbox.fetch(["x"])


def test_crash_after_write_leaves_the_write_done(mailbox: MemoryConnector) -> None:
    seen: list[object] = []

    def hook(write: object, outcome: object) -> None:
        seen.append(outcome)
        if len(seen) == 2:
            raise Crash("killed")

    mailbox.faults.crash_after_write = hook
    with pytest.raises(Crash):
        mailbox.apply([Create(contact(n), f"k{n}") for n in range(4)])
    assert len(mailbox.store) == 2  # both writes reached the side; nobody got the outcomes
    assert mailbox.calls.creates == 2
    assert sorted(mailbox.find(["k0", "k1", "k2"])) == ["k0", "k1"]


def test_crash_after_the_nth_write_once(mailbox: MemoryConnector) -> None:
    mailbox.faults.crash_after(3)
    with pytest.raises(Crash):
        mailbox.apply([Create(contact(n), f"k{n}") for n in range(5)])
    assert len(mailbox.store) == 3
    assert all(isinstance(o, Written) for o in mailbox.apply([Create(contact(9), "k9")]))


def test_crash_is_not_an_exception() -> None:
    assert not issubclass(Crash, Exception)


def test_replays_repeat_entries(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1))
    token = mailbox.changes(None).token
    assert token is not None
    mailbox.store.touch(id)
    mailbox.faults.replay(2)
    assert [e.id for e in mailbox.changes(None).entries] == [id, id]
    assert [e.id for e in mailbox.changes(token).entries] == [id, id]
    assert [e.id for e in mailbox.changes(token).entries] == [id]


def test_calls_and_writes_are_counted_per_store(mailbox: MemoryConnector) -> None:
    id = mailbox.put(contact(1), "s")  # test hooks are not calls
    assert mailbox.writes == 0
    version = mailbox.fetch([id])[id].version
    mailbox.changes(None)
    mailbox.find(["s"])
    mailbox.faults.throttle()
    mailbox.apply([Update(id, {"notes": "x"}, version), Create(contact(2), "t"), Delete("AAMkgone", "1")])
    calls = mailbox.calls
    assert (calls.creates, calls.updates, calls.deletes) == (1, 1, 1)
    assert (calls.fetches, calls.lists, calls.finds) == (1, 1, 1)
    assert mailbox.writes == calls.writes == 3  # attempts, the throttled one included
    other = MemoryConnector(mailbox.store, Side.MAILBOX, "contacts")  # a connector made for the next run
    assert other.calls is calls
    mailbox.store.reset_calls()
    assert calls.writes == 0


# -- speed -----------------------------------------------------------------------------------


def test_listing_100k_items_is_fast(mailbox: MemoryConnector) -> None:
    item = contact(1)
    for n in range(100_000):
        mailbox.put(item, f"contacts:people:{n}")
    best = 1.0
    for _ in range(3):
        start = time.perf_counter()
        listing = mailbox.changes(None)
        best = min(best, time.perf_counter() - start)
    assert len(listing.entries) == 100_000
    assert best < 0.2, f"changes(None) took {best:.3f} s"
    start = time.perf_counter()
    assert len(mailbox.fetch([e.id for e in listing.entries])) == 100_000
    assert time.perf_counter() - start < 1.0
