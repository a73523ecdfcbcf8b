"""Mail folders and messages: `/users/{id}/mailFolders[/{id}/childFolders|messages]`, `/users/{id}/messages`
(every folder), per-folder message delta, `$value` (the MIME), move and copy, file attachments; and `deliver`,
which the control API uses to put received mail into a folder.

A message keeps its Graph properties in `Item.data`; `Item.hidden` keeps what Graph shows only through other
doors: the MIME it arrived as (`mime`, base64), its attachments (`attachments`, JSON with base64 content), and
for a meeting message the event it is about (`event`, an immutable id).
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from exsync.sandbox import odata
from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import bad_request, not_found
from exsync.sandbox.http import Response
from exsync.sandbox.ids import new_id
from exsync.sandbox.listing import DeltaSource, Entry, delta, delta_options
from exsync.sandbox.mailboxes import MAIL_FOLDERS
from exsync.sandbox.mime import (
    SANDBOX_DOMAIN,
    MimeError,
    ParsedAttachment,
    build_mime,
    conversation_id,
    decode_base64_mime,
    html_to_text,
    parse_mime,
)
from exsync.sandbox.properties import DEFAULTS
from exsync.sandbox.render import DECORATORS, full, graph_type, merge_into, present
from exsync.sandbox.resources import common
from exsync.sandbox.router import route
from exsync.sandbox.store import Item, Mailbox, Store, now_iso

if TYPE_CHECKING:
    from exsync.sandbox.app import Sandbox

PART = "mail"
WELL_KNOWN = frozenset({"msgfolderroot", *MAIL_FOLDERS})
EVENT_MESSAGE_TYPES = frozenset(
    {
        "#microsoft.graph.eventMessage",
        "#microsoft.graph.eventMessageRequest",
        "#microsoft.graph.eventMessageResponse",
    }
)
FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"
# Graph returns these only when $select names them (message resource: internetMessageHeaders, uniqueBody).
SELECT_ONLY = ("internetMessageHeaders", "uniqueBody")
# What PATCH may change (message: update); the draft-only ones only while isDraft is true.
UPDATABLE = frozenset(
    {
        "bccRecipients", "body", "categories", "ccRecipients", "flag", "from", "importance",
        "inferenceClassification", "internetMessageId", "isDeliveryReceiptRequested", "isRead",
        "isReadReceiptRequested", "replyTo", "sender", "subject", "toRecipients",
        "singleValueExtendedProperties", "multiValueExtendedProperties",
    }
)  # fmt: skip
DRAFT_ONLY = frozenset({"body", "internetMessageId", "replyTo", "subject"})
CREATABLE = UPDATABLE | {"internetMessageHeaders"}
FOLDER_WRITABLE = frozenset({"displayName", "isHidden"})
RECIPIENT_LISTS = ("toRecipients", "ccRecipients", "bccRecipients", "replyTo")
IMPORTANCE = ("low", "normal", "high")
_HTML_DOCUMENT = re.compile(r"<html[\s>]", re.IGNORECASE)
_DELTA_FILTER = re.compile(r"^\s*receivedDateTime\s+(ge|gt)\s+\S+\s*$", re.IGNORECASE)
_DELTA_ORDERBY = re.compile(r"^\s*receivedDateTime\s+desc\s*$", re.IGNORECASE)


# -- finding folders and messages ---------------------------------------------------------------------------
def find_folder(store: Store, mailbox: Mailbox, key: str) -> Item | None:
    """A mail folder of the mailbox by well-known name or id (immutable or regular)."""
    folder_id = mailbox.folders.get(key.lower()) if key.lower() in WELL_KNOWN else None
    found = store.get(folder_id or key)
    if found is None or found.owner != mailbox.id or found.kind != "mailFolder":
        return None
    return found


def _folder(ctx: Ctx) -> Item:
    return ctx.folder("mailFolder-id", "mailFolder")


def _well_known(ctx: Ctx, name: str) -> Item:
    found = find_folder(ctx.store, ctx.mailbox, name)
    assert found is not None, f"mailbox without its {name} folder"
    return found


def _message(ctx: Ctx) -> Item:
    """The message a path names; under /mailFolders/{id} it must be in that folder."""
    message = ctx.item("message-id", "message")
    if "mailFolder-id" in ctx.params and message.parent != _folder(ctx).id:
        raise not_found()
    return message


# -- rendering ---------------------------------------------------------------------------------------------
def _is_event_message(item: Item) -> bool:
    return item.data.get("@odata.type") in EVENT_MESSAGE_TYPES


def _selected(select: Iterable[str] | None) -> set[str]:
    return {s.lower() for s in select or ()}


def _select_only(item: Item, out: dict[str, Any], selected: set[str]) -> None:
    """internetMessageHeaders and uniqueBody appear only when selected; uniqueBody is the body here (the
    sandbox does not tell quoted text apart)."""
    for key in SELECT_ONLY:
        if key.lower() not in selected:
            out.pop(key, None)
        elif key == "uniqueBody":
            out[key] = copy.deepcopy(item.data.get("uniqueBody") or item.data.get("body"))
        else:
            out[key] = copy.deepcopy(item.data.get(key) or [])


def _body_preference(ctx: Ctx) -> str | None:
    wanted = ctx.req.prefer().get("outlook.body-content-type", "").lower()
    return wanted if wanted in ("text", "html") else None


def _in_content_type(body: Any, wanted: str | None) -> Any:
    """A body in the content type the client prefers (Prefer: outlook.body-content-type)."""
    if wanted is None or not isinstance(body, dict) or str(body.get("contentType", "")).lower() == wanted:
        return body
    content = str(body.get("content") or "")
    if wanted == "text":
        return {"contentType": "text", "content": html_to_text(content)}
    return {"contentType": "html", "content": _html_document(html.escape(content).replace("\n", "<br>\r\n"))}


def _attachment_json(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.type": FILE_ATTACHMENT,
        "@odata.mediaContentType": stored["contentType"],
        "id": stored["id"],
        "lastModifiedDateTime": stored["lastModifiedDateTime"],
        "name": stored["name"],
        "contentType": stored["contentType"],
        "size": stored["size"],
        "isInline": stored["isInline"],
        "contentId": stored["contentId"],
        "contentLocation": None,
        "contentBytes": stored["contentBytes"],
    }


def _decorate_message(ctx: Ctx, item: Item, out: dict[str, Any]) -> None:
    if _is_event_message(item):
        for key, value in DEFAULTS["eventMessage"].items():
            out.setdefault(key, copy.deepcopy(value))
    _select_only(item, out, _selected(odata.parse_select(ctx.req.query.get("$select"))))
    wanted = _body_preference(ctx)
    for key in ("body", "uniqueBody"):
        if key in out:
            out[key] = _in_content_type(out[key], wanted)
    out["webLink"] = (
        f"https://outlook.office365.com/owa/?ItemID={quote(ctx.shown_id(item), safe='')}"
        "&exvsurl=1&viewmodel=ReadMessageItem"
    )
    out["attachments"] = [_attachment_json(a) for a in item.hidden.get("attachments", [])]


def _decorate_folder(ctx: Ctx, item: Item, out: dict[str, Any]) -> None:
    messages = list(ctx.store.children(item.id, "message"))
    out["totalItemCount"] = len(messages)
    out["unreadItemCount"] = sum(1 for m in messages if not m.data.get("isRead"))
    out["childFolderCount"] = sum(1 for _ in ctx.store.children(item.id, "mailFolder"))
    if out.get("isHidden") is None:
        out["isHidden"] = False


DECORATORS["message"] = _decorate_message
DECORATORS["mailFolder"] = _decorate_folder


def _answer(ctx: Ctx, response: Response) -> Response:
    """Graph confirms the body content type it applied (message: get, Prefer: outlook.body-content-type)."""
    wanted = _body_preference(ctx)
    if wanted is not None and response.status < 300:
        response.headers["Preference-Applied"] = f'outlook.body-content-type="{wanted}"'
    return response


def _show(ctx: Ctx, item: Item, status: int = 200) -> Response:
    """One message; a meeting message renders as its eventMessage type, with `$expand=event`."""
    if not _is_event_message(item):
        return _answer(ctx, ctx.single(item, status))
    expand = ctx.expand()
    event = next((e for e in expand if e.name.lower() == "event"), None)
    body = present(full(ctx, item), ctx.select("eventMessage"), [e for e in expand if e is not event])
    body["@odata.type"] = graph_type(item)
    if event is not None:
        found = ctx.store.get(str(item.hidden.get("event", "")))
        shown = None
        if found is not None and found.kind == "event" and found.owner == item.owner:
            shown = present(full(ctx, found), event.select, [])
        body["event"] = shown
    return _answer(ctx, Response(status, {"@odata.context": ctx.context_url("message", single=True), **body}))


def _newest_first(items: Iterable[Item]) -> list[Item]:
    # receivedDateTime has whole seconds: among equals the later arrival (later in store order) comes first
    arrivals = list(items)[::-1]
    return sorted(arrivals, key=lambda m: str(m.data.get("receivedDateTime") or ""), reverse=True)


def _list_messages(ctx: Ctx, items: Iterable[Item]) -> Response:
    return _answer(ctx, common.listing(ctx, "message", _newest_first(items)))


# -- building messages -------------------------------------------------------------------------------------
def _html_document(fragment: str) -> str:
    """Exchange stores an HTML body as a whole document (message: create, example 1)."""
    if _HTML_DOCUMENT.search(fragment):
        return fragment
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        f"</head>\r\n<body>\r\n{fragment}\r\n</body>\r\n</html>\r\n"
    )


def _preview(body: Any) -> str:
    """bodyPreview: the first 255 characters of the body as text, whitespace runs as one space."""
    if not isinstance(body, dict):
        return ""
    content = str(body.get("content") or "")
    text = html_to_text(content) if body.get("contentType") == "html" else content
    return " ".join(text.split())[:255]


def _stored_attachment(
    name: str, content_type: str, content: bytes, is_inline: bool, content_id: str | None
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "name": name,
        "contentType": content_type,
        "size": len(content),
        "isInline": is_inline,
        "contentId": content_id,
        "contentBytes": base64.b64encode(content).decode("ascii"),
        "lastModifiedDateTime": now_iso(),
    }


def _parsed_attachments(item: Item) -> list[ParsedAttachment]:
    return [
        ParsedAttachment(
            a["name"], a["contentType"], base64.b64decode(a["contentBytes"]), a["isInline"], a["contentId"]
        )
        for a in item.hidden.get("attachments", [])
    ]


def _attachment_from_json(body: Any) -> dict[str, Any]:
    """A fileAttachment from a client's JSON (add attachment, or `attachments` in a new message)."""
    if not isinstance(body, dict):
        raise bad_request("An attachment must be a JSON object.")
    kind = str(body.get("@odata.type") or "").lstrip("#").lower()
    if kind != FILE_ATTACHMENT.lstrip("#").lower():
        raise bad_request(
            "Only '#microsoft.graph.fileAttachment' attachments are supported by the sandbox "
            f"(got '{body.get('@odata.type')}')."
        )
    raw = body.get("contentBytes")
    try:
        content = base64.b64decode(str(raw), validate=True) if raw is not None else b""
    except (binascii.Error, ValueError):
        raise bad_request("'contentBytes' is not valid base64.", "ErrorInvalidRequest") from None
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("An attachment needs a 'name'.", "ErrorInvalidRequest")
    content_type = body.get("contentType") or "application/octet-stream"
    content_id = body.get("contentId")
    return _stored_attachment(
        name,
        str(content_type),
        content,
        bool(body.get("isInline", False)),
        str(content_id) if content_id else None,
    )


