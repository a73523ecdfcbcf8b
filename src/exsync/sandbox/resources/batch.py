"""`POST /$batch`: JSON batching (Microsoft's "Combine multiple HTTP requests using JSON batching").

At most 20 requests, each `{id, method, url, headers, body, dependsOn}`; `url` is relative to the version
root. Every sub-request runs through `Sandbox.graph`, so statistics, armed faults, the limits (each
sub-request counts) and permissions apply to each one; the envelope itself is neither counted nor limited.
A malformed batch answers 400; a parseable one 200, whatever its sub-requests answered. A request whose
dependency failed answers 424 without running.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import GraphError, bad_request
from exsync.sandbox.http import Request, Response, parse_query
from exsync.sandbox.router import route

MAX_REQUESTS = 20
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
WRITES = ("POST", "PATCH", "PUT")
# What a sub-request takes from the envelope unless it sets its own: who asks. Not Prefer: Graph applies a
# batch's Prefer header to none of its requests (msgraph-sdk-dotnet#874), so each sub-request that wants
# immutable ids says so in its own headers.
INHERITED = ("authorization",)


@dataclass
class SubRequest:
    id: str
    method: str
    url: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    depends_on: list[str]
    index: int


@route("POST", "/$batch")
def batch(ctx: Ctx) -> Response:
    subs = _parse(ctx.req.json())
    failed: set[str] = set()
    answers: dict[int, dict[str, Any]] = {}
    for sub in _order(subs):
        broken = [d for d in sub.depends_on if d.lower() in failed]
        path, request = _request(ctx, sub)
        if broken:
            response = _failed_dependency(ctx, request, broken)
        else:
            response = ctx.sandbox.graph(path, request, ctx.app_id)
        if response.status >= 400:  # a 424 fails its own dependents in turn
            failed.add(sub.id.lower())
        answers[sub.index] = _answer(sub.id, response)
    return Response(200, {"responses": [answers[n] for n in range(len(subs))]})


# -- the batch's shape ---------------------------------------------------------------------------------
def _parse(payload: Any) -> list[SubRequest]:
    if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
        raise bad_request("Invalid batch payload format: a JSON object with a 'requests' array is expected.")
    items: list[Any] = payload["requests"]
    if not items:
        raise bad_request("Invalid batch payload format: 'requests' is empty.")
    if len(items) > MAX_REQUESTS:
        # Graph's wording; the documented limit is 20 requests per batch.
        raise bad_request("Number of requests inside batch exceeds the limit.")
    subs = [_sub_request(item, n) for n, item in enumerate(items)]
    seen: set[str] = set()
    for sub in subs:
        if sub.id.lower() in seen:  # ids are not case-sensitive and must be unique (Graph's wording)
            raise bad_request(f"Request Id {sub.id} has to be unique in a batch.")
        seen.add(sub.id.lower())
    for sub in subs:
        for dependency in sub.depends_on:
            if dependency.lower() not in seen or dependency.lower() == sub.id.lower():
                raise bad_request(
                    f"Request id '{sub.id}' depends on '{dependency}', not another request of this batch."
                )
    return subs


def _sub_request(item: Any, index: int) -> SubRequest:
    if not isinstance(item, dict):
        raise bad_request("Invalid batch payload format: each of 'requests' must be a JSON object.")
    sub_id = item.get("id")
    if not isinstance(sub_id, str) or not sub_id:
        raise bad_request("Invalid batch payload format: each request needs an 'id' string.")
    method = item.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise bad_request(f"Request id '{sub_id}' has an invalid 'method': {method!r}.")
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        raise bad_request(f"Request id '{sub_id}' needs a 'url'.")
    if urlsplit(url).scheme or url.startswith("//"):
        raise bad_request(
            f"Request id '{sub_id}' has an invalid 'url': it is relative to the version root, e.g. '/users'."
        )
    if urlsplit(url).path.strip("/").lower() == "$batch":
        raise bad_request(f"Request id '{sub_id}' is a batch inside a batch.")
    raw_headers = item.get("headers") or {}
    if not isinstance(raw_headers, dict) or not all(isinstance(v, str) for v in raw_headers.values()):
        raise bad_request(f"Request id '{sub_id}' has invalid 'headers': an object of strings is expected.")
    headers = {str(k).lower(): v for k, v in raw_headers.items()}
    depends_on = item.get("dependsOn") or []
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise bad_request(f"Request id '{sub_id}' has an invalid 'dependsOn': an array of ids is expected.")
    method = method.upper()
    body = item.get("body")
    if (body is not None or method in WRITES) and (body is None or not headers.get("content-type")):
        # The documented rule: a body needs a Content-Type header; Graph also wants both on every write.
        raise bad_request(f"Write request id : {sub_id} does not contain Content-Type header or body.")
    return SubRequest(sub_id, method, url, headers, _encode(sub_id, body, headers), depends_on, index)


def _encode(sub_id: str, body: Any, headers: dict[str, str]) -> bytes:
    """A sub-request's body as the bytes the request would carry: JSON as is, anything else base64."""
    if body is None:
        return b""
    if _is_json(headers.get("content-type", "")) or not isinstance(body, str):
        return json.dumps(body).encode()
    text = body.strip()
    try:
        alphabet = b"-_" if any(c in text for c in "-_") else None
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            f"Request id '{sub_id}' has a {headers['content-type']} body that is not base64-encoded."
        ) from None


