"""The planner: pure decisions over (business now, mailbox now, links) — no I/O.

``needs`` says which items a run must fetch; ``plan`` turns the listings, the fetched items and
the links into operations. Each operation names its writes (at most one per side), the link to
record once they succeed, any field conflicts, and the reason in words (rule 12).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter

from exsync.connector import Create, Delete, Record, Scope, Side, Update, Write
from exsync.engine.merge import FieldConflict, merge, writable_sides
from exsync.engine.policy import Policy, Resolution
from exsync.engine.view import (
    NO_LIMITS,
    SideState,
    SideView,
    Status,
    item_id,
    read,
    recorded_version,
    side_state,
)
from exsync.state.records import Link

# Version markers for a side that is parked: it is not looked at until it is listed again.
OUT_MARK = "~out"
WINDOW_MARK = "~window"
_MARKS = {OUT_MARK: Status.OUT, WINDOW_MARK: Status.WINDOW}
_RECORDED_VERSION = {
    Side.BUSINESS: attrgetter("business_version"),
    Side.MAILBOX: attrgetter("mailbox_version"),
}  # recorded_version(link, side), without a Python call per link


@dataclass(slots=True)
class Op:
    """One planned operation on one link (or on a pair about to be linked)."""

    action: str
    reason: str
    link: Link | None  # the link before; None for a new pair
    after: Link | None  # the link to record once the writes succeed; None forgets it
    writes: dict[Side, Write] = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)
    sources: dict[Side, Record] = field(default_factory=dict)
    # Sides left holding an edit the direction does not carry over: their recorded version is kept
    # (even when another field is written to them), so the edit still counts as a change later.
    held: set[Side] = field(default_factory=set)
    # Items that cannot be read: the operation writes nothing and its link stays as it was; each is
    # reported as a per-item error and read again next run (see ``unreadable``).
    unreadable: tuple[Record, ...] = ()

    @property
    def key(self) -> str | None:
        for link in (self.after, self.link):
            if link is not None and link.key:
                return link.key
        return None

    def describe(self) -> str:
        ids = ", ".join(f"{s.value} {i}" for s, i in self.ids().items() if i)
        return f"{self.action}: {ids or self.key} — {self.reason}"

    def ids(self) -> dict[Side, str | None]:
        out: dict[Side, str | None] = {}
        for side in Side:
            ident = None
            for link in (self.link, self.after):
                if link is not None and ident is None:
                    ident = item_id(link, side)
            if ident is None and side in self.sources:
                ident = self.sources[side].id
            out[side] = ident
        return out


@dataclass(slots=True)
class IdentityConflict:
    """Two business records claim one identity: the pair stops until someone fixes the data."""

    identity: str
    ids: list[str]

    def __str__(self) -> str:
        return (
            f"identity conflict: business records {', '.join(self.ids)} share the identity "
            f"{self.identity!r}; make it unique, then run again"
        )


@dataclass(slots=True)
class Plan:
    part: str
    ops: list[Op] = field(default_factory=list)
    identity_conflicts: list[IdentityConflict] = field(default_factory=list)
    sizes: dict[Side, int] = field(default_factory=dict)  # items each side held before the run
    looks_empty: list[Side] = field(default_factory=list)

    def deletes(self, side: Side) -> int:
        return sum(1 for op in self.ops if isinstance(op.writes.get(side), Delete))

    def writes(self) -> int:
        return sum(len(op.writes) for op in self.ops)


def correlation_key(part: str, business_id: str) -> str:
    return f"{part}:{business_id}"


def business_id_of(part: str, key: str) -> str | None:
    prefix = f"{part}:"
    return key[len(prefix) :] if key.startswith(prefix) else None


def index(links: Mapping[str, Link], side: Side) -> dict[str, Link]:
    # The attribute read inline (no call per link): a run builds this several times over every link.
    if side is Side.BUSINESS:
        return {link.business_id: link for link in links.values() if link.business_id is not None}
    return {link.mailbox_id: link for link in links.values() if link.mailbox_id is not None}


def needs(
    links: Mapping[str, Link],
    views: Mapping[Side, SideView],
    pending: Iterable[tuple[Side, str]] = (),
) -> dict[Side, set[str]]:
    """Which ids each side must fetch before a plan can be made."""
    want: dict[Side, set[str]] = {Side.BUSINESS: set(), Side.MAILBOX: set()}
    indexes = {side: index(links, side) for side in Side}
    for side, view in views.items():
        linked = indexes[side]
        recorded = _RECORDED_VERSION[side]
        for ident, entry in view.listed.items():
            link = linked.get(ident)
            if link is None or entry.version != recorded(link):
                want[side].add(ident)
        absent: Iterable[str] = (
            linked.keys() - view.listed.keys() if view.full else (i for i in view.removed if i in linked)
        )
        for ident in absent:
            link = linked[ident]
            if recorded_version(link, side) in _MARKS:
                continue  # parked: not looked at until listed again
            # Deleted or out of scope: find out which, and read the other side for a re-create.
            want[side].add(ident)
            other = item_id(link, side.other)
            if other is not None:
                want[side.other].add(other)
    for link in links.values():
        # A flagged conflict is read again every run; so is an item whose version is unknown
        # (paired while parked): its content was never agreed, so it cannot be assumed.
        if link.conflict or not link.business_version or not link.mailbox_version:
            for side in Side:
                linked_id = item_id(link, side)
                if linked_id is not None and (link.conflict or not recorded_version(link, side)):
                    want[side].add(linked_id)
    for side, pending_id in pending:
        want[side].add(pending_id)
    return want


def stamp_needs(part: str, links: Mapping[str, Link], views: Mapping[Side, SideView]) -> dict[Side, set[str]]:
    """Items named by the stamps of unlinked items that were not fetched yet (second round)."""
    want: dict[Side, set[str]] = {Side.BUSINESS: set(), Side.MAILBOX: set()}
    for side, view in views.items():
        if not view.records:
            continue
        linked = index(links, side)
        other = views[side.other]
        for record in view.records.values():
            if record.scope is not Scope.IN or record.stamp is None or record.id in linked:
                continue
            target = business_id_of(part, record.stamp) if side is Side.MAILBOX else record.stamp
            if target and target not in other.records and target not in other.fetched:
                want[side.other].add(target)
    return want


def shared_stamps(links: Mapping[str, Link], view: SideView) -> list[str]:
    """Stamps carried by several unlinked mailbox items: which is the original must be looked up."""
    linked = index(links, Side.MAILBOX)
    seen: dict[str, int] = defaultdict(int)
    for record in view.records.values():
        if record.stamp and record.scope is Scope.IN and record.id not in linked:
            seen[record.stamp] += 1
    return sorted(stamp for stamp, n in seen.items() if n > 1)


def plan(part: str, policy: Policy, links: Mapping[str, Link], views: Mapping[Side, SideView]) -> Plan:
    """Decide every operation of one run. Pure: no I/O."""
    result = Plan(part)
    bview, mview = views[Side.BUSINESS], views[Side.MAILBOX]
    for side, view in views.items():
        ids = {ident for link in links.values() if link.in_scope and (ident := item_id(link, side))}
        linked = len(ids)
        result.sizes[side] = max(linked, len(view.listed) if view.full else linked)
        # Suddenly empty (rule 10): a full listing with nothing in it, or a delta that lists nothing
        # and reports every linked item removed (a folder emptied, a filter that matches nothing).
        # Not a folder that replaced a vanished one: what it lacks is re-created, nothing deleted (rule 7).
        if linked >= 10 and not view.listed and not view.replaced and (view.full or ids <= set(view.removed)):
            result.looks_empty.append(side)

    by_mailbox = index(links, Side.MAILBOX)
    by_business = index(links, Side.BUSINESS)
    unlinked = {
        side: [r for r in view.records.values() if r.scope is Scope.IN and r.id not in index_of]
        for side, view, index_of in ((Side.BUSINESS, bview, by_business), (Side.MAILBOX, mview, by_mailbox))
    }
    if mview.age:  # oldest first: of several items carrying one stamp, the original is met first
        unlinked[Side.MAILBOX].sort(key=lambda r: mview.age.get(r.id, len(mview.age)))

    # Items whose stamp names a link: a moved item takes over its link, a copy stays new (rule 6).
    relinked: dict[str, Record] = {}
    origins = {r.stamp for r in unlinked[Side.BUSINESS] if r.stamp}
    for record in unlinked[Side.MAILBOX]:
        link = links.get(record.stamp or "")
        if link is None or link.key in relinked or record.id in origins:
            continue  # a business row made from this item claims it first
        state = side_state(link, mview)
        if state.removed or state.status is Status.OUT:
            relinked[link.key] = record

    # side_state answers UNCHANGED (no record) for an item neither listed as changed nor fetched.
    brecords, bfetched, mrecords, mfetched = bview.records, bview.fetched, mview.records, mview.fetched
    for link in links.values():
        moved = relinked.get(link.key)
        bid, mid = link.business_id, link.mailbox_id
        if (
            moved is None
            and bid is not None
            and mid is not None
            and bid not in brecords
            and bid not in bfetched
            and mid not in mrecords
            and mid not in mfetched
        ):
            continue  # unchanged on both sides: the shortcut of the test below, for most links
        if moved is not None:
            link = replace(link, mailbox_id=moved.id, mailbox_version="", removed_in_mailbox=False)
            mview.records.setdefault(moved.id, moved)
        b = side_state(link, bview)
        m = side_state(link, mview)
        if b.status is Status.UNCHANGED and m.status is Status.UNCHANGED and moved is None:
            continue
        op = decide(part, policy, link, b, m)
        if moved is not None and op is None:
            op = Op("relink", "a stamped mailbox item took the place of the one that vanished", link, link)
        if op is not None and op.action != "nothing":
            result.ops.append(op)  # a moved item's op keeps the re-pointed link: a re-decision needs it

    taken = {record.id for record in relinked.values()}
    result.ops.extend(_unlinked(part, policy, links, unlinked, taken, views, result))
    # Unreadable items no link names: never created elsewhere, never taken for gone; reported.
    reported = {record.id for op in result.ops for record in op.unreadable}
    for side, view, index_of in ((Side.BUSINESS, bview, by_business), (Side.MAILBOX, mview, by_mailbox)):
        result.ops.extend(
            unreadable(None, {side: r})
            for r in view.records.values()
            if r.scope is Scope.UNREADABLE and r.id not in index_of and r.id not in reported
        )
    return result


def _unlinked(
    part: str,
    policy: Policy,
    links: Mapping[str, Link],
    unlinked: dict[Side, list[Record]],
    relinked: set[str],
    views: Mapping[Side, SideView],
    result: Plan,
) -> list[Op]:
    ops: list[Op] = []
    business = {r.id: r for r in unlinked[Side.BUSINESS]}
    by_origin = {r.stamp: r for r in unlinked[Side.BUSINESS] if r.stamp}
    by_identity: dict[str, list[Record]] = defaultdict(list)
    for r in unlinked[Side.BUSINESS]:
        ident = r.item.identity()
        if ident:
            by_identity[ident].append(r)
    for ident, records in by_identity.items():
        if len(records) > 1:
            result.identity_conflicts.append(IdentityConflict(ident, sorted(r.id for r in records)))
    paired: set[str] = set()
    bview = views[Side.BUSINESS]
    limits = {side: view.limits for side, view in views.items()}
    # A business row made from a mailbox item (its creation token) claims that item first; the
    # stamp a user's copy carries is only a hint.
    stamped = _closest_by_stamp(
        part,
        [m for m in unlinked[Side.MAILBOX] if m.id not in by_origin],
        bview,
        links,
        views[Side.MAILBOX].age,
    )

    for mrec in unlinked[Side.MAILBOX]:
        if mrec.id in relinked:
            continue
        brec = None
        reason = ""
        bid = business_id_of(part, mrec.stamp) if mrec.stamp else None
        if mrec.id in by_origin:
            brec, reason = by_origin[mrec.id], "found by its creation token"
        elif bid is not None and stamped.get(bid) is mrec:
            candidate = business.get(bid) or bview.records.get(bid)
            if candidate is not None and candidate.scope is not Scope.DELETED and candidate.id not in paired:
                brec, reason = candidate, "found by its correlation key"
        ident = mrec.item.identity()
        if brec is None and ident and len(by_identity.get(ident, ())) == 1:
            candidate = by_identity[ident][0]
            if candidate.id not in paired:
                brec, reason = candidate, "found by its identity"
        if brec is not None and brec.scope is Scope.UNREADABLE:
            paired.add(brec.id)  # neither paired with (its content is unknown) nor created again
            ops.append(unreadable(None, {Side.BUSINESS: brec, Side.MAILBOX: mrec}))
            continue
        if brec is not None and brec.scope in (Scope.IN, Scope.FILTER, Scope.WINDOW):
            paired.add(brec.id)
            ops.append(pair(part, policy, brec, mrec, reason, limits))
            continue
        op = _new_item(part, policy, Side.MAILBOX, mrec)
        if op is not None:
            ops.append(op)

    # A row a crashed run re-created from a linked mailbox item (its creation token names that item)
    # is what the link's planned re-create will find by its stamp and pair: not a new item.
    recreating = {w.stamp for op in result.ops if isinstance(w := op.writes.get(Side.BUSINESS), Create)}
    mrecords = views[Side.MAILBOX].records
    for brec in unlinked[Side.BUSINESS]:
        if brec.id in paired or (brec.stamp is not None and brec.stamp in recreating):
            continue
        origin = mrecords.get(brec.stamp) if brec.stamp else None
        if origin is not None and origin.scope is Scope.UNREADABLE:  # made from it: not a new item
            ops.append(unreadable(None, {Side.BUSINESS: brec, Side.MAILBOX: origin}))
            continue
        op = _new_item(part, policy, Side.BUSINESS, brec)
        if op is not None:
            ops.append(op)
    return ops


def _closest_by_stamp(
    part: str, records: list[Record], bview: SideView, links: Mapping[str, Link], age: dict[str, int]
) -> dict[str, Record]:
    """For each unlinked business id, the stamped mailbox item that is its original.

    A user's copies carry the same stamp (rule 6); when no link says which is the original (a lost
    state store, a crash right after the create), the oldest is (``find`` reports creation order),
    else the one that differs in the fewest fields. The rest are new items.
    """
    best: dict[str, tuple[int, int, str, Record]] = {}
    for mrec in records:
        bid = business_id_of(part, mrec.stamp) if mrec.stamp else None
        if bid is None or correlation_key(part, bid) in links:
            continue
        brec = bview.records.get(bid)
        if brec is None:
            continue
        bp, mp = brec.item.projection(), mrec.item.projection()
        score = (age.get(mrec.id, len(age)), sum(1 for name in bp if bp[name] != mp.get(name)), mrec.id, mrec)
        if bid not in best or score[:3] < best[bid][:3]:
            best[bid] = score
    return {bid: score[3] for bid, score in best.items()}


def _new_item(part: str, policy: Policy, side: Side, record: Record) -> Op | None:
    """An item only one side has and no link names."""
    d = policy.direction
    if d.writes(side.other):
        return create(part, side.other, record, None, f"new in the {side.value} side")
    if d.replicates_onto(side) and not (side is Side.MAILBOX and record.item.mailbox_read_only()):
        return Op(
            f"delete in {side.value}",
            f"not on the {side.other.value} side, and {d.name} makes the {side.value} side identical",
            None,
            None,
            {side: Delete(record.id, record.version)},
            sources={side: record},
        )
    return None


def pair(
    part: str,
    policy: Policy,
    brec: Record,
    mrec: Record,
    reason: str,
    limits: Mapping[Side, Mapping[str, int]] | None = None,
) -> Op:
    """Join two items found to be one (no common base: differing fields are conflicts).

    A side with ``limits`` is read with the other side's values as its overflow: holding the first
    values of the other's list is agreeing with it.
    """
    key = correlation_key(part, brec.id)
    link = Link(key, brec.id, mrec.id, brec.version, mrec.version)
    if brec.scope is not Scope.IN:
        # Parked without an agreed snapshot: when the row comes back, both items are read again
        # and compared with no base, so differing fields become conflicts, not silent overwrites.
        mark = WINDOW_MARK if brec.scope is Scope.WINDOW else OUT_MARK
        after = replace(
            link,
            business_version=mark,
            mailbox_version="",
            snapshot={},
            in_scope=brec.scope is not Scope.FILTER,
            out_of_window=brec.scope is Scope.WINDOW,
        )
        return Op("pair", f"{reason}; the business record is {brec.scope.value}", None, after)
    limits = limits or {}
    b = read(Status.CHANGED, brec, mrec.item.projection(), limits.get(Side.BUSINESS, NO_LIMITS))
    m = read(Status.CHANGED, mrec, brec.item.projection(), limits.get(Side.MAILBOX, NO_LIMITS))
    op = _merge(policy, link, b, m, base=None)
    op.link = None
    op.action = "pair" if not op.writes else f"pair and {op.action}"
    op.reason = reason + ("" if not op.conflicts else f"; {op.reason}")
    return op


def create(part: str, side: Side, source: Record, link: Link | None, reason: str) -> Op:
    """Create ``source`` on ``side``; the link is completed with the new id when it succeeds."""
    other = side.other
    if side is Side.MAILBOX:
        key = correlation_key(part, source.id)
        write = Create(source.item, stamp=key)
    else:
        key = ""  # the new row's own key, known once it is created (a re-created row gets a new one)
        write = Create(source.item, stamp=source.id)
    base = link or Link(key, None, None)
    after = _settled(base, key=key, snapshot=source.item.projection())
    if other is Side.BUSINESS:
        after.business_id, after.business_version = source.id, source.version
        after.mailbox_id, after.mailbox_version = None, ""
    else:
        after.mailbox_id, after.mailbox_version = source.id, source.version
        after.business_id, after.business_version = None, ""
    return Op(f"create in {side.value}", reason, link, after, {side: write}, sources={other: source})


def unreadable(link: Link | None, sources: Mapping[Side, Record]) -> Op:
    """Skip items that cannot be read (rule 10: one bad item fails alone).

    Nothing is written, created or deleted for them and ``link`` stays exactly as it was: an
    unreadable item is never taken for a deleted one, nor its empty item for content.
    """
    bad = {side: r for side, r in sources.items() if r.scope is Scope.UNREADABLE}
    why = "; ".join(f"the {s.value} item {r.id} cannot be read ({r.scope_reason})" for s, r in bad.items())
    return Op("skip", f"{why}: nothing is written", link, link, sources=dict(sources),
              unreadable=tuple(bad.values()))  # fmt: skip


def _settled(link: Link, **changes: object) -> Link:
    """A copy of ``link`` with every parking flag cleared."""
    out = replace(
        link,
        in_scope=True,
        out_of_window=False,
        removed_in_mailbox=False,
        removed_in_business=False,
        conflict=False,
        last_error="",
    )
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def decide(part: str, policy: Policy, link: Link, b: SideState, m: SideState) -> Op | None:
    """The decision table for one link (rules 2–5)."""
    if Status.UNREADABLE in (b.status, m.status):
        return unreadable(link, _sources(b, m))
    b, m = _parked(link, Side.BUSINESS, b), _parked(link, Side.MAILBOX, m)
    if Status.WINDOW in (b.status, m.status):
        side = Side.BUSINESS if b.status is Status.WINDOW else Side.MAILBOX
        partner = m if side is Side.BUSINESS else b
        if partner.status in (Status.GONE, Status.DELETED):
            # Deleted while its partner is outside the window. A delta reports that only once, so
            # the link remembers it (as removed on that side); nothing is deleted (rule 4).
            after = replace(link, out_of_window=True)
            _set_version(after, side, WINDOW_MARK)
            if side is Side.BUSINESS:
                after.mailbox_id, after.mailbox_version, after.removed_in_mailbox = None, "", True
            else:
                after.business_id, after.business_version, after.removed_in_business = None, "", True
            return Op("leave window", f"the {side.value} item is outside the time window and its "
                      f"{side.other.value} item was deleted; nothing is deleted", link, after)  # fmt: skip
        if link.out_of_window:
            return None
        after = replace(link, out_of_window=True)
        _set_version(after, side, WINDOW_MARK)
        return Op(
            "leave window",
            f"the {side.value} item is outside the time window; nothing is deleted",
            link,
            after,
        )
    if b.status is Status.OUT:
        return _business_out(policy, link, b, m)
    if m.status is Status.OUT:
        if b.removed:
            return Op("forget", "deleted in the business side; the mailbox item left the sync", link, None)
        if not link.in_scope:
            return None
        after = replace(link, in_scope=False, mailbox_version=OUT_MARK)
        reason = (m.record.scope_reason if m.record else "") or "moved out of the synced folder"
        return Op(
            "unlink", f"the mailbox item left the sync ({reason}); the business record stays", link, after
        )
    if b.removed and m.removed:
        return Op("forget", "deleted on both sides", link, None)
    if Status.LOST in (b.status, m.status):
        return _lost(part, policy, link, b, m)
    if b.removed:
        return _business_removed(part, policy, link, b, m)
    if m.removed:
        return _mailbox_removed(part, policy, link, b, m)
    return _merge(policy, link, b, m, base=link.snapshot)


def _parked(link: Link, side: Side, state: SideState) -> SideState:
    if state.status is Status.UNCHANGED and state.record is None and state.version in _MARKS:
        return SideState(_MARKS[state.version], version=state.version)
    return state


def _set_version(link: Link, side: Side, version: str) -> None:
    if side is Side.BUSINESS:
        link.business_version = version
    else:
        link.mailbox_version = version


def _business_out(policy: Policy, link: Link, b: SideState, m: SideState) -> Op | None:
    """The business row left the filter or the user's ownership: a logical delete (rule 4)."""
    if not link.in_scope:
        if m.status is Status.GONE:  # the unlinked copy was deleted since: a delta says so only once
            gone = replace(link, mailbox_id=None, mailbox_version="")
            return Op("unlink", "the mailbox copy of a record out of scope was deleted", link, gone)
        return None
    after = replace(link, in_scope=False, business_version=OUT_MARK)
    reason = (b.record.scope_reason if b.record else "") or "left the filter"
    # Either copy saying "meeting with attendees" is enough: an out-of-scope business row may come
    # without its content (a row that cannot be read), and a wrong delete would cancel it for everyone.
    meeting = any(r is not None and r.item.removal_unlinks() for r in (b.record, m.record))
    if not m.exists:
        after.mailbox_id, after.mailbox_version = None, ""
        return Op("unlink", f"the business record {reason}; its mailbox copy is gone already", link, after)
    if not policy.direction.to_mailbox:
        return Op("unlink", f"the business record {reason}; the mailbox is not written", link, after)
    if meeting:
        return Op(
            "unlink",
            f"the business record {reason}; a meeting with attendees is only unlinked "
            "(removing it would cancel it for everyone)",
            link,
            after,
        )
    if not policy.delete_in_mailbox:
        return Op("unlink", f"the business record {reason}; delete_in_mailbox is off", link, after)
    assert link.mailbox_id is not None
    after.mailbox_id, after.mailbox_version = None, ""
    op = Op(
        "delete in mailbox",
        f"the business record {reason}: its mailbox copy is removed (the business record is kept)",
        link,
        after,
        {Side.MAILBOX: Delete(link.mailbox_id, m.version)},
        sources=_sources(b, m),
    )
    if m.edited and m.record is not None and link.snapshot is not None:
        op.conflicts = _lost_edit(link.snapshot, m.record.item.projection(), Side.MAILBOX)
    return op