def _check_keys(body: dict[str, Any], allowed: frozenset[str], item: Item) -> None:
    known = DEFAULTS["message"]
    for key in body:
        if key.startswith("@odata.") or key in ("id", "changeKey"):
            continue
        if key in ("attachments", "extensions"):
            raise bad_request(f"'{key}' cannot be set here: use the message's {key} collection.")
        if key in known and key not in allowed:
            raise bad_request(
                f"The property '{key}' is read-only and cannot be set.", "ErrorInvalidPropertySet"
            )
        if key in DRAFT_ONLY and item.data.get("isDraft") is False:
            raise bad_request(
                f"Update operation is not supported for the property '{key}' of a message that is not a "
                "draft.",
                "ErrorInvalidPropertyUpdateSentMessage",
            )


def _normalise(ctx: Ctx, item: Item, body: dict[str, Any]) -> None:
    """What Exchange does to a client's message JSON: lower-case enums, HTML bodies as documents, names for
    recipients it knows, and the computed properties (bodyPreview, hasAttachments)."""
    data = item.data
    importance = data.get("importance")
    if importance is not None:
        if str(importance).lower() not in IMPORTANCE:
            raise bad_request(f"'{importance}' is not a valid importance (low, normal, high).")
        data["importance"] = str(importance).lower()
    if "body" in body:
        data["body"] = _checked_body(body["body"])
    for key in RECIPIENT_LISTS:
        if key in body:
            data[key] = [_recipient(ctx, r, key) for r in _list(body[key], key)]
    for key in ("from", "sender"):
        if body.get(key) is not None:
            data[key] = _recipient(ctx, body[key], key)
    for header in _list(body.get("internetMessageHeaders") or [], "internetMessageHeaders"):
        name = header.get("name") if isinstance(header, dict) else None
        if not isinstance(name, str) or not name.lower().startswith("x-"):
            raise bad_request(
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
                "InvalidInternetMessageHeader",
            )
    data["bodyPreview"] = _preview(data.get("body"))
    data["hasAttachments"] = any(not a["isInline"] for a in item.hidden.get("attachments", []))


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"'{key}' must be an array.")
    return value


