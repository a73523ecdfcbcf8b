"""A new mailbox's folders, as Exchange creates them: Contacts, Calendar, the mail folders with their
well-known names, and the default To Do lists."""

from __future__ import annotations

from exsync.sandbox.ids import new_id
from exsync.sandbox.store import Item, Mailbox, Store

MAIL_FOLDERS = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "drafts": "Drafts",
    "junkemail": "Junk Email",
    "archive": "Archive",
}


def provision(store: Store, mailbox: Mailbox) -> None:
    def folder(kind: str, parent: str, well_known: str | None, **data: object) -> Item:
        item = store.add(Item(new_id(), kind, mailbox.id, parent, dict(data)))
        if well_known:
            mailbox.folders[well_known] = item.id
        return item

    folder("contactFolder", "", "contacts", displayName="Contacts")
    owner = {"name": mailbox.display_name, "address": mailbox.upn}
    folder(
        "calendar",
        "",
        "calendar",
        name="Calendar",
        color="auto",
        hexColor="",
        isDefaultCalendar=True,
        canEdit=True,
        canShare=True,
        canViewPrivateItems=True,
        isRemovable=False,
        isTallyingResponses=True,
        owner=owner,
        allowedOnlineMeetingProviders=["teamsForBusiness"],
        defaultOnlineMeetingProvider="teamsForBusiness",
    )
    root = folder("mailFolder", "", "msgfolderroot", displayName="Top of Information Store", isHidden=False)
    for well_known, name in MAIL_FOLDERS.items():
        folder("mailFolder", root.id, well_known, displayName=name, isHidden=False)
    folder(
        "todoTaskList",
        "",
        "tasks",
        displayName="Tasks",
        isOwner=True,
        isShared=False,
        wellknownListName="defaultList",
    )
    folder(
        "todoTaskList",
        "",
        "flaggedemails",
        displayName="Flagged Emails",
        isOwner=True,
        isShared=False,
        wellknownListName="flaggedEmails",
    )
    store.touch_mailbox(mailbox)
