"""Reading a part's rows: the listing query, child rows, versions and records.

A row's version is a hash of every mapped value it holds (its company's name and address and its
child rows included) and of its change-tracking column: a touch by the business application is a
new version with the same projection (rule 1), a company renamed is a new version of its people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Select, case, select

from exsync.business.sql.codec import BadRow, item_data, read_item
from exsync.business.sql.schema import PartSchema
from exsync.business.sql.scope import Criterion
from exsync.connector import Entry, Record, Scope
from exsync.model import Canonical, model_for
from exsync.model.hashing import digest

CHUNK = 500  # ids per IN list: well under every driver's parameter limit


@dataclass(frozen=True, slots=True)
class Row:
    """One selected row, kept as the driver's tuples: a full listing of 100,000 rows builds no dicts."""

    key: Any
    stamp: str | None
    own: tuple[Any, ...]  # the part's table columns, in ``Reader.columns`` order (the key first)
    company: tuple[Any, ...] | None  # the company's columns, in ``Reader.company_columns`` order
    flags: tuple[int, ...]  # 1 per criterion met (fetch only)
    reader: Reader

    @property
    def values(self) -> dict[str, Any]:
        """Column name -> value, of the part's table."""
        return dict(zip(self.reader.names, self.own, strict=True))

    def company_values(self) -> dict[str, Any] | None:
        """Canonical company field -> value."""
        if self.company is None:
            return None
        return dict(zip((name for name, _ in self.reader.company_columns), self.company, strict=True))


def _unique(columns: Iterable[Column[Any]]) -> list[Column[Any]]:
    seen: dict[str, Column[Any]] = {}
    for column in columns:
        seen.setdefault(column.name, column)
    return list(seen.values())


