"""Create the reference business schema from the plain DDL file of the connection's dialect."""

from __future__ import annotations

import re
from importlib import resources

from sqlalchemy import Connection, Engine

__all__ = ["DIALECTS", "create_schema", "schema_sql", "split_statements"]

DIALECTS = ("sqlite", "postgresql", "mariadb")

# Statements are separated by lines that read exactly "-- statement": function bodies and trigger
# bodies contain semicolons, so the files are never split on ";".
_DELIMITER = re.compile(r"^--[ \t]*statement[ \t]*$", re.MULTILINE)


def schema_sql(dialect: str) -> str:
    """The DDL file for ``dialect`` (``sqlite``, ``postgresql``, ``mariadb``; ``mysql`` reads MariaDB's)."""
    name = "mariadb" if dialect == "mysql" else dialect
    if name not in DIALECTS:
        raise ValueError(f"no reference schema for the {dialect!r} dialect (have: {', '.join(DIALECTS)})")
    return resources.files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def _is_comment_only(chunk: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("--") for line in chunk.splitlines())


def split_statements(sql: str) -> list[str]:
    """The statements of a schema file, without the delimiter lines and the leading comments."""
    return [chunk.strip() for chunk in _DELIMITER.split(sql) if not _is_comment_only(chunk)]


def create_schema(bind: Engine | Connection) -> None:
    """Create every reference table, index and trigger on ``bind``.

    Given an engine, runs in its own transaction and commits; given a connection, runs on it and
    leaves committing to the caller (MariaDB commits DDL implicitly anyway)."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            create_schema(conn)
        return
    for statement in split_statements(schema_sql(bind.dialect.name)):
        # No parameters are passed: the driver must not interpret "%" in the SQLite strftime formats.
        bind.exec_driver_sql(statement)
