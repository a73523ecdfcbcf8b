"""What a handler works with: the request, the mailbox it addresses, the store, and the helpers every
resource shares (finding an item, rendering it, checking If-Match)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exsync.sandbox import odata
from exsync.sandbox.errors import GraphError, bad_request, change_key_mismatch, not_found
from exsync.sandbox.http import Request, Response
from exsync.sandbox.render import check_select, full, graph_type, present
from exsync.sandbox.store import Item, Mailbox, Store

if TYPE_CHECKING:
    from exsync.sandbox.app import Sandbox


@dataclass
class Ctx:
    sandbox: Sandbox
    req: Request
    path: str  # below /v1.0 (a $batch sub-request's URL has no prefix)
    params: dict[str, str]
    template: str
    app_id: str

    @property
    def store(self) -> Store:
        return self.sandbox.store

    @property
    def mailbox(self) -> Mailbox:
        key = self.params.get("user-id", "")
        found = self.store.mailbox(key)
        if found is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        return found

    # -- ids and lookups ---------------------------------------------------------------------------
    def shown_id(self, item: Item) -> str:
        return item.id if self.req.immutable_ids else item.alias

    def item(self, param: str, *kinds: str) -> Item:
        """The item a path parameter names, in this mailbox, of one of the kinds; else 404."""
        key = self.params[param]
        found = self.store.get(key)
        if found is None or found.owner != self.mailbox.id or (kinds and found.kind not in kinds):
            raise not_found()
        return found

    def folder(self, param: str, kind: str, well_known: bool = True) -> Item:
        """A folder by id or, where Graph allows it, by well-known name (`inbox`, `sentitems`, …)."""
        key = self.params[param]
        if well_known:
            folder_id = self.mailbox.folders.get(key.lower())
            if folder_id is not None:
                found = self.store.get(folder_id)
                if found is not None and found.kind == kind:
                    return found
        return self.item(param, kind)

    def check_if_match(self, item: Item) -> None:
        wanted = self.req.headers.get("if-match")
        if (
            wanted
            and wanted.strip() != "*"
            and wanted.strip() not in (f'W/"{item.change_key}"', item.change_key)
        ):
            raise change_key_mismatch()

    # -- rendering ---------------------------------------------------------------------------------
    def select(self, kind: str) -> list[str] | None:
        select = odata.parse_select(self.req.query.get("$select"))
        check_select(kind, select)
        return select

    def expand(self) -> list[odata.Expand]:
        return odata.parse_expand(self.req.query.get("$expand"))

    def render(self, item: Item) -> dict[str, Any]:
        out = present(full(self, item), self.select(item.kind), self.expand())
        if item.data.get("@odata.type"):
            out["@odata.type"] = graph_type(item)
        return out

    def single(self, item: Item, status: int = 200) -> Response:
        body = self.render(item)
        body = {"@odata.context": self.context_url(item.kind, single=True), **body}
        return Response(status, body)

    def context_url(self, kind: str, single: bool = False) -> str:
        suffix = "/$entity" if single else ""
        return f"{self.req.base_url}/v1.0/$metadata#users('{self.params.get('user-id', '')}')/{kind}s{suffix}"

    def json(self) -> dict[str, Any]:
        return self.req.json_object()


def options_error(exc: odata.ODataError) -> GraphError:
    return bad_request(str(exc), getattr(exc, "code", "BadRequest"))
