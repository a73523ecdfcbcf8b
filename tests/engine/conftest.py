"""Shared helpers for the engine's scenario tests (SCENARIOS.md).

``harness`` is a contacts pair with the default policy; ``make_harness(part, policy, limits)`` builds
others (``limits``: the mailbox connector's, e.g. ``{"emails": 3}`` as Graph contacts hold)::

    def test_scenario_01_new_contact(harness):
        bid = harness.b.put(Contact(first_name="Ada"))
        report = harness.run()
        assert harness.mailbox_record(bid).item.first_name == "Ada"
        harness.assert_quiet()  # a second run makes zero writes

Each ``run`` uses a fresh ``RunOptions`` (``sleep`` never sleeps); ``policy=`` overrides the
harness policy for that run only. ``b``/``m`` are the two ``MemoryStore``s (their test hooks play
the users: ``put``, ``edit``, ``remove``, ``soft_delete``, ``set_scope``, ``touch``); ``faults`` are
on ``harness.b.faults`` / ``harness.m.faults``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from exsync.connector import Record, Scope, Side
from exsync.engine import PairRun, Policy, RunOptions, RunReport, correlation_key
from exsync.state import StateStore
from exsync.state.records import ConflictEntry, JournalEntry, Link
from exsync.testing.memory import MemoryConnector, MemoryStore, memory_pair

PROFILE = "JD"


@dataclass
class Harness:
    part: str = "contacts"
    policy: Policy = field(default_factory=Policy)
    profile: str = PROFILE
    limits: Mapping[str, int] | None = None  # the mailbox connector's
    # The part settings' fingerprint handed to every run; change it to play a settings change
    # (a new direction, filter or folder), which makes the next run list everything.
    fingerprint: str = field(default="", init=False)
    business: MemoryConnector = field(init=False)
    mailbox: MemoryConnector = field(init=False)
    store: StateStore = field(init=False)

    def __post_init__(self) -> None:
        self.business, self.mailbox = memory_pair(self.part, limits=self.limits)
        self.store = StateStore("sqlite://")

    # -- the two sides ---------------------------------------------------------------------------
    @property
    def b(self) -> MemoryStore:
        return self.business.store

    @property
    def m(self) -> MemoryStore:
        return self.mailbox.store

    def side(self, side: Side) -> MemoryStore:
        return self.b if side is Side.BUSINESS else self.m

    def records(self, side: Side, *, in_scope: bool = True) -> list[Record]:
        """The side's items of this part (only those in scope unless ``in_scope=False``), oldest first."""
        return [r for r in self.side(side).records(self.part) if not in_scope or r.scope is Scope.IN]

    def count(self, side: Side) -> int:
        return len(self.records(side))

    def b_item(self, business_id: str) -> Any:
        """The canonical item of a business row that must exist (typed ``Any`` for brevity)."""
        record = self.b.get(business_id)
        assert record is not None, f"{business_id} is not on the business side"
        return record.item

    def m_item(self, mailbox_id: str | None) -> Any:
        """The canonical item of a mailbox item that must exist."""
        record = None if mailbox_id is None else self.m.get(mailbox_id)
        assert record is not None, f"{mailbox_id} is not in the mailbox"
        return record.item

    # -- running ----------------------------------------------------------------------------------
    def run(self, *, policy: Policy | None = None, **options: Any) -> RunReport:
        options.setdefault("sleep", lambda s: None)
        return PairRun(
            self.profile, self.part, policy or self.policy, self.business, self.mailbox, self.store,
            self.fingerprint, options=RunOptions(**options),
        ).run()  # fmt: skip

    @property
    def writes(self) -> tuple[int, int]:
        """Write attempts so far (business, mailbox), as counted by the connectors."""
        return self.b.calls.writes, self.m.calls.writes

    def assert_quiet(self, *, policy: Policy | None = None, **options: Any) -> RunReport:
        """Run again: it must succeed and make zero writes on either side."""
        before = self.writes
        report = self.run(policy=policy, **options)
        assert report.outcome == "ok", report.message
        assert self.writes == before, f"a second run wrote something: {report.as_json()}"
        assert report.tally.conflicts == 0 and not report.tally.errors, report.as_json()
        return report

    # -- links and state -------------------------------------------------------------------------
    def key(self, business_id: str) -> str:
        return correlation_key(self.part, business_id)

    def link(self, business_id: str) -> Link | None:
        """The link keyed by this business row (whatever mailbox item it names now)."""
        return self.store.link(self.profile, self.part, self.key(business_id))

    def link_of_mailbox(self, mailbox_id: str) -> Link | None:
        return self.store.link_by_mailbox(self.profile, self.part, mailbox_id)

    def links(self) -> dict[str, Link]:
        return self.store.links(self.profile, self.part)

    def mailbox_id(self, business_id: str) -> str | None:
        link = self.link(business_id)
        return None if link is None else link.mailbox_id

    def mailbox_record(self, business_id: str) -> Record | None:
        """The mailbox item linked to this business row, if both the link and the item exist."""
        ident = self.mailbox_id(business_id)
        return None if ident is None else self.m.get(ident)

    def business_id(self, mailbox_id: str) -> str | None:
        link = self.link_of_mailbox(mailbox_id)
        return None if link is None else link.business_id

    def business_record(self, mailbox_id: str) -> Record | None:
        ident = self.business_id(mailbox_id)
        return None if ident is None else self.b.get(ident)

    def snapshot(self, business_id: str) -> dict[str, Any] | None:
        key = self.key(business_id)
        return self.store.snapshots(self.profile, self.part, [key]).get(key)

    def conflicts(self, **kw: Any) -> list[ConflictEntry]:
        """The pair's conflict log, newest first."""
        return self.store.conflicts(self.profile, self.part, **kw)

    def journal(self, key: str | None = None, limit: int = 100_000) -> list[JournalEntry]:
        """The pair's write journal, newest first."""
        return self.store.journal_entries(self.profile, self.part, key=key, limit=limit)

    def forget_state(self) -> None:
        """Scenario 24: links and delta tokens lost."""
        self.store.delete_links(self.profile, self.part)
        self.store.save_tokens(self.profile, self.part, {"business": None, "mailbox": None})


@pytest.fixture
def make_harness() -> Any:
    made: list[Harness] = []

    def make(
        part: str = "contacts", policy: Policy | None = None, limits: Mapping[str, int] | None = None
    ) -> Harness:
        h = Harness(part, policy or Policy(), limits=limits)
        made.append(h)
        return h

    yield make
    for h in made:
        h.store.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    """A contacts pair with the default policy (direction both, business wins, deletes in the mailbox)."""
    return make_harness()