def _order(subs: list[SubRequest]) -> list[SubRequest]:
    """Dependencies first, otherwise in the order given; a cycle makes the batch malformed."""
    by_id = {s.id.lower(): s for s in subs}
    waiting = {s.index: len(s.depends_on) for s in subs}
    dependents: dict[str, list[SubRequest]] = {}
    for sub in subs:
        for dependency in sub.depends_on:
            dependents.setdefault(dependency.lower(), []).append(sub)
    ready = [s.index for s in subs if not s.depends_on]
    heapq.heapify(ready)
    out: list[SubRequest] = []
    while ready:
        sub = subs[heapq.heappop(ready)]
        out.append(sub)
        for dependent in dependents.get(sub.id.lower(), []):
            waiting[dependent.index] -= 1
            if waiting[dependent.index] == 0:
                heapq.heappush(ready, dependent.index)
    if len(out) < len(by_id):
        cycle = ", ".join(s.id for s in subs if s not in out)
        raise bad_request(f"The dependsOn of requests {cycle} form a cycle.")
    return out


# -- running one -----------------------------------------------------------------------------------------
def _request(ctx: Ctx, sub: SubRequest) -> tuple[str, Request]:
    parts = urlsplit(sub.url.strip())
    path = "/" + unquote(parts.path).lstrip("/")
    headers = dict(sub.headers)
    for name in INHERITED:
        if name not in headers and name in ctx.req.headers:
            headers[name] = ctx.req.headers[name]
    request = Request(
        method=sub.method,
        path=path,
        query=parse_query(parts.query),
        headers=headers,
        body=sub.body,
        base_url=ctx.req.base_url,
    )
    return path, request


def _failed_dependency(ctx: Ctx, request: Request, broken: list[str]) -> Response:
    failed = ", ".join(f"'{d}'" for d in broken)
    error = GraphError(424, "FailedDependency", f"The request depends on request {failed}, which failed.")
    return ctx.sandbox.error_response(error, request)


def _answer(sub_id: str, response: Response) -> dict[str, Any]:
    headers = response.all_headers()
    body: Any = response.body
    if body is not None and not _is_json(headers.get("Content-Type", "")):
        raw = body if isinstance(body, bytes) else str(body).encode()
        body = base64.b64encode(raw).decode("ascii")  # a non-JSON body travels base64-encoded
    answer: dict[str, Any] = {"id": sub_id, "status": response.status}
    if headers:
        answer["headers"] = headers
    answer["body"] = body  # null when there is none, as the doc's 204 shows
    return answer


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
