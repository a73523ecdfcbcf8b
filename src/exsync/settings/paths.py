"""Paths and database URLs in the file, resolved against the config file's folder.

The folder travels in pydantic's validation context (``{"folder": Path}``); without one (a model
built in code) relative paths are taken from the current directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?):///(.*)$", re.DOTALL)


def context_folder(info: ValidationInfo) -> Path:
    context = info.context
    folder = context.get("folder") if isinstance(context, dict) else None
    return folder if isinstance(folder, Path) else Path.cwd()


def resolve_path(value: Path, folder: Path) -> Path:
    value = value.expanduser()
    return value if value.is_absolute() else folder / value


def _where(value: Path, folder: Path) -> str:
    # Say which folder a relative path was read from: the usual surprise is the service's cwd.
    if value.expanduser().is_absolute():
        return ""
    return f" (relative paths are read from the config file's folder {folder})"


def _existing_file(value: Path, info: ValidationInfo) -> Path:
    folder = context_folder(info)
    path = resolve_path(value, folder)
    if not path.is_file():
        raise ValueError(
            f"file {path} does not exist{_where(value, folder)}. Fix: correct the path or create the file"
        )
    return path


def _data_path(value: Path, info: ValidationInfo) -> Path:
    return resolve_path(value, context_folder(info))


def resolve_database_url(url: str, folder: Path) -> str:
    """Make a relative SQLite file URL absolute; check its folder exists. Other URLs are untouched."""
    if url.startswith("memory:"):  # the in-memory test business side
        return url
    if "://" not in url:
        raise ValueError(
            f"{url!r} is not a database URL. Fix: write e.g. \"sqlite:///firm.db\" "
            "or \"postgresql+psycopg://user@host/dbname\""
        )
    match = _SQLITE.match(url)
    if match is None:  # sqlite:// (in memory) and server URLs
        return url
    scheme, rest = match.groups()
    location, sep, query = rest.partition("?")
    if location in ("", ":memory:") or location.startswith("file:"):
        return url
    path = resolve_path(Path(location), folder)
    # The database file may be created on first use, but SQLite will not create its folder.
    if not path.parent.is_dir():
        raise ValueError(
            f"the folder {path.parent} of the SQLite database does not exist"
            f"{_where(Path(location), folder)}. Fix: create it or correct the path"
        )
    return f"{scheme}:///{path}{sep}{query}"


def _database_url(value: str, info: ValidationInfo) -> str:
    return resolve_database_url(value, context_folder(info))


ExistingFile = Annotated[Path, AfterValidator(_existing_file)]
"""A file that must exist; relative to the config file's folder."""

DataPath = Annotated[Path, AfterValidator(_data_path)]
"""A file or folder that may not exist yet (created on first use); relative to the config's folder."""

DatabaseURL = Annotated[str, AfterValidator(_database_url)]
"""A SQLAlchemy URL; ``sqlite:///relative.db`` is resolved against the config file's folder."""
