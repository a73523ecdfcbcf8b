"""Graph's Outlook limits, per app and mailbox: 4 requests at once and 10,000 per 10 minutes
(each `$batch` sub-request counts), answered with 429 and Retry-After. `time_scale` runs the window
faster for tests: at 60, ten minutes pass in ten seconds."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

Key = tuple[str, str]  # (app id, mailbox id)


class Limits:
    def __init__(
        self,
        time_scale: float = 1.0,
        concurrent: int = 4,
        per_window: int = 10_000,
        window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.concurrent = concurrent
        self.per_window = per_window
        self.window = window / time_scale
        self.time_scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[Key, int] = {}
        self._recent: dict[Key, deque[float]] = {}

    def enter(self, key: Key) -> bool:
        """Take one of the concurrent slots; False when all are taken."""
        with self._lock:
            count = self._in_flight.get(key, 0)
            if count >= self.concurrent:
                return False
            self._in_flight[key] = count + 1
            return True

    def leave(self, key: Key) -> None:
        with self._lock:
            count = self._in_flight.get(key, 0) - 1
            if count > 0:
                self._in_flight[key] = count
            else:
                self._in_flight.pop(key, None)

    def take(self, key: Key) -> float | None:
        """Count one request; None if allowed, else the seconds until one is allowed again."""
        now = self._clock()
        with self._lock:
            recent = self._recent.setdefault(key, deque())
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.per_window:
                return max(recent[0] + self.window - now, 0.001)
            recent.append(now)
            return None

    def concurrency_retry_after(self) -> float:
        """What a 429 for too many concurrent requests tells the client to wait."""
        return 1.0 / self.time_scale
