"""SQL helpers shared by the whole store: chunked IN lists and the one upsert (INSERT … ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, Literal, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

T = TypeVar("T")

IN_CHUNK = 500  # keys per IN (…) query: well under every database's bound-parameter limit

# Maps the would-be-inserted row ("excluded") to the SET clause of the update.
SetClause = Callable[[Any], Mapping[str, Any]]


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    set_: SetClause | None = None,
    on_conflict: Literal["update", "nothing"] = "update",
    chunk_size: int = 1000,
) -> int:
    """Insert ``rows`` or update the row with the same ``keys``; return the driver's count of rows written
    (exact for a single row, which is what callers that need it pass).

    By default every non-key column is overwritten; ``set_`` chooses the SET clause instead, and
    ``on_conflict="nothing"`` leaves an existing row alone. All rows must have the same columns.
    """
    match conn.dialect.name:
        case "sqlite":
            stmt: Any = sqlite.insert(table)
        case "postgresql":
            stmt = postgresql.insert(table)
        case other:
            raise NotImplementedError(f"upsert on {other}")
    if on_conflict == "nothing":
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    else:
        excluded = stmt.excluded
        values = (
            set_(excluded)
            if set_
            else {c.name: excluded[c.name] for c in table.columns if c.name not in keys}
        )
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(values))
    stmt = stmt.execution_options(preserve_rowcount=True)  # else INSERT's rowcount is lost on psycopg
    written = 0
    for batch in chunks(rows, chunk_size):
        # A single row goes as a plain execute: drivers report rowcount reliably only for that.
        written += max(conn.execute(stmt, batch[0] if len(batch) == 1 else batch).rowcount, 0)
    return written
