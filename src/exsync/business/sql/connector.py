"""``SqlConnector``: one (profile, part) of a firm's SQL database through the connector contract.

Listing: a full listing reads every in-scope row with its version. A delta token remembers the
database's clock when it was handed out; the next listing re-reads rows whose change-tracking
column is at most ``overlap`` older than that (a transaction that committed late, clocks that
differ), and the engine's version comparison drops what it already has. Soft-deleted and
out-of-scope rows among them are reported removed; hard deletes come from the tombstone table when
the mapping has one, otherwise a drop in the row count turns the listing into a full one, where
the engine compares key sets.

Writing: each ``apply`` is one transaction, each write a savepoint in it, so one bad write fails
alone; a write checks the version it expects on the locked row first (optimistic concurrency) and
writes only the columns the mapping owns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, union, update
from sqlalchemy.exc import DBAPIError, OperationalError

from exsync.business.companies import company_key
from exsync.business.sql.codec import ADDRESS, BadRow, child_rows, has_own_address, write_values
from exsync.business.sql.reading import CHUNK, Reader, Row
from exsync.business.sql.schema import Clock, PartSchema
from exsync.business.sql.scope import Window, all_of, criteria, window_for
from exsync.connector import (
    Changes,
    Create,
    Delete,
    Deleted,
    Entry,
    Outcome,
    Record,
    Side,
    Update,
    Write,
    Written,
)
from exsync.connector.errors import Gone, ItemError, Rejected, TokenExpired, Unavailable, VersionConflict
from exsync.model import Canonical
from exsync.settings import PartSettings
from exsync.sqlite import BEGIN_OPTION
from exsync.state.base import StoreBase

TOKEN_PREFIX = "sql1:"
Children = dict[str, dict[Any, list[dict[str, Any]]]]


SEEN_LIMIT = 5000  # beyond this, the overlap is reported again; the engine's version check absorbs it


@dataclass(frozen=True)
class Token:
    at: datetime  # the database's clock when the listing began
    rows: int  # rows in the table then (soft-deleted and out of scope included)
    top: Any  # the highest key then (integer keys): later keys are new rows
    window: str  # the calendar window then ("" without one)
    # What was reported from inside the overlap, id -> version ("" = removed): the next listing
    # re-reads those rows and reports only the ones whose version differs.
    seen: dict[str, str] = field(default_factory=dict)

    def with_seen(self, seen: dict[str, str]) -> Token:
        return replace(self, seen=seen if len(seen) <= SEEN_LIMIT else {})

    def encode(self) -> str:
        data = {"at": self.at.isoformat(), "rows": self.rows, "top": self.top, "window": self.window}
        return TOKEN_PREFIX + json.dumps({**data, "seen": self.seen}, separators=(",", ":"))

    @classmethod
    def decode(cls, token: str) -> Token:
        try:
            if not token.startswith(TOKEN_PREFIX):
                raise ValueError("not a SQL connector token")
            data = json.loads(token[len(TOKEN_PREFIX) :])
            seen = {str(k): str(v) for k, v in dict(data.get("seen", {})).items()}
            return cls(
                datetime.fromisoformat(data["at"]), int(data["rows"]), data["top"], str(data["window"]), seen
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenExpired(f"delta token {token[:40]!r} cannot be used ({exc})") from None


class SqlConnector:
    """A ``Connector`` over the part's table for one profile (a staff member)."""

    side = Side.BUSINESS

    def __init__(
        self,
        engine: Engine,
        schema: PartSchema,
        settings: PartSettings,
        *,
        staff_id: int,
        staff_code: str = "",
        staff_email: str = "",
        time_zone: str = "UTC",
        today: date | None = None,
        shared_store: StoreBase | None = None,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.settings = settings
        self.part = schema.part
        self.staff_id = staff_id
        self.params: dict[str, Any] = {"staff_id": staff_id, "staff_code": staff_code}
        self.window: Window | None = window_for(settings, today or datetime.now(UTC).date())
        self.criteria = criteria(schema, settings, staff_id, self.window)
        self.reader = Reader(schema, time_zone=time_zone, staff_email=staff_email)
        self._writer = engine.execution_options(**{BEGIN_OPTION: "immediate"})
        self.shared_store = shared_store  # the state store, when it lives in this database
        self._joint: Connection | None = None

    # -- listing -------------------------------------------------------------------------------

    def changes(self, token: str | None) -> Changes:
        with self._reading() as conn:
            if token is None or self.schema.updated is None:
                return self._full(conn)
            old = Token.decode(token)
            if old.window != self._window_text():
                return self._full(conn)  # the window moved: rows entered it without changing
            new = self._token(conn)
            if self.schema.tombstones is None and self._rows_vanished(conn, old, new):
                return self._full(conn, new)
            return self._delta(conn, old, new)

    def _full(self, conn: Connection, token: Token | None = None) -> Changes:
        token = token or self._token(conn)
        scope = all_of(self.criteria)
        rows = self.reader.rows(conn, self.reader.query().where(scope), self.params, every=True)
        children = self.reader.child_rows(conn, select(self.schema.key).where(scope), self.params)
        entries = [self.reader.entry(row, children) for row in rows]
        seen = {}
        if self.schema.updated is not None:
            clock = self.schema.updated
            cut, at = (
                clock.param(token.at - self.schema.map.overlap),
                self.reader.names.index(clock.column.name),
            )
            recent = (e for row, e in zip(rows, entries, strict=True) if _at_or_after(row.own[at], cut))
            seen = {e.id: e.version for e in recent}
        return Changes(entries, token=token.with_seen(seen).encode(), full=True)

    def _delta(self, conn: Connection, old: Token, new: Token) -> Changes:
        s = self.schema
        assert s.updated is not None
        since = old.at - s.map.overlap
        # Each source of change on its own indexed select: an OR across them makes PostgreSQL scan the table.
        changed: Any = select(s.key).where(s.updated.column >= s.updated.param(since))
        if s.companies is not None and s.companies.updated is not None and s.company_key is not None:
            companies = s.companies
            assert companies.updated is not None
            recent = select(companies.key).where(companies.updated.column >= companies.updated.param(since))
            changed = union(changed, select(s.key).where(s.company_key.in_(recent)))
        touched = sorted({r[0] for r in conn.execute(changed, self.params)}, key=str)
        query = self.reader.query(self.criteria, flags=True)
        entries: list[Entry] = []
        removed: list[str] = []
        for i in range(0, len(touched), CHUNK):
            rows = self.reader.rows(conn, query.where(s.key.in_(touched[i : i + CHUNK])), self.params)
            inside = [r for r in rows if all(r.flags)]
            children = self.reader.child_rows(conn, [r.key for r in inside], self.params)
            entries += [self.reader.entry(row, children) for row in inside]
            removed += [s.business_id(r.key) for r in rows if not all(r.flags)]
        removed += self._tombstones(conn, since)
        # Everything read from the overlap is remembered; what the last listing reported is dropped.
        seen = {e.id: e.version for e in entries} | dict.fromkeys(removed, "")
        entries = [e for e in entries if old.seen.get(e.id) != e.version]
        removed = [i for i in dict.fromkeys(removed) if old.seen.get(i) != ""]
        return Changes(entries, removed, token=new.with_seen(seen).encode(), full=False)

    def _tombstones(self, conn: Connection, since: datetime) -> list[str]:
        tomb = self.schema.tombstones
        if tomb is None:
            return []
        clock = Clock(tomb.c.deleted_at, self.engine.dialect.name)
        query = select(tomb.c.row_key).where(
            tomb.c.table_name == self.schema.table.name, tomb.c.deleted_at >= clock.param(since)
        )
        return [self.schema.business_id(k) for k in dict.fromkeys(r[0] for r in conn.execute(query))]

    def _token(self, conn: Connection) -> Token:
        s = self.schema
        now = s.updated.read(conn.scalar(select(s.updated.now()))) if s.updated else datetime.now(UTC)
        if s.tombstones is not None:  # hard deletes are recorded: no need to count rows (a table scan)
            return Token(now, -1, None, self._window_text())
        top_key = func.max(s.key) if s.integer_key else func.count()
        count, top = conn.execute(select(func.count(), top_key).select_from(s.table)).one()
        return Token(now, int(count), top if s.integer_key else None, self._window_text())

    def _rows_vanished(self, conn: Connection, old: Token, new: Token) -> bool:
        """Fewer rows than before plus the new ones: something was hard-deleted."""
        s, count = self.schema, new.rows
        if not s.integer_key or old.top is None:
            return count != old.rows
        added = int(conn.scalar(select(func.count()).select_from(s.table).where(s.key > old.top)) or 0)
        return count < old.rows + added

    def _window_text(self) -> str:
        return self.window.token() if self.window is not None else ""

    # -- fetching and finding ------------------------------------------------------------------

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        keys = [k for k in (self._key(i) for i in ids) if k is not None]
        with self._reading() as conn:
            return {r.id: r for r in self._records(conn, keys)}

    def find(self, stamps: Sequence[str]) -> dict[str, list[Record]]:
        s, table = self.schema, self.schema.stamps
        found: dict[str, list[Record]] = {}
        with self._reading() as conn:
            pairs: list[tuple[str, Any]] = []
            for i in range(0, len(stamps), CHUNK):
                query = (
                    select(table.c.stamp, table.c.row_key)
                    .where(table.c.table_name == s.table.name, table.c.stamp.in_(list(stamps[i : i + CHUNK])))
                    .order_by(table.c.id)
                )
                pairs += [(r[0], r[1]) for r in conn.execute(query)]
            keys = [k for k in (self._key(s.business_id(key)) for _, key in pairs) if k is not None]
            records = {r.id: r for r in self._records(conn, keys)}
        for stamp, key in pairs:
            record = records.get(s.business_id(key))
            if record is not None:
                found.setdefault(stamp, []).append(record)
        return found

    def _records(self, conn: Connection, keys: Sequence[Any]) -> list[Record]:
        out: list[Record] = []
        query = self.reader.query(self.criteria, flags=True)
        for i in range(0, len(keys), CHUNK):
            batch = list(keys[i : i + CHUNK])
            rows = self.reader.rows(conn, query.where(self.schema.key.in_(batch)), self.params)
            children = self.reader.child_rows(conn, [r.key for r in rows], self.params)
            out += [self._record(row, children) for row in rows]
        return out

    def _record(self, row: Row, children: Children) -> Record:
        return self.reader.record(row, children, self.criteria)

    def _key(self, id: str) -> Any:
        """The table key of a business id of this part's table, or None."""
        table, _, raw = id.partition(":")
        if table != self.schema.table.name or not raw:
            return None
        if self.schema.integer_key:
            return int(raw) if raw.isdigit() else None
        return raw

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes applied within commit when it ends, together with the state store's records when the
        store lives in this database (``shared_store``); an exception rolls both back."""
        if self.shared_store is None or self._joint is not None:
            yield
            return
        try:
            with self._writer.connect() as conn, conn.begin():
                self._joint = conn
                try:
                    with self.shared_store.joined(conn):
                        yield
                finally:
                    self._joint = None
        except OperationalError as exc:
            raise Unavailable(f"business database: {_db_reason(exc)}") from None

    def apply(self, writes: Sequence[Write]) -> list[Outcome]:
        if self._joint is not None:
            return self._apply_on(self._joint, writes)  # committed when the joint transaction ends
        try:
            with self._writer.connect() as conn, conn.begin():
                return self._apply_on(conn, writes)
        except OperationalError as exc:
            raise Unavailable(f"business database: {_db_reason(exc)}") from None

    def _apply_on(self, conn: Connection, writes: Sequence[Write]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        companies = _CompanyIndex(self, conn)
        for write in writes:
            try:
                with conn.begin_nested():
                    outcomes.append(self._write(conn, write, companies))
            except ItemError as exc:
                outcomes.append(exc)
                companies.forget()  # a company it created went with its savepoint
            except DBAPIError as exc:
                if isinstance(exc, OperationalError):
                    raise
                outcomes.append(Rejected(f"{_target(write)}: the database refused it: {_db_reason(exc)}"))
                companies.forget()
        return outcomes

    def _write(self, conn: Connection, write: Write, companies: _CompanyIndex) -> Written | Deleted:
        if isinstance(write, Create):
            return self._create(conn, write, companies)
        key = self._key(write.id)
        row = self._locked(conn, key) if key is not None else None
        if row is None:
            if isinstance(write, Delete):
                return Deleted(write.id)  # gone already counts as done
            raise Gone(f"{write.id} does not exist")
        children = self.reader.child_rows(conn, [key], self.params)
        version = self.reader.version(row, children)
        if version != write.version:
            raise VersionConflict(
                f"{write.id} changed since it was read (version {version}, not {write.version})"
            )
        if isinstance(write, Delete):
            self._delete(conn, key)
            return Deleted(write.id)
        return self._update(conn, key, row, children, write, companies)

    def _locked(self, conn: Connection, key: Any) -> Row | None:
        query = self.reader.query().where(self.schema.key == key)
        if conn.dialect.name != "sqlite":  # SQLite's IMMEDIATE transaction holds the write lock already
            query = query.with_for_update(of=self.schema.table)
        rows = self.reader.rows(conn, query, self.params)
        return rows[0] if rows else None

    def _create(self, conn: Connection, write: Create, companies: _CompanyIndex) -> Written:
        s, item = self.schema, write.item
        if self.part != item.PART:
            raise Rejected(f"a {item.PART} item cannot be created in {self.part}")
        values = write_values(s, item, list(s.fields))
        values.update({column.name: value for column, value in s.fixed.items()})
        if s.owner is not None:
            values[s.owner.name] = self.staff_id
        new_type = getattr(self.settings, "new_item_type", None)
        if s.type is not None and new_type:
            values[s.type.name] = new_type
        if s.company_key is not None:
            values[s.company_key.name] = companies.id_for(getattr(item, "company", ""))
        self._stamp_now(values, item, list(s.fields))
        key = _new_key(conn.execute(insert(s.table).values(values)).inserted_primary_key)
        self._write_children(conn, key, item, [n for n in self.reader.children])
        # A key the database hands out again (no AUTOINCREMENT) may still carry a deleted row's token.
        stale = (s.stamps.c.table_name == s.table.name) & (s.stamps.c.row_key == str(key))
        conn.execute(delete(s.stamps).where(stale))
        conn.execute(insert(s.stamps).values(table_name=s.table.name, row_key=str(key), stamp=write.stamp))
        return Written(s.business_id(key), self._version(conn, key))

    def _update(
        self,
        conn: Connection,
        key: Any,
        row: Row,
        children: Children,
        write: Update,
        companies: _CompanyIndex,
    ) -> Written:
        s = self.schema
        try:
            current = self.reader.item(row, children)
            item = current.with_changes(write.patch)
        except BadRow as exc:
            raise Rejected(f"cannot update it: {exc}") from None
        except ValidationError as exc:
            raise Rejected(f"{write.id}: {exc.error_count()} invalid value(s) in the patch") from None
        names = [n for n in write.patch if n in s.fields]
        if s.map.company_address and any(n in ADDRESS for n in names) and not has_own_address(s, row.values):
            # The contact showed its company's address; editing it gives the person an address of their own.
            names += [n for n in ADDRESS if n in s.fields and n not in names]
        values = write_values(s, item, names)
        if "company" in write.patch and s.company_key is not None:
            values[s.company_key.name] = companies.id_for(getattr(item, "company", ""))
        done_changed = "done" in write.patch and getattr(current, "done", None) != getattr(item, "done", None)
        self._stamp_now(values, item, ["done"] if done_changed else [])
        if values:  # a patch of child rows alone, in a table without a change-tracking column
            conn.execute(update(s.table).where(s.key == key).values(values))
        self._write_children(
            conn, key, item, [n for n in self.reader.children if n in write.patch], replace=True
        )
        return Written(write.id, self._version(conn, key))

    def _delete(self, conn: Connection, key: Any) -> None:
        s = self.schema
        for child in self.reader.children.values():  # not every database cascades
            conn.execute(delete(child.table).where(child.parent == key))
        conn.execute(
            delete(s.stamps).where(s.stamps.c.table_name == s.table.name, s.stamps.c.row_key == str(key))
        )
        conn.execute(delete(s.table).where(s.key == key))

    def _write_children(
        self, conn: Connection, key: Any, item: Canonical, names: list[str], *, replace: bool = False
    ) -> None:
        for name in names:
            child = self.reader.children[name]
            if replace:
                conn.execute(delete(child.table).where(child.parent == key))
            rows = [{child.parent.name: key, **values} for values in child_rows(self.schema, name, item)]
            if rows:
                conn.execute(insert(child.table), rows)

    def _stamp_now(self, values: dict[str, Any], item: Canonical, names: Sequence[str]) -> None:
        """The change time, and when the task was done (kept while it stays done)."""
        s = self.schema
        if s.updated is not None:
            values[s.updated.column.name] = s.updated.now()
        if s.done_at is not None and "done" in names:
            values[s.done_at.column.name] = s.done_at.now() if getattr(item, "done", False) else None

    def _version(self, conn: Connection, key: Any) -> str:
        rows = self.reader.rows(conn, self.reader.query().where(self.schema.key == key), self.params)
        return self.reader.version(rows[0], self.reader.child_rows(conn, [key], self.params))

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise Unavailable(f"business database: {_db_reason(exc)}") from None


class _CompanyIndex:
    """Companies by normalised name, for one ``apply``: a name links to the company that has it,
    or to one company created for it (once, whatever the spelling)."""

    def __init__(self, connector: SqlConnector, conn: Connection) -> None:
        self.connector = connector
        self.conn = conn
        self._ids: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        companies = self.connector.schema.companies
        assert companies is not None
        query = select(companies.key, companies.name).order_by(companies.key)
        if companies.deleted is not None:
            query = query.where(func.coalesce(companies.deleted, 0) == 0)
        ids: dict[str, Any] = {}
        for key, name in self.conn.execute(query):
            ids.setdefault(company_key(name or ""), key)  # the oldest company of a name
        return ids

    def forget(self) -> None:
        """Read the companies again: a write that failed rolled back the ones it created."""
        self._ids = None

    def id_for(self, name: str) -> Any:
        companies = self.connector.schema.companies
        normalised = company_key(name)
        if companies is None or not normalised:
            return None
        if self._ids is None:
            self._ids = self._load()
        if normalised not in self._ids:
            values: dict[str, Any] = {companies.name.name: name, **companies.map.new}
            if companies.owner is not None:
                values[companies.owner.name] = self.connector.staff_id
            if companies.updated is not None:
                values[companies.updated.column.name] = companies.updated.now()
            result = self.conn.execute(insert(companies.table).values(values))
            self._ids[normalised] = _new_key(result.inserted_primary_key)
        return self._ids[normalised]


def _at_or_after(value: Any, cut: Any) -> bool:
    try:
        return value is not None and value >= cut
    except TypeError:  # a change time written in another form: treat it as recent
        return True


def _new_key(primary_key: Any) -> Any:
    if not primary_key or primary_key[0] is None:
        raise Rejected(
            "the database gave the new row no key. Fix: make the key column generated (autoincrement)"
        )
    return primary_key[0]


def _target(write: Write) -> str:
    return write.stamp if isinstance(write, Create) else write.id


def _db_reason(exc: DBAPIError | OperationalError) -> str:
    orig = getattr(exc, "orig", None)
    return (str(orig) if orig is not None else str(exc)).splitlines()[0][:300]


__all__ = ["SqlConnector", "Token"]
