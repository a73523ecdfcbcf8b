"""What every Graph client of the process shares: one HTTP client per configuration (HTTP/2 where the
server offers it), the token source, at most 4 requests in flight per mailbox, and the retry policy for
429/503/504 (Retry-After, else exponential back-off with jitter) and network errors."""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from exsync.connector.errors import Unavailable

LOG = logging.getLogger("exsync.graph")
RETRYABLE = frozenset({429, 503, 504})
PER_MAILBOX = 4  # Graph's Outlook limit: concurrent requests per app and mailbox
# Methods whose repetition after a lost answer cannot do anything twice (a POST may have created).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
# Errors raised before the request left: safe to send again whatever the method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TokenSource(Protocol):
    def token(self) -> str:
        """A valid access token (cached while it lives)."""
        ...

    def invalidate(self, token: str) -> None:
        """Graph refused ``token``: forget it, so that the next ``token()`` gets a fresh one."""
        ...

    def close(self) -> None: ...


class CachedTokenSource:
    """Caches what ``fetch`` returns — (access token, lifetime in seconds) — until shortly before it ends.
    One fetch at a time: threads asking meanwhile wait for it and share its token."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.fetched = 0  # tokens obtained so far

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                token, lifetime = self._fetch()
                # Renew 5 minutes early, or at 90 % of a short lifetime (a time-scaled sandbox).
                self._renew_at = self._clock() + lifetime - min(300.0, lifetime * 0.1)
                self._token = token
                self.fetched += 1
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token == token:  # not a token another thread has renewed already
                self._token = None

    def close(self) -> None:
        """Nothing held here; sources with connections of their own close them."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request may wait in all for Graph to take it before it is given up (Throttled or
    Unavailable), and the back-off when Graph names no wait."""

    max_wait: float = 120.0
    base: float = 0.5
    cap: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Exponential with jitter: attempt 0 waits 0.25–0.5 s, then doubles up to ``cap``."""
        return min(self.cap, self.base * 2.0**attempt) * random.uniform(0.5, 1.0)

    def delay(self, headers: Mapping[str, str], attempt: int) -> float:
        wait = retry_after(headers.get("retry-after") or headers.get("Retry-After"))
        return self.backoff(attempt) if wait is None else wait


def retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: a number (fractional allowed) or an HTTP date; None when absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        return max(0.0, moment.timestamp() - now())
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None


class MailboxSlots:
    """At most ``PER_MAILBOX`` requests in flight per (Graph origin, mailbox), for the whole process."""

    def __init__(self, per_mailbox: int = PER_MAILBOX) -> None:
        self._per_mailbox = per_mailbox
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}

    @contextmanager
    def slot(self, origin: str, mailbox: str) -> Iterator[None]:
        key = (origin, mailbox.lower())
        with self._lock:
            semaphore = self._slots.get(key)
            if semaphore is None:
                semaphore = self._slots[key] = threading.BoundedSemaphore(self._per_mailbox)
        with semaphore:
            yield


SLOTS = MailboxSlots()


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The system's CAs, plus ``ca_bundle`` (the sandbox's, a proxy's) when given."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def http_client(ca_bundle: Path | None, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    timeout = httpx.Timeout(60.0, connect=15.0)
    if transport is not None:
        return httpx.Client(transport=transport, timeout=timeout)
    return httpx.Client(http2=True, verify=ssl_context(ca_bundle), timeout=timeout)


class Transport:
    """Sends one Graph request for a mailbox, authenticated, through its slot, retried as Graph asks.
    Shared by every GraphClient of one configuration (and by all their threads)."""

    def __init__(
        self,
        graph_url: str,
        tokens: TokenSource,
        http: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        slots: MailboxSlots = SLOTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.graph_url = graph_url.rstrip("/")
        parts = urlsplit(self.graph_url)
        self.origin = f"{parts.scheme}://{parts.netloc}".lower()
        self.tokens = tokens
        self.http = http
        self.policy = policy or RetryPolicy()
        self.slots = slots
        self.sleep = sleep

    def url(self, path_or_link: str) -> str:
        """A path from the Graph root, or an absolute link Graph gave. A link is sent to our own Graph
        URL whatever host it names (the bearer token goes nowhere else): a stored deltaLink outlives a
        sandbox's port, or the move between the in-process sandbox and a sandbox server."""
        if "://" not in path_or_link:
            return self.graph_url + "/" + path_or_link.lstrip("/")
        parts = urlsplit(path_or_link)
        if f"{parts.scheme}://{parts.netloc}".lower() == self.origin:
            return path_or_link
        version = "/" + self.graph_url.rsplit("/", 1)[-1] + "/"  # "/v1.0/"
        _, found, rest = parts.path.partition(version)
        if not found:
            raise Unavailable(
                f"Graph gave a link that is not under {version}: {parts.scheme}://{parts.netloc}"
            )
        return f"{self.graph_url}/{rest}" + (f"?{parts.query}" if parts.query else "")

    def send(
        self,
        mailbox: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        what: str,
        *,
        resend_safe: bool = False,  # a POST that changes nothing (a $batch of GETs) may go again
    ) -> httpx.Response:
        """The answer, once it is not 429/503/504 or their waits would exceed the policy's bound (then
        that last answer). Network errors are retried within the same bound when sending again is safe,
        else raised as Unavailable. One 401 makes the token be renewed and the request sent again."""
        waited = 0.0
        attempt = 0
        renewed = False
        while True:
            token = self.tokens.token()
            try:
                with self.slots.slot(self.origin, mailbox):
                    response = self.http.request(
                        method, url, headers={**headers, "Authorization": f"Bearer {token}"}, content=content
                    )
            except httpx.TransportError as exc:
                delay = self.policy.backoff(attempt)
                if (
                    not (method in IDEMPOTENT or resend_safe or isinstance(exc, NOT_SENT))
                    or waited + delay > self.policy.max_wait
                ):
                    raise Unavailable(f"{what}: Graph could not be reached ({type(exc).__name__})") from None
                LOG.debug("%s: %s, again in %.2f s", what, type(exc).__name__, delay)
            else:
                if response.status_code == 401 and not renewed:
                    self.tokens.invalidate(token)
                    renewed = True
                    continue
                if response.status_code not in RETRYABLE:
                    return response
                delay = self.policy.delay(response.headers, attempt)
                if waited + delay > self.policy.max_wait:
                    return response
                LOG.debug("%s: HTTP %s, again in %.2f s", what, response.status_code, delay)
            self.sleep(delay)
            waited += delay
            attempt += 1

    def close(self) -> None:
        self.http.close()
        self.tokens.close()


_shared: dict[tuple[object, ...], Transport] = {}
_shared_lock = threading.Lock()


def shared_transport(key: tuple[object, ...], build: Callable[[], Transport]) -> Transport:
    """The process's one Transport (one HTTP client, one token cache) for a configuration ``key``."""
    with _shared_lock:
        transport = _shared.get(key)
        if transport is None:
            transport = _shared[key] = build()
        return transport


def close_transports(origin: str) -> None:
    """Close and forget the shared transports to ``origin`` (a server about to stop: its keep-alive
    connections would hold the stop up)."""
    with _shared_lock:
        closing = [transport for transport in _shared.values() if transport.graph_url.startswith(origin)]
    for transport in closing:
        close_transport(transport)


def close_transport(transport: Transport) -> None:
    """Close a transport and forget it if it is shared."""
    with _shared_lock:
        for key in [key for key, shared in _shared.items() if shared is transport]:
            del _shared[key]
    transport.close()
