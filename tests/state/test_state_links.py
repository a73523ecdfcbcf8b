"""Links: round trips, upsert, drop, the one-link-per-mailbox-item rule, and the 100k hot path."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from exsync.state import Link, StateStore

P, PART = "JD", "contacts"


def full_link(n: int = 1) -> Link:
    """A link with every field away from its default."""
    return Link(
        key=f"contacts:people:{n}",
        business_id=str(n),
        mailbox_id=f"AAMkAD{n}=",
        business_version=f"2026-11-21T14:03:0{n}Z",
        mailbox_version=f"CQAAABYAAA{n}",
        snapshot={"first_name": "Zoë", "emails": ["a@b.example", "c@d.example"], "birthday": None, "n": n},
        in_scope=False,
        out_of_window=True,
        removed_in_mailbox=True,
        removed_in_business=True,
        conflict=True,
        last_result="updated in mailbox",
        last_error="429 throttled",
    )


def test_a_link_round_trips_with_snapshot_and_every_flag(store: StateStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    saved = full_link()
    store.save_links(P, PART, [saved])

    got = store.link(P, PART, saved.key)
    assert got is not None
    assert got.updated_at is not None and got.updated_at.tzinfo is not None
    assert before <= got.updated_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert replace(got, updated_at=None) == saved

    listed = store.links(P, PART)
    assert list(listed) == [saved.key]
    assert listed[saved.key].snapshot is None  # the hot path leaves snapshots out
    assert replace(listed[saved.key], updated_at=None) == replace(saved, snapshot=None)
    assert store.snapshots(P, PART, [saved.key]) == {saved.key: saved.snapshot}


def test_defaults_and_missing_ids_round_trip(store: StateStore) -> None:
    bare = Link("contacts:people:7", None, None)
    store.save_links(P, PART, [bare])
    got = store.link(P, PART, bare.key)
    assert got is not None and replace(got, updated_at=None) == bare
    assert store.snapshots(P, PART, [bare.key]) == {}  # no snapshot stored: nothing to report


def test_upsert_overwrites_every_field(store: StateStore) -> None:
    store.save_links(P, PART, [full_link()])
    changed = Link("contacts:people:1", "1", "AAMkNEW=", "v2", "ck2", {"first_name": "Zoe"}, last_result="ok")
    store.save_links(P, PART, [changed])
    got = store.link(P, PART, changed.key)
    assert got is not None and replace(got, updated_at=None) == changed
    assert store.count_links(P, PART) == 1


def test_saving_a_link_without_its_snapshot_keeps_the_stored_one(store: StateStore) -> None:
    store.save_links(P, PART, [full_link()])
    loaded = store.links(P, PART)["contacts:people:1"]  # snapshot not loaded
    store.save_links(P, PART, [replace(loaded, last_result="unchanged")])
    got = store.link(P, PART, loaded.key)
    assert got is not None
    assert got.snapshot == full_link().snapshot
    assert got.last_result == "unchanged"


def test_drop_removes_only_the_named_links(store: StateStore) -> None:
    store.save_links(P, PART, [full_link(1), full_link(2), full_link(3)])
    store.save_links(P, PART, [], drop=["contacts:people:2", "contacts:people:404"])
    assert sorted(store.links(P, PART)) == ["contacts:people:1", "contacts:people:3"]


def test_drop_happens_before_upsert_so_a_mailbox_item_can_change_links(store: StateStore) -> None:
    store.save_links(P, PART, [full_link(1)])
    taker = replace(full_link(2), mailbox_id=full_link(1).mailbox_id)
    store.save_links(P, PART, [taker], drop=["contacts:people:1"])
    found = store.link_by_mailbox(P, PART, taker.mailbox_id or "")
    assert found is not None and found.key == taker.key


def test_one_mailbox_item_belongs_to_one_link_per_pair(store: StateStore) -> None:
    store.save_links(P, PART, [full_link(1)])
    clash = replace(full_link(2), mailbox_id=full_link(1).mailbox_id)
    with pytest.raises(IntegrityError):
        store.save_links(P, PART, [full_link(3), clash])
    # the failed call was one transaction: nothing of it stayed
    assert sorted(store.links(P, PART)) == ["contacts:people:1"]
    # the same item id in another pair, and many links without a mailbox item, are fine
    store.save_links("AB", PART, [clash])
    store.save_links(P, "calendar", [clash])
    store.save_links(P, PART, [Link("contacts:people:8", "8", None), Link("contacts:people:9", "9", None)])
    assert store.count_links(P, PART) == 3


def test_lookups_by_mailbox_and_business_id_return_the_snapshot(store: StateStore) -> None:
    store.save_links(P, PART, [full_link(1), full_link(2)])
    by_mailbox = store.link_by_mailbox(P, PART, "AAMkAD2=")
    by_business = store.link_by_business(P, PART, "2")
    assert by_mailbox is not None and by_mailbox.key == "contacts:people:2"
    assert by_business is not None and by_business.key == "contacts:people:2"
    assert by_mailbox.snapshot == by_business.snapshot == full_link(2).snapshot
    assert store.link_by_mailbox(P, PART, "nope") is None
    assert store.link_by_business(P, PART, "nope") is None
    assert store.link_by_mailbox("AB", PART, "AAMkAD2=") is None  # other profile
    assert store.link(P, PART, "contacts:people:404") is None


def test_snapshots_of_more_keys_than_one_query_holds(store: StateStore) -> None:
    links = [Link(f"k{i}", str(i), f"m{i}", snapshot={"i": i}) for i in range(1234)]
    store.save_links(P, PART, links)
    keys = [link.key for link in links] + ["missing"]
    got = store.snapshots(P, PART, iter(keys))
    assert len(got) == 1234
    assert got["k1233"] == {"i": 1233}
    assert store.snapshots(P, PART, []) == {}


def test_pairs_are_kept_apart_and_delete_links_forgets_one_pair(store: StateStore) -> None:
    store.save_links(P, PART, [full_link(1), full_link(2)])
    store.save_links(P, "calendar", [full_link(1)])
    store.save_links("AB", PART, [full_link(1)])
    assert store.count_links(P, PART) == 2
    assert store.count_links(P, "calendar") == 1
    store.delete_links(P, PART)
    assert store.count_links(P, PART) == 0
    assert store.links(P, PART) == {}
    assert store.count_links(P, "calendar") == 1
    assert store.count_links("AB", PART) == 1


def test_values_that_would_not_read_back_the_same_are_refused(store: StateStore) -> None:
    with pytest.raises(StatementError, match="not JSON serializable"):
        store.save_links(P, PART, [Link("k", "1", "m", snapshot={"birthday": date(1990, 1, 2)})])
    assert store.count_links(P, PART) == 0


def test_ten_thousand_links_save_and_update_in_bulk(store: StateStore) -> None:
    links = [Link(f"contacts:people:{i}", str(i), f"AAMk{i}", "v1", "c1", {"i": i}) for i in range(10_000)]
    store.save_links(P, PART, links)
    store.save_links(P, PART, (replace(link, business_version="v2") for link in links[:5000]))
    loaded = store.links(P, PART)
    assert len(loaded) == 10_000
    assert sum(link.business_version == "v2" for link in loaded.values()) == 5000


def test_a_hundred_thousand_links_load_fast_from_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/exsync-state.db"
    links = (
        Link(
            f"calendar:activities:{i}",
            str(i),
            f"AAMkAGI2TG93AAABEgAQA{i:030d}=",
            "2026-11-21T14:03:00Z",
            f"DwAAABYAAAA{i:020d}",
            {"subject": f"Meeting {i}", "location": "Room 1"},
            last_result="created in mailbox",
        )
        for i in range(100_000)
    )
    with StateStore(url) as store:
        started = time.perf_counter()
        store.save_links("JD", "calendar", links)
        saved = time.perf_counter() - started

    with StateStore(url) as store:  # as a run starts: a fresh store, then every link of the pair
        started = time.perf_counter()
        loaded = store.links("JD", "calendar")
        took = time.perf_counter() - started
    print(f"\n100,000 links: saved in {saved:.2f} s, loaded by links() in {took:.3f} s")

    assert len(loaded) == 100_000
    sample = loaded["calendar:activities:99999"]
    assert sample.mailbox_id == f"AAMkAGI2TG93AAABEgAQA{99999:030d}="
    assert sample.last_result == "created in mailbox" and sample.in_scope is True
    assert sample.snapshot is None
    assert took < 2.0  # typically about 0.3 s; generous for a busy 2-core machine
