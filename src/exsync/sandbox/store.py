"""The sandbox's state: mailboxes and every item in them, in memory, written through to a SQLite file
when the sandbox has a data folder.

Every item (folder, contact, event, task list, task, message) is one `Item` with its Graph properties in
`data`; `version` comes from one counter for the whole store, so a delta snapshot is `{id: version}`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exsync.sandbox.ids import change_key, object_id, regular_id


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Mailbox:
    id: str
    upn: str
    display_name: str
    # well-known folder name → item id: contacts, calendar, msgfolderroot, inbox, sentitems, deleteditems,
    # drafts, tasks (the default To Do list)
    folders: dict[str, str] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userPrincipalName": self.upn,
            "displayName": self.display_name,
            "mail": self.upn,
        }


@dataclass
class Item:
    id: str  # immutable
    kind: str  # contactFolder, contact, calendar, event, todoTaskList, todoTask, mailFolder, message
    owner: str  # mailbox id
    parent: str  # containing folder's id ("" for a root)
    data: dict[str, Any]
    version: int = 0
    created: str = ""
    modified: str = ""
    moves: int = 0
    # sandbox-only facts a client never sees directly: raw MIME, meeting links, transactionId, …
    hidden: dict[str, Any] = field(default_factory=dict)

    @property
    def alias(self) -> str:
        return regular_id(self.id, self.moves)

    @property
    def change_key(self) -> str:
        return change_key(self.id, self.version)


@dataclass
class DeltaState:
    """What a client's delta token stands for: the query it was made with and what it had seen."""

    scope: str
    options: dict[str, Any]
    seen: dict[str, list[Any]]  # immutable id → [version, id as shown]
    created: float


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self._by_upn: dict[str, str] = {}
        self.items: dict[str, Item] = {}
        self._aliases: dict[str, str] = {}
        self._children: dict[str, dict[str, None]] = {}
        self.seq = 0
        self.meta: dict[str, Any] = {}
        self.deltas: dict[str, DeltaState] = {}
        self._dirty: dict[str, None] = {}  # ordered: new rows go to the file in the order items were added
        self._dirty_mailboxes: set[str] = set()
        self._dirty_deltas: set[str] = set()
        self._by_property: dict[tuple[str, str, str], set[str]] = {}
        self._property_keys: dict[str, set[tuple[str, str, str]]] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(path)

    # -- mailboxes ----------------------------------------------------------------------------------
    def mailbox(self, key: str) -> Mailbox | None:
        """By object id or user principal name (case-insensitive)."""
        found = self.mailboxes.get(key)
        if found is None:
            mailbox_id = self._by_upn.get(key.lower())
            found = self.mailboxes.get(mailbox_id) if mailbox_id else None
        return found

    def add_mailbox(self, upn: str, display_name: str) -> Mailbox:
        mailbox = Mailbox(id=object_id(), upn=upn, display_name=display_name)
        self.mailboxes[mailbox.id] = mailbox
        self._by_upn[upn.lower()] = mailbox.id
        self.touch_mailbox(mailbox)
        return mailbox

    def touch_mailbox(self, mailbox: Mailbox) -> None:
        self._dirty_mailboxes.add(mailbox.id)

    # -- items --------------------------------------------------------------------------------------
    def next_version(self) -> int:
        self.seq += 1
        return self.seq

    def add(self, item: Item) -> Item:
        item.version = self.next_version()
        item.created = item.created or now_iso()
        item.modified = item.modified or item.created
        self.items[item.id] = item
        self._children.setdefault(item.parent, {})[item.id] = None
        self._aliases[item.alias] = item.id
        self._dirty[item.id] = None
        self._index(item)
        return item

    def changed(self, item: Item) -> None:
        """Record an edit: a new version (so a new change key) and modification time."""
        item.version = self.next_version()
        item.modified = now_iso()
        self._dirty[item.id] = None
        self._index(item)

    def quietly_changed(self, item: Item) -> None:
        """Persist a change that is not a new version (sandbox-only facts)."""
        self._dirty[item.id] = None
        self._index(item)

    # Items by extended property value, as Exchange indexes them: a lookup of a sync client's key
    # (`$filter=singleValueExtendedProperties/Any(…)`) must not read the whole folder.
    def with_property(self, owner: str, property_id: str, value: str) -> set[str]:
        return set(self._by_property.get((owner, property_id.casefold(), value.casefold()), ()))

    def _index(self, item: Item) -> None:
        self._unindex(item.id)
        keys = {
            (item.owner, str(p.get("id", "")).casefold(), str(p.get("value", "")).casefold())
            for p in item.data.get("singleValueExtendedProperties") or ()
            if isinstance(p, dict)
        }
        if keys:
            self._property_keys[item.id] = keys
            for key in keys:
                self._by_property.setdefault(key, set()).add(item.id)

    def _unindex(self, item_id: str) -> None:
        for key in self._property_keys.pop(item_id, ()):
            holders = self._by_property.get(key)
            if holders is not None:
                holders.discard(item_id)
                if not holders:
                    del self._by_property[key]

    def move(self, item: Item, parent: str) -> None:
        self._children.get(item.parent, {}).pop(item.id, None)
        self._aliases.pop(item.alias, None)
        item.parent = parent
        item.moves += 1
        self._aliases[item.alias] = item.id
        self._children.setdefault(parent, {})[item.id] = None
        self.changed(item)

    def remove(self, item: Item) -> None:
        for child in list(self.children(item.id)):
            self.remove(child)
        self.items.pop(item.id, None)
        self._aliases.pop(item.alias, None)
        self._children.get(item.parent, {}).pop(item.id, None)
        self._children.pop(item.id, None)
        self._dirty[item.id] = None
        self._unindex(item.id)

    def get(self, key: str) -> Item | None:
        """By immutable or regular id."""
        found = self.items.get(key)
        if found is None and key in self._aliases:
            found = self.items.get(self._aliases[key])
        return found

    def children(self, parent: str, kind: str | None = None) -> Iterator[Item]:
        for item_id in list(self._children.get(parent, ())):
            item = self.items.get(item_id)
            if item is not None and (kind is None or item.kind == kind):
                yield item

    def owned(self, owner: str, kind: str) -> Iterator[Item]:
        for item in self.items.values():
            if item.owner == owner and item.kind == kind:
                yield item

    # -- delta tokens -------------------------------------------------------------------------------
    def save_delta(self, token: str, state: DeltaState, keep: int = 16) -> None:
        self.deltas[token] = state
        self._dirty_deltas.add(token)
        same = [t for t, s in self.deltas.items() if s.scope == state.scope]
        for old in same[:-keep]:  # a client only ever uses its latest few
            del self.deltas[old]
            self._dirty_deltas.add(old)

    def expire_deltas(self) -> int:
        count = len(self.deltas)
        self._dirty_deltas.update(self.deltas)
        self.deltas.clear()
        return count

    # -- persistence --------------------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for table in ("items", "mailboxes", "deltas", "meta"):
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        for (body,) in self._db.execute("SELECT body FROM mailboxes ORDER BY rowid"):
            mailbox = Mailbox(**json.loads(body))
            self.mailboxes[mailbox.id] = mailbox
            self._by_upn[mailbox.upn.lower()] = mailbox.id
        for (body,) in self._db.execute("SELECT body FROM items ORDER BY rowid"):  # the order they came in
            item = Item(**json.loads(body))
            self.items[item.id] = item
            self._children.setdefault(item.parent, {})[item.id] = None
            self._aliases[item.alias] = item.id
            self._index(item)
            self.seq = max(self.seq, item.version)
        for key, body in self._db.execute("SELECT id, body FROM deltas"):
            self.deltas[key] = DeltaState(**json.loads(body))
        for key, body in self._db.execute("SELECT id, body FROM meta"):
            self.meta[key] = json.loads(body)
        self.seq = max(self.seq, int(self.meta.get("seq", 0)))

    def set_meta(self, key: str, value: Any) -> None:
        self.meta[key] = value
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def flush(self) -> None:
        """Write what changed since the last flush (one transaction)."""
        if self._db is None:
            self._dirty.clear()
            self._dirty_mailboxes.clear()
            self._dirty_deltas.clear()
            return
        if not (self._dirty or self._dirty_mailboxes or self._dirty_deltas):
            return
        db = self._db
        db.execute("BEGIN")
        try:
            self._write(db, "items", self._dirty, self.items)
            self._write(db, "mailboxes", self._dirty_mailboxes, self.mailboxes)
            self._write(db, "deltas", self._dirty_deltas, self.deltas)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (json.dumps(self.seq),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._dirty.clear()
        self._dirty_mailboxes.clear()
        self._dirty_deltas.clear()

    @staticmethod
    def _write(db: sqlite3.Connection, table: str, keys: Collection[str], source: dict[str, Any]) -> None:
        rows = [(key, json.dumps(asdict(source[key]))) for key in keys if key in source]
        gone = [(key,) for key in keys if key not in source]
        if rows:
            # An upsert keeps a changed row's rowid (REPLACE would move it last): the order survives a restart
            upsert = f"INSERT INTO {table} VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body"  # noqa: S608
            db.executemany(upsert, rows)
        if gone:
            db.executemany(f"DELETE FROM {table} WHERE id = ?", gone)  # noqa: S608 - fixed names

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            self._db.close()
            self._db = None
