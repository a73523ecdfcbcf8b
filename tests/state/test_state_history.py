"""Runs, the conflict log and the write journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exsync.state import ConflictEntry, JournalEntry, StateStore


def recent(value: datetime | None) -> bool:
    return (
        value is not None
        and value.tzinfo is not None
        and abs(value - datetime.now(UTC)) < timedelta(minutes=1)
    )


# runs ---------------------------------------------------------------------------------------------


def test_a_run_is_started_and_finished(store: StateStore) -> None:
    run_id = store.start_run("JD", "calendar", dry_run=True, full=False)
    running = store.last_run("JD", "calendar")
    assert running is not None
    assert (running.id, running.outcome, running.dry_run, running.full) == (run_id, "running", True, False)
    assert running.finished_at is None and recent(running.started_at)

    counts = {"mailbox": {"created": 2, "updated": 0, "deleted": 1}, "conflicts": 1}
    errors = [{"item": "contacts:people:9", "message": "rejected: ünïcode"}]
    store.finish_run(run_id, "failed", counts, errors)
    done = store.last_run("JD", "calendar")
    assert done is not None
    assert (done.outcome, done.counts, done.errors) == ("failed", counts, errors)
    assert recent(done.finished_at) and done.finished_at is not None and done.finished_at >= done.started_at


def test_finishing_an_unknown_run_is_an_error(store: StateStore) -> None:
    with pytest.raises(KeyError):
        store.finish_run(999_999, "ok", {}, [])


def test_runs_are_listed_newest_first_and_filtered(store: StateStore) -> None:
    ids = [
        store.start_run("JD", "contacts", dry_run=False, full=True),
        store.start_run("JD", "calendar", dry_run=False, full=False),
        store.start_run("AB", "contacts", dry_run=False, full=False),
        store.start_run("JD", "contacts", dry_run=False, full=False),
    ]
    assert [r.id for r in store.runs()] == ids[::-1]
    assert [r.id for r in store.runs("JD")] == [ids[3], ids[1], ids[0]]
    assert [r.id for r in store.runs(part="contacts")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in store.runs("JD", "contacts", limit=1)] == [ids[3]]
    last = store.last_run("JD", "contacts")
    assert last is not None and last.id == ids[3]
    assert store.last_run("ZZ", "contacts") is None


# conflict log -------------------------------------------------------------------------------------


def conflict(
    field: str = "phone", business: object = "+1 555 0100", mailbox: object = "+1 555 0199"
) -> ConflictEntry:
    return ConflictEntry(
        profile="JD",
        part="contacts",
        key="contacts:people:42",
        field=field,
        business_value=business,
        mailbox_value=mailbox,
        business_version="2026-11-21T14:03:00Z",
        mailbox_version="CQAAABYAAA",
        base_value="+1 555 0000",
        winner="business",
        kept_value=business,
    )


def test_conflicts_round_trip_with_json_values(store: StateStore) -> None:
    entry = conflict("emails", ["a@firm.example", "b@firm.example"], {"address": "Zoë@x.example", "n": 2})
    assert store.log_conflicts([entry]) == 1
    (got,) = store.conflicts()
    assert got.id is not None and recent(got.at)
    got.id = None
    got.at = None
    assert got == entry


def test_a_conflict_seen_again_is_logged_once(store: StateStore) -> None:
    record_only = conflict(mailbox=None)
    record_only.winner = "none"
    assert store.log_conflicts([record_only, conflict("name", "Ann", "Anne")]) == 2
    assert store.log_conflicts([record_only]) == 0  # next run: same conflict, still unresolved
    assert store.log_conflicts([conflict("name", "Ann", "Anne"), conflict("name", "Ann", "Annie")]) == 1
    assert store.log_conflicts([conflict("title", "Dr", "Prof"), conflict("title", "Dr", "Prof")]) == 1
    assert len(store.conflicts()) == 4
    other_key = conflict()
    other_key.key = "contacts:people:43"
    assert store.log_conflicts([other_key]) == 1


def test_resolving_conflicts_lets_them_be_logged_again(store: StateStore) -> None:
    store.log_conflicts([conflict("phone"), conflict("name", "Ann", "Anne"), conflict("title", "Dr", "Prof")])
    assert store.resolve_conflicts("JD", "contacts", "contacts:people:42", ["phone"]) == 1
    assert {c.field for c in store.conflicts(unresolved_only=True)} == {"name", "title"}
    assert store.log_conflicts([conflict("phone")]) == 1  # resolved once, it may happen again

    assert store.resolve_conflicts("JD", "contacts", "contacts:people:42") == 3
    assert store.conflicts(unresolved_only=True) == []
    assert len(store.conflicts()) == 4
    assert all(c.resolved for c in store.conflicts())


def test_conflicts_are_listed_newest_first_and_filtered(store: StateStore) -> None:
    first, second = conflict("a"), conflict("b")
    elsewhere = conflict("c")
    elsewhere.profile, elsewhere.part = "AB", "calendar"
    store.log_conflicts([first])
    store.log_conflicts([second, elsewhere])
    assert [c.field for c in store.conflicts()] == ["c", "b", "a"]
    assert [c.field for c in store.conflicts("JD")] == ["b", "a"]
    assert [c.field for c in store.conflicts(part="calendar")] == ["c"]
    assert [c.field for c in store.conflicts(limit=1)] == ["c"]


# write journal ------------------------------------------------------------------------------------


def intent(key: str, action: str = "update", run_id: int = 1, profile: str = "JD") -> JournalEntry:
    return JournalEntry(
        profile=profile,
        part="contacts",
        run_id=run_id,
        side="mailbox",
        action=action,  # type: ignore[arg-type]
        key=key,
        item_id=None if action == "create" else f"AAMk-{key}",
        before=None if action == "create" else {"name": "old"},
        after=None if action == "delete" else {"name": "new"},
    )


def test_journal_returns_ids_in_order_and_round_trips(store: StateStore) -> None:
    entries = [
        intent(f"contacts:people:{i}", action) for i, action in enumerate(["create", "update", "delete"])
    ]
    ids = store.journal(entries)
    assert len(ids) == 3 and ids == sorted(ids) and len(set(ids)) == 3
    assert store.journal([]) == []
    listed = store.journal_entries()
    assert [e.id for e in listed] == ids[::-1]
    for got, wanted in zip(reversed(listed), entries, strict=True):
        assert recent(got.at)
        got.id = got.at = None
        assert got == wanted


def test_journal_finish_records_outcomes(store: StateStore) -> None:
    created, updated, failed = store.journal([intent("k1", "create"), intent("k2"), intent("k3")])
    store.journal_finish(
        [
            (created, "done", {"name": "new", "id": "AAMk-new"}, ""),
            (updated, "done", None, ""),  # None: keep the after journaled with the intent
            (failed, "failed", None, "412 precondition failed"),
        ]
    )
    store.journal_finish([])
    by_key = {e.key: e for e in store.journal_entries()}
    assert (by_key["k1"].status, by_key["k1"].after) == ("done", {"name": "new", "id": "AAMk-new"})
    assert (by_key["k2"].status, by_key["k2"].after) == ("done", {"name": "new"})
    assert (by_key["k3"].status, by_key["k3"].error) == ("failed", "412 precondition failed")


def test_journal_entries_are_filtered_newest_first(store: StateStore) -> None:
    store.journal([intent("k1"), intent("k2"), intent("k1", profile="AB")])
    store.journal([intent("k1", "delete")])
    assert [e.action for e in store.journal_entries("JD", "contacts", "k1")] == ["delete", "update"]
    assert len(store.journal_entries(profile="AB")) == 1
    assert len(store.journal_entries(part="calendar")) == 0
    assert len(store.journal_entries(limit=2)) == 2


def test_interrupt_pending_marks_a_crashed_runs_intents(store: StateStore) -> None:
    done, crashed_1, crashed_2 = store.journal([intent("k1"), intent("k2", "create"), intent("k3", "delete")])
    (other_pair,) = store.journal([intent("k9", profile="AB")])
    store.journal_finish([(done, "done", None, "")])

    interrupted = store.interrupt_pending("JD", "contacts")
    assert [e.id for e in interrupted] == [crashed_1, crashed_2]
    assert all(e.status == "interrupted" for e in interrupted)
    assert interrupted[0].action == "create" and interrupted[0].after == {"name": "new"}

    status = {e.id: e.status for e in store.journal_entries()}
    assert status == {done: "done", crashed_1: "interrupted", crashed_2: "interrupted", other_pair: "pending"}
    assert store.interrupt_pending("JD", "contacts") == []
