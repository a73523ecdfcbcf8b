"""The sandbox: one object that answers requests — Graph under `/v1.0`, the identity platform's endpoints,
the control API under `/_sandbox`, and the read-only page at `/`. Framework-free and synchronous, so the
HTTPS server, `$batch` and an in-process client share every line of it."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exsync.sandbox import odata
from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import GraphError, access_denied, bad_request, fault, throttled
from exsync.sandbox.faults import Drop, DroppedConnection, Faults
from exsync.sandbox.http import Request, Response
from exsync.sandbox.identity import Identity, TokenError, Unauthorized, clients_from_environment
from exsync.sandbox.limits import Key, Limits
from exsync.sandbox.listing import Rounds
from exsync.sandbox.recurrence import RecurrenceError
from exsync.sandbox.router import ROUTES, split_path
from exsync.sandbox.store import Mailbox, Store

GRAPH_PREFIX = "/v1.0"
TOKEN_LIFETIME = 3599.0
ME_MESSAGE = "/me request is only valid with delegated authentication flow."
# Exchange's words for its two Outlook limits (the second is not documented verbatim).
CONCURRENCY_MESSAGE = "Application is over its MailboxConcurrency limit."
RATE_MESSAGE = "Application is over its MailboxRequestRate limit."
LOG = logging.getLogger("exsync.sandbox")


def internal_error() -> GraphError:
    """Exchange's answer when the service itself fails: what a handler's unexpected exception becomes."""
    message = "An internal server error occurred. The operation failed."
    return GraphError(500, "ErrorInternalServerError", message)


@dataclass
class Ticket:
    """What admission decided before a request runs: answered already (no valid token), refused (over the
    concurrency limit, or an armed fault: answered by `graph` so that it is counted), slowed, its
    connection to be dropped (before it runs, or after), or holding one of the mailbox's concurrent slots."""

    response: Response | None = None
    refusal: GraphError | None = None
    latency: float = 0.0
    drop: Drop | None = None
    slot: Key | None = None
    app_id: str = ""


@dataclass
class Stats:
    requests: dict[str, Counter[str]] = field(default_factory=dict)
    throttled: int = 0

    def count(self, upn: str, key: str) -> None:
        self.requests.setdefault(upn, Counter())[key] += 1

    def to_json(self) -> dict[str, Any]:
        return {"requests": {u: dict(c) for u, c in self.requests.items()}, "throttled": self.throttled}


