"""An item as Graph shows it: every structural property, the system properties, ids of the kind the
client asked for, then `$select` and `$expand`. And the reverse: a client's JSON merged into an item."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from exsync.sandbox.errors import GraphError, bad_request
from exsync.sandbox.odata import Expand
from exsync.sandbox.properties import DEFAULTS
from exsync.sandbox.store import Item

if TYPE_CHECKING:
    from exsync.sandbox.context import Ctx

# Navigation properties: returned only through $expand, kept in Item.data like the rest.
NAVIGATION = frozenset(
    {
        "singleValueExtendedProperties",
        "multiValueExtendedProperties",
        "linkedResources",
        "checklistItems",
        "attachments",
        "extensions",
    }
)
_NAVIGATION_LOWER = frozenset(n.lower() for n in NAVIGATION)
_EXTENDED = frozenset({"singleValueExtendedProperties", "multiValueExtendedProperties"})
# The ones each kind has (Microsoft's metadata): To Do keeps no extended properties, folders no extensions.
KIND_NAVIGATION: dict[str, frozenset[str]] = {
    "contact": _EXTENDED | {"extensions"},
    "event": _EXTENDED | {"extensions", "attachments"},
    "message": _EXTENDED | {"extensions", "attachments"},
    "contactFolder": _EXTENDED,
    "mailFolder": _EXTENDED,
    "calendar": _EXTENDED,
    "todoTask": frozenset({"attachments", "checklistItems", "extensions", "linkedResources"}),
    "todoTaskList": frozenset({"extensions"}),
    "linkedResource": frozenset(),
}
OUTLOOK_ITEMS = frozenset({"contact", "event", "message"})
READ_ONLY = frozenset({"id", "changeKey", "createdDateTime", "lastModifiedDateTime", "@odata.etag"})
_PROPERTY_ID = re.compile(
    r"^(?P<type>\w+)\s+(?:\{(?P<guid>[0-9a-fA-F-]{36})\}\s+(?P<how>Name|Id)\s+(?P<name>.+)|(?P<tag>0x[0-9a-fA-F]{1,4}))$"
)

# Kind-specific computed properties (an event's times in the asked zone, a message's preview, …).
Decorator = Callable[["Ctx", Item, dict[str, Any]], None]
DECORATORS: dict[str, Decorator] = {}


def graph_type(item: Item) -> str:
    return str(item.data.get("@odata.type") or f"#microsoft.graph.{item.kind}")


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (what items hold): several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def full(ctx: Ctx, item: Item) -> dict[str, Any]:
    """Everything a client could see of the item (navigation properties included, for $filter)."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{item.change_key}"', "id": ctx.shown_id(item)}
    out.update(json_copy(DEFAULTS.get(item.kind, {})))
    for key, value in item.data.items():
        out[key] = json_copy(value)
    if "createdDateTime" in out or item.kind in OUTLOOK_ITEMS:
        out["createdDateTime"] = item.created
        out["lastModifiedDateTime"] = item.modified
    if "changeKey" in out or item.kind in OUTLOOK_ITEMS:
        out["changeKey"] = item.change_key
    if "parentFolderId" in out:
        parent = ctx.store.get(item.parent)
        out["parentFolderId"] = ctx.shown_id(parent) if parent is not None else None
    decorate = DECORATORS.get(item.kind)
    if decorate is not None:
        decorate(ctx, item, out)
    return out


def present(
    resource: Mapping[str, Any],
    select: list[str] | None,
    expand: list[Expand],
    *,
    odata_type: str | None = None,
) -> dict[str, Any]:
    """Apply $select and $expand to a full resource."""
    wanted = {e.name.lower(): e for e in expand}
    out: dict[str, Any] = {}
    if odata_type is not None:
        out["@odata.type"] = odata_type
    chosen = {s.lower() for s in select} if select else None
    for key, value in resource.items():
        low = key.lower()
        if key in NAVIGATION or low in _NAVIGATION_LOWER:
            nav = wanted.get(low)
            if nav is not None:
                items = [v for v in (value or []) if nav.filter is None or nav.filter(v)]
                if nav.select:
                    items = [{k: v for k, v in i.items() if k == "id" or k in nav.select} for i in items]
                out[key] = items
            continue
        if chosen is None or low in chosen or key in ("id", "@odata.etag", "@odata.type"):
            out[key] = value
    for name, nav in wanted.items():
        if not any(k.lower() == name for k in out):
            canonical = next((n for n in NAVIGATION if n.lower() == name), None)
            if canonical is None:
                raise bad_request(f"Could not find a property named '{nav.name}' on this type.")
            out[canonical] = []
    return out


def check_select(kind: str, select: list[str] | None) -> None:
    if not select:
        return
    known = {k.lower() for k in DEFAULTS.get(kind, {})} | {"id", "@odata.type"}
    known |= {n.lower() for n in NAVIGATION}
    for name in select:
        if name.lower() not in known:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.{kind}'.")


def merge_into(item: Item, body: Mapping[str, Any], *, extra: frozenset[str] = frozenset()) -> None:
    """A client's create/update JSON merged into the item: known properties only, read-only ones refused,
    extended properties merged by id (as Exchange keeps them)."""
    known = DEFAULTS.get(item.kind, {})
    navigation = KIND_NAVIGATION.get(item.kind, NAVIGATION)
    for key, value in body.items():
        if key.startswith("@odata.") or "@odata." in key:
            continue
        if key in READ_ONLY:
            if key == "id" or key == "changeKey":
                continue  # clients echo them back; Graph ignores them
            raise bad_request(f"The property '{key}' is read-only and cannot be set.")
        if key == "singleValueExtendedProperties" and key in navigation:
            item.data[key] = merge_extended(item.data.get(key, []), value)
        elif key in known or key in extra or key in navigation:
            item.data[key] = copy.deepcopy(value)
        else:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The property '{key}' does not exist on type 'microsoft.graph.{item.kind}'. "
                "Make sure to only "
                "use property names that are defined by the type or mark the type as open type.",
            )


def merge_extended(current: list[dict[str, Any]], incoming: Any) -> list[dict[str, Any]]:
    if not isinstance(incoming, list):
        raise bad_request("singleValueExtendedProperties must be an array of {id, value} objects.")
    merged = {normal_property_id(p["id"]): dict(p) for p in current}
    for prop in incoming:
        if not isinstance(prop, dict) or not isinstance(prop.get("id"), str) or "value" not in prop:
            raise bad_request("Each singleValueExtendedProperty needs a string 'id' and a 'value'.")
        key = normal_property_id(prop["id"])
        merged[key] = {"id": key, "value": None if prop["value"] is None else str(prop["value"])}
    return [p for p in merged.values() if p["value"] is not None]


def normal_property_id(property_id: str) -> str:
    """Exchange's spelling of an extended property id: `String {lower-case guid} Name x`."""
    match = _PROPERTY_ID.match(property_id.strip())
    if match is None:
        raise GraphError(
            400,
            "ErrorInvalidExtendedPropertyValue",
            f"'{property_id}' is not a valid extended property id "
            "(expected e.g. 'String {guid} Name name').",
        )
    if match.group("tag"):
        return f"{match.group('type')} {match.group('tag').lower()}"
    return (
        f"{match.group('type')} {{{match.group('guid').lower()}}} {match.group('how')} {match.group('name')}"
    )