def _checked_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("'body' must be an object with 'contentType' and 'content'.")
    kind = str(body.get("contentType") or "text").lower()
    if kind not in ("text", "html"):
        raise bad_request(f"'{body.get('contentType')}' is not a valid body content type (text, html).")
    content = str(body.get("content") or "")
    return {"contentType": kind, "content": _html_document(content) if kind == "html" else content}


def _recipient(ctx: Ctx, value: Any, key: str) -> dict[str, Any]:
    """A recipient with the name Exchange resolves: a sandbox user's display name, else the address."""
    address = value.get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(address, dict) or not isinstance(address.get("address"), str):
        raise bad_request(f'Each of \'{key}\' must be {{"emailAddress": {{"address": …}}}}.')
    name = address.get("name")
    if not name:
        known = ctx.store.mailbox(address["address"])
        name = known.display_name if known is not None else address["address"]
    return {"emailAddress": {"name": name, "address": address["address"]}}


def _new_message(
    mailbox: Mailbox,
    folder: Item,
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    mime: bytes | None,
) -> Item:
    """The properties every message has, whatever made it (message: create, example 1)."""
    now = now_iso()
    defaults: dict[str, Any] = {
        "importance": "normal",
        "inferenceClassification": "focused",
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "flag": {"flagStatus": "notFlagged"},
        "receivedDateTime": now,
        "sentDateTime": now,
        "internetMessageId": f"<{uuid.uuid4().hex}@{SANDBOX_DOMAIN}>",
    }
    hidden: dict[str, Any] = {"attachments": attachments}
    if mime is not None:
        hidden["mime"] = base64.b64encode(mime).decode("ascii")
    values = {k: v for k, v in data.items() if v is not None}
    return Item(new_id(), "message", mailbox.id, folder.id, {**defaults, **values}, hidden=hidden)


