"""What every item collection does the same way: create, update with If-Match, delete, list, and a
per-folder delta round."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import bad_request, conflict
from exsync.sandbox.http import Response
from exsync.sandbox.ids import new_id
from exsync.sandbox.listing import DeltaSource, Entry, collection, delta, delta_options
from exsync.sandbox.render import full, json_copy, merge_into, normal_property_id
from exsync.sandbox.store import Item

Prepare = Callable[[Ctx, Item, dict[str, Any]], None]


def create(ctx: Ctx, kind: str, parent: str, body: dict[str, Any], prepare: Prepare | None = None) -> Item:
    """A new item from a client's JSON; `prepare` fills computed properties and checks the rest."""
    item = Item(new_id(), kind, ctx.mailbox.id, parent, {})
    merge_into(item, body)
    if prepare is not None:
        prepare(ctx, item, body)
    return ctx.store.add(item)


def update(ctx: Ctx, item: Item, body: dict[str, Any], prepare: Prepare | None = None) -> Item:
    ctx.check_if_match(item)
    data, hidden = json_copy(item.data), json_copy(item.hidden)
    try:
        merge_into(item, body)
        if prepare is not None:
            prepare(ctx, item, body)
    except BaseException:  # a refused update changes nothing (merge_into and prepare write as they go)
        item.data.clear()
        item.data.update(data)
        item.hidden.clear()
        item.hidden.update(hidden)
        raise
    ctx.store.changed(item)
    return item


def delete(ctx: Ctx, item: Item) -> Response:
    ctx.check_if_match(item)
    ctx.store.remove(item)
    return Response(204)


def listing(ctx: Ctx, kind: str, items: Iterable[Item]) -> Response:
    holders = _property_lookup(ctx)
    if holders is not None:  # only the items the index names can match: render just those
        items = (i for i in items if i.id in holders)
    return collection(ctx, kind, (full(ctx, i) for i in items))


_PROPERTY_FILTER = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'"
    r"\s+and\s+\1/value\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$",
    re.IGNORECASE,
)


def _property_lookup(ctx: Ctx) -> set[str] | None:
    """The ids an extended-property `$filter` can match, from the store's index; None for other filters.
    The filter itself still runs on what is rendered, so the index only narrows, never decides."""
    match = _PROPERTY_FILTER.match(ctx.req.query.get("$filter", ""))
    if match is None:
        return None
    property_id, value = (g.replace("''", "'") for g in match.group(2, 3))
    return ctx.store.with_property(ctx.mailbox.id, normal_property_id(property_id), value)


def folder_delta(
    ctx: Ctx, folder: Item, kind: str, include: Callable[[Item], bool] | None = None, *, typed: bool = True
) -> Response:
    """A delta round over the items of one folder (contacts, messages, tasks); `typed=False` leaves out
    @odata.type on items and tombstones, as To Do answers."""

    def source(options: dict[str, Any]) -> DeltaSource:
        def entries(_: dict[str, Any]) -> list[Entry]:
            out: list[Entry] = []
            for item in ctx.store.children(folder.id, kind):
                if include is None or include(item):
                    out.append((item.id, item.version, ctx.shown_id(item), _renderer(ctx, item)))
            return out

        return DeltaSource(f"{kind}:{folder.id}", f"#microsoft.graph.{kind}", entries, typed)

    return delta(ctx, source, delta_options(ctx))


def _renderer(ctx: Ctx, item: Item) -> Callable[[], dict[str, Any]]:
    return lambda: full(ctx, item)


def unique_name(
    ctx: Ctx, parent: str, kind: str, name: Any, key: str = "displayName", skip: Item | None = None
) -> str:
    """Folder names are unique among siblings (409 ErrorFolderExists otherwise)."""
    if not isinstance(name, str) or not name.strip():
        raise bad_request(f"'{key}' is required and must be a non-empty string.", "ErrorInvalidRequest")
    for sibling in ctx.store.children(parent, kind):
        if sibling is not skip and str(sibling.data.get(key, "")).casefold() == name.casefold():
            raise conflict("A folder with the specified name already exists.")
    return name
