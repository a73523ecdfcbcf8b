"""Careful execution of a plan (rule 9).

Per chunk of operations: look every stamp up before creating; journal every write with its
before and after values; write to the remote side (the stamp goes with the item); only then
record the link. A crash between any two of these steps leaves at worst a resurrection or a
conflict for the next run to report: the next run finds a created item again by its stamp, sees an
update as "same content on both sides" and a delete as "gone on both sides".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from exsync.connector import (
    Connector,
    Create,
    Deleted,
    Gone,
    ItemError,
    Scope,
    Side,
    Throttled,
    Update,
    VersionConflict,
    Write,
    Written,
)
from exsync.engine import planner
from exsync.engine.merge import FieldConflict
from exsync.engine.planner import Op
from exsync.engine.policy import Policy
from exsync.engine.view import SideView, item_id, limits_of, side_state
from exsync.state.records import ConflictEntry, JournalEntry, Link, Pending

if TYPE_CHECKING:
    from exsync.state import StateStore

Step = Callable[[str], None]


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, write: Write) -> None:
        if isinstance(write, Create):
            self.created += 1
        elif isinstance(write, Update):
            self.updated += 1
        else:
            self.deleted += 1

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted}


@dataclass(slots=True)
class Tally:
    """What a run did: writes per side, conflicts logged, per-item errors."""

    writes: dict[Side, Counts] = field(default_factory=lambda: {s: Counts() for s in Side})
    conflicts: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    _reported: set[tuple[str | None, str]] = field(default_factory=set, repr=False, compare=False)

    def error(self, op: Op, message: str, category: str = "data", item: str | None = None) -> None:
        """Report ``item`` (by default the op's mailbox item) failed; every item of ``op`` is retried."""
        ids = op.ids()
        item = item or ids[Side.MAILBOX] or ids[Side.BUSINESS] or op.key
        # Once per item: an unreadable one can be met twice (listed, and found by a create's stamp).
        if (item, message) not in self._reported:
            self._reported.add((item, message))
            self.errors.append({"item": item, "key": op.key, "message": message, "category": category})
        for side, ident in ids.items():
            if ident:
                self.pending.append(Pending(side.value, ident, message))


@dataclass
class Executor:
    profile: str
    part: str
    policy: Policy
    connectors: dict[Side, Connector]
    store: StateStore
    run_id: int
    chunk: int = 20
    max_attempts: int = 6
    sleep: Callable[[float], None] = time.sleep
    on_step: Step = lambda step: None
    tally: Tally = field(default_factory=Tally)
    # Ids already linked or paired by this plan: a stamp look-up never takes them (a user's copy
    # carries the stamp of an item that another link or operation owns).
    # Built on the first stamp look-up only: most runs create nothing and skip the cost.
    claimed_by: Callable[[], dict[Side, set[str]]] = lambda: {s: set() for s in Side}
    _claimed: dict[Side, set[str]] | None = field(default=None, init=False, repr=False)

    @cached_property
    def limits(self) -> dict[Side, Mapping[str, int]]:
        return {side: limits_of(connector) for side, connector in self.connectors.items()}

    @property
    def claimed(self) -> dict[Side, set[str]]:
        if self._claimed is None:
            self._claimed = self.claimed_by()
        return self._claimed

    def execute(self, ops: Sequence[Op]) -> Tally:
        for start in range(0, len(ops), self.chunk):
            self._chunk(list(ops[start : start + self.chunk]))
        return self.tally

    # -- one chunk -------------------------------------------------------------------------
    def _chunk(self, ops: list[Op]) -> None:
        ops = self._look_up_creates(ops)
        journal = self._journal(ops)
        failed = {i for i, op in enumerate(ops) if op.unreadable}
        for i in failed:
            for record in ops[i].unreadable:
                message = f"cannot be read ({record.scope_reason}); skipped, read again next run"
                self.tally.error(ops[i], message, item=record.id)
        results: dict[int, dict[Side, Written | Deleted]] = {i: {} for i in range(len(ops))}
        self._write_side(Side.MAILBOX, ops, results, failed)
        # The business writes and the links recording them commit as one when the business side
        # offers a transaction (its SQL database holds the state store too).
        with _transaction(self.connectors[Side.BUSINESS]):
            self._write_side(Side.BUSINESS, ops, results, failed)
            self._record(ops, results, failed, journal)

    def _write_side(
        self, side: Side, ops: list[Op], results: dict[int, dict[Side, Written | Deleted]], failed: set[int]
    ) -> None:
        todo = [i for i, op in enumerate(ops) if side in op.writes and i not in failed]
        for i, outcome in self._apply(side, [ops[i].writes[side] for i in todo], todo):
            if isinstance(outcome, Written | Deleted):
                results[i][side] = outcome
                self.tally.writes[side].add(ops[i].writes[side])
            else:
                failed.add(i)
                self._failed(ops[i], outcome)
        self.on_step(f"after-write:{side.value}")

    def _look_up_creates(self, ops: list[Op]) -> list[Op]:
        """Before creating, look the stamp up: an item found is paired, not created again."""
        for side in Side:
            creates = {i: w for i, op in enumerate(ops) if isinstance(w := op.writes.get(side), Create)}
            if not creates:
                continue
            found = self.connectors[side].find([w.stamp for w in creates.values()])
            for i, write in creates.items():
                op = ops[i]
                hits = [
                    r
                    for r in found.get(write.stamp, [])
                    if r.scope is not Scope.DELETED and r.id not in self.claimed[side]
                ]
                if not hits:
                    continue
                source = op.sources[side.other]
                if hits[0].scope is Scope.UNREADABLE:  # there, but unknown: neither paired nor created again
                    ops[i] = planner.unreadable(op.link, {side.other: source, side: hits[0]})
                    continue
                self.claimed[side].add(hits[0].id)
                brec, mrec = (hits[0], source) if side is Side.BUSINESS else (source, hits[0])
                paired = planner.pair(
                    self.part, self.policy, brec, mrec, "found by its stamp before creating", self.limits
                )
                paired.link = op.link
                ops[i] = paired
        return ops

    def _journal(self, ops: list[Op]) -> dict[tuple[int, Side], int]:
        entries: list[JournalEntry] = []
        where: list[tuple[int, Side]] = []
        for i, op in enumerate(ops):
            for side, write in op.writes.items():
                entries.append(self._entry(op, side, write))
                where.append((i, side))
        # The losing values go to the conflict log before anything is overwritten.
        conflicts = [e for op in ops for e in self._conflicts(op)]
        self.on_step("before-journal")
        ids = self.store.journal(entries) if entries else []
        if conflicts:
            self.tally.conflicts += self.store.log_conflicts(conflicts)
        self.on_step("after-journal")
        return dict(zip(where, ids, strict=True))

    def _entry(self, op: Op, side: Side, write: Write) -> JournalEntry:
        source = op.sources.get(side)
        before: Any = source.item.projection() if source is not None else None
        if before is None and op.link is not None and not isinstance(write, Create):
            before = op.link.snapshot
        if isinstance(write, Create):
            action, item_id, after = "create", None, write.item.projection()
        elif isinstance(write, Update):
            action, item_id, after = "update", write.id, write.patch
        else:
            action, item_id, after = "delete", write.id, None
        other = op.sources.get(side.other)
        key = op.key or (other.id if other is not None else "")
        return JournalEntry(
            self.profile,
            self.part,
            self.run_id,
            side.value,
            action,  # type: ignore[arg-type]
            key,
            item_id,
            before,
            after,
        )

    def _apply(self, side: Side, writes: list[Write], where: list[int]) -> Iterator[tuple[int, Any]]:
        """Apply writes, retrying the throttled ones after their own wait (scenarios 36, 37)."""
        todo = list(zip(where, writes, strict=True))
        for attempt in range(self.max_attempts):
            if not todo:
                return
            outcomes = self.connectors[side].apply([w for _, w in todo])
            retry: list[tuple[int, Write]] = []
            wait = 0.0
            for (i, write), outcome in zip(todo, outcomes, strict=True):
                if isinstance(outcome, Throttled) and attempt + 1 < self.max_attempts:
                    retry.append((i, write))
                    wait = max(wait, outcome.wait)
                else:
                    yield i, outcome
            todo = retry
            if todo:
                self.sleep(wait)

    def _failed(self, op: Op, error: Exception) -> None:
        """A write failed alone: re-read and decide again, or report the item."""
        if isinstance(error, VersionConflict | Gone) and op.link is not None and self._redecide(op):
            return
        category = getattr(error, "category", "data") if isinstance(error, ItemError) else "data"
        self.tally.error(op, f"{op.action} failed: {error}", category)

    def _redecide(self, op: Op) -> bool:
        """A 412 or 404: read both items again and decide again, once (scenarios 38, 39)."""
        link = op.link
        assert link is not None
        views: dict[Side, SideView] = {}
        for side in Side:
            view = SideView(side, full=False, listed={}, limits=self.limits[side])
            ident = item_id(link, side)
            if ident is not None:
                view.add(self.connectors[side].fetch([ident]), {ident})
            views[side] = view
        again = planner.decide(
            self.part,
            self.policy,
            link,
            side_state(link, views[Side.BUSINESS]),
            side_state(link, views[Side.MAILBOX]),
        )
        if again is None or again.action == "nothing":
            return True
        sub = Executor(
            self.profile,
            self.part,
            self.policy,
            self.connectors,
            self.store,
            self.run_id,
            chunk=1,
            max_attempts=self.max_attempts,
            sleep=self.sleep,
            on_step=self.on_step,
            tally=self.tally,
            claimed_by=lambda: self.claimed,
        )
        sub._chunk([again])
        return True

    # -- recording -------------------------------------------------------------------------
    def _record(
        self,
        ops: list[Op],
        results: dict[int, dict[Side, Written | Deleted]],
        failed: set[int],
        journal: dict[tuple[int, Side], int],
    ) -> None:
        upsert: list[Link] = []
        drop: list[str] = []
        finish: list[tuple[int, str, Any, str]] = []
        for i, op in enumerate(ops):
            for side, write in op.writes.items():
                jid = journal.get((i, side))
                outcome = results[i].get(side)
                if jid is not None:
                    status = "done" if outcome is not None else "failed"
                    # A create's new id goes with its after values; an update keeps its journaled patch.
                    written = (
                        {**write.item.projection(), "id": outcome.id}
                        if isinstance(write, Create) and isinstance(outcome, Written)
                        else None
                    )
                    finish.append((jid, status, written, "" if outcome else "see run errors"))
            if i in failed:
                continue
            after = self._completed(op, results[i])
            if after is None:
                if op.link is not None:
                    drop.append(op.link.key)
            else:
                if op.link is not None and op.link.key != after.key:
                    drop.append(op.link.key)
                upsert.append(after)
        self.on_step("before-record")
        self.store.save_links(self.profile, self.part, upsert, drop)
        if finish:
            self.store.journal_finish(finish)
        self.on_step("after-record")

    def _completed(self, op: Op, results: dict[Side, Written | Deleted]) -> Link | None:
        """The link to record, with the ids and versions the writes returned."""
        if op.after is None:
            return None
        after = replace(op.after, last_result=f"{op.action}: {op.reason}", last_error="")
        for side, outcome in results.items():
            if isinstance(outcome, Written) and side not in op.held:  # held: an update; keep the version
                if side is Side.BUSINESS:
                    after.business_id, after.business_version = outcome.id, outcome.version
                    if not after.key:
                        after.key = planner.correlation_key(self.part, outcome.id)
                else:
                    after.mailbox_id, after.mailbox_version = outcome.id, outcome.version
        return after

    def _conflicts(self, op: Op) -> list[ConflictEntry]:
        ids = op.ids()
        key = op.key or ids[Side.MAILBOX] or ids[Side.BUSINESS] or ""
        return [self._conflict_entry(key, op, c) for c in op.conflicts]

    def _conflict_entry(self, key: str, op: Op, c: FieldConflict) -> ConflictEntry:
        r = c.resolution
        winner = "none" if r is None else ("delete" if r.value is None and r.winner == "none" else r.winner)
        versions = {s: rec.version for s, rec in op.sources.items()}
        return ConflictEntry(
            self.profile,
            self.part,
            key,
            c.field,
            c.business,
            c.mailbox,
            versions.get(Side.BUSINESS, ""),
            versions.get(Side.MAILBOX, ""),
            c.base,
            winner,
            None if r is None else r.value,
        )


def _transaction(connector: Connector) -> AbstractContextManager[object]:
    """The connector's optional ``transaction()`` (see ``Connector``), or nothing."""
    transaction = getattr(connector, "transaction", None)
    return transaction() if callable(transaction) else nullcontext()