def _from_mime(mailbox: Mailbox, folder: Item, raw: bytes, **overrides: Any) -> Item:
    try:
        parsed = parse_mime(raw)
    except MimeError as exc:
        raise bad_request(f"The MIME content is not a message: {exc}.", "ErrorMimeContentInvalid") from None
    attachments = [
        _stored_attachment(a.name, a.content_type, a.content, a.is_inline, a.content_id)
        for a in parsed.attachments
    ]
    return _new_message(mailbox, folder, {**parsed.properties, **overrides}, attachments, raw)


def deliver(sandbox: Sandbox, mailbox: Mailbox, folder: str, raw: bytes) -> dict[str, Any]:
    """Received mail: the MIME stored in a folder (a well-known name or a folder id), as Exchange delivers it
    (unread, not a draft; read in Sent Items). The control API's `POST /_sandbox/users/{upn}/messages`."""
    target = find_folder(sandbox.store, mailbox, folder)
    if target is None:
        raise not_found(f"No mail folder '{folder}' in the mailbox of {mailbox.upn}.")
    sent = target.id == mailbox.folders.get("sentitems")
    item = sandbox.store.add(_from_mime(mailbox, target, raw, isRead=sent, isDraft=False))
    return {"id": item.id, "internetMessageId": item.data["internetMessageId"], "folder": target.id}