class Sandbox:
    def __init__(
        self,
        data: Path | None = None,
        *,
        users: Sequence[str] = (),
        time_scale: float = 1.0,
        clients: dict[str, str] | None = None,
        requests_per_window: int = 10_000,
    ) -> None:
        from exsync.sandbox import resources  # noqa: F401 - registers the Graph routes

        if not 0 < time_scale < float("inf"):
            raise ValueError(f"time_scale must be a positive number, not {time_scale}")
        self.data = data
        self.time_scale = time_scale
        self.clock = _scaled_clock(time_scale)
        if data is not None:
            data.mkdir(parents=True, exist_ok=True)
        self.store = Store(data / "sandbox.db" if data is not None else None)
        key = self.store.meta.get("signing_key")
        if key is None:
            key = os.urandom(32).hex()
            self.store.set_meta("signing_key", key)
        # Tokens live TOKEN_LIFETIME of the sandbox's (scaled) time, clock skew included.
        clients = clients or clients_from_environment()
        self.identity = Identity(bytes.fromhex(key), clients, clock=self.clock, lifetime=TOKEN_LIFETIME)
        self.limits = Limits(time_scale=time_scale, per_window=requests_per_window)
        self.faults = Faults()
        self.stats = Stats()
        self.rounds = Rounds()
        for upn in users:
            if self.store.mailbox(upn) is None:
                self.add_user(upn)
        self.store.flush()

    # -- mailboxes ----------------------------------------------------------------------------------
    def add_user(self, upn: str, display_name: str | None = None) -> Mailbox:
        from exsync.sandbox.mailboxes import provision

        with self.store.lock:
            mailbox = self.store.add_mailbox(upn, display_name or _display_name(upn))
            provision(self.store, mailbox)
            self.store.flush()
            return mailbox

    # -- the whole request path ---------------------------------------------------------------------
    def serve(self, req: Request) -> Response:
        """Admission, the armed latency, the answer (for in-process callers; the server awaits instead). An
        armed drop raises DroppedConnection, before the request runs or after."""
        ticket = self.admit(req)
        try:
            if ticket.latency:
                time.sleep(ticket.latency)
            if ticket.drop == "before":
                raise DroppedConnection(f"{req.method} {req.path}: the connection was dropped (armed fault)")
            response = ticket.response or self.handle(req, ticket)
            if ticket.drop == "after":
                raise DroppedConnection(f"{req.method} {req.path}: the answer was lost (armed fault)")
            return response
        finally:
            self.release(ticket)

    def admit(self, req: Request) -> Ticket:
        if not req.path.startswith(GRAPH_PREFIX + "/") and req.path != GRAPH_PREFIX:
            return Ticket()
        try:
            claims = self.identity.verify(req.headers.get("authorization"))
        except Unauthorized as exc:
            error = GraphError(
                401, exc.code, str(exc), {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'}
            )
            return Ticket(response=self.error_response(error, req))
        ticket = Ticket(app_id=claims.app_id)
        path = req.path[len(GRAPH_PREFIX) :]
        mailbox = self._addressed_mailbox(path)
        if mailbox is not None:
            slot = (claims.app_id, mailbox.id)
            if not self.limits.enter(slot):
                ticket.refusal = self._over_concurrency()
                return ticket
            ticket.slot = slot
        # A $batch envelope meets only a fault armed for it by path: the others are for its sub-requests.
        armed = self.faults.take(req.method, path, explicit=_is_batch(path))
        if armed is not None:
            ticket.latency = armed.latency
            ticket.drop = armed.drop
            if armed.status is not None:
                ticket.refusal = fault(armed.status, armed.retry_after)
        return ticket

    def release(self, ticket: Ticket) -> None:
        if ticket.slot is not None:
            self.limits.leave(ticket.slot)

    def handle(self, req: Request, ticket: Ticket | None = None) -> Response:
        try:
            return self._handle(req, ticket)
        except Exception:  # a Graph-shaped 500, never a dropped connection; the trace goes to the log
            LOG.exception("%s %s failed", req.method, req.path)
            return self.error_response(internal_error(), req)

    def _handle(self, req: Request, ticket: Ticket | None) -> Response:
        if req.path.startswith(GRAPH_PREFIX + "/"):
            admitted = ticket or Ticket()
            with self.store.lock:
                response = self.graph(req.path[len(GRAPH_PREFIX) :], req, admitted.app_id, ticket=admitted)
                self.store.flush()
            return response
        if req.path.startswith("/_sandbox"):
            from exsync.sandbox.control import control

            with self.store.lock:
                response = control(self, req)
                self.store.flush()
            return response
        if req.path in ("/", ""):
            from exsync.sandbox.page import page

            with self.store.lock:
                return page(self, req)
        return self._identity(req)

    def graph(self, path: str, req: Request, app_id: str, *, ticket: Ticket | None = None) -> Response:
        """One Graph request, as an answer, never an exception: a top-level one after admission (`ticket`),
        or a `$batch` sub-request, which meets its armed fault and the concurrency limit here."""
        slot: Key | None = None
        try:
            if ticket is not None:
                refusal = ticket.refusal
            else:
                armed = self.faults.take(req.method, path, with_status=True)
                refusal = fault(armed.status, armed.retry_after) if armed and armed.status else None
            segments = split_path(path)
            if segments and segments[0].lower() == "me":
                raise bad_request(ME_MESSAGE)
            try:
                route, params = ROUTES.match(req.method, path)
                ctx = Ctx(self, req, path, params, route.template, app_id)
                mailbox = ctx.mailbox if "user-id" in params else None
            except GraphError:
                if refusal is not None:  # an armed fault answers whatever the path
                    raise refusal from None
                raise
            if mailbox is not None:
                # Counted under the UPN whichever id the path used, throttled or not.
                self.stats.count(mailbox.upn, f"{req.method} {route.template}")
                if ticket is None and refusal is None:
                    if self.limits.enter((app_id, mailbox.id)):
                        slot = (app_id, mailbox.id)
                    else:
                        refusal = self._over_concurrency()
            if refusal is not None:
                raise refusal
            if mailbox is not None:
                wait = self.limits.take((app_id, mailbox.id))  # each $batch sub-request counts
                if wait is not None:
                    raise throttled(wait, RATE_MESSAGE)
                if route.part is not None and route.part in mailbox.denied:
                    raise access_denied()
            return route.handler(ctx)
        except GraphError as exc:
            if exc.status == 429:
                self.stats.throttled += 1
            return self.error_response(exc, req)
        except odata.ODataError as exc:
            return self.error_response(bad_request(str(exc), getattr(exc, "code", "BadRequest")), req)
        except RecurrenceError as exc:
            return self.error_response(bad_request(str(exc), "ErrorInvalidRecurrence"), req)
        except Exception:  # here too, so that one failing $batch sub-request fails alone
            LOG.exception("%s %s failed", req.method, path)
            return self.error_response(internal_error(), req)
        finally:
            if slot is not None:
                self.limits.leave(slot)

    def _over_concurrency(self) -> GraphError:
        return throttled(self.limits.concurrency_retry_after(), CONCURRENCY_MESSAGE)

    def error_response(self, error: GraphError, req: Request) -> Response:
        headers = dict(error.headers)
        client_request_id = req.headers.get("client-request-id")
        if client_request_id:
            headers["client-request-id"] = client_request_id
        return Response(error.status, error.body(client_request_id), headers)

    def _addressed_mailbox(self, path: str) -> Mailbox | None:
        segments = split_path(path)
        if len(segments) >= 2 and segments[0].lower() == "users":
            return self.store.mailbox(segments[1])
        return None

    # -- identity platform --------------------------------------------------------------------------
    def _identity(self, req: Request) -> Response:
        segments = split_path(req.path)
        try:
            if req.method == "POST" and len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]:
                issued = self.identity.issue(segments[0], _form(req.body), req.base_url)
                # Clients cache a token for `expires_in` seconds of their own (real) time.
                real = max(1, int(TOKEN_LIFETIME / self.time_scale))
                issued.update(expires_in=real, ext_expires_in=real)
                return Response(200, issued, {"Cache-Control": "no-store"})
            if req.method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return Response(200, self.identity.openid_configuration(req.base_url, segments[0]))
            if req.method == "GET" and len(segments) == 3 and segments[1:] == ["discovery", "instance"]:
                return Response(200, self.identity.instance_discovery(req.base_url, segments[0]))
        except TokenError as exc:
            return Response(exc.status, exc.body)
        return Response(404, {"error": "not_found", "error_description": f"No such endpoint: {req.path}"})

    def close(self) -> None:
        with self.store.lock:
            self.store.close()


def _scaled_clock(time_scale: float) -> Callable[[], float]:
    """The sandbox's time: real time from now on, running `time_scale` times faster."""
    if time_scale == 1:
        return time.time
    start = time.time()
    return lambda: start + (time.time() - start) * time_scale


def _is_batch(path: str) -> bool:
    return split_path(path) == ["$batch"]


def _form(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _display_name(upn: str) -> str:
    local = upn.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part) or upn
