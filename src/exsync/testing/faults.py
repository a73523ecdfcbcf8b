"""Fault injection for the in-memory connectors.

A ``Faults`` schedule holds pending faults. Each connector call consults it once per read
(``list``, ``fetch``, ``find``) and once per write (``create``, ``update``, ``delete``): the first
matching fault is consumed and answers instead of the side. An item error (``Throttled``,
``Rejected``, ``VersionConflict``, ``Gone``) on a write becomes that write's outcome and the other
writes go on; anything else (``Unavailable``, ``AuthFailed``, ...) is raised, as a real connector
raises errors that concern the whole side.

Faults are plain data so that a file-backed store can keep them across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

from exsync.connector.errors import (
    AuthFailed,
    ConnectorError,
    Gone,
    ItemError,
    PermissionDenied,
    Rejected,
    SideError,
    Throttled,
    TokenExpired,
    Unavailable,
    VersionConflict,
)
from exsync.connector.protocol import Deleted, Write, Written

Kind = Literal["create", "update", "delete", "fetch", "list", "find"]
WRITES: tuple[Kind, ...] = ("create", "update", "delete")
READS: tuple[Kind, ...] = ("list", "fetch", "find")
EVERY: tuple[Kind, ...] = WRITES + READS

CrashHook = Callable[[Write, Written | Deleted], None]

ERRORS: dict[str, type[ConnectorError]] = {
    cls.__name__: cls
    for cls in (
        ConnectorError, ItemError, Throttled, VersionConflict, Gone, Rejected, TokenExpired,
        SideError, Unavailable, AuthFailed, PermissionDenied,
    )
}  # fmt: skip


class Crash(BaseException):
    """The process dies here. A BaseException, so no ``except Exception`` in the engine catches it."""


@dataclass(slots=True)
class Fault:
    """One scheduled fault: which error, for which operations and item, how many more times."""

    error: type[ConnectorError]
    kinds: frozenset[str]
    item: str | None = None  # an item id; for a create, its stamp (the id does not exist yet)
    remaining: int | None = 1  # None: until cleared
    message: str = ""
    wait: float = 1.0  # seconds, for Throttled

    def matches(self, kind: Kind, targets: Collection[str]) -> bool:
        return kind in self.kinds and (self.item is None or self.item in targets)

    def build(self) -> ConnectorError:
        message = self.message or f"injected {self.error.__name__}"
        if issubclass(self.error, Throttled):
            return self.error(message, wait=self.wait)
        return self.error(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.error.__name__, "kinds": sorted(self.kinds), "item": self.item,
            "remaining": self.remaining, "message": self.message, "wait": self.wait,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            error=ERRORS[data["error"]], kinds=frozenset(data["kinds"]), item=data["item"],
            remaining=data["remaining"], message=data["message"], wait=data["wait"],
        )  # fmt: skip


class Faults:
    """The fault schedule of one store (one side)."""

    def __init__(self, guard: Callable[[], AbstractContextManager[None]] | None = None) -> None:
        # The owning store's operation bracket: a file-backed store reloads before a change to the
        # schedule and saves after it, so a fault set in a test reaches an `exsync` subprocess.
        self._guard = guard or nullcontext
        self.pending: list[Fault] = []
        self.replays = 0  # how many coming listings repeat every entry (Graph delta does)
        # Called after each write the side carried out, before the outcome is returned:
        # raise ``Crash`` here to die between the remote write and recording it.
        self.crash_after_write: CrashHook | None = None

    def add(
        self,
        error: type[ConnectorError],
        *,
        kinds: Iterable[Kind] = EVERY,
        item: str | None = None,
        n: int | None = 1,
        message: str = "",
        wait: float = 1.0,
    ) -> Fault:
        """Schedule ``error`` for the next ``n`` matching operations (``None``: until cleared)."""
        if n is not None and n < 1:
            raise ValueError("n must be at least 1, or None for 'until cleared'")
        fault = Fault(error, frozenset(kinds), item, n, message, wait)
        with self._guard():
            self.pending.append(fault)
        return fault

    def throttle(
        self, n: int = 1, wait: float = 1.0, *, kinds: Iterable[Kind] = WRITES, item: str | None = None
    ) -> Fault:
        """The next ``n`` writes (or ``kinds``) answer ``Throttled(wait)``."""
        return self.add(Throttled, kinds=kinds, item=item, n=n, wait=wait, message="throttled")

    def reject(
        self, item: str, message: str = "rejected by the side", *, n: int | None = None,
        kinds: Iterable[Kind] = WRITES,
    ) -> Fault:  # fmt: skip
        """Writes of ``item`` (an id, or the stamp of a create) answer ``Rejected``; by default for ever."""
        return self.add(Rejected, kinds=kinds, item=item, n=n, message=message)

    def conflict(self, item: str | None = None, n: int = 1) -> Fault:
        """The next ``n`` updates or deletes (of ``item``) answer ``VersionConflict``: a flaky etag."""
        return self.add(
            VersionConflict, kinds=("update", "delete"), item=item, n=n, message="changed meanwhile"
        )

    def unavailable(self, n: int = 1, *, kinds: Iterable[Kind] = EVERY) -> Fault:
        """The next ``n`` calls of any kind raise ``Unavailable`` (for apply: at its first write)."""
        return self.add(Unavailable, kinds=kinds, n=n, message="side unavailable")

    def replay(self, n: int = 1) -> None:
        """The next ``n`` listings return every entry twice."""
        with self._guard():
            self.replays += n

    def crash_after(self, writes: int = 1) -> None:
        """Raise ``Crash`` right after the ``writes``-th write from now is carried out (once)."""
        left = writes

        def hook(write: Write, outcome: Written | Deleted) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                self.crash_after_write = None  # the next "process" runs normally
                raise Crash(f"crash after {type(write).__name__} -> {outcome}")

        self.crash_after_write = hook

    def take(self, kind: Kind, targets: Collection[str] = ()) -> ConnectorError | None:
        """Consume the first fault matching this operation and return its error, if any."""
        for fault in self.pending:
            if fault.matches(kind, targets):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.pending.remove(fault)
                return fault.build()
        return None

    def take_replay(self) -> bool:
        if self.replays <= 0:
            return False
        self.replays -= 1
        return True

    def clear(self) -> None:
        with self._guard():
            self.pending.clear()
            self.replays = 0
            self.crash_after_write = None
