"""The connector conformance suite: one set of tests every connector passes, without the engine.

Subclass ``ConnectorConformance`` in a ``Test*`` class and provide the ``connector`` fixture: a
fresh, empty connector for one part, with a ``part`` attribute (parametrise it for several parts).
The tests speak only the ``Connector`` protocol, plus optional hooks for changes made outside sync
(``outside_edit``, ``outside_delete``, ``outside_touch``); a test that needs a hook the subclass
does not provide is skipped, saying which. ``sample``, ``patch_for``, ``stamp`` and ``text_field``
may be overridden when a connector cannot hold the default values::

    class TestSqlConformance(ConnectorConformance):
        @pytest.fixture(params=["contacts", "calendar", "tasks"])
        def connector(self, request: pytest.FixtureRequest) -> SqlConnector:
            return make_sql_connector(request.param)

        def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
            ...  # an UPDATE by the business application
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from exsync.connector.errors import Gone, TokenExpired, VersionConflict
from exsync.connector.protocol import (
    Changes,
    Connector,
    Create,
    Delete,
    Deleted,
    Entry,
    Outcome,
    Record,
    Update,
    Written,
)
from exsync.model import Canonical, Contact, Event, Fields, MailMessage, Task

MULTILINE = "  a\r\nb "  # what a user may type; normalised, it reads "a\nb"


class ConnectorConformance:
    """Contract tests for one connector; see the module docstring."""

    part: str = ""  # the connector's part, set before each test

    # -- what the subclass provides ------------------------------------------------------------

    @pytest.fixture
    def connector(self) -> Connector:
        raise NotImplementedError("subclasses provide a `connector` fixture: a fresh, empty connector")

    def outside_edit(self, connector: Connector, id: str, **fields: Any) -> None:
        """Someone edits the item outside sync (a user, the business application)."""
        pytest.skip(f"{type(self).__name__} provides no outside_edit hook")

    def outside_delete(self, connector: Connector, id: str) -> None:
        """Someone deletes the item outside sync."""
        pytest.skip(f"{type(self).__name__} provides no outside_delete hook")

    def outside_touch(self, connector: Connector, id: str) -> None:
        """The server rewrites bookkeeping: a new version, the same content."""
        pytest.skip(f"{type(self).__name__} provides no outside_touch hook")

    def sample(self, n: int) -> Canonical:
        """The ``n``-th distinct item of ``self.part``; values the connector stores as they are."""
        if self.part == "contacts":
            return Contact(
                first_name=f"Ada{n}",
                last_name="Lovelace",
                job_title="Analyst",
                company="Analytical Engines Ltd",
                emails=[f"ada{n}@example.com"],
                business_phones=["+44 20 7946 0000"],
                city="London",
                notes=f"Met at the engine demo {n}.",
            )
        if self.part == "calendar":
            day = 1 + n % 28
            return Event(
                subject=f"Hearing {n}",
                body="Bring the file.",
                location="Court 3",
                start=f"2026-03-{day:02d} 10:00",
                end=f"2026-03-{day:02d} 11:30",
                time_zone="Europe/Paris",
                reminder_minutes=15,
            )
        if self.part == "tasks":
            return Task(subject=f"File the brief {n}", body="Before noon.", due=f"2026-04-{1 + n % 28:02d}")
        if self.part == "mail":
            return MailMessage(
                internet_message_id=f"<m{n}@example.com>",
                subject=f"Offer {n}",
                sender_email="ada@example.com",
                sent_at="2026-03-01T10:00:00Z",
                body_text="Please find the offer.",
            )
        raise NotImplementedError(f"no default sample for part {self.part!r}: override sample()")

    def patch_for(self, n: int) -> Fields:
        """A change to one compared field, different for each ``n``."""
        field = {"contacts": "job_title", "calendar": "location", "tasks": "subject", "mail": "subject"}
        return {field.get(self.part, "subject"): f"Changed {n}"}

    def text_field(self) -> str:
        """A multi-line text field of ``self.part``."""
        return {"contacts": "notes", "mail": "body_text"}.get(self.part, "body")

    def stamp(self, n: int) -> str:
        return f"{self.part}:conformance:{n}"

    def unknown_token(self) -> str:
        return "exsync-conformance-no-such-token"

    # -- helpers -------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _bind_part(self, connector: Connector) -> None:
        self.part = str(getattr(connector, "part"))  # noqa: B009 (not part of the protocol)

    def create(self, connector: Connector, n: int, stamp: str | None = None) -> Written:
        return written(connector.apply([Create(self.sample(n), stamp or self.stamp(n))]))

    def fetch_one(self, connector: Connector, id: str) -> Record:
        found = connector.fetch([id])
        assert id in found, f"{id} should still exist"
        return found[id]

    # -- listing and fetching ------------------------------------------------------------------

    def test_a_fresh_connector_lists_nothing(self, connector: Connector) -> None:
        listing = connector.changes(None)
        assert listing.full
        assert list(listing.entries) == []

    def test_created_item_is_listed_with_version_and_stamp(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        entries = {e.id: e for e in connector.changes(None).entries}
        assert set(entries) == {w.id}
        assert entries[w.id].version == w.version
        assert entries[w.id].stamp == self.stamp(1)

    def test_fetch_returns_the_projection_written(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        record = self.fetch_one(connector, w.id)
        assert (record.id, record.version, record.stamp) == (w.id, w.version, self.stamp(1))
        assert record.item.projection() == self.sample(1).projection()

    def test_fetch_leaves_out_missing_ids(self, connector: Connector) -> None:
        kept, missing = self.create(connector, 1).id, self.missing_id(connector)
        assert set(connector.fetch([kept, missing])) == {kept}

    def test_full_listings_are_stable_when_nothing_changed(self, connector: Connector) -> None:
        for n in range(3):
            self.create(connector, n)
        first, second = connector.changes(None), connector.changes(None)
        assert sorted(map(astuple, first.entries)) == sorted(map(astuple, second.entries))

    # -- finding by stamp ----------------------------------------------------------------------

    def test_find_by_stamp(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        self.create(connector, 2)
        found = connector.find([self.stamp(1), self.stamp(99)])
        assert [r.id for r in found.get(self.stamp(1), [])] == [w.id]
        assert found.get(self.stamp(99), []) == []

    def test_find_returns_copies_oldest_first(self, connector: Connector) -> None:
        first = self.create(connector, 1)
        copy = self.create(connector, 2, stamp=self.stamp(1))  # a user copied the item
        for _ in range(2):  # the order is stable
            found = connector.find([self.stamp(1)])[self.stamp(1)]
            assert [r.id for r in found] == [first.id, copy.id]

    # -- updates -------------------------------------------------------------------------------

    def test_update_with_the_current_version(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        patch = self.patch_for(1)
        updated = written(connector.apply([Update(w.id, patch, w.version)]))
        assert updated.id == w.id
        assert updated.version != w.version
        record = self.fetch_one(connector, w.id)
        assert record.version == updated.version
        # the patched field changed, every other one is as it was
        assert record.item.projection() == self.sample(1).with_changes(patch).projection()

    def test_update_with_a_stale_version_conflicts_and_changes_nothing(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        current = written(connector.apply([Update(w.id, self.patch_for(1), w.version)]))
        [outcome] = connector.apply([Update(w.id, self.patch_for(2), w.version)])
        assert isinstance(outcome, VersionConflict)
        record = self.fetch_one(connector, w.id)
        assert record.version == current.version
        assert record.item.projection() == self.sample(1).with_changes(self.patch_for(1)).projection()

    def test_update_of_a_missing_item_is_gone(self, connector: Connector) -> None:
        missing = self.missing_id(connector)
        [outcome] = connector.apply([Update(missing, self.patch_for(1), "1")])
        assert isinstance(outcome, Gone)

    def test_values_are_normalised_before_writing(self, connector: Connector) -> None:
        field = self.text_field()
        item = self.sample(1).with_changes({field: MULTILINE})
        created = written(connector.apply([Create(item, self.stamp(1))]))
        assert getattr(self.fetch_one(connector, created.id).item, field) == "a\nb"
        other = self.create(connector, 2)
        written(connector.apply([Update(other.id, {field: MULTILINE}, other.version)]))
        assert getattr(self.fetch_one(connector, other.id).item, field) == "a\nb"

    # -- deletes -------------------------------------------------------------------------------

    def test_delete_removes_from_listing_and_fetch(self, connector: Connector) -> None:
        kept, deleted = self.create(connector, 1), self.create(connector, 2)
        assert connector.apply([Delete(deleted.id, deleted.version)]) == [Deleted(deleted.id)]
        assert [e.id for e in connector.changes(None).entries] == [kept.id]
        assert connector.fetch([deleted.id]) == {}

    def test_delete_with_a_stale_version_conflicts(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        current = written(connector.apply([Update(w.id, self.patch_for(1), w.version)]))
        [outcome] = connector.apply([Delete(w.id, w.version)])
        assert isinstance(outcome, VersionConflict)
        assert self.fetch_one(connector, w.id).version == current.version

    def test_deleting_what_is_gone_counts_as_done(self, connector: Connector) -> None:
        missing = self.missing_id(connector)
        assert connector.apply([Delete(missing, "1")]) == [Deleted(missing)]

    # -- delta ---------------------------------------------------------------------------------

    def test_delta_reports_what_changed_since_the_token(self, connector: Connector) -> None:
        updated, deleted = self.create(connector, 1), self.create(connector, 2)
        token = full_token(connector)
        created = self.create(connector, 3)
        written(connector.apply([Update(updated.id, self.patch_for(1), updated.version)]))
        assert connector.apply([Delete(deleted.id, deleted.version)]) == [Deleted(deleted.id)]
        delta = connector.changes(token)
        assert not delta.full
        assert {e.id for e in delta.entries} == {created.id, updated.id}
        assert deleted.id in delta.removed
        assert delta.token is not None
        quiet = connector.changes(delta.token)
        assert (list(quiet.entries), list(quiet.removed)) == ([], [])

    def test_delta_reports_outside_edits_and_deletes(self, connector: Connector) -> None:
        edited, deleted = self.create(connector, 1), self.create(connector, 2)
        token = full_token(connector)
        self.outside_edit(connector, edited.id, **self.patch_for(7))
        self.outside_delete(connector, deleted.id)
        delta = connector.changes(token)
        assert {e.id for e in delta.entries} == {edited.id}
        assert deleted.id in delta.removed
        record = self.fetch_one(connector, edited.id)
        assert record.version != edited.version
        assert record.item.projection() == self.sample(1).with_changes(self.patch_for(7)).projection()

    def test_touch_changes_the_version_not_the_projection(self, connector: Connector) -> None:
        w = self.create(connector, 1)
        self.outside_touch(connector, w.id)
        record = self.fetch_one(connector, w.id)
        assert record.version != w.version
        assert record.item.projection() == self.sample(1).projection()

    def test_an_unknown_token_expires(self, connector: Connector) -> None:
        self.create(connector, 1)
        with pytest.raises(TokenExpired):
            connector.changes(self.unknown_token())

    # -- batches -------------------------------------------------------------------------------

    def test_apply_answers_in_order_and_one_failure_stays_alone(self, connector: Connector) -> None:
        updated, deleted, stale = (self.create(connector, n) for n in (1, 2, 3))
        written(connector.apply([Update(stale.id, self.patch_for(3), stale.version)]))
        missing = self.missing_id(connector)
        outcomes = connector.apply(
            [
                Create(self.sample(4), self.stamp(4)),
                Update(missing, self.patch_for(5), "1"),
                Update(updated.id, self.patch_for(1), updated.version),
                Update(stale.id, self.patch_for(6), stale.version),
                Delete(deleted.id, deleted.version),
            ]
        )
        assert len(outcomes) == 5
        created, gone, update, conflict, delete = outcomes
        assert isinstance(created, Written)
        assert isinstance(gone, Gone)
        assert isinstance(update, Written) and update.id == updated.id
        assert isinstance(conflict, VersionConflict)
        assert delete == Deleted(deleted.id)
        ids = {e.id for e in connector.changes(None).entries}
        assert ids == {created.id, updated.id, stale.id}
        assert self.fetch_one(connector, created.id).stamp == self.stamp(4)

    # -- more helpers --------------------------------------------------------------------------

    def missing_id(self, connector: Connector) -> str:
        """An id that looks real to this connector but is gone: created, then deleted."""
        w = self.create(connector, 900)
        assert connector.apply([Delete(w.id, w.version)]) == [Deleted(w.id)]
        return w.id


def written(outcomes: Sequence[Outcome]) -> Written:
    """The single outcome of a one-write apply, which must have succeeded."""
    assert len(outcomes) == 1, outcomes
    [outcome] = outcomes
    assert isinstance(outcome, Written), f"expected Written, got {outcome!r}"
    return outcome


def full_token(connector: Connector) -> str:
    listing: Changes = connector.changes(None)
    assert listing.token is not None, "a full listing hands out a delta token"
    return listing.token


def astuple(entry: Entry) -> tuple[str, str, str | None]:
    return (entry.id, entry.version, entry.stamp)
