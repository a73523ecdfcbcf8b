"""The control API under `/_sandbox`: make mailboxes, arm faults, refuse permissions, expire delta
tokens, deliver mail, read the request counters. Not Graph: for tests, the demo and drills."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from exsync.sandbox.errors import GraphError, bad_request, conflict, not_found
from exsync.sandbox.faults import Fault
from exsync.sandbox.http import Request, Response
from exsync.sandbox.router import split_path

if TYPE_CHECKING:
    from exsync.sandbox.app import Sandbox

PARTS = ("contacts", "calendar", "tasks", "mail")


def control(sandbox: Sandbox, req: Request) -> Response:
    segments = split_path(req.path)[1:]
    try:
        return _dispatch(sandbox, req, segments)
    except GraphError as exc:
        return Response(exc.status, {"error": {"code": exc.code, "message": exc.message}})


def _dispatch(sandbox: Sandbox, req: Request, segments: list[str]) -> Response:
    method = req.method
    match segments:
        case ["users"] if method == "POST":
            return _create_user(sandbox, req.json_object())
        case ["users"] if method == "GET":
            return Response(200, {"value": [m.to_graph() for m in sandbox.store.mailboxes.values()]})
        case ["users", upn, "messages"] if method == "POST":
            return _deliver(sandbox, upn, req.json_object())
        case ["faults"] if method == "POST":
            try:
                sandbox.faults.arm(Fault.from_json(req.json_object()))
            except ValueError as exc:
                raise bad_request(f"fault: {exc}") from None
            return Response(201, {"armed": True})
        case ["faults"] if method == "DELETE":
            sandbox.faults.clear()
            return Response(204)
        case ["permissions"] if method == "POST":
            return _permissions(sandbox, req.json_object())
        case ["expire-delta-tokens"] if method == "POST":
            expired = sandbox.store.expire_deltas()
            sandbox.rounds.clear()
            return Response(200, {"expired": expired})
        case ["stats"] if method == "GET":
            return Response(200, sandbox.stats.to_json())
        case ["stats"] if method == "DELETE":
            sandbox.stats.requests.clear()
            sandbox.stats.throttled = 0
            return Response(204)
    raise GraphError(404, "NotFound", f"No sandbox control endpoint {method} {req.path}.")


def _upn(body: dict[str, Any]) -> str:
    upn = body.get("userPrincipalName")
    if not isinstance(upn, str) or "@" not in upn or upn.strip() != upn or not upn.split("@")[1]:
        raise bad_request("'userPrincipalName' must be an address like 'ann@firm.example'.")
    return upn


def _create_user(sandbox: Sandbox, body: dict[str, Any]) -> Response:
    upn = _upn(body)
    if sandbox.store.mailbox(upn) is not None:
        raise conflict(f"A mailbox for '{upn}' already exists.", "Conflict")
    name = body.get("displayName")
    mailbox = sandbox.add_user(upn, name if isinstance(name, str) and name else None)
    return Response(201, mailbox.to_graph())


def _permissions(sandbox: Sandbox, body: dict[str, Any]) -> Response:
    upn = _upn(body)
    mailbox = sandbox.store.mailbox(upn)
    if mailbox is None:
        raise not_found(f"No mailbox '{upn}' in the sandbox.")
    deny = body.get("deny", [])
    if not isinstance(deny, list) or any(part not in PARTS for part in deny):
        raise bad_request(f"'deny' must be a list of parts among {', '.join(PARTS)}.")
    mailbox.denied = sorted(set(deny))
    sandbox.store.touch_mailbox(mailbox)
    return Response(200, {"userPrincipalName": mailbox.upn, "deny": mailbox.denied})


def _deliver(sandbox: Sandbox, upn: str, body: dict[str, Any]) -> Response:
    from exsync.sandbox.resources.mail import deliver

    mailbox = sandbox.store.mailbox(upn)
    if mailbox is None:
        raise not_found(f"No mailbox '{upn}' in the sandbox.")
    folder = body.get("folder", "inbox")
    mime = body.get("mime")
    if not isinstance(folder, str) or not isinstance(mime, str):
        raise bad_request(
            "Give 'folder' (a well-known name or folder id) and 'mime' (base64 of an RFC 822 message)."
        )
    try:
        raw = base64.b64decode(mime, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("'mime' is not valid base64.") from None
    return Response(201, deliver(sandbox, mailbox, folder, raw))
