"""Scenario 85: convergence under random operations, with crashes injected at every executor step.

Users on both sides create, edit, copy and delete contacts; the business filter changes; servers
rewrite bookkeeping (flaky versions); items become unreadable (a NULL the mapping needs) and are
mended; writes fail, are throttled or answer 412; the state store is lost; and runs die at a chosen
step. After every run that completes cleanly the machine checks:
- convergence: each linked pair holds the same projection on both sides;
- no duplicate: every entity (marked by a unique ``notes`` value) is at most once on each side;
- no delete nobody asked for: an entity nobody deleted or filtered out is on both sides;
- no edit lost without a conflict-log entry;
- idempotence: a second run with no outside change makes zero writes on either side.
"""

from __future__ import annotations

import contextlib
import itertools

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from exsync.connector import Scope, Side
from exsync.engine import MailboxWins, PairRun, Policy, RecordOnly, RunOptions, direction
from exsync.model import Contact
from exsync.state import StateStore
from exsync.testing.faults import Crash
from exsync.testing.memory import memory_pair

PROFILE, PART = "JD", "contacts"
FIELDS = ("first_name", "last_name", "city", "job_title")
STEPS = ("before-journal", "after-journal", "after-write:mailbox", "after-write:business", "before-record",
         "after-record")  # fmt: skip


