"""A ``MemoryStore`` kept in a JSON file, for CLI tests that run ``exsync`` in a subprocess."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from exsync.connector.protocol import Side, Staff
from exsync.testing.memory import MemoryStore

Signature = tuple[int, int, int]


class JsonFileStore(MemoryStore):
    """A ``MemoryStore`` persisted to ``path``; several processes may share it.

    Opening loads the file when it exists (``side``, if given, must match it); otherwise it starts an
    empty store of ``side`` and writes it. Every operation (connector call or test hook) first reloads
    the file if another process replaced it, and writes the store back afterwards, also when the
    operation raised: a write followed by a ``Crash`` is on disk, as it would be on a real server.
    ``PATH.lock`` (an exclusive ``flock``) serialises processes; files are replaced atomically.
    Plain attributes (``calls``, ``faults.pending``) show the file as of this process's last
    operation: ``reload()`` before reading them after another process ran. The crash hook
    (``faults.crash_after_write``) is a callable and is not saved.

    Format: one UTF-8 JSON object::

        {
          "format": "exsync-memory-store/1",
          "side": "business" | "mailbox",
          "name": "mailbox",                    # salts generated mailbox ids
          "tables": {"contacts": "people", "calendar": "activities", ...},
          "counters": {
            "change": 12,                       # the change counter: the current delta token
            "token_floor": 0,                   # tokens below it are expired
            "version": 9,                       # the last version handed out
            "created": 5,                       # items ever created (creation order, mailbox ids)
            "rows": {"people": 3}               # the last row number per business table
          },
          "items": [                            # oldest first
            {"id": "people:1", "part": "contacts", "version": "7", "stamp": null,
             "scope": "in" | "filter" | "window" | "deleted" | "unreadable", "scope_reason": "",
             "owner": null, "created": 1, "changed": 10,
             "fields": {...}}                   # the canonical item, model_dump(mode="json")
          ],
          "removed": {"contacts": {"people:2": 11}},   # tombstones: id -> change counter
          "staff": [{"id": 1, "code": "JD", "name": "…", "email": "…", "active": true,
                     "time_zone": "Europe/Paris"}],
          "faults": [{"error": "Rejected", "kinds": ["create", "delete", "update"],
                      "item": "people:1", "remaining": null, "message": "…", "wait": 1.0}],
          "replays": 0,
          "calls": {"creates": 0, "updates": 0, "deletes": 0, "fetches": 0, "lists": 0, "finds": 0}
        }
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        side: Side | str | None = None,
        *,
        name: str = "",
        tables: dict[str, str] | None = None,
        staff: Iterable[Staff] = (),
    ) -> None:
        self.path = Path(path)
        self._signature: Signature | None = None  # of the file as last loaded or saved
        self._lock_file: IO[str] | None = None
        existing = self._read() if self.path.exists() else None
        if existing is not None:
            stored = Side(existing["side"])
        elif side is not None:
            stored = Side(side)
        else:
            raise ValueError(f"{self.path} does not exist: say which side a new store is for")
        if side is not None and Side(side) is not stored:
            raise ValueError(f"{self.path} holds the {stored.value} side, not the {Side(side).value} side")
        super().__init__(stored, name=name, tables=tables, staff=staff)
        with self._operation(mutates=existing is None):
            pass  # loads the file, or writes the new store

    def save(self) -> None:
        """Write the store now (every operation already does)."""
        with self._operation():
            pass

    def reload(self) -> None:
        """Read the file again, dropping nothing: the store holds no unsaved changes."""
        with self._operation(mutates=False):
            self._load()

    # -- MemoryStore hooks ------------------------------------------------------------------

    def _opening(self) -> None:
        self._lock_file = open(f"{self.path}.lock", "a")  # noqa: SIM115 (closed in _closing)
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        signature = self._stat()
        if signature is not None and signature != self._signature:
            self._load()

    def _closing(self, mutates: bool) -> None:
        try:
            if mutates:
                self._write()
        finally:
            if self._lock_file is not None:
                self._lock_file.close()  # releases the flock
                self._lock_file = None

    # -- files ----------------------------------------------------------------------------

    def _stat(self) -> Signature | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _load(self) -> None:
        self._restore(self._read())
        self._signature = self._stat()

    def _write(self) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self._state(), ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)  # atomic: a reader never sees half a file
        self._signature = self._stat()