def _sources(b: SideState, m: SideState) -> dict[Side, Record]:
    return {s: st.record for s, st in ((Side.BUSINESS, b), (Side.MAILBOX, m)) if st.record is not None}


def _lost(part: str, policy: Policy, link: Link, b: SideState, m: SideState) -> Op:
    """An item lost with its vanished folder or list (rule 7): re-created there from the other side,
    never taken for a user's delete (so never a delete on the other side either)."""
    side = Side.BUSINESS if b.status is Status.LOST else Side.MAILBOX
    source = (m if side is Side.BUSINESS else b).record
    if policy.direction.writes(side) and source is not None:
        why = f"lost with its vanished {side.value} folder: re-created there"
        return create(part, side, source, link, why)
    if side is Side.MAILBOX:
        after = replace(link, mailbox_id=None, mailbox_version="", removed_in_mailbox=True)
    else:
        after = replace(link, business_id=None, business_version="", removed_in_business=True)
    return Op(
        f"mark removed in {side.value}",
        f"lost with its vanished {side.value} folder; {policy.direction.name} does not write there",
        link,
        after,
    )


def _business_removed(part: str, policy: Policy, link: Link, b: SideState, m: SideState) -> Op | None:
    d = policy.direction
    how = "soft-deleted" if b.status is Status.DELETED else "deleted"
    tomb = replace(link, business_id=None, business_version="", removed_in_business=True, in_scope=True)
    if link.removed_in_business and not m.edited:
        return None
    wanted = m.edited or link.removed_in_business or d.replicates_onto(Side.BUSINESS)
    if wanted and d.to_business and m.record is not None:
        if m.edited:
            why = f"edited in the mailbox after the business record was {how}: the edit beats the delete"
        else:
            why = f"{d.name} makes the business side identical"
        return create(part, Side.BUSINESS, m.record, link, why)
    read_only = m.record is not None and m.record.item.mailbox_read_only()
    if d.to_mailbox and policy.delete_in_mailbox and not read_only and link.mailbox_id is not None:
        op = Op(
            "delete in mailbox",
            f"the business record was {how}",
            link,
            None,
            {Side.MAILBOX: Delete(link.mailbox_id, m.version)},
            sources=_sources(b, m),
        )
        if m.edited and m.record is not None and link.snapshot is not None:
            op.conflicts = _lost_edit(link.snapshot, m.record.item.projection(), Side.MAILBOX)
        return op
    why = (
        "the meeting is organised by someone else"
        if read_only
        else "delete_in_mailbox is off"
        if d.to_mailbox
        else f"{d.name} does not write the mailbox"
    )
    return Op("unlink", f"the business record was {how}; its mailbox copy stays ({why})", link, tomb)