class SyncMachine(RuleBasedStateMachine):
    """Both directions, deletes carried both ways, business wins conflicts."""

    policy = Policy(direction=direction("both"), delete_in_mailbox=True, delete_in_business=True)

    def __init__(self) -> None:
        super().__init__()
        self.business, self.mailbox = memory_pair(PART)
        self.store = StateStore("sqlite://")
        self.counter = itertools.count(1)
        self.removed: set[str] = set()  # entities someone deleted or filtered out
        self.edits: list[tuple[str, str, str, str]] = []  # (entity, side, field, value) since a clean run
        self.faulty = False
        self.copies: dict[str, str] = {}  # entity of a user's copy -> the stamp it carries
        self.orphaned: set[str] = set()  # stamps whose original mailbox item a user deleted

    def teardown(self) -> None:
        self.store.close()

    # -- helpers ---------------------------------------------------------------------------
    def _items(self, side: Side, in_scope: bool = True) -> list[tuple[str, str]]:
        conn = self.business if side is Side.BUSINESS else self.mailbox
        return sorted(
            (r.id, r.item.notes)  # type: ignore[attr-defined]
            for r in conn.store.records(PART)
            if not in_scope or r.scope is Scope.IN
        )

    def _unreadable(self) -> list[tuple[Side, str]]:
        return [
            (side, r.id)
            for side, conn in ((Side.BUSINESS, self.business), (Side.MAILBOX, self.mailbox))
            for r in conn.store.records(PART)
            if r.scope is Scope.UNREADABLE
        ]

    def _value(self) -> str:
        return f"v{next(self.counter)}"

    def _run(self, **options: object) -> object:
        return PairRun(PROFILE, PART, self.policy, self.business, self.mailbox, self.store,
                       options=RunOptions(sleep=lambda s: None, **options)).run()  # type: ignore[arg-type]  # fmt: skip

    # -- users and servers -----------------------------------------------------------------
    @rule(side=st.sampled_from(Side), first=st.sampled_from(["Ann", "Bob", "Čeněk", " Zoë\r\n"]))
    def create(self, side: Side, first: str) -> None:
        entity = f"e{next(self.counter)}"
        conn = self.business if side is Side.BUSINESS else self.mailbox
        conn.put(Contact(first_name=first, notes=entity, emails=[f"{entity}@Example.COM"]))

    @precondition(lambda self: self._items(Side.MAILBOX))
    @rule(data=st.data())
    def copy_in_mailbox(self, data: st.DataObject) -> None:
        """A user copies a synced item in Outlook: the copy keeps the stamp (rule 6)."""
        ident, _ = data.draw(st.sampled_from(self._items(Side.MAILBOX)))
        record = self.mailbox.store.get(ident)
        assert record is not None
        entity = f"e{next(self.counter)}"
        self.mailbox.store.put(record.item.with_changes({"notes": entity}), record.stamp)
        if record.stamp:
            self.copies[entity] = record.stamp
            if record.stamp in self.orphaned:
                self.removed.add(entity)  # may be taken for the vanished original (scenario 15)

    @precondition(lambda self: self._items(Side.BUSINESS) or self._items(Side.MAILBOX))
    @rule(data=st.data(), field=st.sampled_from(FIELDS))
    def edit(self, data: st.DataObject, field: str) -> None:
        side = data.draw(st.sampled_from([s for s in Side if self._items(s)]))
        ident, entity = data.draw(st.sampled_from(self._items(side)))
        value = self._value()
        conn = self.business if side is Side.BUSINESS else self.mailbox
        conn.store.edit(ident, **{field: value})
        self.edits.append((entity, side.value, field, value))

    @precondition(lambda self: self._items(Side.BUSINESS) or self._items(Side.MAILBOX))
    @rule(data=st.data(), soft=st.booleans())
    def delete(self, data: st.DataObject, soft: bool) -> None:
        side = data.draw(st.sampled_from([s for s in Side if self._items(s)]))
        ident, entity = data.draw(st.sampled_from(self._items(side)))
        record = (self.business if side is Side.BUSINESS else self.mailbox).store.get(ident)
        if side is Side.BUSINESS and soft:
            self.business.store.soft_delete(ident)
        else:
            (self.business if side is Side.BUSINESS else self.mailbox).store.remove(ident)
        self.removed.add(entity)
        if side is Side.MAILBOX and record is not None and record.stamp:
            self.orphaned.add(record.stamp)
            # With the original gone, a copy carrying its stamp may rightly be taken for the original
            # moved elsewhere (scenario 15) and join the original's business row.
            self.removed |= {
                r.item.notes
                for r in self.mailbox.store.records(PART)  # type: ignore[attr-defined]
                if r.stamp == record.stamp
            }

    @precondition(lambda self: self._items(Side.BUSINESS, in_scope=False))
    @rule(data=st.data(), out=st.booleans())
    def change_filter(self, data: st.DataObject, out: bool) -> None:
        ident, entity = data.draw(st.sampled_from(self._items(Side.BUSINESS, in_scope=False)))
        record = self.business.store.get(ident)
        assert record is not None
        if record.scope is Scope.DELETED:
            return
        if out:
            self.business.store.set_scope(ident, Scope.FILTER, "no longer a client")
            self.removed.add(entity)
        else:
            self.business.store.set_scope(ident, Scope.IN)

    @precondition(lambda self: self._items(Side.BUSINESS) or self._items(Side.MAILBOX))
    @rule(data=st.data())
    def make_unreadable(self, data: st.DataObject) -> None:
        """One bad item (rule 10): runs fail on it alone until it is mended; nothing is read as deleted."""
        side = data.draw(st.sampled_from([s for s in Side if self._items(s)]))
        ident, _ = data.draw(st.sampled_from(self._items(side)))
        (self.business if side is Side.BUSINESS else self.mailbox).store.make_unreadable(ident, "a NULL")

    @precondition(lambda self: self._unreadable())
    @rule(data=st.data())
    def mend(self, data: st.DataObject) -> None:
        """The bad value is fixed without a new version: only the pending retry reads it again."""
        side, ident = data.draw(st.sampled_from(self._unreadable()))
        (self.business if side is Side.BUSINESS else self.mailbox).store.set_scope(ident, Scope.IN)

    @precondition(lambda self: self._items(Side.BUSINESS) or self._items(Side.MAILBOX))
    @rule(data=st.data())
    def server_rewrites(self, data: st.DataObject) -> None:
        """Flaky version tokens: a new version, the same content (scenario 43)."""
        side = data.draw(st.sampled_from([s for s in Side if self._items(s)]))
        ident, _ = data.draw(st.sampled_from(self._items(side)))
        (self.business if side is Side.BUSINESS else self.mailbox).store.touch(ident)

    @rule(side=st.sampled_from(Side), kind=st.sampled_from(["throttle", "conflict", "reject", "unavailable"]))
    def schedule_fault(self, side: Side, kind: str) -> None:
        faults = (self.business if side is Side.BUSINESS else self.mailbox).faults
        if kind == "throttle":
            faults.throttle(n=2, wait=3)
        elif kind == "conflict":
            faults.conflict(n=1)
        elif kind == "unavailable":
            faults.unavailable(n=1, kinds=("create", "update", "delete"))
        else:
            items = self._items(side)
            if items:
                faults.reject(items[0][0], n=1)
        self.faulty = True

    @rule()
    def lose_state(self) -> None:
        """Scenario 24: the state store is restored empty."""
        self.store.delete_links(PROFILE, PART)
        # Without links, which of several items carrying one stamp is the original is a guess (by
        # content): a copy may be taken for the original and join its business row.
        self.removed |= set(self.copies)
        self.store.save_tokens(PROFILE, PART, {"business": None, "mailbox": None})

    @rule(step=st.sampled_from(STEPS), nth=st.integers(1, 3))
    def sync_that_crashes(self, step: str, nth: int) -> None:
        seen = itertools.count(1)

        def on_step(name: str) -> None:
            if name == step and next(seen) == nth:
                raise Crash(f"crash at {name} #{nth}")

        with contextlib.suppress(Crash):
            self._run(on_step=on_step)

    @rule(writes=st.integers(1, 4), side=st.sampled_from(Side))
    def sync_that_dies_after_a_remote_write(self, writes: int, side: Side) -> None:
        (self.business if side is Side.BUSINESS else self.mailbox).faults.crash_after(writes)
        try:
            self._run()
        except Crash:
            pass
        finally:
            self.business.faults.crash_after_write = None
            self.mailbox.faults.crash_after_write = None

    @rule()
    def sync(self) -> None:
        report = self._run()
        if report.outcome == "suspended":  # type: ignore[attr-defined]
            report = self._run(force=True)
        clean = report.outcome == "ok" and not report.tally.errors  # type: ignore[attr-defined]
        assert not (clean and self._unreadable()), "a run ended clean although an item is unreadable"
        if clean:
            self.business.faults.clear()
            self.mailbox.faults.clear()
            if not self.faulty:
                self._check_clean_run()
        self.faulty = bool(self.business.faults.pending or self.mailbox.faults.pending)

    # -- what must hold after a clean run --------------------------------------------------
    def _check_clean_run(self) -> None:
        links = self.store.links(PROFILE, PART)
        snapshots = self.store.snapshots(PROFILE, PART, links)
        business = {r.id: r for r in self.business.store.records(PART)}
        mailbox = {r.id: r for r in self.mailbox.store.records(PART)}
        # convergence
        flagged: set[str] = set()  # entities of pairs left different on purpose (record-only)
        for key, link in links.items():
            if link.conflict:  # only record-only leaves a pair flagged and different
                assert isinstance(self.policy.conflict, RecordOnly), f"{key} flagged under {self.policy}"
                for ident, items in ((link.business_id, business), (link.mailbox_id, mailbox)):
                    if ident in items:
                        flagged.add(items[ident].item.notes)  # type: ignore[attr-defined]
                continue
            if link.in_scope and link.business_id and link.mailbox_id:
                b, m = business.get(link.business_id), mailbox.get(link.mailbox_id)
                assert b is not None and m is not None, f"link {key} names a missing item"
                assert b.item.projection() == m.item.projection() == snapshots[key], f"{key} diverged"
        # no duplicate on either side
        for side, items in ((Side.BUSINESS, business), (Side.MAILBOX, mailbox)):
            marks = [r.item.notes for r in items.values() if r.scope is Scope.IN]  # type: ignore[attr-defined]
            dupes = {m for m in marks if marks.count(m) > 1}
            assert not dupes, f"duplicate entities on the {side.value} side: {dupes}"
        # no delete nobody asked for
        everywhere = {r.item.notes for r in business.values()} | {r.item.notes for r in mailbox.values()}  # type: ignore[attr-defined]
        for entity in everywhere - self.removed - flagged:
            on_b = any(r.item.notes == entity and r.scope is Scope.IN for r in business.values())  # type: ignore[attr-defined]
            on_m = any(r.item.notes == entity for r in mailbox.values())  # type: ignore[attr-defined]
            assert on_b and on_m, f"{entity} vanished from a side nobody deleted it on"
        # no edit lost without a conflict-log entry
        logged = set()
        for c in self.store.conflicts(PROFILE, PART, limit=100_000):
            logged |= {v for v in (c.business_value, c.mailbox_value) if isinstance(v, str)}
        latest = {}
        for entity, side, field, value in self.edits:
            latest[(entity, side, field)] = value
        for (entity, _side, field), value in latest.items():
            if entity in self.removed:
                continue
            holders = [r for r in (*business.values(), *mailbox.values())
                       if r.item.notes == entity and r.scope is Scope.IN]  # type: ignore[attr-defined]  # fmt: skip
            if not holders:
                continue
            current = {getattr(r.item, field) for r in holders}
            assert value in current or value in logged or _superseded(self.edits, entity, field, value), (
                f"edit {field}={value} of {entity} was lost without a conflict-log entry"
            )
        self.edits.clear()
        # idempotence (scenario 84)
        before = (self.business.writes, self.mailbox.writes)
        again = self._run()
        assert again.outcome == "ok", again.message  # type: ignore[attr-defined]
        assert (self.business.writes, self.mailbox.writes) == before, "a second run wrote something"

    @invariant()
    def one_link_per_mailbox_item(self) -> None:
        links = self.store.links(PROFILE, PART)
        ids = [link.mailbox_id for link in links.values() if link.mailbox_id]
        assert len(ids) == len(set(ids))


def _superseded(edits: list[tuple[str, str, str, str]], entity: str, field: str, value: str) -> bool:
    """A later edit of the same field of the same entity (on either side) replaced this one."""
    seen = False
    for e, _side, f, v in edits:
        if (e, f) == (entity, field):
            if seen:
                return True
            seen = v == value
    return False


class KeepBusinessRowsMachine(SyncMachine):
    """The defaults: a mailbox delete leaves the business row (tombstoned link), mailbox wins conflicts."""

    policy = Policy(direction=direction("both"), conflict=MailboxWins())


class RecordOnlyMachine(SyncMachine):
    """Conflicts are only recorded: both sides keep their values and the link stays flagged."""

    policy = Policy(direction=direction("both"), conflict=RecordOnly(), delete_in_business=True)


MACHINE_SETTINGS = settings(
    max_examples=100, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestSyncMachine = SyncMachine.TestCase
TestSyncMachine.settings = MACHINE_SETTINGS
TestKeepBusinessRowsMachine = KeepBusinessRowsMachine.TestCase
TestKeepBusinessRowsMachine.settings = MACHINE_SETTINGS
TestRecordOnlyMachine = RecordOnlyMachine.TestCase
TestRecordOnlyMachine.settings = MACHINE_SETTINGS