class Reader:
    def __init__(self, schema: PartSchema, *, time_zone: str = "UTC", staff_email: str = "") -> None:
        self.schema = schema
        self.time_zone = time_zone  # for rows without a zone of their own: the profile's
        self.staff_email = staff_email.casefold()
        s = schema
        mapped = [c for f in s.fields.values() for c in f.columns]
        self.columns = _unique([s.key, *([s.updated.column] if s.updated else []), *mapped])
        self.names = tuple(c.name for c in self.columns)
        self.company_columns: list[tuple[str, ColumnElement[Any]]] = []
        if s.companies is not None and s.company_key is not None:
            c = s.companies
            self.company_columns = [("name", c.name), *c.address.items()]
        self.children = {
            name: child for name in ("attendees", "exceptions") if (child := getattr(s, name)) is not None
        }

    def query(self, criteria: Sequence[Criterion] = (), *, flags: bool = False) -> Select[Any]:
        """The listing select: the row, its stamp and its company; with ``flags``, one 0/1 per criterion."""
        s = self.schema
        joined: Any = s.table
        if s.companies is not None and s.company_key is not None:
            joined = joined.outerjoin(s.companies.table, s.companies.key == s.company_key)
        cols: list[ColumnElement[Any]] = list(self.columns)
        cols += [column.label(f"exsync_company_{name}") for name, column in self.company_columns]
        if flags:
            cols += [
                case((c.condition, 1), else_=0).label(f"exsync_flag_{i}") for i, c in enumerate(criteria)
            ]
        return select(*cols).select_from(joined)

    def rows(
        self,
        conn: Connection,
        query: Select[Any],
        params: dict[str, Any],
        *,
        every: bool = False,
    ) -> list[Row]:
        """The rows ``query`` selects, with their stamps (``every``: the query reads most of the table)."""
        result = conn.execute(query, params).all()
        stamps = self.stamps(conn, None if every else [r[0] for r in result])
        n, k = len(self.columns), len(self.columns) + len(self.company_columns)
        has_company = bool(self.company_columns)
        out = []
        for r in result:
            key = r[0]
            company = tuple(r[n:k]) if has_company else None
            out.append(Row(key, stamps.get(str(key)), tuple(r[:n]), company, tuple(r[k:]), self))
        return out

    def stamps(self, conn: Connection, keys: Sequence[Any] | None) -> dict[str, str]:
        """Row key (as text) -> creation token; every one of the table's when ``keys`` is None.

        Read apart from the rows: a join would compare a key with its text form, which some
        databases refuse across collations."""
        table, name = self.schema.stamps, self.schema.table.name
        base = select(table.c.row_key, table.c.stamp).where(table.c.table_name == name).order_by(table.c.id)
        queries = [base]
        if keys is not None:
            text_keys = [str(k) for k in keys]
            queries = [
                base.where(table.c.row_key.in_(text_keys[i : i + CHUNK]))
                for i in range(0, len(text_keys), CHUNK)
            ]
        out: dict[str, str] = {}
        for query in queries:
            for row_key, stamp in conn.execute(query):
                out.setdefault(row_key, stamp)
        return out

    def child_rows(
        self, conn: Connection, parents: Select[Any] | Sequence[Any], params: dict[str, Any]
    ) -> dict[str, dict[Any, list[dict[str, Any]]]]:
        """Child rows per parent key, in a stable order (so versions are stable)."""
        out: dict[str, dict[Any, list[dict[str, Any]]]] = {}
        for name, child in self.children.items():
            per: dict[Any, list[dict[str, Any]]] = {}
            cols = list(child.fields.items())
            base = select(child.parent, *(c for _, c in cols)).order_by(child.parent, *(c for _, c in cols))
            batches: Iterable[Any]
            if isinstance(parents, Select):
                batches = [base.where(child.parent.in_(parents))]
            else:
                keys = list(parents)
                batches = [
                    base.where(child.parent.in_(keys[i : i + CHUNK])) for i in range(0, len(keys), CHUNK)
                ]
            for query in batches:
                for r in conn.execute(query, params):
                    per.setdefault(r[0], []).append({f: v for (f, _), v in zip(cols, r[1:], strict=True)})
            out[name] = per
        return out

    # -- versions, entries, records ------------------------------------------------------------

    def version(self, row: Row, children: dict[str, dict[Any, list[dict[str, Any]]]]) -> str:
        parts: list[Any] = [row.own]
        if row.company is not None:
            parts.append(row.company)
        for name in self.children:
            parts.append([tuple(c.values()) for c in children.get(name, {}).get(row.key, ())])
        return digest(repr(parts).encode())

    def entry(self, row: Row, children: dict[str, dict[Any, list[dict[str, Any]]]]) -> Entry:
        return Entry(self.schema.business_id(row.key), self.version(row, children), row.stamp)

    def item(self, row: Row, children: dict[str, dict[Any, list[dict[str, Any]]]]) -> Canonical:
        """The row as a canonical item; ``BadRow`` when it cannot be one."""
        mine = {
            name: [{f: v for f, v in c.items() if v is not None} for c in per.get(row.key, ())]
            for name, per in children.items()
        }
        data = item_data(self.schema, row.values, row.company_values(), mine)
        if self.schema.part == "calendar":
            data["time_zone"] = data.get("time_zone") or self.time_zone
            organizer = str(data.get("organizer") or "").strip().casefold()
            data["is_organizer"] = not organizer or organizer == self.staff_email
        return read_item(self.schema, row.key, data)

    def record(
        self,
        row: Row,
        children: dict[str, dict[Any, list[dict[str, Any]]]],
        criteria: Sequence[Criterion],
    ) -> Record:
        version = self.version(row, children)
        id = self.schema.business_id(row.key)
        outside = next((c for met, c in zip(row.flags, criteria, strict=True) if not met), None)
        try:
            item = self.item(row, children)
        except BadRow as exc:
            if outside is None:  # in scope but unusable: the engine leaves it alone and reports it
                empty = model_for(self.schema.part)()
                return Record(id, version, empty, row.stamp, Scope.UNREADABLE, str(exc))
            # Out of scope anyway (another kind of row, another owner): its content does not matter.
            item = model_for(self.schema.part)()
        if outside is not None:
            return Record(id, version, item, row.stamp, outside.scope, outside.reason)
        return Record(id, version, item, row.stamp)