def _create(ctx: Ctx, folder: Item) -> Response:
    """A draft, from JSON or (Content-Type: text/plain) from base64 MIME (message: create)."""
    if ctx.req.headers.get("content-type", "").split(";")[0].strip().lower() == "text/plain":
        try:
            raw = decode_base64_mime(ctx.req.body)
        except MimeError:
            raise bad_request(
                "Invalid base64 string for MIME content.", "ErrorMimeContentInvalidBase64String"
            ) from None
        item = _from_mime(ctx.mailbox, folder, raw, isRead=True, isDraft=True)
        return _show(ctx, ctx.store.add(item), 201)
    body = ctx.json()
    attachments = [_attachment_from_json(a) for a in _list(body.pop("attachments", []), "attachments")]
    item = _new_message(ctx.mailbox, folder, {"isRead": True, "isDraft": True}, attachments, None)
    _check_keys(body, CREATABLE, item)
    merge_into(item, body)
    _normalise(ctx, item, body)
    item.data["conversationId"] = conversation_id(
        item.data.get("subject"), [], item.data.get("internetMessageId")
    )
    return _show(ctx, ctx.store.add(item), 201)


def _update(ctx: Ctx, item: Item) -> Response:
    body = ctx.json()
    _check_keys(body, UPDATABLE, item)

    def prepare(ctx: Ctx, item: Item, body: dict[str, Any]) -> None:
        _normalise(ctx, item, body)
        if body.keys() & DRAFT_ONLY:
            item.hidden.pop("mime", None)  # the MIME it arrived as no longer says what it holds

    return _show(ctx, common.update(ctx, item, body, prepare))


def _mime_of(item: Item) -> bytes:
    raw = item.hidden.get("mime")
    if isinstance(raw, str):
        return base64.b64decode(raw)
    message = {**item.data, "id": item.id, "createdDateTime": item.created}
    return build_mime(message, _parsed_attachments(item))


# -- folders -----------------------------------------------------------------------------------------------
def _folders(ctx: Ctx, parent: Item) -> Response:
    hidden_too = ctx.req.query.get("includeHiddenFolders", "").lower() == "true"
    folders = [
        f for f in ctx.store.children(parent.id, "mailFolder") if hidden_too or not f.data.get("isHidden")
    ]
    return common.listing(ctx, "mailFolder", folders)


