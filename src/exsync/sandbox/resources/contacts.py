"""Contact folders and contacts: `/users/{id}/contactFolders[/{id}/contacts]`, `/users/{id}/contacts`
(the default folder; a contact by id in any folder), and per-folder delta."""

from __future__ import annotations

from typing import Any

from exsync.sandbox.context import Ctx
from exsync.sandbox.errors import bad_request
from exsync.sandbox.http import Response
from exsync.sandbox.resources import common
from exsync.sandbox.router import route
from exsync.sandbox.store import Item

PART = "contacts"
# Exchange keeps Email1-3, Business/Business2 phones and Home/Home2 phones; more are dropped.
LIMITS = {"emailAddresses": 3, "businessPhones": 2, "homePhones": 2}


def _default(ctx: Ctx) -> Item:
    folder = ctx.store.get(ctx.mailbox.folders["contacts"])
    assert folder is not None
    return folder


def _prepare(ctx: Ctx, item: Item, body: dict[str, Any]) -> None:
    for key, most in LIMITS.items():
        value = item.data.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise bad_request(f"'{key}' must be an array.")
        item.data[key] = value[:most]
    for address in item.data.get("emailAddresses") or []:
        if not isinstance(address, dict) or not isinstance(address.get("address", ""), str):
            raise bad_request("Each of 'emailAddresses' must be an object with an 'address' string.")
    if "displayName" not in body and (
        "givenName" in body or "surname" in body or "displayName" not in item.data
    ):
        parts = [item.data.get("givenName"), item.data.get("middleName"), item.data.get("surname")]
        item.data["displayName"] = " ".join(p for p in parts if p) or None
    if not item.data.get("fileAs") and item.data.get("surname") and "fileAs" not in body:
        given = item.data.get("givenName")
        item.data["fileAs"] = f"{item.data['surname']}, {given}" if given else item.data["surname"]


# -- folders ------------------------------------------------------------------------------------------
@route("GET", "/users/{user-id}/contactFolders", PART)
def list_folders(ctx: Ctx) -> Response:
    return common.listing(ctx, "contactFolder", ctx.store.children(_default(ctx).id, "contactFolder"))


@route("POST", "/users/{user-id}/contactFolders", PART)
def create_folder(ctx: Ctx) -> Response:
    body = ctx.json()
    parent = _default(ctx)
    common.unique_name(ctx, parent.id, "contactFolder", body.get("displayName"))
    return ctx.single(common.create(ctx, "contactFolder", parent.id, body), 201)


@route("GET", "/users/{user-id}/contactFolders/{contactFolder-id}", PART)
def get_folder(ctx: Ctx) -> Response:
    return ctx.single(ctx.item("contactFolder-id", "contactFolder"))


@route("PATCH", "/users/{user-id}/contactFolders/{contactFolder-id}", PART)
def update_folder(ctx: Ctx) -> Response:
    folder = ctx.item("contactFolder-id", "contactFolder")
    body = ctx.json()
    if "displayName" in body:
        common.unique_name(ctx, folder.parent, "contactFolder", body["displayName"], skip=folder)
    return ctx.single(common.update(ctx, folder, body))


@route("DELETE", "/users/{user-id}/contactFolders/{contactFolder-id}", PART)
def delete_folder(ctx: Ctx) -> Response:
    folder = ctx.item("contactFolder-id", "contactFolder")
    if folder.id == ctx.mailbox.folders["contacts"]:
        raise bad_request("The default Contacts folder cannot be deleted.", "ErrorDeleteDistinguishedFolder")
    return common.delete(ctx, folder)


# -- contacts in a folder -------------------------------------------------------------------------------
@route("GET", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts", PART)
def list_in_folder(ctx: Ctx) -> Response:
    folder = ctx.item("contactFolder-id", "contactFolder")
    return common.listing(ctx, "contact", ctx.store.children(folder.id, "contact"))


@route("POST", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts", PART)
def create_in_folder(ctx: Ctx) -> Response:
    folder = ctx.item("contactFolder-id", "contactFolder")
    return ctx.single(common.create(ctx, "contact", folder.id, ctx.json(), _prepare), 201)


@route("GET", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts/delta", PART)
def delta_in_folder(ctx: Ctx) -> Response:
    return common.folder_delta(ctx, ctx.item("contactFolder-id", "contactFolder"), "contact")


def _in_folder(ctx: Ctx) -> Item:
    folder = ctx.item("contactFolder-id", "contactFolder")
    contact = ctx.item("contact-id", "contact")
    if contact.parent != folder.id:
        from exsync.sandbox.errors import not_found

        raise not_found()
    return contact


@route("GET", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", PART)
def get_in_folder(ctx: Ctx) -> Response:
    return ctx.single(_in_folder(ctx))


@route("PATCH", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", PART)
def update_in_folder(ctx: Ctx) -> Response:
    return ctx.single(common.update(ctx, _in_folder(ctx), ctx.json(), _prepare))


@route("DELETE", "/users/{user-id}/contactFolders/{contactFolder-id}/contacts/{contact-id}", PART)
def delete_in_folder(ctx: Ctx) -> Response:
    return common.delete(ctx, _in_folder(ctx))


# -- the default folder, and a contact by id wherever it is ----------------------------------------------
@route("GET", "/users/{user-id}/contacts", PART)
def list_default(ctx: Ctx) -> Response:
    return common.listing(ctx, "contact", ctx.store.children(_default(ctx).id, "contact"))


@route("POST", "/users/{user-id}/contacts", PART)
def create_default(ctx: Ctx) -> Response:
    return ctx.single(common.create(ctx, "contact", _default(ctx).id, ctx.json(), _prepare), 201)


@route("GET", "/users/{user-id}/contacts/delta", PART)
def delta_default(ctx: Ctx) -> Response:
    return common.folder_delta(ctx, _default(ctx), "contact")


@route("GET", "/users/{user-id}/contacts/{contact-id}", PART)
def get_contact(ctx: Ctx) -> Response:
    return ctx.single(ctx.item("contact-id", "contact"))


@route("PATCH", "/users/{user-id}/contacts/{contact-id}", PART)
def update_contact(ctx: Ctx) -> Response:
    return ctx.single(common.update(ctx, ctx.item("contact-id", "contact"), ctx.json(), _prepare))


@route("DELETE", "/users/{user-id}/contacts/{contact-id}", PART)
def delete_contact(ctx: Ctx) -> Response:
    return common.delete(ctx, ctx.item("contact-id", "contact"))
