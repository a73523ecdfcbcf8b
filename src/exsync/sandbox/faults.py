"""Faults armed through `/_sandbox/faults`: the next `count` requests whose path matches answer with
`status` (and `Retry-After`), or are slowed down by `latencyMs`."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    status: int | None
    count: int  # -1: until cleared
    retry_after: float | None
    path: re.Pattern[str] | None
    latency: float  # seconds
    method: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Fault:
        status = body.get("status")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise ValueError("'status' must be an HTTP status code (e.g. 429, 503)")
        count = body.get("count", 1)
        if not isinstance(count, int) or count == 0 or count < -1:
            raise ValueError("'count' must be a positive integer, or -1 for 'until cleared'")
        retry_after = body.get("retryAfter")
        if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
            raise ValueError("'retryAfter' must be a number of seconds")
        latency = body.get("latencyMs", 0)
        if not isinstance(latency, int | float) or latency < 0:
            raise ValueError("'latencyMs' must be a non-negative number")
        if status is None and not latency:
            raise ValueError("a fault needs a 'status' or a 'latencyMs'")
        try:
            path = re.compile(body["path"]) if body.get("path") else None
        except re.error as exc:
            raise ValueError(f"'path' is not a valid regular expression: {exc}") from None
        method = body.get("method")
        return cls(status, count, retry_after, path, latency / 1000.0, method.upper() if method else None)


class Faults:
    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(
        self, method: str, path: str, *, explicit: bool = False, with_status: bool = False
    ) -> Fault | None:
        """The first armed fault matching this request (one use of it is spent). `explicit`: only a fault
        whose path pattern matches (a `$batch` envelope is faulted only when asked for by name);
        `with_status`: only a fault that answers (a `$batch` sub-request cannot be slowed on its own)."""
        with self._lock:
            for fault in self._armed:
                if fault.path is not None and not fault.path.search(path):
                    continue
                if (explicit and fault.path is None) or (with_status and fault.status is None):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self._armed.remove(fault)
                return fault
        return None