def _create_folder(ctx: Ctx, parent: Item) -> Response:
    body = ctx.json()
    _check_folder_keys(body)
    common.unique_name(ctx, parent.id, "mailFolder", body.get("displayName"))
    body.setdefault("isHidden", False)
    return ctx.single(common.create(ctx, "mailFolder", parent.id, body), 201)


def _check_folder_keys(body: dict[str, Any]) -> None:
    for key in body:
        if key in DEFAULTS["mailFolder"] and key not in FOLDER_WRITABLE:
            raise bad_request(
                f"The property '{key}' is read-only and cannot be set.", "ErrorInvalidPropertySet"
            )


@route("GET", "/users/{user-id}/mailFolders", PART)
def list_folders(ctx: Ctx) -> Response:
    return _folders(ctx, _well_known(ctx, "msgfolderroot"))


@route("POST", "/users/{user-id}/mailFolders", PART)
def create_folder(ctx: Ctx) -> Response:
    return _create_folder(ctx, _well_known(ctx, "msgfolderroot"))


@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/childFolders", PART)
def list_child_folders(ctx: Ctx) -> Response:
    return _folders(ctx, _folder(ctx))


@route("POST", "/users/{user-id}/mailFolders/{mailFolder-id}/childFolders", PART)
def create_child_folder(ctx: Ctx) -> Response:
    return _create_folder(ctx, _folder(ctx))


@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}", PART)
def get_folder(ctx: Ctx) -> Response:
    return ctx.single(_folder(ctx))


@route("PATCH", "/users/{user-id}/mailFolders/{mailFolder-id}", PART)
def update_folder(ctx: Ctx) -> Response:
    folder = _folder(ctx)
    body = ctx.json()
    _check_folder_keys(body)
    if "displayName" in body:
        common.unique_name(ctx, folder.parent, "mailFolder", body["displayName"], skip=folder)
    return ctx.single(common.update(ctx, folder, body))


@route("DELETE", "/users/{user-id}/mailFolders/{mailFolder-id}", PART)
def delete_folder(ctx: Ctx) -> Response:
    folder = _folder(ctx)
    if folder.id in ctx.mailbox.folders.values():
        raise bad_request("Distinguished folders cannot be deleted.", "ErrorDeleteDistinguishedFolder")
    return common.delete(ctx, folder)


# -- messages ----------------------------------------------------------------------------------------------
@route("GET", "/users/{user-id}/messages", PART)
def list_all(ctx: Ctx) -> Response:
    return _list_messages(ctx, ctx.store.owned(ctx.mailbox.id, "message"))


@route("POST", "/users/{user-id}/messages", PART)
def create_draft(ctx: Ctx) -> Response:
    return _create(ctx, _well_known(ctx, "drafts"))


@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messages", PART)
def list_in_folder(ctx: Ctx) -> Response:
    return _list_messages(ctx, ctx.store.children(_folder(ctx).id, "message"))


@route("POST", "/users/{user-id}/mailFolders/{mailFolder-id}/messages", PART)
def create_in_folder(ctx: Ctx) -> Response:
    return _create(ctx, _folder(ctx))


