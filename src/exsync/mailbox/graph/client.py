"""One mailbox's Graph client: authenticated httpx requests with `Prefer: IdType="ImmutableId"`, retries
on 429/503/504 after Retry-After, at most 4 requests in flight per mailbox across the process, paging,
delta rounds and `$batch`. Answers are typed: connectors never see HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from exsync.connector.errors import (
    AuthFailed,
    ConnectorError,
    Gone,
    PermissionDenied,
    Rejected,
    Throttled,
    TokenExpired,
    Unavailable,
    VersionConflict,
)
from exsync.mailbox.graph.transport import RETRYABLE, Transport, retry_after

PREFER_IMMUTABLE = 'IdType="ImmutableId"'
KEY_PROPERTY = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"  # DESIGN.md, fixed for ever
BATCH_SIZE = 20  # Graph's limit of requests in one $batch
# The codes Graph gives a delta link it no longer knows (besides HTTP 410).
EXPIRED_DELTA_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


@dataclass(frozen=True)
class SubRequest:
    """One request of a `$batch`. `url` is relative to the Graph root: "/users/{upn}/contacts/{id}"."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphResponse:
    """An answer, of a request or a `$batch` sub-request; header names lower-cased."""

    status: int
    body: Any  # parsed JSON, None, or bytes for raw content
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeltaRound:
    """A whole delta round (every page followed): items changed, ids removed, the next deltaLink."""

    items: list[dict[str, Any]]
    removed: list[str]
    link: str


