"""One run of one (profile, part): list, fetch, plan, guard, execute, record."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from exsync.connector import Changes, Connector, ConnectorError, Side, TokenExpired
from exsync.engine import planner
from exsync.engine.execute import Executor, Step, Tally
from exsync.engine.guard import guard_reason
from exsync.engine.planner import Plan
from exsync.engine.policy import Policy
from exsync.engine.view import SideView, limits_of
from exsync.state.records import Link, Pending

if TYPE_CHECKING:
    from exsync.state import StateStore

Outcome = Literal["ok", "failed", "suspended", "skipped"]


@dataclass(slots=True)
class RunOptions:
    full: bool = False
    dry_run: bool = False
    force: bool = False
    chunk: int = 20
    lease_seconds: float = 900.0
    sleep: Callable[[float], None] = time.sleep
    on_step: Step = lambda step: None


@dataclass(slots=True)
class RunReport:
    profile: str
    part: str
    outcome: Outcome = "ok"
    tally: Tally = field(default_factory=Tally)
    plan: Plan | None = None
    message: str = ""
    full: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "profile": self.profile,
            "part": self.part,
            "outcome": self.outcome,
            "mailbox": self.tally.writes[Side.MAILBOX].as_dict(),
            "business": self.tally.writes[Side.BUSINESS].as_dict(),
            "conflicts": self.tally.conflicts,
            "full": self.full,
            "errors": [{"item": e["item"], "message": e["message"]} for e in self.tally.errors],
        }
        if self.message:
            out["message"] = self.message
        if self.plan is not None:
            out["plan"] = [
                {
                    "action": op.action,
                    "reason": op.reason,
                    "key": op.key,
                    "business": op.ids()[Side.BUSINESS],
                    "mailbox": op.ids()[Side.MAILBOX],
                }
                for op in self.plan.ops
            ]
        return out


@dataclass
class PairRun:
    """Runs one (profile, part) once."""

    profile: str
    part: str
    policy: Policy
    business: Connector
    mailbox: Connector
    store: StateStore
    fingerprint: str = ""  # of the part's settings: a change forces a full listing
    options: RunOptions = field(default_factory=RunOptions)

    @property
    def connectors(self) -> dict[Side, Connector]:
        return {Side.BUSINESS: self.business, Side.MAILBOX: self.mailbox}

    def run(self) -> RunReport:
        report = RunReport(self.profile, self.part)
        if self.policy.direction.name == "off":
            report.outcome, report.message = "skipped", "direction is off"
            return report
        suspension = self.store.suspension(self.profile, self.part)
        if suspension is not None and not self.options.force:
            report.outcome = "suspended"
            report.message = f"suspended: {suspension.reason} (run `exsync resume` or `exsync sync --force`)"
            return report
        if self.options.dry_run:
            return self._attempt(report, run_id=0)
        holder = self.store.make_holder()
        if not self.store.acquire_lock(
            self.profile, self.part, holder, lease_seconds=self.options.lease_seconds
        ):
            report.outcome, report.message = "skipped", "locked: another run of this pair is in progress"
            return report
        try:
            run_id = self.store.start_run(self.profile, self.part, dry_run=False, full=self.options.full)
            try:
                self._attempt(report, run_id)
            except BaseException as err:
                # Aborted (the state store failed, the process is stopping): never recorded as "ok".
                report.outcome, report.message = "failed", f"aborted: {type(err).__name__}: {err}"
                raise
            finally:
                self.store.finish_run(run_id, report.outcome, self._counts(report), report.tally.errors)
        finally:
            self.store.release_lock(self.profile, self.part, holder)
        return report

    def _counts(self, report: RunReport) -> dict[str, Any]:
        data = report.as_json()
        return {
            "mailbox": data["mailbox"],
            "business": data["business"],
            "conflicts": data["conflicts"],
            "message": report.message,
        }

    def _attempt(self, report: RunReport, run_id: int) -> RunReport:
        try:
            self._sync(report, run_id)
        except ConnectorError as err:
            report.outcome = "failed"
            report.message = f"{getattr(err, 'category', 'data')}: {err}"
        return report

    def _sync(self, report: RunReport, run_id: int) -> None:
        store, profile, part = self.store, self.profile, self.part
        if not self.options.dry_run:
            store.interrupt_pending(profile, part)
        tokens: dict[str, str] = store.tokens(profile, part)
        # No stored fingerprint and none given (a pair's first run, or tests) is the same settings.
        full = self.options.full or (store.fingerprint(profile, part) or "") != self.fingerprint
        changes = {side: self._changes(side, None if full else tokens.get(side.value)) for side in Side}
        report.full = all(ch.full for ch in changes.values())  # an expired token listed everything
        views = {
            side: SideView.of(side, ch, limits_of(self.connectors[side])) for side, ch in changes.items()
        }
        links = store.links(profile, part)
        pending = [(Side(p.side), p.item_id) for p in store.pending(profile, part)]
        self._fetch(views, planner.needs(links, views, pending))
        self._fetch(views, planner.stamp_needs(part, links, views))
        self._age_copies(links, views[Side.MAILBOX])
        self._load_snapshots(links, views)
        plan = planner.plan(part, self.policy, links, views)
        report.plan = plan if self.options.dry_run else None
        if plan.identity_conflicts:
            report.outcome = "failed"
            report.message = "; ".join(str(c) for c in plan.identity_conflicts)
            return
        reason = None if self.options.force else guard_reason(plan, self.policy)
        if reason is not None:
            report.outcome, report.message = "suspended", reason
            report.plan = plan
            if not self.options.dry_run:
                store.suspend(profile, part, reason)
            return
        if self.options.dry_run:
            return
        if self.options.force:
            store.resume(profile, part)
        executor = Executor(
            profile,
            part,
            self.policy,
            self.connectors,
            store,
            run_id,
            chunk=self.options.chunk,
            sleep=self.options.sleep,
            on_step=self.options.on_step,
            tally=report.tally,
            claimed_by=lambda: _claimed(links, plan),
        )
        executor.execute(plan.ops)
        self._settle_pending(pending, report.tally)
        if report.tally.errors:
            report.outcome = "failed"
        # Tokens only after the whole round is applied; failed items are in the pending list.
        store.save_tokens(profile, part, {side.value: ch.token for side, ch in changes.items()})
        store.save_fingerprint(profile, part, self.fingerprint)

    def _changes(self, side: Side, token: str | None) -> Changes:
        connector = self.connectors[side]
        if token is None:
            return connector.changes(None)
        try:
            return connector.changes(token)
        except TokenExpired:
            # Expired delta: a full reconciliation against the links, never a mass delete.
            return connector.changes(None)

    def _fetch(self, views: Mapping[Side, SideView], want: Mapping[Side, set[str]]) -> None:
        for side, ids in want.items():
            ids = {i for i in ids if i not in views[side].fetched}
            if ids:
                ordered = sorted(ids)
                views[side].add(self.connectors[side].fetch(ordered), set(ordered))

    def _age_copies(self, links: Mapping[str, Link], view: SideView) -> None:
        """Learn which of several items carrying one stamp is the oldest (``find`` keeps creation order)."""
        stamps = planner.shared_stamps(links, view)
        if stamps:
            for records in self.mailbox.find(stamps).values():
                for age, record in enumerate(records):
                    view.age[record.id] = age

    def _load_snapshots(self, links: Mapping[str, Link], views: Mapping[Side, SideView]) -> None:
        keys = [
            key
            for key, link in links.items()
            if link.snapshot is None
            and (
                (link.business_id is not None and link.business_id in views[Side.BUSINESS].fetched)
                or (link.mailbox_id is not None and link.mailbox_id in views[Side.MAILBOX].fetched)
                or link.conflict
            )
        ]
        if keys:
            for key, snapshot in self.store.snapshots(self.profile, self.part, keys).items():
                links[key].snapshot = snapshot

    def _settle_pending(self, pending: list[tuple[Side, str]], tally: Tally) -> None:
        failed = {(p.side, p.item_id) for p in tally.pending}
        done = [(s.value, i) for s, i in pending if (s.value, i) not in failed]
        if done:
            self.store.clear_pending(self.profile, self.part, done)
        if tally.pending:
            self.store.mark_pending(self.profile, self.part, _unique(tally.pending))


def _claimed(links: Mapping[str, Link], plan: Plan) -> dict[Side, set[str]]:
    claimed: dict[Side, set[str]] = {s: set() for s in Side}
    for link in links.values():
        for side, ident in ((Side.BUSINESS, link.business_id), (Side.MAILBOX, link.mailbox_id)):
            if ident is not None:
                claimed[side].add(ident)
    for op in plan.ops:
        if op.unreadable:
            continue  # links nothing: a stamp look-up must still see the unreadable item
        for side, ident in op.ids().items():
            if ident is not None:
                claimed[side].add(ident)
    return claimed


def _unique(items: list[Pending]) -> list[Pending]:
    seen: dict[tuple[str, str], Pending] = {}
    for p in items:
        seen.setdefault((p.side, p.item_id), p)
    return list(seen.values())