@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/delta", PART)
def delta_in_folder(ctx: Ctx) -> Response:
    """Per-folder delta (message: delta): $select, $top, $expand; $filter only `receivedDateTime ge|gt`,
    $orderby only `receivedDateTime desc`; no $search; the custom option changeType (created, updated,
    deleted)."""
    folder = _folder(ctx)
    query = ctx.req.query
    extra: dict[str, Any] = {}
    if "$search" in query:
        raise bad_request("$search is not supported in a delta query.", "ErrorInvalidUrlQuery")
    if query.get("$filter"):
        if not _DELTA_FILTER.match(query["$filter"]):
            raise bad_request(
                "The only $filter a message delta query supports is 'receivedDateTime ge|gt {value}'.",
                "ErrorInvalidUrlQueryFilter",
            )
        odata.parse_filter(query["$filter"])  # a bad value fails now, not in a later round
        extra["filter"] = query["$filter"]
    if query.get("$orderby"):
        if not _DELTA_ORDERBY.match(query["$orderby"]):
            raise bad_request(
                "The only $orderby a message delta query supports is 'receivedDateTime desc'.",
                "ErrorInvalidUrlQuery",
            )
        extra["newest_first"] = True
    change_type = query.get("changeType")
    if change_type is not None:
        if change_type not in ("created", "updated", "deleted"):
            raise bad_request(
                f"'{change_type}' is not a changeType (created, updated, deleted).", "ErrorInvalidUrlQuery"
            )
        extra["change_type"] = change_type

    def source(options: dict[str, Any]) -> DeltaSource:
        def entries(options: dict[str, Any]) -> list[Entry]:
            items = list(ctx.store.children(folder.id, "message"))
            if options.get("filter"):
                keep = odata.parse_filter(options["filter"])
                items = [m for m in items if keep({"receivedDateTime": m.data.get("receivedDateTime")})]
            if options.get("newest_first"):
                items = _newest_first(items)
            selected = _selected(options.get("select"))
            return [(m.id, m.version, ctx.shown_id(m), _delta_view(ctx, m, selected)) for m in items]

        return DeltaSource(f"message:{folder.id}", "#microsoft.graph.message", entries)

    return _answer(ctx, delta(ctx, source, delta_options(ctx, **extra)))


def _delta_view(ctx: Ctx, item: Item, selected: set[str]) -> Callable[[], dict[str, Any]]:
    def render() -> dict[str, Any]:
        out = full(ctx, item)
        _select_only(item, out, selected)  # the round's $select, frozen in its token
        return out

    return render


@route("GET", "/users/{user-id}/messages/{message-id}", PART)
@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}", PART)
def get_message(ctx: Ctx) -> Response:
    return _show(ctx, _message(ctx))


@route("PATCH", "/users/{user-id}/messages/{message-id}", PART)
@route("PATCH", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}", PART)
def update_message(ctx: Ctx) -> Response:
    return _update(ctx, _message(ctx))


@route("DELETE", "/users/{user-id}/messages/{message-id}", PART)
@route("DELETE", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}", PART)
def delete_message(ctx: Ctx) -> Response:
    """Gone from every folder (Exchange keeps it in Recoverable Items, which Graph clients do not see); it
    does not go to Deleted Items: that is a move (`destinationId: deleteditems`)."""
    return common.delete(ctx, _message(ctx))


@route("GET", "/users/{user-id}/messages/{message-id}/$value", PART)
@route("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}/$value", PART)
def get_mime(ctx: Ctx) -> Response:
    """The MIME of the message (message: get, example 4: `Content-type: text/plain`)."""
    return Response(200, _mime_of(_message(ctx)), content_type="text/plain")


def _destination(ctx: Ctx) -> Item:
    key = ctx.json().get("destinationId")
    if not isinstance(key, str) or not key:
        raise bad_request(
            "'destinationId' (a folder id or well-known name) is required.", "ErrorInvalidRequest"
        )
    found = find_folder(ctx.store, ctx.mailbox, key)
    if found is None:
        raise not_found()
    return found


@route("POST", "/users/{user-id}/messages/{message-id}/move", PART)
@route("POST", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}/move", PART)
def move_message(ctx: Ctx) -> Response:
    """201 with the message in its new folder: a new regular id, the same immutable id."""
    message = _message(ctx)
    target = _destination(ctx)
    if target.id != message.parent:
        ctx.store.move(message, target.id)
    return _show(ctx, message, 201)