def _mailbox_removed(part: str, policy: Policy, link: Link, b: SideState, m: SideState) -> Op | None:
    d = policy.direction
    returning = not link.in_scope and m.status is Status.MISSING
    if link.removed_in_mailbox and not b.edited:
        return None
    if m.status is Status.GONE and b.edited and d.to_business and policy.delete_in_business:
        assert link.business_id is not None
        op = Op(
            "delete in business",
            "the mailbox copy was deleted and delete_in_business is on; "
            "the business edit made meanwhile is kept in the conflict log",
            link,
            None,
            {Side.BUSINESS: Delete(link.business_id, b.version)},
            sources=_sources(b, m),
        )
        if b.record is not None and link.snapshot is not None:
            op.conflicts = _lost_edit(link.snapshot, b.record.item.projection(), Side.BUSINESS)
        return op
    wanted = b.edited or returning or link.removed_in_mailbox or d.replicates_onto(Side.MAILBOX)
    if wanted and d.to_mailbox and b.record is not None:
        if returning:
            why = "back in scope"
        elif b.edited:
            why = "edited in the business side after the mailbox copy was deleted: the edit beats the delete"
        else:
            why = f"{d.name} makes the mailbox identical"
        return create(part, Side.MAILBOX, b.record, link, why)
    if m.status is Status.GONE and d.to_business and policy.delete_in_business:
        assert link.business_id is not None
        return Op(
            "delete in business",
            "the mailbox copy was deleted and delete_in_business is on",
            link,
            None,
            {Side.BUSINESS: Delete(link.business_id, b.version)},
            sources=_sources(b, m),
        )
    if link.removed_in_mailbox or m.status is Status.MISSING:
        return None
    after = replace(link, mailbox_id=None, mailbox_version="", removed_in_mailbox=True)
    return Op(
        "mark removed in mailbox",
        "the mailbox copy was deleted; the business record stays and is not sent again unless it changes",
        link,
        after,
    )