class GraphClient:
    """One mailbox's view of Graph. Paths start at the Graph root: ``f"{client.root}/contacts"``."""

    def __init__(self, transport: Transport, mailbox: str) -> None:
        self.transport = transport
        self.mailbox = mailbox
        self.root = f"/users/{mailbox}"

    # -- single requests ------------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, prefer: Sequence[str] = ()
    ) -> dict[str, Any]:
        return self._call("GET", with_query(path, params), prefer=prefer)

    def get_all(
        self, path: str, params: Mapping[str, str] | None = None, *, prefer: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Every item of a collection, following @odata.nextLink to the last page."""
        items: list[dict[str, Any]] = []
        url: str | None = with_query(path, params)
        while url is not None:
            page = self._call("GET", url, prefer=prefer)
            items.extend(page.get("value", []))
            url = page.get("@odata.nextLink")
        return items

    def post(self, path: str, body: Any, *, prefer: Sequence[str] = ()) -> dict[str, Any]:
        return self._call("POST", path, body=body, prefer=prefer)

    def patch(
        self, path: str, body: Any, *, if_match: str | None = None, prefer: Sequence[str] = ()
    ) -> dict[str, Any]:
        return self._call("PATCH", path, body=body, prefer=prefer, if_match=if_match)

    def delete(self, path: str, *, if_match: str | None = None) -> None:
        self._call("DELETE", path, if_match=if_match)

    # -- delta ----------------------------------------------------------------------------------------
    def delta(
        self,
        path: str,
        params: Mapping[str, str] | None,
        link: str | None,
        *,
        prefer: Sequence[str] = (),
    ) -> DeltaRound:
        """A whole round: from ``link`` (a stored deltaLink) or, without one, from ``path`` + ``params``;
        every page followed. Raises TokenExpired when Graph no longer knows the link (410,
        syncStateNotFound): the caller reconciles in full."""
        items: list[dict[str, Any]] = []
        removed: list[str] = []
        url = link if link is not None else with_query(path, params)
        while True:
            response = self._send("GET", url, prefer=prefer)
            if response.status >= 400:
                if response.status == 410 or _code(response).lower() in EXPIRED_DELTA_CODES:
                    raise TokenExpired(f"delta round of {path}: Graph no longer knows the delta link")
                raise self.error_for(response, f"delta round of {path}")
            page = response.body if isinstance(response.body, dict) else {}
            for item in page.get("value", []):
                if "@removed" in item:
                    removed.append(str(item.get("id")))
                else:
                    items.append(item)
            if "@odata.nextLink" in page:
                url = page["@odata.nextLink"]
            elif "@odata.deltaLink" in page:
                return DeltaRound(items, removed, str(page["@odata.deltaLink"]))
            else:
                raise Unavailable(f"delta round of {path}: a page with neither nextLink nor deltaLink")

    # -- $batch ---------------------------------------------------------------------------------------
    def batch(self, requests: Sequence[SubRequest]) -> list[GraphResponse]:
        """Every request, in `$batch` envelopes of at most 20; a sub-request answered 429/503/504 is sent
        again after its own Retry-After (in a later envelope) until the transport's wait bound is spent,
        when that answer stays. Answers in the order of ``requests``."""
        answers: list[GraphResponse | None] = [None] * len(requests)
        policy = self.transport.policy
        # index -> (when it may go again, seconds waited so far, attempts so far)
        pending: dict[int, tuple[float, float, int]] = {i: (0.0, 0.0, 0) for i in range(len(requests))}
        while pending:
            now = time.monotonic()
            soonest = min(due for due, _, _ in pending.values())
            if soonest > now:
                self.transport.sleep(soonest - now)
                now = time.monotonic()
            ready = sorted(i for i, (due, _, _) in pending.items() if due <= now)[:BATCH_SIZE]
            for index, response in zip(ready, self._envelope([requests[i] for i in ready]), strict=True):
                _, waited, attempts = pending.pop(index)
                answers[index] = response
                if response.status in RETRYABLE:
                    delay = retry_after(response.headers.get("retry-after"))
                    delay = policy.backoff(attempts) if delay is None else delay
                    if waited + delay <= policy.max_wait:
                        pending[index] = (time.monotonic() + delay, waited + delay, attempts + 1)
        return [answer for answer in answers if answer is not None]

    def _envelope(self, chunk: Sequence[SubRequest]) -> list[GraphResponse]:
        """One `$batch` POST; its answers in the order of ``chunk`` (wire ids are positions, so the
        callers' ids need not be unique)."""
        wire = [_sub_request(str(n), request) for n, request in enumerate(chunk)]
        # Reads only: a lost answer costs nothing to ask for again (writes are never sent twice).
        reads_only = all(request.method.upper() == "GET" for request in chunk)
        response = self._send("POST", "/$batch", body={"requests": wire}, resend_safe=reads_only)
        if response.status >= 400:
            raise self.error_for(response, f"$batch of {len(chunk)} requests")
        by_id: dict[str, GraphResponse] = {}
        for answer in (response.body or {}).get("responses", []):
            headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
            by_id[str(answer.get("id"))] = GraphResponse(
                int(answer.get("status", 500)), answer.get("body"), headers
            )
        missing = GraphResponse(500, {"error": {"code": "NoAnswer", "message": "no answer in the $batch"}})
        return [by_id.get(item["id"], missing) for item in wire]

    # -- errors ---------------------------------------------------------------------------------------
    def error_for(self, response: GraphResponse, what: str) -> ConnectorError:
        """The typed error for an answer that failed. The message names ``what``, the status and Graph's
        error code and message (which never hold our secrets)."""
        status = response.status
        code, message = _code(response), _message(response)
        text = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
        if status == 429:
            wait = retry_after(response.headers.get("retry-after"))
            return Throttled(text, wait=1.0 if wait is None else wait)
        if status == 404:
            return Gone(text)
        if status == 410:
            return TokenExpired(text) if code.lower() in EXPIRED_DELTA_CODES else Gone(text)
        if status == 412:
            return VersionConflict(text)
        if status == 401:
            return AuthFailed(text)
        if status == 403:
            return PermissionDenied(text)
        if status >= 500:
            return Unavailable(text)
        return Rejected(text)

    # -- plumbing -------------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        prefer: Sequence[str] = (),
        if_match: str | None = None,
    ) -> dict[str, Any]:
        response = self._send(method, path, body=body, prefer=prefer, if_match=if_match)
        if response.status >= 400:
            raise self.error_for(response, f"{method} {_plain(path)}")
        return response.body if isinstance(response.body, dict) else {}

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        prefer: Sequence[str] = (),
        if_match: str | None = None,
        resend_safe: bool = False,
    ) -> GraphResponse:
        headers = {"Prefer": ", ".join((PREFER_IMMUTABLE, *prefer)), "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, ensure_ascii=False).encode()
        if if_match is not None:
            headers["If-Match"] = if_match
        what = f"{method} {_plain(path)}"
        response = self.transport.send(
            self.mailbox, method, self.transport.url(path), headers, content, what, resend_safe=resend_safe
        )
        return GraphResponse(response.status_code, _parsed(response, what), dict(response.headers))


def _sub_request(wire_id: str, request: SubRequest) -> dict[str, Any]:
    headers = {str(k): str(v) for k, v in request.headers.items()}
    prefer = next((v for k, v in headers.items() if k.lower() == "prefer"), "")
    headers = {k: v for k, v in headers.items() if k.lower() != "prefer"}
    # Sub-requests do not inherit the envelope's headers: each asks for immutable ids itself.
    headers["Prefer"] = ", ".join(p for p in (PREFER_IMMUTABLE, prefer) if p)
    item: dict[str, Any] = {
        "id": wire_id,
        "method": request.method.upper(),
        "url": request.url,
        "headers": headers,
    }
    if request.body is not None:
        item["body"] = request.body
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    return item


def with_query(path: str, params: Mapping[str, str] | None) -> str:
    """Percent-encoded as Graph expects (spaces as %20, never "+"; `$` of system options kept)."""
    if not params:
        return path
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in params.items())
    return f"{path}{'&' if '?' in path else '?'}{query}"


_QUERY_SAFE = "$'(),:/@*!;"


def _parsed(response: httpx.Response, what: str) -> Any:
    if not response.content:
        return None
    if "json" not in response.headers.get("content-type", "json"):
        return response.content
    try:
        return response.json()
    except ValueError:
        if response.status_code >= 400:  # a proxy's or gateway's page: the status says enough
            return None
        raise Unavailable(
            f"{what}: Graph answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


def _error(response: GraphResponse) -> dict[str, Any]:
    body = response.body
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _code(response: GraphResponse) -> str:
    return str(_error(response).get("code") or "")


def _message(response: GraphResponse) -> str:
    return str(_error(response).get("message") or "")


def _plain(path: str) -> str:
    """A path or link without its query (delta and skip tokens are long and say nothing)."""
    return path.split("?", 1)[0]
