"""`/users` and `/users/{id}`: the mailboxes the sandbox holds."""

from __future__ import annotations

from exsync.sandbox.context import Ctx
from exsync.sandbox.http import Response
from exsync.sandbox.router import route


@route("GET", "/users")
def list_users(ctx: Ctx) -> Response:
    users = [m.to_graph() for m in ctx.store.mailboxes.values()]
    context = f"{ctx.req.base_url}/v1.0/$metadata#users"
    count = {"@odata.count": len(users)} if ctx.req.query.get("$count", "").lower() == "true" else {}
    return Response(200, {"@odata.context": context, **count, "value": users})


@route("GET", "/users/{user-id}")
def get_user(ctx: Ctx) -> Response:
    body = {"@odata.context": f"{ctx.req.base_url}/v1.0/$metadata#users/$entity", **ctx.mailbox.to_graph()}
    return Response(200, body)
