"""Mail folders and messages in the Graph sandbox, spoken to in raw HTTP the way Microsoft's documentation
shows it: delivered MIME read back, per-folder delta rounds, moves and ids, attachments, drafts, folders."""

from __future__ import annotations

import base64
import email
import email.policy
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from examples import load_examples, same_shape

from exsync.sandbox.ids import new_id
from exsync.sandbox.store import Item

ATTACHED_PDF = b"%PDF-1.4\n% a tiny document\n" + bytes(range(256))
INLINE_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


class Mail:
    """The test's raw clients on one fresh mailbox."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.client: httpx.Client = graph.client  # with the conftest's schema hook on every response
        self.me: str = graph.me
        self.upn: str = graph.upn

    def deliver(self, raw: bytes, folder: str = "inbox") -> dict[str, Any]:
        answer = self.graph.control.post(
            f"/_sandbox/users/{self.upn}/messages",
            json={"folder": folder, "mime": base64.b64encode(raw).decode()},
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def folder_id(self, name: str) -> str:
        return str(self.get(f"{self.me}/mailFolders/{name}")["id"])

    def delta_round(self, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """(every value, every page, the deltaLink) of one round."""
        values: list[dict[str, Any]] = []
        pages: list[dict[str, Any]] = []
        while True:
            page = self.get(url, **kwargs)
            pages.append(page)
            values.extend(page["value"])
            if "@odata.deltaLink" in page:
                assert "@odata.nextLink" not in page
                return values, pages, str(page["@odata.deltaLink"])
            url = page["@odata.nextLink"]

    def plain_client(self) -> httpx.Client:
        """A client without `Prefer: IdType="ImmutableId"` (it sees regular ids)."""
        return httpx.Client(
            base_url=self.client.base_url,
            verify=ssl.create_default_context(cafile=str(self.graph.server.tls.ca)),
            headers={"Authorization": self.client.headers["Authorization"]},
            event_hooks=self.client.event_hooks,
            timeout=30,
        )


@pytest.fixture
def mail(graph: Any) -> Iterator[Mail]:
    yield Mail(graph)


def eml(
    subject: str, *, to: str = "Ann Lee <ann@firm.example>", message_id: str | None = None, body: str = ""
) -> bytes:
    message_id = message_id or f"<{new_id()[5:20]}@mail.example.com>"
    text = (
        "From: Dana Swope <danas@contoso.com>\n"
        f"To: {to}\n"
        "Cc: Randi Welch <randiw@contoso.com>\n"
        f"Subject: {subject}\n"
        "Date: Tue, 5 Mar 2024 14:03:07 +0100\n"
        f"Message-ID: {message_id}\n"
        "X-Exsync-Test: yes\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        f"{body or 'Hello ' + subject}\n"
    )
    return text.replace("\n", "\r\n").encode()


HTML_MAIL = (
    "From: Dana Swope <danas@contoso.com>\r\n"
    "To: Ann Lee <ann@firm.example>\r\n"
    "Subject: Holiday hours update\r\n"
    "Date: Tue, 5 Mar 2024 14:03:07 +0100\r\n"
    "Message-ID: <holiday-hours@contoso.com>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "--outer\r\n"
    'Content-Type: multipart/related; boundary="related"\r\n'
    "\r\n"
    "--related\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    '<html><body><p>The office is <b>closed</b> on Friday.</p><img src="cid:logo@contoso"></body></html>\r\n'
    "--related\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <logo@contoso>\r\n"
    "Content-Disposition: inline\r\n"
    "\r\n"
    f"{base64.b64encode(INLINE_PNG).decode()}\r\n"
    "--related--\r\n"
    "--outer\r\n"
    'Content-Type: application/pdf; name="hours.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    'Content-Disposition: attachment; filename="hours.pdf"\r\n'
    "\r\n"
    f"{base64.b64encode(ATTACHED_PDF).decode()}\r\n"
    "--outer--\r\n"
).encode()


# -- delivery and reading back -------------------------------------------------------------------------------
def test_a_delivered_message_reads_back_as_graph_shows_it(mail: Mail) -> None:
    raw = eml("Quarterly numbers", message_id="<q1-numbers@mail.example.com>")
    delivered = mail.deliver(raw)
    assert delivered["internetMessageId"] == "<q1-numbers@mail.example.com>"
    inbox = mail.folder_id("inbox")
    assert delivered["folder"] == inbox

    message = mail.get(f"{mail.me}/messages/{delivered['id']}")
    assert message["id"] == delivered["id"]
    assert message["subject"] == "Quarterly numbers"
    assert message["from"] == {"emailAddress": {"name": "Dana Swope", "address": "danas@contoso.com"}}
    assert message["toRecipients"] == [{"emailAddress": {"name": "Ann Lee", "address": "ann@firm.example"}}]
    assert message["ccRecipients"][0]["emailAddress"]["address"] == "randiw@contoso.com"
    assert message["internetMessageId"] == "<q1-numbers@mail.example.com>"
    assert message["sentDateTime"] == "2024-03-05T13:03:07Z"
    assert message["isRead"] is False and message["isDraft"] is False and message["hasAttachments"] is False
    assert message["parentFolderId"] == inbox
    assert message["bodyPreview"] == "Hello Quarterly numbers"
    assert message["conversationId"]
    assert message["changeKey"] and message["@odata.etag"] == f'W/"{message["changeKey"]}"'
    assert "internetMessageHeaders" not in message  # only with $select (message resource)
    assert "uniqueBody" not in message

    headers = mail.get(f"{mail.me}/messages/{delivered['id']}/?$select=internetMessageHeaders")
    assert set(headers) >= {"id", "internetMessageHeaders"} and "subject" not in headers
    assert {"name": "X-Exsync-Test", "value": "yes"} in headers["internetMessageHeaders"]

    for url in (
        f"{mail.me}/messages/{delivered['id']}/$value",
        f"{mail.me}/mailFolders/inbox/messages/{delivered['id']}/$value",
    ):
        mime = mail.client.get(url)
        assert mime.status_code == 200
        assert mime.headers["content-type"].startswith("text/plain")  # as message: get, example 4
        assert mime.content == raw

    in_folder = mail.get(f"{mail.me}/mailFolders/{inbox}/messages/{delivered['id']}")
    assert in_folder["subject"] == "Quarterly numbers"
    elsewhere = mail.client.get(f"{mail.me}/mailFolders/sentitems/messages/{delivered['id']}")
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "ErrorItemNotFound"


def test_mail_delivered_to_sent_items_is_read(mail: Mail) -> None:
    delivered = mail.deliver(eml("Sent by us"), folder="sentitems")
    message = mail.get(f"{mail.me}/mailFolders/sentitems/messages/{delivered['id']}")
    assert message["isRead"] is True and message["parentFolderId"] == mail.folder_id("sentitems")


def test_the_control_api_names_what_it_cannot_deliver(mail: Mail) -> None:
    unknown = mail.graph.control.post(
        f"/_sandbox/users/{mail.upn}/messages",
        json={"folder": "nosuchfolder", "mime": base64.b64encode(eml("x")).decode()},
    )
    assert unknown.status_code == 404 and "nosuchfolder" in unknown.json()["error"]["message"]
    garbage = mail.graph.control.post(
        f"/_sandbox/users/{mail.upn}/messages",
        json={"folder": "inbox", "mime": base64.b64encode(b"\r\n\r\njust a body").decode()},
    )
    assert garbage.status_code == 400 and "header" in garbage.json()["error"]["message"]


def test_prefer_text_body_converts_html_and_says_so(mail: Mail) -> None:
    delivered = mail.deliver(HTML_MAIL)
    url = f"{mail.me}/messages/{delivered['id']}"
    html = mail.get(url)
    assert html["body"]["contentType"] == "html" and "<b>closed</b>" in html["body"]["content"]
    assert html["bodyPreview"] == "The office is closed on Friday."

    response = mail.client.get(
        f"{url}/?$select=subject,body,bodyPreview,uniqueBody",
        headers={"Prefer": 'IdType="ImmutableId", outlook.body-content-type="text"'},
    )
    assert response.status_code == 200
    assert response.headers["preference-applied"] == 'outlook.body-content-type="text"'
    text = response.json()
    assert text["body"]["contentType"] == "text" and text["uniqueBody"]["contentType"] == "text"
    assert "The office is closed on Friday." in text["body"]["content"] and "<" not in text["body"]["content"]


# -- delta ---------------------------------------------------------------------------------------------------
def test_per_folder_delta_rounds_follow_mail_through_changes_and_moves(mail: Mail) -> None:
    ids = [mail.deliver(eml(f"Message {n}"))["id"] for n in range(5)]
    url = f"{mail.me}/mailFolders/inbox/messages/delta?$select=subject,sender,isRead"
    paged = {"Prefer": 'IdType="ImmutableId", odata.maxpagesize=2'}

    values, pages, delta_link = mail.delta_round(url, headers=paged)
    assert sorted(v["id"] for v in values) == sorted(ids)
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert all(set(v) == {"@odata.type", "@odata.etag", "id", "subject", "sender", "isRead"} for v in values)
    examples = load_examples()
    for page, name in zip(
        pages,
        ("round1-page1", "round1-page2", "round1-page3-final"),
        strict=True,
    ):
        assert same_shape(page, examples[f"message-delta.concept.{name}.response.json"]) == []

    quiet, _, delta_link = mail.delta_round(delta_link)
    assert quiet == []

    new = mail.deliver(eml("A new one"))["id"]
    read = mail.client.patch(f"{mail.me}/messages/{ids[0]}", json={"isRead": True})
    assert read.status_code == 200 and read.json()["isRead"] is True
    changed, pages, delta_link = mail.delta_round(delta_link)
    assert {v["id"]: v["isRead"] for v in changed} == {new: False, ids[0]: True}
    quirks: list[str] = []
    assert same_shape(pages[0], examples["message-delta.concept.round2.response.json"], quirks=quirks) == []

    archive_url = f"{mail.me}/mailFolders/archive/messages/delta?$select=subject"
    _, _, archive_link = mail.delta_round(archive_url)
    moved = mail.client.post(f"{mail.me}/messages/{ids[1]}/move", json={"destinationId": "archive"})
    assert moved.status_code == 201
    assert moved.json()["id"] == ids[1] and moved.json()["parentFolderId"] == mail.folder_id("archive")
    gone, pages, delta_link = mail.delta_round(delta_link)
    assert gone == [
        {"@odata.type": "#microsoft.graph.message", "id": ids[1], "@removed": {"reason": "deleted"}}
    ]
    arrived, _, archive_link = mail.delta_round(archive_link)
    assert [(v["id"], v["subject"]) for v in arrived] == [(ids[1], "Message 1")]

    assert mail.client.delete(f"{mail.me}/messages/{ids[2]}").status_code == 204
    deleted, _, delta_link = mail.delta_round(delta_link)
    assert [(v["id"], "@removed" in v) for v in deleted] == [(ids[2], True)]


def test_delta_accepts_only_the_filter_and_order_the_docs_list(mail: Mail) -> None:
    first = mail.deliver(eml("Early"))["id"]
    received = mail.get(f"{mail.me}/messages/{first}")["receivedDateTime"]
    base = f"{mail.me}/mailFolders/inbox/messages/delta"

    since, _, _ = mail.delta_round(f"{base}?$filter=receivedDateTime+ge+{received}")
    assert [v["id"] for v in since] == [first]
    after, _, link = mail.delta_round(f"{base}?$filter=receivedDateTime+gt+2999-01-01T00:00:00Z")
    assert after == []
    mail.deliver(eml("Later"))  # received now, still before 2999: the frozen filter keeps it out
    assert mail.delta_round(link)[0] == []

    ordered, _, _ = mail.delta_round(f"{base}?$orderby=receivedDateTime+desc&$select=subject")
    assert [v["subject"] for v in ordered][-1] == "Early"

    for query in ("$filter=subject+eq+'Early'", "$orderby=subject", "$search=Early"):
        refused = mail.client.get(f"{base}?{query}")
        assert refused.status_code == 400, query


def test_change_type_limits_later_rounds_to_one_kind_of_change(mail: Mail) -> None:
    # delta-query-messages, example 2: the initial round has everything, later ones only what was created
    ids = [mail.deliver(eml(f"Kind {n}"))["id"] for n in range(3)]
    rounds: dict[str, str] = {}
    for change_type in ("created", "updated", "deleted"):
        url = f"{mail.me}/mailFolders/inbox/messages/delta?changeType={change_type}&$select=subject"
        values, _, rounds[change_type] = mail.delta_round(url)
        assert sorted(v["id"] for v in values) == sorted(ids)
    new = mail.deliver(eml("Kind new"))["id"]
    mail.client.patch(f"{mail.me}/messages/{ids[0]}", json={"isRead": True}).raise_for_status()
    assert mail.client.delete(f"{mail.me}/messages/{ids[1]}").status_code == 204
    seen = {kind: mail.delta_round(link)[0] for kind, link in rounds.items()}
    assert [v["id"] for v in seen["created"]] == [new]
    assert [v["id"] for v in seen["updated"]] == [ids[0]]
    assert [(v["id"], v["@removed"]) for v in seen["deleted"]] == [(ids[1], {"reason": "deleted"})]
    assert mail.client.get(f"{mail.me}/mailFolders/inbox/messages/delta?changeType=moved").status_code == 400


def test_an_expired_delta_token_answers_410_sync_state_not_found(mail: Mail) -> None:
    mail.deliver(eml("Before expiry"))
    _, _, delta_link = mail.delta_round(f"{mail.me}/mailFolders/inbox/messages/delta")
    assert mail.graph.control.post("/_sandbox/expire-delta-tokens").status_code == 200
    expired = mail.client.get(delta_link)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "syncStateNotFound"


# -- ids, moves, copies, deletes -----------------------------------------------------------------------------
def test_without_the_immutable_id_header_a_move_changes_the_id(mail: Mail) -> None:
    immutable = mail.deliver(eml("Moving around"))["id"]
    with mail.plain_client() as plain:
        regular = plain.get(f"{mail.me}/messages/{immutable}").json()["id"]
        assert regular != immutable
        moved = plain.post(f"{mail.me}/messages/{regular}/move", json={"destinationId": "archive"})
        assert moved.status_code == 201
        after = moved.json()["id"]
        assert after != regular
        stale = plain.get(f"{mail.me}/messages/{regular}")
        assert stale.status_code == 404 and stale.json()["error"]["code"] == "ErrorItemNotFound"
        assert plain.get(f"{mail.me}/messages/{after}").json()["subject"] == "Moving around"
    # with the header the id never changed
    assert mail.get(f"{mail.me}/messages/{immutable}")["parentFolderId"] == mail.folder_id("archive")


def test_copy_makes_a_second_message_with_its_own_id(mail: Mail) -> None:
    original = mail.deliver(eml("Copy me"))["id"]
    copied = mail.client.post(f"{mail.me}/messages/{original}/copy", json={"destinationId": "drafts"})
    assert copied.status_code == 201
    twin = copied.json()
    assert twin["id"] != original and twin["subject"] == "Copy me"
    assert twin["parentFolderId"] == mail.folder_id("drafts")
    assert mail.get(f"{mail.me}/messages/{original}")["parentFolderId"] == mail.folder_id("inbox")


def test_delete_removes_the_message_instead_of_moving_it_to_deleted_items(mail: Mail) -> None:
    doomed = mail.deliver(eml("Delete me"))["id"]
    trashed = mail.deliver(eml("Trash me"))["id"]
    assert mail.client.delete(f"{mail.me}/mailFolders/inbox/messages/{doomed}").status_code == 204
    assert mail.client.get(f"{mail.me}/messages/{doomed}").status_code == 404
    moved = mail.client.post(f"{mail.me}/messages/{trashed}/move", json={"destinationId": "deleteditems"})
    assert moved.status_code == 201
    in_trash = mail.get(f"{mail.me}/mailFolders/deleteditems/messages")["value"]
    assert [m["id"] for m in in_trash] == [trashed]
    assert mail.get(f"{mail.me}/mailFolders/deleteditems")["totalItemCount"] == 1
    assert mail.get(f"{mail.me}/mailFolders/inbox")["totalItemCount"] == 0


def test_a_stale_change_key_is_refused_with_412(mail: Mail) -> None:
    message_id = mail.deliver(eml("Etags"))["id"]
    etag = mail.get(f"{mail.me}/messages/{message_id}")["@odata.etag"]
    assert (
        mail.client.patch(f"{mail.me}/messages/{message_id}", json={"categories": ["Red"]}).status_code == 200
    )
    stale = mail.client.patch(
        f"{mail.me}/messages/{message_id}", json={"isRead": True}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412


def test_a_message_keeps_a_single_value_extended_property(mail: Mail) -> None:
    key = "String {36829ccc-57e4-472e-9abb-e4b4dd725601} Name exsync-key"
    message_id = mail.deliver(eml("Keyed"))["id"]
    tagged = mail.client.patch(
        f"{mail.me}/messages/{message_id}",
        json={"singleValueExtendedProperties": [{"id": key, "value": "M-1"}]},
    )
    assert tagged.status_code == 200
    assert "singleValueExtendedProperties" not in mail.get(f"{mail.me}/messages/{message_id}")
    expanded = mail.get(
        f"{mail.me}/messages/{message_id}",
        params={"$expand": f"singleValueExtendedProperties($filter=id eq '{key}')"},
    )
    assert expanded["singleValueExtendedProperties"] == [{"id": key, "value": "M-1"}]


def test_a_received_message_keeps_its_subject(mail: Mail) -> None:
    message_id = mail.deliver(eml("Fixed subject"))["id"]
    refused = mail.client.patch(f"{mail.me}/messages/{message_id}", json={"subject": "Changed"})
    assert refused.status_code == 400
    assert mail.get(f"{mail.me}/messages/{message_id}")["subject"] == "Fixed subject"
    read_only = mail.client.patch(
        f"{mail.me}/messages/{message_id}", json={"receivedDateTime": "2020-01-01T00:00:00Z"}
    )
    assert read_only.status_code == 400


# -- attachments ---------------------------------------------------------------------------------------------
def test_attachments_list_read_and_expand(mail: Mail) -> None:
    message_id = mail.deliver(HTML_MAIL)["id"]
    message = mail.get(f"{mail.me}/messages/{message_id}")
    assert message["hasAttachments"] is True  # the inline logo alone would not count
    assert "attachments" not in message

    listed = mail.get(f"{mail.me}/messages/{message_id}/attachments")["value"]
    by_name = {a["name"]: a for a in listed}
    assert set(by_name) == {"hours.pdf", "ATT00001.png"}  # an unnamed part is named as Outlook names it
    pdf = by_name["hours.pdf"]
    assert pdf["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert pdf["contentType"] == "application/pdf" and pdf["isInline"] is False
    assert base64.b64decode(pdf["contentBytes"]) == ATTACHED_PDF and pdf["size"] >= len(ATTACHED_PDF)
    inline = next(a for a in listed if a["isInline"])
    assert inline["contentId"] == "logo@contoso" and base64.b64decode(inline["contentBytes"]) == INLINE_PNG

    again = mail.get(f"{mail.me}/messages/{message_id}/attachments/{pdf['id']}")
    assert again["id"] == pdf["id"] and again["contentBytes"] == pdf["contentBytes"]
    raw = mail.client.get(f"{mail.me}/messages/{message_id}/attachments/{pdf['id']}/$value")
    assert raw.status_code == 200 and raw.content == ATTACHED_PDF

    expanded = mail.get(f"{mail.me}/messages/{message_id}?$expand=attachments")
    assert sorted(a["id"] for a in expanded["attachments"]) == sorted(a["id"] for a in listed)
    missing = mail.client.get(f"{mail.me}/messages/{message_id}/attachments/{new_id()}")
    assert missing.status_code == 404


# -- drafts --------------------------------------------------------------------------------------------------
def test_a_draft_created_with_json_has_a_valid_mime_value(mail: Mail) -> None:
    # message: create, examples 1 and 2 (JSON), into the Drafts folder
    created = mail.client.post(
        f"{mail.me}/messages",
        json={
            "subject": "Did you see last night's game?",
            "importance": "Low",
            "body": {"contentType": "HTML", "content": "They were <b>awesome</b>!"},
            "toRecipients": [{"emailAddress": {"address": "AdeleV@contoso.onmicrosoft.com"}}],
            "internetMessageHeaders": [{"name": "x-custom-header-group-name", "value": "Washington"}],
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "score.txt",
                    "contentType": "text/plain",
                    "contentBytes": base64.b64encode(b"3:1").decode(),
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["isDraft"] is True and draft["isRead"] is True
    assert draft["importance"] == "low"
    assert draft["parentFolderId"] == mail.folder_id("drafts")
    assert draft["body"]["contentType"] == "html" and "<body>" in draft["body"]["content"]
    assert draft["bodyPreview"] == "They were awesome!"
    assert draft["hasAttachments"] is True
    assert draft["toRecipients"][0]["emailAddress"]["name"] == "AdeleV@contoso.onmicrosoft.com"
    assert draft["internetMessageId"].startswith("<") and draft["conversationId"]
    assert "internetMessageHeaders" not in draft

    value = mail.client.get(f"{mail.me}/messages/{draft['id']}/$value")
    assert value.status_code == 200
    parsed = email.message_from_bytes(value.content, policy=email.policy.default)
    assert parsed["Subject"] == "Did you see last night's game?"
    assert parsed["To"] == "AdeleV@contoso.onmicrosoft.com"
    assert parsed["Message-ID"] == draft["internetMessageId"]
    assert parsed["x-custom-header-group-name"] == "Washington"
    html = parsed.get_body(("html",))
    assert html is not None and "<b>awesome</b>" in html.get_content()
    assert [(p.get_filename(), p.get_content()) for p in parsed.iter_attachments()] == [("score.txt", "3:1")]

    edited = mail.client.patch(f"{mail.me}/messages/{draft['id']}", json={"subject": "Game night"})
    assert edited.status_code == 200 and edited.json()["subject"] == "Game night"
    again = email.message_from_bytes(mail.client.get(f"{mail.me}/messages/{draft['id']}/$value").content)
    assert again["Subject"] == "Game night"


def test_a_draft_created_from_base64_mime(mail: Mail) -> None:
    raw = eml("From MIME", to="Megan Bowen <MeganB@contoso.com>")
    created = mail.client.post(
        f"{mail.me}/messages", content=base64.b64encode(raw), headers={"Content-Type": "text/plain"}
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["isDraft"] is True and draft["subject"] == "From MIME"
    assert draft["toRecipients"] == [
        {"emailAddress": {"name": "Megan Bowen", "address": "MeganB@contoso.com"}}
    ]
    bad = mail.client.post(
        f"{mail.me}/messages", content=b"not base64 at all!", headers={"Content-Type": "text/plain"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorMimeContentInvalidBase64String"


def test_a_message_created_in_a_folder_lands_there(mail: Mail) -> None:
    created = mail.client.post(f"{mail.me}/mailFolders/archive/messages", json={"subject": "Filed"})
    assert created.status_code == 201
    assert created.json()["parentFolderId"] == mail.folder_id("archive")
    everywhere = mail.get(f"{mail.me}/messages?$select=subject")["value"]
    assert [m["subject"] for m in everywhere] == ["Filed"]


# -- folders -------------------------------------------------------------------------------------------------
def test_well_known_folder_names_stand_for_the_folders(mail: Mail) -> None:
    top = mail.get(f"{mail.me}/mailFolders")["value"]
    names = {f["displayName"]: f["id"] for f in top}
    expected = {
        "inbox": "Inbox",
        "sentitems": "Sent Items",
        "deleteditems": "Deleted Items",
        "drafts": "Drafts",
        "junkemail": "Junk Email",
        "archive": "Archive",
    }
    assert set(names) == set(expected.values())
    root = mail.get(f"{mail.me}/mailFolders/msgfolderroot")
    assert root["childFolderCount"] == len(expected)
    for well_known, display_name in expected.items():
        for spelling in (well_known, well_known.upper()):
            folder = mail.get(f"{mail.me}/mailFolders/{spelling}")
            assert folder["displayName"] == display_name and folder["id"] == names[display_name]
            assert folder["parentFolderId"] == root["id"]
        refused = mail.client.delete(f"{mail.me}/mailFolders/{well_known}")
        assert refused.status_code == 400, well_known
    key_syntax = mail.get(f"{mail.me}/mailFolders('inbox')/messages")
    assert key_syntax["value"] == []


def test_folder_names_are_unique_among_siblings(mail: Mail) -> None:
    created = mail.client.post(f"{mail.me}/mailFolders", json={"displayName": "Projects", "isHidden": False})
    assert created.status_code == 201
    projects = created.json()
    assert (
        projects["totalItemCount"] == 0
        and projects["childFolderCount"] == 0
        and projects["isHidden"] is False
    )
    for name in ("Projects", "projects", "Inbox"):
        clash = mail.client.post(f"{mail.me}/mailFolders", json={"displayName": name})
        assert clash.status_code == 409, name
        assert clash.json()["error"]["code"] == "ErrorFolderExists"

    child = mail.client.post(
        f"{mail.me}/mailFolders/{projects['id']}/childFolders", json={"displayName": "Inbox"}
    )
    assert child.status_code == 201  # another parent: no clash
    assert mail.get(f"{mail.me}/mailFolders/{projects['id']}")["childFolderCount"] == 1
    children = mail.get(f"{mail.me}/mailFolders/{projects['id']}/childFolders")["value"]
    assert [c["id"] for c in children] == [child.json()["id"]]

    renamed = mail.client.patch(f"{mail.me}/mailFolders/{projects['id']}", json={"displayName": "Archive"})
    assert renamed.status_code == 409
    renamed = mail.client.patch(f"{mail.me}/mailFolders/{projects['id']}", json={"displayName": "Clients"})
    assert renamed.status_code == 200 and renamed.json()["displayName"] == "Clients"

    assert mail.client.delete(f"{mail.me}/mailFolders/{projects['id']}").status_code == 204
    assert mail.client.get(f"{mail.me}/mailFolders/{projects['id']}").status_code == 404
    assert mail.client.get(f"{mail.me}/mailFolders/{child.json()['id']}").status_code == 404


def test_folder_counts_are_live(mail: Mail) -> None:
    ids = [mail.deliver(eml(f"Count {n}"))["id"] for n in range(3)]
    inbox = mail.get(f"{mail.me}/mailFolders/inbox")
    assert (inbox["totalItemCount"], inbox["unreadItemCount"]) == (3, 3)
    mail.client.patch(f"{mail.me}/messages/{ids[0]}", json={"isRead": True}).raise_for_status()
    inbox = mail.get(f"{mail.me}/mailFolders/inbox")
    assert (inbox["totalItemCount"], inbox["unreadItemCount"]) == (3, 2)
    listed = {f["displayName"]: f for f in mail.get(f"{mail.me}/mailFolders")["value"]}
    assert listed["Inbox"]["unreadItemCount"] == 2 and listed["Archive"]["totalItemCount"] == 0


def test_messages_list_newest_first_and_honour_filter(mail: Mail) -> None:
    for n in range(3):
        mail.deliver(eml(f"List {n}"))
    listed = mail.get(f"{mail.me}/mailFolders/inbox/messages?$select=subject,receivedDateTime")["value"]
    times = [m["receivedDateTime"] for m in listed]
    assert times == sorted(times, reverse=True)
    assert [m["subject"] for m in listed] == [
        "List 2",
        "List 1",
        "List 0",
    ]  # same second: the later arrival first
    unread = mail.get(f"{mail.me}/messages?$filter=isRead eq false&$count=true")
    assert unread["@odata.count"] == 3


# -- meeting messages (stored by the calendar side) ----------------------------------------------------------
def test_a_meeting_message_renders_as_an_event_message(mail: Mail) -> None:
    sandbox = mail.graph.server.sandbox
    with sandbox.store.lock:
        mailbox = sandbox.store.mailbox(mail.upn)
        assert mailbox is not None
        item = Item(
            new_id(),
            "message",
            mailbox.id,
            mailbox.folders["inbox"],
            {
                "@odata.type": "#microsoft.graph.eventMessageRequest",
                "subject": "Kick-off",
                "meetingMessageType": "meetingRequest",
                "isRead": False,
                "isDraft": False,
                "startDateTime": {"dateTime": "2024-03-05T09:00:00.0000000", "timeZone": "UTC"},
                "endDateTime": {"dateTime": "2024-03-05T10:00:00.0000000", "timeZone": "UTC"},
            },
        )
        sandbox.store.add(item)
        sandbox.store.flush()
    message = mail.get(f"{mail.me}/messages/{quote(item.id, safe='')}")
    assert message["@odata.type"] == "#microsoft.graph.eventMessageRequest"
    assert message["meetingMessageType"] == "meetingRequest"
    assert message["isOutOfDate"] is None and message["location"] is None  # eventMessage's own properties
    listed = mail.get(f"{mail.me}/mailFolders/inbox/messages/delta")["value"]
    assert [v["@odata.type"] for v in listed] == ["#microsoft.graph.eventMessageRequest"]
    expanded = mail.get(f"{mail.me}/messages/{item.id}?$expand=event")
    assert expanded["event"] is None  # no event linked to it in this sandbox


def test_the_mail_part_can_be_refused(mail: Mail) -> None:
    denied = mail.graph.control.post(
        "/_sandbox/permissions", json={"userPrincipalName": mail.upn, "deny": ["mail"]}
    )
    assert denied.status_code == 200
    refused = mail.client.get(f"{mail.me}/mailFolders/inbox/messages")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ErrorAccessDenied"
