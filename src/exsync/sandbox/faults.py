"""Faults armed through `/_sandbox/faults`: the next `count` requests whose path matches answer with
`status` (and `Retry-After`), are slowed down by `latencyMs`, or lose their connection (`drop`: before the
request runs, or with `"after"` once it has run, so that only its answer is lost). With `probability`, each
matching request is hit at that chance (from a generator seeded by `seed`, so a drill can be repeated);
`count` then counts the hits."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Drop = Literal["before", "after"]


class DroppedConnection(ConnectionError):
    """An armed `drop` fault: the connection closes without an answer (raised by `Sandbox.serve`, for
    in-process callers to turn into their HTTP client's transport error)."""


@dataclass
class Fault:
    status: int | None
    count: int  # -1: until cleared
    retry_after: float | None
    path: re.Pattern[str] | None
    latency: float  # seconds
    method: str | None
    drop: Drop | None = None
    probability: float = 1.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

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
        drop = _drop(body.get("drop", False))
        if drop is not None and status is not None:
            raise ValueError("a fault either answers with a 'status' or 'drop's the connection, not both")
        if status is None and not latency and drop is None:
            raise ValueError("a fault needs a 'status', a 'latencyMs' or 'drop'")
        probability = body.get("probability", 1)
        numeric = isinstance(probability, int | float) and not isinstance(probability, bool)
        if not numeric or not 0 < probability <= 1:
            raise ValueError("'probability' must be a number above 0 and at most 1")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("'seed' must be an integer")
        try:
            path = re.compile(body["path"]) if body.get("path") else None
        except re.error as exc:
            raise ValueError(f"'path' is not a valid regular expression: {exc}") from None
        method = body.get("method")
        return cls(
            status, count, retry_after, path, latency / 1000.0, method.upper() if method else None,
            drop, float(probability), random.Random(seed),
        )  # fmt: skip

    @property
    def kind(self) -> str:
        """What it does, as counted in `Faults.hits`: the status, "drop", "drop-after" or "latency"."""
        if self.drop is not None:
            return "drop" if self.drop == "before" else "drop-after"
        return str(self.status) if self.status is not None else "latency"


def _drop(value: Any) -> Drop | None:
    if value is False:
        return None
    if value is True or value == "before":
        return "before"
    if value == "after":
        return "after"
    raise ValueError("'drop' must be true (closed before the request runs) or \"after\" (once it has run)")


class Faults:
    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()
        self.hits: Counter[str] = Counter()  # requests each kind of fault struck since the last clear

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.hits.clear()

    def take(
        self, method: str, path: str, *, explicit: bool = False, with_status: bool = False
    ) -> Fault | None:
        """The first armed fault matching this request that strikes it (one use of it is spent). `explicit`:
        only a fault whose path pattern matches (a `$batch` envelope is faulted only when asked for by name);
        `with_status`: only a fault that answers (a `$batch` sub-request cannot be slowed or dropped on its
        own)."""
        with self._lock:
            for fault in self._armed:
                if fault.path is not None and not fault.path.search(path):
                    continue
                if (explicit and fault.path is None) or (with_status and fault.status is None):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.probability < 1 and fault.rng.random() >= fault.probability:
                    continue
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self._armed.remove(fault)
                self.hits[fault.kind] += 1
                return fault
        return None