@route("POST", "/users/{user-id}/messages/{message-id}/copy", PART)
@route("POST", "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}/copy", PART)
def copy_message(ctx: Ctx) -> Response:
    message = _message(ctx)
    target = _destination(ctx)
    hidden = copy.deepcopy(message.hidden)
    for attachment in hidden.get("attachments", []):
        attachment["id"] = new_id()  # attachment ids belong to their message
    twin = Item(new_id(), "message", message.owner, target.id, copy.deepcopy(message.data), hidden=hidden)
    return _show(ctx, ctx.store.add(twin), 201)


# -- attachments -------------------------------------------------------------------------------------------
def _attachment(ctx: Ctx, message: Item) -> dict[str, Any]:
    wanted = ctx.params["attachment-id"]
    stored: list[dict[str, Any]] = message.hidden.get("attachments", [])
    found = next((a for a in stored if a["id"] == wanted), None)
    if found is None:
        raise not_found()
    return found


def _attachment_context(ctx: Ctx, message: Item, single: bool = False) -> str:
    suffix = "/$entity" if single else ""
    return (
        f"{ctx.req.base_url}/v1.0/$metadata#users('{ctx.params['user-id']}')/messages('{ctx.shown_id(message)}')"
        f"/attachments{suffix}"
    )


ATTACHMENTS = "/users/{user-id}/messages/{message-id}/attachments"
FOLDER_ATTACHMENTS = "/users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}/attachments"


@route("GET", ATTACHMENTS, PART)
@route("GET", FOLDER_ATTACHMENTS, PART)
def list_attachments(ctx: Ctx) -> Response:
    message = _message(ctx)
    select = odata.parse_select(ctx.req.query.get("$select"))
    value = [present(_attachment_json(a), select, []) for a in message.hidden.get("attachments", [])]
    return Response(200, {"@odata.context": _attachment_context(ctx, message), "value": value})


@route("POST", ATTACHMENTS, PART)
@route("POST", FOLDER_ATTACHMENTS, PART)
def add_attachment(ctx: Ctx) -> Response:
    message = _message(ctx)
    stored = _attachment_from_json(ctx.json())
    message.hidden.setdefault("attachments", []).append(stored)
    message.hidden.pop("mime", None)
    message.data["hasAttachments"] = any(not a["isInline"] for a in message.hidden["attachments"])
    ctx.store.changed(message)
    body = {"@odata.context": _attachment_context(ctx, message, single=True), **_attachment_json(stored)}
    return Response(201, body)


@route("GET", ATTACHMENTS + "/{attachment-id}", PART)
@route("GET", FOLDER_ATTACHMENTS + "/{attachment-id}", PART)
def get_attachment(ctx: Ctx) -> Response:
    message = _message(ctx)
    select = odata.parse_select(ctx.req.query.get("$select"))
    shown = present(_attachment_json(_attachment(ctx, message)), select, [])
    return Response(200, {"@odata.context": _attachment_context(ctx, message, single=True), **shown})


@route("GET", ATTACHMENTS + "/{attachment-id}/$value", PART)
@route("GET", FOLDER_ATTACHMENTS + "/{attachment-id}/$value", PART)
def get_attachment_content(ctx: Ctx) -> Response:
    stored = _attachment(ctx, _message(ctx))
    return Response(200, base64.b64decode(stored["contentBytes"]), content_type=stored["contentType"])


@route("DELETE", ATTACHMENTS + "/{attachment-id}", PART)
@route("DELETE", FOLDER_ATTACHMENTS + "/{attachment-id}", PART)
def delete_attachment(ctx: Ctx) -> Response:
    message = _message(ctx)
    stored = _attachment(ctx, message)
    message.hidden["attachments"].remove(stored)
    message.hidden.pop("mime", None)
    message.data["hasAttachments"] = any(not a["isInline"] for a in message.hidden["attachments"])
    ctx.store.changed(message)
    return Response(204)
