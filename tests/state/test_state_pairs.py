"""Per-pair bookkeeping: delta tokens, the settings fingerprint, pending retries, suspensions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exsync.state import Pending, StateStore


def test_tokens_are_saved_replaced_and_forgotten_per_collection(store: StateStore) -> None:
    assert store.tokens("JD", "calendar") == {}
    store.save_tokens("JD", "calendar", {"business": "2026-11-21T14:03:00Z", "mailbox:calendarView": "d1"})
    store.save_tokens("JD", "calendar", {"mailbox:calendarView": "d2"})
    assert store.tokens("JD", "calendar") == {
        "business": "2026-11-21T14:03:00Z",
        "mailbox:calendarView": "d2",
    }

    store.save_tokens("JD", "calendar", {"business": None, "mailbox:calendarView": "d3", "never-had": None})
    assert store.tokens("JD", "calendar") == {"mailbox:calendarView": "d3"}
    # other pairs are untouched by all of this
    store.save_tokens("JD", "tasks", {"mailbox": "t1"})
    store.save_tokens("AB", "calendar", {"mailbox": "a1"})
    assert store.tokens("JD", "calendar") == {"mailbox:calendarView": "d3"}
    assert store.tokens("JD", "tasks") == {"mailbox": "t1"}


def test_a_long_token_is_kept_whole(store: StateStore) -> None:
    token = "https://graph.microsoft.com/v1.0/me/contactFolders/x/contacts/delta?$deltatoken=" + "Ab9-" * 500
    store.save_tokens("JD", "contacts", {"mailbox": token})
    assert store.tokens("JD", "contacts") == {"mailbox": token}


def test_fingerprint_is_stored_per_pair(store: StateStore) -> None:
    assert store.fingerprint("JD", "contacts") is None
    store.save_fingerprint("JD", "contacts", "sha256:aaa")
    store.save_fingerprint("JD", "contacts", "sha256:bbb")
    assert store.fingerprint("JD", "contacts") == "sha256:bbb"
    assert store.fingerprint("JD", "calendar") is None


def test_pending_items_count_their_attempts(store: StateStore) -> None:
    store.mark_pending(
        "JD",
        "contacts",
        [Pending("mailbox", "AAMk1", "503 unavailable"), Pending("business", "42", "constraint")],
    )
    assert store.pending("JD", "contacts") == [
        Pending("business", "42", "constraint", 1),
        Pending("mailbox", "AAMk1", "503 unavailable", 1),
    ]
    store.mark_pending("JD", "contacts", [Pending("mailbox", "AAMk1", "429 throttled")])
    store.mark_pending("JD", "contacts", [Pending("mailbox", "AAMk1", "429 again")])
    by_id = {item.item_id: item for item in store.pending("JD", "contacts")}
    assert by_id["AAMk1"] == Pending("mailbox", "AAMk1", "429 again", 3)
    assert by_id["42"].attempts == 1


def test_the_same_id_on_both_sides_is_two_pending_items(store: StateStore) -> None:
    store.mark_pending("JD", "tasks", [Pending("mailbox", "7"), Pending("business", "7")])
    assert len(store.pending("JD", "tasks")) == 2


def test_clearing_pending_items(store: StateStore) -> None:
    store.mark_pending(
        "JD", "contacts", [Pending("mailbox", "A"), Pending("mailbox", "B"), Pending("business", "A")]
    )
    store.mark_pending("AB", "contacts", [Pending("mailbox", "A")])
    store.clear_pending("JD", "contacts", [("mailbox", "A"), ("business", "nope")])
    store.clear_pending("JD", "contacts", [])
    assert {(p.side, p.item_id) for p in store.pending("JD", "contacts")} == {
        ("mailbox", "B"),
        ("business", "A"),
    }
    assert [p.item_id for p in store.pending("AB", "contacts")] == ["A"]


def test_suspend_and_resume(store: StateStore) -> None:
    assert store.suspension("JD", "contacts") is None
    assert store.resume("JD", "contacts") is False

    store.suspend("JD", "contacts", "would delete 40 of 50 mailbox items")
    store.suspend("AB", "calendar", "mailbox side suddenly empty")
    store.suspend("JD", "contacts", "would delete 45 of 50 mailbox items")  # a later guard replaces it
    found = store.suspension("JD", "contacts")
    assert found is not None
    assert found.reason == "would delete 45 of 50 mailbox items"
    assert found.at is not None and abs(found.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert [(s.profile, s.part) for s in store.suspensions()] == [("AB", "calendar"), ("JD", "contacts")]

    assert store.resume("JD", "contacts") is True
    assert store.suspension("JD", "contacts") is None
    assert store.resume("JD", "contacts") is False
    assert [s.profile for s in store.suspensions()] == ["AB"]
