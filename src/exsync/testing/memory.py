"""In-memory connectors for both sides: the engine's tests, the state machine and the benchmark.

A ``MemoryStore`` is one side's data (a business database or a mailbox) for every part. A
``MemoryConnector`` is that store seen by one (profile, part) through the connector contract.

- Business ids are ``<table>:<n>`` (tables per part in ``tables``; calendar and tasks share the
  ``activities`` numbering); mailbox ids are opaque (``AAMk`` + hex), deterministic per store ``name``
  so that Hypothesis runs replay exactly.
- Versions are a store-wide write counter, as strings: every write gives a new one.
- The change counter is the delta token: each row remembers the counter value of its last change
  (write, touch, scope or owner change), hard removals leave a tombstone. ``changes(token)`` reports
  rows changed after the token, as entries when in scope, else as removed ids.
- Test hooks on the store (``put``, ``edit``, ``touch``, ``remove``, ``soft_delete``, ``set_scope``,
  ``make_unreadable``, ``set_owner``, ``expire_tokens``) play the users and servers outside sync: they
  are not counted in ``calls`` and never consult the fault schedule.
- An unreadable row (``Scope.UNREADABLE``) is listed like any row in scope; fetched or found, it is
  answered with an empty item, as a connector whose mapping fails on it would.
- ``limits`` (a connector's optional attribute) makes the connector keep only that many values of a
  list field on create and update, as Graph does with a contact's e-mail addresses.
- Rows cache their ``Entry`` and ``Record`` (rebuilt only when they change), so listing 100,000 items
  does no pydantic work.

A pair for one part::

    business, mailbox = memory_pair("contacts")
    business.store.put(Contact(first_name="Ada"))   # a row the firm created
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from exsync.connector.errors import Gone, ItemError, Rejected, TokenExpired, VersionConflict
from exsync.connector.protocol import (
    Changes,
    Create,
    Delete,
    Deleted,
    Entry,
    Outcome,
    Record,
    Scope,
    Side,
    Staff,
    Update,
    Write,
    Written,
)
from exsync.model import MODELS, PART_NAMES, Canonical, model_for
from exsync.testing.faults import Fault, Faults, Kind

_LISTED = frozenset({Scope.IN, Scope.UNREADABLE})  # an unreadable row is there: listed, never "removed"

DEFAULT_TABLES: dict[str, str] = {
    "contacts": "people",
    "calendar": "activities",
    "tasks": "activities",
    "mail": "emails",
}


@dataclass(slots=True)
class Calls:
    """Operations the connectors of one store were asked for; writes count each attempt."""

    creates: int = 0
    updates: int = 0
    deletes: int = 0
    fetches: int = 0
    lists: int = 0
    finds: int = 0

    @property
    def writes(self) -> int:
        return self.creates + self.updates + self.deletes

    def count(self, kind: Kind) -> None:
        name = {"create": "creates", "update": "updates", "delete": "deletes",
                "fetch": "fetches", "list": "lists", "find": "finds"}[kind]  # fmt: skip
        setattr(self, name, getattr(self, name) + 1)

    def reset(self) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, 0)


@dataclass(slots=True)
class _Row:
    record: Record  # the whole truth about the item, as fetch answers it
    entry: Entry  # its listing line, cached
    part: str
    owner: str | None
    created: int  # creation order: find() answers copies oldest first
    changed: int  # change counter at the last change: what a delta token is compared with


class MemoryStore:
    """One side's items for every part, with test hooks for changes made outside sync."""

    def __init__(
        self,
        side: Side | str,
        *,
        name: str = "",
        tables: dict[str, str] | None = None,
        staff: Iterable[Staff] = (),
    ) -> None:
        self.side = Side(side)
        self.name = name or self.side.value  # salts mailbox ids: two mailboxes never share one
        self.tables = {**DEFAULT_TABLES, **(tables or {})}
        self.faults = Faults(guard=self._operation)
        self.calls = Calls()
        self._staff = list(staff)
        self._rows: dict[str, _Row] = {}
        self._parts: dict[str, dict[str, _Row]] = {part: {} for part in PART_NAMES}
        self._stamps: dict[tuple[str, str], list[str]] = {}  # (part, stamp) -> ids, oldest first
        self._gone: dict[str, dict[str, int]] = {part: {} for part in PART_NAMES}  # tombstones
        self._seq = 0  # change counter; str(_seq) is the current delta token
        self._floor = 0  # tokens below this have expired
        self._versions = 0
        self._created = 0
        self._row_numbers: dict[str, int] = {}  # business table -> last row number
        self._lock = threading.RLock()  # the service may run several parts of one side at once
        self._depth = 0

    # -- reading, for tests (not counted) ----------------------------------------------------

    def get(self, id: str) -> Record | None:
        with self._operation(mutates=False):
            row = self._rows.get(id)
            return None if row is None else row.record

    def records(self, part: str | None = None) -> list[Record]:
        """Every stored item (in scope or not), oldest first."""
        with self._operation(mutates=False):
            rows = self._rows.values() if part is None else self._parts[part].values()
            return [row.record for row in sorted(rows, key=lambda r: r.created)]

    def __len__(self) -> int:
        with self._operation(mutates=False):
            return len(self._rows)

    def __contains__(self, id: object) -> bool:
        with self._operation(mutates=False):
            return id in self._rows

    @property
    def token(self) -> str:
        """The token a full listing would answer now."""
        with self._operation(mutates=False):
            return str(self._seq)

    def staff(self) -> list[Staff]:
        """``StaffDirectory.staff()``."""
        with self._operation(mutates=False):
            return list(self._staff)

    # -- changes made outside sync (test hooks) ----------------------------------------------

    def put(
        self,
        item: Canonical,
        stamp: str | None = None,
        *,
        owner: str | None = None,
        scope: Scope = Scope.IN,
        reason: str = "",
    ) -> str:
        """Store a new item (a user creating one, or a copy when ``stamp`` is already used)."""
        with self._operation():
            return self._insert(item.PART, item, stamp, owner, scope, reason).record.id

    def edit(self, id: str, **fields: Any) -> str:
        """A user edits fields (normalised like any value); returns the new version."""
        with self._operation():
            row = self._row(id)
            return self._rewrite(row, row.record.item.with_changes(fields)).version

    def touch(self, id: str) -> str:
        """The server rewrites bookkeeping: a new version, the same content. Returns it."""
        with self._operation():
            row = self._row(id)
            return self._rewrite(row, row.record.item).version

    def remove(self, id: str) -> None:
        """Hard delete."""
        with self._operation():
            self._drop(self._row(id))

    def soft_delete(self, id: str) -> None:
        """A business row flagged deleted: a write (new version) that takes it out of scope."""
        if self.side is not Side.BUSINESS:
            raise ValueError("mailbox items are removed, not flagged: use remove()")
        with self._operation():
            row = self._row(id)
            self._rewrite(row, row.record.item, scope=Scope.DELETED, reason="deleted")

    def set_scope(self, id: str, scope: Scope, reason: str = "") -> None:
        """Move an item out of (or back into) scope; no new version: the item did not change."""
        with self._operation():
            row = self._row(id)
            row.record = replace(row.record, scope=scope, scope_reason=reason)
            row.changed = self._tick()

    def make_unreadable(self, id: str, reason: str) -> str:
        """Someone writes a value the mapping cannot read (a NULL it needs, a malformed RRULE).

        A write (new version): the item is ``Scope.UNREADABLE`` until ``set_scope(id, Scope.IN)``.
        Returns the new version.
        """
        with self._operation():
            row = self._row(id)
            return self._rewrite(row, row.record.item, scope=Scope.UNREADABLE, reason=reason).version

    def set_owner(self, id: str, owner: str | None) -> None:
        """A row with an owner is in scope only for connectors of that owner (or of no owner)."""
        with self._operation():
            row = self._row(id)
            row.owner = owner
            row.changed = self._tick()

    def expire_tokens(self) -> None:
        """Every delta token handed out so far answers ``TokenExpired``."""
        with self._operation():
            self._floor = self._tick()

    def set_staff(self, staff: Iterable[Staff]) -> None:
        with self._operation():
            self._staff = list(staff)

    def reset_calls(self) -> None:
        with self._operation():
            self.calls.reset()

    # -- internals shared with the connector and the file-backed store -----------------------

    @contextmanager
    def _operation(self, mutates: bool = True) -> Iterator[None]:
        """Serialise operations; the outermost one brackets ``_opening``/``_closing``."""
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._opening()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if outermost:
                    self._closing(mutates)

    def _opening(self) -> None:
        """Hook: before the outermost operation (the file store reloads here)."""

    def _closing(self, mutates: bool) -> None:
        """Hook: after the outermost operation, even when it raised (the file store saves here)."""

    def _tick(self) -> int:
        self._seq += 1
        return self._seq

    def _new_version(self) -> str:
        self._versions += 1
        return str(self._versions)

    def _new_id(self, part: str) -> str:
        if self.side is Side.BUSINESS:
            table = self.tables[part]
            number = self._row_numbers.get(table, 0) + 1
            self._row_numbers[table] = number
            return f"{table}:{number}"
        digest = hashlib.blake2b(f"{self.name}/{self._created}".encode(), digest_size=16).hexdigest()
        return f"AAMk{digest}"

    def _row(self, id: str) -> _Row:
        try:
            return self._rows[id]
        except KeyError:
            raise KeyError(f"{id} is not in the {self.name} store") from None

    def _insert(
        self, part: str, item: Canonical, stamp: str | None, owner: str | None,
        scope: Scope = Scope.IN, reason: str = "",
    ) -> _Row:  # fmt: skip
        if not isinstance(item, MODELS[part]):
            raise TypeError(f"a {part} item must be a {MODELS[part].__name__}, not {type(item).__name__}")
        self._created += 1
        id = self._new_id(part)
        record = Record(id, self._new_version(), item, stamp, scope, reason)
        row = _Row(record, Entry(id, record.version, stamp), part, owner, self._created, self._tick())
        self._rows[id] = row
        self._parts[part][id] = row
        if stamp is not None:
            self._stamps.setdefault((part, stamp), []).append(id)
        return row

    def _rewrite(
        self, row: _Row, item: Canonical, *, scope: Scope | None = None, reason: str | None = None
    ) -> Record:
        record = row.record
        row.record = Record(
            record.id, self._new_version(), item, record.stamp,
            record.scope if scope is None else scope,
            record.scope_reason if reason is None else reason,
        )  # fmt: skip
        row.entry = Entry(record.id, row.record.version, record.stamp)
        row.changed = self._tick()
        return row.record

    def _drop(self, row: _Row) -> None:
        id = row.record.id
        del self._rows[id]
        del self._parts[row.part][id]
        if row.record.stamp is not None:
            ids = self._stamps[(row.part, row.record.stamp)]
            ids.remove(id)
            if not ids:
                del self._stamps[(row.part, row.record.stamp)]
        self._gone[row.part][id] = self._tick()

    # -- persistence (the file-backed store's format; see JsonFileStore) ---------------------

    def _state(self) -> dict[str, Any]:
        rows = sorted(self._rows.values(), key=lambda r: r.created)
        return {
            "format": "exsync-memory-store/1",
            "side": self.side.value,
            "name": self.name,
            "tables": self.tables,
            "counters": {
                "change": self._seq,
                "token_floor": self._floor,
                "version": self._versions,
                "created": self._created,
                "rows": self._row_numbers,
            },
            "items": [
                {
                    "id": r.record.id,
                    "part": r.part,
                    "version": r.record.version,
                    "stamp": r.record.stamp,
                    "scope": r.record.scope.value,
                    "scope_reason": r.record.scope_reason,
                    "owner": r.owner,
                    "created": r.created,
                    "changed": r.changed,
                    "fields": r.record.item.model_dump(mode="json"),
                }
                for r in rows
            ],
            "removed": {part: gone for part, gone in self._gone.items() if gone},
            "staff": [dataclasses.asdict(s) for s in self._staff],
            "faults": [f.to_json() for f in self.faults.pending],
            "replays": self.faults.replays,
            "calls": dataclasses.asdict(self.calls),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("format") != "exsync-memory-store/1":
            raise ValueError(f"not an exsync memory store: format {state.get('format')!r}")
        self.side = Side(state["side"])
        self.name = state["name"]
        self.tables = dict(state["tables"])
        counters = state["counters"]
        self._seq, self._floor = counters["change"], counters["token_floor"]
        self._versions, self._created = counters["version"], counters["created"]
        self._row_numbers = dict(counters["rows"])
        self._rows.clear()
        self._stamps.clear()
        self._parts = {part: {} for part in PART_NAMES}
        for data in state["items"]:
            item = model_for(data["part"]).model_validate(data["fields"])
            record = Record(data["id"], data["version"], item, data["stamp"], Scope(data["scope"]),
                            data["scope_reason"])  # fmt: skip
            row = _Row(record, Entry(record.id, record.version, record.stamp), data["part"],
                       data["owner"], data["created"], data["changed"])  # fmt: skip
            self._rows[record.id] = row
            self._parts[row.part][record.id] = row
            if record.stamp is not None:
                self._stamps.setdefault((row.part, record.stamp), []).append(record.id)
        self._gone = {part: dict(state["removed"].get(part, {})) for part in PART_NAMES}
        self._staff = [Staff(**s) for s in state["staff"]]
        # in place: tests keep references to `store.faults` and `store.calls`
        self.faults.pending[:] = [Fault.from_json(f) for f in state["faults"]]
        self.faults.replays = state["replays"]
        for name, value in state["calls"].items():
            setattr(self.calls, name, value)


class MemoryConnector:
    """A ``Connector`` (and ``StaffDirectory``) over a ``MemoryStore``, bound to one part.

    ``owner`` plays the profile: rows owned by someone else are out of scope (``Scope.FILTER``).
    ``limits``: the most values this connector keeps of each list field (``Connector.limits``).
    ``calls`` and ``faults`` belong to the store, so they outlive connectors made per run.
    """

    def __init__(
        self,
        store: MemoryStore,
        side: Side | str,
        part: str,
        *,
        owner: str | None = None,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        if Side(side) is not store.side:
            raise ValueError(f"a {store.side.value} store cannot serve the {Side(side).value} side")
        if part not in MODELS:
            raise ValueError(f"unknown part {part!r}; expected one of {', '.join(PART_NAMES)}")
        self.store = store
        self.side = store.side
        self.part = part
        self.owner = owner
        self.limits: Mapping[str, int] = dict(limits or {})

    @property
    def calls(self) -> Calls:
        return self.store.calls

    @property
    def faults(self) -> Faults:
        return self.store.faults

    @property
    def writes(self) -> int:
        return self.store.calls.writes

    def staff(self) -> list[Staff]:
        return self.store.staff()

    def put(self, item: Canonical, stamp: str | None = None) -> str:
        """``store.put`` for this part and owner (a user creating an item here: cut to ``limits``)."""
        if self.part != item.PART:
            raise TypeError(f"a {item.PART} item does not belong to the {self.part} part")
        return self.store.put(self._fit(item), stamp, owner=self.owner)

    # -- the connector contract ----------------------------------------------------------------

    def changes(self, token: str | None) -> Changes:
        with self.store._operation():
            self._consult("list", ())
            rows = self.store._parts[self.part]
            if token is None:
                entries = self._listing(rows.values())
                return Changes(entries, token=self.store.token, full=True)
            since = self._since(token)
            entries, removed = [], []
            for row in rows.values():
                if row.changed > since:
                    if self._listed(row):
                        entries.append(row.entry)
                    else:
                        removed.append(row.record.id)
            removed += [id for id, when in self.store._gone[self.part].items() if when > since]
            if self.store.faults.take_replay():
                entries += entries
            return Changes(entries, removed, token=self.store.token, full=False)

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        with self.store._operation():
            self._consult("fetch", ids)
            rows = self.store._parts[self.part]
            return {id: self._record(rows[id]) for id in ids if id in rows}

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        with self.store._operation():
            self._consult("find", stamps)
            found: dict[str, list[Record]] = {}
            for stamp in stamps:
                ids = self.store._stamps.get((self.part, stamp))
                if ids:
                    found[stamp] = [self._record(self.store._rows[id]) for id in ids]
            return found

    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        with self.store._operation():
            return [self._apply_one(write) for write in writes]

    # -- internals -------------------------------------------------------------------------------

    def _consult(self, kind: Kind, targets: Sequence[str]) -> None:
        self.store.calls.count(kind)
        error = self.store.faults.take(kind, targets)
        if error is not None:
            raise error

    def _listed(self, row: _Row) -> bool:
        return row.record.scope in _LISTED and (
            self.owner is None or row.owner is None or row.owner == self.owner
        )

    def _listing(self, rows: Iterable[_Row]) -> list[Entry]:
        if self.owner is None:  # the common case, kept to one cheap test per row
            entries = [row.entry for row in rows if row.record.scope in _LISTED]
        else:
            entries = [row.entry for row in rows if self._listed(row)]
        if self.store.faults.take_replay():
            entries += entries
        return entries

    def _record(self, row: _Row) -> Record:
        if row.record.scope in _LISTED and not self._listed(row):
            return replace(row.record, scope=Scope.FILTER, scope_reason=f"owned by {row.owner}")
        if row.record.scope is Scope.UNREADABLE:
            return replace(row.record, item=model_for(self.part)())
        return row.record

    def _fit(self, item: Canonical) -> Canonical:
        """What this side can hold of ``item``: list fields cut to their limits."""
        over = {name: values[:limit] for name, limit in self.limits.items()
                if len(values := getattr(item, name, ())) > limit}  # fmt: skip
        return item.with_changes(over) if over else item

    def _since(self, token: str) -> int:
        if token.isdigit() and self.store._floor <= int(token) <= self.store._seq:
            return int(token)
        raise TokenExpired(f"delta token {token!r} is unknown or expired")

    def _apply_one(self, write: Write) -> Outcome:
        kind, target = _kind_and_target(write)
        self.store.calls.count(kind)
        error = self.store.faults.take(kind, (target,))
        if error is not None:
            if isinstance(error, ItemError):
                return error
            raise error
        try:
            outcome = self._carry_out(write)
        except ItemError as e:
            return e
        hook = self.store.faults.crash_after_write
        if hook is not None:
            hook(write, outcome)
        return outcome

    def _carry_out(self, write: Write) -> Written | Deleted:
        if isinstance(write, Create):
            if self.part != write.item.PART:
                raise Rejected(f"a {write.item.PART} item cannot be created in {self.part}")
            new = self.store._insert(self.part, self._fit(write.item), write.stamp, self.owner)
            return Written(new.record.id, new.record.version)
        row = self.store._parts[self.part].get(write.id)
        if row is None:
            if isinstance(write, Delete):
                return Deleted(write.id)  # gone already counts as done
            raise Gone(f"{write.id} does not exist")
        if row.record.version != write.version:
            raise VersionConflict(f"{write.id} is at version {row.record.version}, not {write.version}")
        if isinstance(write, Delete):
            self.store._drop(row)
            return Deleted(write.id)
        try:
            item = row.record.item.with_changes(write.patch)
        except ValidationError as e:
            raise Rejected(f"{write.id}: {e.error_count()} invalid value(s) in the patch") from e
        return Written(write.id, self.store._rewrite(row, self._fit(item)).version)


def _kind_and_target(write: Write) -> tuple[Kind, str]:
    """The operation kind and what a fault for one item names: the id, or a create's stamp."""
    if isinstance(write, Create):
        return "create", write.stamp
    return ("update" if isinstance(write, Update) else "delete"), write.id


def memory_pair(
    part: str,
    *,
    business: MemoryStore | None = None,
    mailbox: MemoryStore | None = None,
    owner: str | None = None,
    limits: Mapping[str, int] | None = None,
) -> tuple[MemoryConnector, MemoryConnector]:
    """(business, mailbox) connectors for one part, on fresh stores unless stores are given.

    ``limits`` are the mailbox connector's (``{"emails": 3, "business_phones": 2}`` plays Graph contacts).
    """
    # `is None`, not `or`: an empty store is falsy (it has a length)
    business = MemoryStore(Side.BUSINESS) if business is None else business
    mailbox = MemoryStore(Side.MAILBOX) if mailbox is None else mailbox
    return (
        MemoryConnector(business, Side.BUSINESS, part, owner=owner),
        MemoryConnector(mailbox, Side.MAILBOX, part, owner=owner, limits=limits),
    )
