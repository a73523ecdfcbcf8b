"""The sandbox as an ASGI application (served by uvicorn over TLS). Only the waiting is asynchronous:
an armed latency is awaited while the request holds its concurrency slot, so the 4-at-once limit is real.
An armed drop closes the connection without a byte of answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from exsync.sandbox.app import LOG, Sandbox, internal_error
from exsync.sandbox.http import Request, Response, parse_query

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AsgiApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host") or "{}:{}".format(*scope["server"])
        req = Request(
            method=scope["method"],
            path=scope["path"],
            query=parse_query(scope["query_string"].decode("latin-1")),
            headers=headers,
            body=b"".join(chunks),
            base_url=f"{scope.get('scheme', 'https')}://{host}",
        )
        sandbox = self.sandbox
        ticket = sandbox.admit(req)
        response: Response | None = None
        try:
            if ticket.latency:
                await asyncio.sleep(ticket.latency)
            if ticket.drop != "before":
                response = ticket.response or sandbox.handle(req, ticket)
        finally:
            sandbox.release(ticket)
        if ticket.drop is not None or response is None:
            await _drop_connection(send, receive)
            return
        try:
            payload = response.encoded()
        except Exception:  # an answer that cannot be encoded: Graph's 500 rather than a dropped connection
            LOG.exception("%s %s: the answer could not be encoded", req.method, req.path)
            response = sandbox.error_response(internal_error(), req)
            payload = response.encoded()
        out_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.all_headers().items()]
        out_headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": payload})


async def _drop_connection(send: Send, receive: Receive) -> None:
    """Abort the connection with no answer: the client sees the server disconnect, as when a network or a
    gateway drops it. ASGI has no message for this; uvicorn's `send` is a method of its request cycle,
    which holds the connection's transport."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)  # asyncio's or uvloop's transport (not an asyncio.Transport)
    if not callable(abort):
        raise RuntimeError("a dropped connection needs uvicorn's request cycle (no transport found)")
    abort()
    # Until uvicorn has seen the connection go: returning earlier would make it answer 500 on it.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receive(), timeout=5)