def _lost_edit(base: dict[str, object], now: dict[str, object], side: Side) -> list[FieldConflict]:
    """An edit the other side's delete overrides, kept in the conflict log."""
    out = []
    for name, value in now.items():
        if base.get(name) != value:
            b, m = (value, None) if side is Side.BUSINESS else (None, value)
            out.append(FieldConflict(name, base.get(name), b, m, Resolution(None, "none")))
    return out


def _merge(policy: Policy, link: Link, b: SideState, m: SideState, base: dict[str, object] | None) -> Op:
    """Both items exist: merge them field by field onto their existing items (rule 2)."""
    if not base and (b.record is None or m.record is None):
        # Never stand an empty projection in for an item that was not read: that would wipe it.
        raise ValueError(f"link {link.key}: an item without an agreed snapshot was not read")
    bp = b.record.item.projection() if b.record is not None else dict(base or {})
    mp = m.record.item.projection() if m.record is not None else dict(base or {})
    holder = m.record or b.record
    read_only = holder is not None and holder.item.mailbox_read_only()
    merged = merge(base, bp, mp, policy, mailbox_read_only=read_only)
    writable = writable_sides(policy, read_only)
    writes: dict[Side, Write] = {}
    for side, state, now in ((Side.BUSINESS, b, bp), (Side.MAILBOX, m, mp)):
        patch = state.fit(merged.patch(side), now, merged.snapshot, writable[side])
        ident = item_id(link, side)
        if patch and ident is not None:
            writes[side] = Update(ident, patch, state.version)
    after = _settled(link, snapshot=merged.snapshot, conflict=merged.unresolved)
    after.business_version, after.mailbox_version = b.version, m.version
    held = {
        side
        for side, now in ((Side.BUSINESS, bp), (Side.MAILBOX, mp))
        if any({**now, **merged.patch(side)}.get(name) != merged.snapshot.get(name) for name in merged.held)
    }
    for side in held:
        # Not the new version: a full listing (e.g. after the direction changes) reads the item
        # again, and the held edit goes where the direction then allows.
        _set_version(after, side, recorded_version(link, side))
    if writes:
        action = "update both" if len(writes) == 2 else f"update {next(iter(writes)).value}"
    else:
        action = "refresh"
    reasons = []
    changed = [s.value for s, st in ((Side.BUSINESS, b), (Side.MAILBOX, m)) if st.edited]
    if changed:
        reasons.append(f"changed in {' and '.join(changed)}")
    elif not writes:
        reasons.append("only bookkeeping changed (same content)")
    if merged.conflicts:
        fields = ", ".join(c.field for c in merged.conflicts)
        verb = "flagged, neither side written" if merged.unresolved else f"resolved by {policy.conflict.name}"
        reasons.append(f"conflict on {fields} ({verb})")
        if merged.unresolved and not writes:
            action = "conflict"
    if merged.held:
        reasons.append(
            f"{', '.join(sorted(merged.held))} not carried over ({policy.direction.name}"
            f"{', meeting organised by someone else' if read_only else ''})"
        )
    if not (link.in_scope and not link.out_of_window) and not writes:
        action = "relink"
    op = Op(
        action, "; ".join(reasons) or "in step", link, after, writes, merged.conflicts, _sources(b, m), held
    )
    if not writes and not merged.conflicts and _same_link(link, after):
        op.action = "nothing"
    return op


def _same_link(a: Link, b: Link) -> bool:
    return (
        a.business_version == b.business_version
        and a.mailbox_version == b.mailbox_version
        and a.snapshot == b.snapshot
        and a.in_scope == b.in_scope
        and a.out_of_window == b.out_of_window
        and a.conflict == b.conflict
        and not a.removed_in_business
        and not a.removed_in_mailbox
    )
