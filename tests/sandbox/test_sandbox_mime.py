"""RFC 822/MIME ⇄ Graph message: real-world shapes of mail, and the round trip of messages built from JSON."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import hypothesis.strategies as st
import pytest
from graph_schema import GraphSchema
from hypothesis import given, settings

from exsync.sandbox.mime import (
    MimeError,
    ParsedAttachment,
    ParsedMessage,
    build_mime,
    conversation_id,
    decode_base64_mime,
    html_to_text,
    normalize_subject,
    parse_mime,
)


def eml(text: str, charset: str = "utf-8") -> bytes:
    """A message written the way it travels: CRLF line ends."""
    return text.replace("\n", "\r\n").encode(charset)


def address(name: str, addr: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name, "address": addr}}


def header(parsed: ParsedMessage, name: str) -> list[str]:
    return [
        h["value"] for h in parsed.properties["internetMessageHeaders"] if h["name"].lower() == name.lower()
    ]


def lines(text: str) -> str:
    """Line ends as MIME leaves them (CRLF on the wire), trailing newlines as `set_content` adds them."""
    return re.sub(r"\r\n|\r", "\n", text).rstrip("\n")


@pytest.fixture(scope="module")
def schema() -> GraphSchema:
    return GraphSchema.load()


PLAIN = eml(
    """Return-Path: <alice@example.com>
Received: from mx.example.com (mx.example.com [192.0.2.1])
\tby mail.contoso.com with ESMTPS; Tue, 5 Mar 2024 14:03:09 +0100
From: Alice Example <alice@example.com>
To: Bob <bob@contoso.com>, carol@contoso.com
Cc: "Doe, Jane" <jane@contoso.com>
Reply-To: replies@example.com
Subject: Quarterly numbers
Date: Tue, 5 Mar 2024 14:03:07 +0100
Message-ID: <CAF1234.5678@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

Hi Bob,

the   numbers are
in.
"""
)


def test_plain_text_message(schema: GraphSchema) -> None:
    parsed = parse_mime(PLAIN)
    props = parsed.properties
    assert props["subject"] == "Quarterly numbers"
    assert props["from"] == address("Alice Example", "alice@example.com")
    assert props["sender"] == props["from"]
    assert props["toRecipients"] == [
        address("Bob", "bob@contoso.com"),
        address("carol@contoso.com", "carol@contoso.com"),
    ]
    assert props["ccRecipients"] == [address("Doe, Jane", "jane@contoso.com")]
    assert props["bccRecipients"] == []
    assert props["replyTo"] == [address("replies@example.com", "replies@example.com")]
    assert props["internetMessageId"] == "<CAF1234.5678@mail.example.com>"
    assert props["sentDateTime"] == "2024-03-05T13:03:07Z"
    assert props["body"] == {"contentType": "text", "content": "Hi Bob,\r\n\r\nthe   numbers are\r\nin.\r\n"}
    assert props["bodyPreview"] == "Hi Bob, the numbers are in."
    assert props["hasAttachments"] is False
    assert props["importance"] == "normal"
    assert props["isRead"] is False
    assert props["conversationId"] == conversation_id(
        "Quarterly numbers", [], "<CAF1234.5678@mail.example.com>"
    )
    names = [h["name"] for h in props["internetMessageHeaders"]]
    assert names == [
        "Return-Path", "Received", "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    ]  # fmt: skip
    assert header(parsed, "Received")[0].startswith("from mx.example.com (mx.example.com [192.0.2.1])")
    assert "by mail.contoso.com" in header(parsed, "Received")[0]
    assert parsed.attachments == []
    schema.check_schema("message", props)


ALTERNATIVE = eml(
    """From: news@example.com
To: bob@contoso.com
Subject: Newsletter
Date: Wed, 06 Mar 2024 08:00:00 -0500
Message-ID: <alt@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Disposition: inline

Plain   version.
--b1
Content-Type: text/html; charset=utf-8
Content-Disposition: inline

<html><head><title>T</title><style>p {color: red}</style></head>
<body><p>HTML <b>version</b>.</p><script>alert(1)</script></body></html>
--b1--
"""
)


def test_multipart_alternative_prefers_html_and_previews_the_text_part(schema: GraphSchema) -> None:
    parsed = parse_mime(ALTERNATIVE)
    props = parsed.properties
    assert props["body"]["contentType"] == "html"
    assert "<b>version</b>" in props["body"]["content"]
    assert props["bodyPreview"] == "Plain version."
    assert props["sentDateTime"] == "2024-03-06T13:00:00Z"
    assert parsed.attachments == []  # inline alternatives are the body, not files
    assert props["hasAttachments"] is False
    schema.check_schema("message", props)


def test_html_only_body_previews_its_text() -> None:
    raw = eml(
        """From: a@example.com
Subject: html
Content-Type: text/html; charset=utf-8

<html><head><style>x{}</style><body><div>Line&nbsp;one</div><div>Line   two &amp; more</div></body></html>
"""
    )
    props = parse_mime(raw).properties
    assert props["body"]["contentType"] == "html"
    assert props["bodyPreview"] == "Line one Line two & more"


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8

WITH_ATTACHMENTS = eml(
    f"""From: Alice <alice@example.com>
To: bob@contoso.com
Subject: Report with logo
Date: Thu, 07 Mar 2024 09:30:00 +0000
Message-ID: <att@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

See the logo.
--alt
Content-Type: text/html; charset=utf-8

<p>See the logo <img src="cid:logo@example.com"></p>
--alt--
--rel
Content-Type: image/png; name="logo.png"
Content-Transfer-Encoding: base64
Content-ID: <logo@example.com>

{base64.encodebytes(PNG).decode()}
--rel--
--mixed
Content-Type: application/pdf; name="report.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="report.pdf"

{base64.encodebytes(PDF).decode()}
--mixed
Content-Type: text/plain; charset=us-ascii
Content-Disposition: inline

--
Mailing list footer
--mixed--
"""
)


def test_attachments_and_inline_images(schema: GraphSchema) -> None:
    parsed = parse_mime(WITH_ATTACHMENTS)
    assert parsed.properties["body"]["contentType"] == "html"
    assert "cid:logo@example.com" in parsed.properties["body"]["content"]
    assert parsed.properties["bodyPreview"] == "See the logo."
    logo, report, footer = parsed.attachments
    assert logo == ParsedAttachment("logo.png", "image/png", PNG, True, "logo@example.com")
    assert report == ParsedAttachment("report.pdf", "application/pdf", PDF, False, None)
    # a text part with a disposition but no name: a file, named the way Exchange names such parts
    assert footer.name == "ATT00001.txt"
    assert footer.content_type == "text/plain"
    assert footer.content.strip() == b"--\r\nMailing list footer"
    assert parsed.properties["hasAttachments"] is True
    schema.check_schema("message", parsed.properties)


def test_only_inline_images_means_no_attachments() -> None:
    raw = eml(
        f"""From: a@example.com
Subject: inline only
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<img src="cid:pic">
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <pic>
Content-Disposition: inline

{base64.encodebytes(PNG).decode()}
--rel--
"""
    )
    parsed = parse_mime(raw)
    (pic,) = parsed.attachments
    assert pic.is_inline and pic.content_id == "pic" and pic.content == PNG
    assert pic.name == "ATT00001.png"
    assert parsed.properties["hasAttachments"] is False


ENCODED = (
    b"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.de>\r\n"
    b'To: =?utf-8?b?w4lsb2RpZSBEdXBvbnQ=?= <elodie@example.fr>, "Zo\xc3\xab Raw" <zoe@example.com>\r\n'
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?= =?utf-8?b?IOKAlCDinJM=?=\r\n"
    b"X-Raw-Latin1: Caf\xe9\r\n"
    b"Message-ID: <enc@example.de>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="m"\r\n'
    b"\r\n"
    b"--m\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Sch=F6ne Gr=FC=DFe\r\n"
    b"--m\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\r\n"
    b"\r\n"
    b"%PDF\r\n"
    b"--m\r\n"
    b'Content-Type: application/pdf; name="=?utf-8?b?w7xiZXJzaWNodC5wZGY=?="\r\n'
    b'Content-Disposition: attachment; filename="=?utf-8?b?w7xiZXJzaWNodC5wZGY=?="\r\n'
    b"\r\n"
    b"%PDF\r\n"
    b"--m--\r\n"
)


def test_rfc2047_subject_names_and_filenames(schema: GraphSchema) -> None:
    parsed = parse_mime(ENCODED)
    props = parsed.properties
    assert props["subject"] == "Grüße aus Köln — ✓"
    assert props["from"] == address("Jörg Müller", "joerg@example.de")
    assert props["toRecipients"] == [
        address("Élodie Dupont", "elodie@example.fr"),
        address("Zoë Raw", "zoe@example.com"),
    ]
    assert header(parsed, "Subject") == ["Grüße aus Köln — ✓"]
    assert header(parsed, "X-Raw-Latin1") == ["Café"]  # raw 8-bit that is not UTF-8: read as Windows-1252
    assert props["body"]["content"].startswith("Schöne Grüße")
    assert [a.name for a in parsed.attachments] == ["Rechnung März.pdf", "übersicht.pdf"]
    assert "sentDateTime" not in props
    schema.check_schema("message", props)


def test_groups_undisclosed_recipients_and_sender() -> None:
    raw = eml(
        """From: Boss <boss@example.com>
Sender: Assistant <assistant@example.com>
To: undisclosed-recipients:;
Cc: Team: a@example.com, "B" <b@example.com>;, c@example.com
Bcc: hidden@example.com
Subject: groups

x
"""
    )
    props = parse_mime(raw).properties
    assert props["from"] == address("Boss", "boss@example.com")
    assert props["sender"] == address("Assistant", "assistant@example.com")
    assert props["toRecipients"] == []
    assert [r["emailAddress"]["address"] for r in props["ccRecipients"]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert props["bccRecipients"] == [address("hidden@example.com", "hidden@example.com")]


@pytest.mark.parametrize(
    ("headers", "importance"),
    [
        ("Importance: High", "high"),
        ("Importance: low", "low"),
        ("X-Priority: 1 (Highest)", "high"),
        ("X-Priority: 5 (Lowest)", "low"),
        ("X-Priority: 3", "normal"),
        ("X-MSMail-Priority: High", "high"),
        ("Priority: non-urgent", "low"),
        ("Importance: normal\nX-Priority: 1", "normal"),
        ("X-Priority: banana", "normal"),
    ],
)
def test_importance(headers: str, importance: str) -> None:
    raw = eml(f"From: a@example.com\n{headers}\nSubject: s\n\nbody\n")
    assert parse_mime(raw).properties["importance"] == importance


def test_reply_joins_the_conversation_of_its_root() -> None:
    root = parse_mime(PLAIN).properties
    reply = parse_mime(
        eml(
            """From: bob@contoso.com
To: alice@example.com
Subject: RE: Quarterly numbers
Message-ID: <reply2@contoso.com>
In-Reply-To: <reply1@example.com>
References: <CAF1234.5678@mail.example.com>
 <reply1@example.com>

Thanks.
"""
        )
    ).properties
    only_in_reply_to = parse_mime(
        eml(
            """From: bob@contoso.com
Subject: Re: Quarterly numbers
Message-ID: <reply1@example.com>
In-Reply-To: <CAF1234.5678@mail.example.com>

Thanks.
"""
        )
    ).properties
    assert reply["conversationId"] == root["conversationId"]
    assert only_in_reply_to["conversationId"] == root["conversationId"]
    assert reply["internetMessageId"] == "<reply2@contoso.com>"
    other = parse_mime(eml("From: a@example.com\nSubject: Quarterly numbers\nMessage-ID: <x@y>\n\nz\n"))
    assert other.properties["conversationId"] != root["conversationId"]


def test_conversation_id() -> None:
    cid = conversation_id("Hello", ["<root@x>", "<mid@x>"], "<me@x>")
    assert cid == conversation_id(None, ["root@x"], None)  # brackets and whitespace do not matter
    assert cid == conversation_id("other", [], " <root@x> ")
    assert re.fullmatch(r"[A-Za-z0-9_=-]{40,}", cid)
    assert conversation_id("Hello", [], None) != cid
    # without any Message-ID the subject decides, reply prefixes stripped
    by_subject = conversation_id("Budget  2024", [], None)
    for subject in (
        "RE: Budget 2024",
        "Fwd: re: budget 2024",
        "AW: WG: Budget 2024",
        "FW:Re[2]: budget 2024",
    ):
        assert conversation_id(subject, [], None) == by_subject
    assert conversation_id("Budget 2025", [], None) != by_subject
    assert normalize_subject("Re: AW:  Grüße  aus Köln ") == "grüsse aus köln"  # casefolded


def test_missing_message_id_and_date() -> None:
    raw = eml("From: a@example.com\nSubject: Re: No ids\n\nbody\n")
    props = parse_mime(raw).properties
    assert "internetMessageId" not in props
    assert "sentDateTime" not in props
    assert props["conversationId"] == conversation_id("No ids", [], None)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 5 Mar 2024 14:03:07 +0100", "2024-03-05T13:03:07Z"),
        ("5 Mar 2024 14:03:07 -0000", "2024-03-05T14:03:07Z"),
        ("Tue, 05 Mar 24 14:03 EST", "2024-03-05T19:03:00Z"),
        ("yesterday", None),
        ("", None),
        ("Tue, 5 Mar 99999 14:03:07 +0100", None),
    ],
)
def test_sent_date_time(date: str, expected: str | None) -> None:
    props = parse_mime(eml(f"From: a@example.com\nDate: {date}\nSubject: d\n\nx\n")).properties
    assert props.get("sentDateTime") == expected


def test_message_id_exactly_as_in_the_header() -> None:
    raw = eml("From: a@example.com\nMessage-ID:\n <odd id with spaces@example.com>\nSubject: s\n\nx\n")
    assert parse_mime(raw).properties["internetMessageId"] == "<odd id with spaces@example.com>"
    assert header(parse_mime(raw), "Message-ID") == ["<odd id with spaces@example.com>"]


BOUNCE = eml(
    """From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
Date: Fri, 08 Mar 2024 10:00:00 +0000
Message-ID: <bounce1@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="rep"

This is a MIME-encapsulated message.

--rep
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--rep
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Fri,  8 Mar 2024 09:59:58 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: User unknown

--rep
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: sender@example.com
To: nobody@example.org
Subject: Original subject
Message-ID: <orig@example.com>

Original body.

--rep--
"""
)


def test_bounce(schema: GraphSchema) -> None:
    parsed = parse_mime(BOUNCE)
    props = parsed.properties
    assert props["body"]["contentType"] == "text"
    assert props["bodyPreview"].startswith("This is the mail system at host mx.example.net. I'm sorry")
    status, original = parsed.attachments
    assert status.content_type == "message/delivery-status"
    assert b"Status: 5.1.1" in status.content and b"Reporting-MTA: dns; mx.example.net" in status.content
    assert original.content_type == "message/rfc822"
    assert original.name == "Original subject.eml"
    assert original.content.startswith(b"From: sender@example.com\r\nTo: nobody@example.org\r\n")
    assert b"\r\n\r\nOriginal body." in original.content
    assert parse_mime(original.content).properties["internetMessageId"] == "<orig@example.com>"
    assert props["hasAttachments"] is True
    schema.check_schema("message", props)


SIGNATURE = base64.encodebytes(b"0\x80\x06\t*\x86H\x86\xf7\r\x01\x07\x02\xa0\x80" + bytes(300)).decode()

SIGNED = eml(
    f"""From: signer@example.com
To: bob@contoso.com
Subject: Signed
Message-ID: <signed@example.com>
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;
 boundary="sig"

This is a cryptographically signed message in MIME format.

--sig
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Signed text.
--alt
Content-Type: text/html; charset=utf-8

<p>Signed <i>text</i>.</p>
--alt--

--sig
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7s"

{SIGNATURE}
--sig--
"""
)

ENCRYPTED = eml(
    f"""From: sender@example.com
To: bob@contoso.com
Subject: Encrypted
Message-ID: <enc@example.com>
MIME-Version: 1.0
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7m"

{SIGNATURE}
"""
)


def test_smime_signed(schema: GraphSchema) -> None:
    parsed = parse_mime(SIGNED)
    assert parsed.properties["body"]["contentType"] == "html"
    assert parsed.properties["bodyPreview"] == "Signed text."
    (signature,) = parsed.attachments
    assert signature.name == "smime.p7s" and signature.content_type == "application/pkcs7-signature"
    assert signature.content.startswith(b"0\x80\x06\t")
    schema.check_schema("message", parsed.properties)


def test_smime_encrypted_is_opaque(schema: GraphSchema) -> None:
    parsed = parse_mime(ENCRYPTED)
    assert parsed.properties["body"] == {"contentType": "text", "content": ""}
    assert parsed.properties["bodyPreview"] == ""
    (blob,) = parsed.attachments
    assert blob.name == "smime.p7m" and blob.content_type == "application/pkcs7-mime"
    assert parsed.properties["hasAttachments"] is True
    schema.check_schema("message", parsed.properties)
    # without a name or disposition the blob is still kept
    bare = ENCRYPTED.replace(b'; name="smime.p7m"', b"").replace(
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n', b""
    )
    (blob,) = parse_mime(bare).attachments
    assert blob.name.startswith("ATT00001.") and blob.content == parsed.attachments[0].content


INVITATION = eml(
    """From: Organizer <organizer@example.com>
To: bob@contoso.com
Subject: Project kick-off
Date: Mon, 11 Mar 2024 12:00:00 +0000
Message-ID: <invite@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

You are invited: Project kick-off.
--alt
Content-Type: text/html; charset=utf-8

<p>You are invited: <b>Project kick-off</b>.</p>
--alt
Content-Type: text/calendar; charset=utf-8; method=REQUEST
Content-Transfer-Encoding: 7bit

BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:-//Example//EN
VERSION:2.0
BEGIN:VEVENT
UID:kickoff-1@example.com
DTSTART:20240315T090000Z
DTEND:20240315T100000Z
SUMMARY:Project kick-off
ORGANIZER:mailto:organizer@example.com
ATTENDEE;RSVP=TRUE:mailto:bob@contoso.com
END:VEVENT
END:VCALENDAR
--alt--
--mixed
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=
--mixed--
"""
)


def test_calendar_invitation(schema: GraphSchema) -> None:
    parsed = parse_mime(INVITATION)
    assert parsed.properties["body"]["contentType"] == "html"
    assert parsed.properties["bodyPreview"] == "You are invited: Project kick-off."
    (ics,) = parsed.attachments  # the text/calendar alternative is part of the body, not a file
    assert ics.name == "invite.ics"
    assert ics.content == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    schema.check_schema("message", parsed.properties)


def test_five_megabyte_message() -> None:
    blob = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    html = "<html><body>" + "<p>Paragraph with some words in it.</p>\n" * 50_000 + "</body></html>"
    raw = eml(
        f"""From: big@example.com
Subject: big
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/html; charset=utf-8

{html}
--m
Content-Type: application/octet-stream; name="blob.bin"
Content-Transfer-Encoding: base64

{base64.encodebytes(blob).decode()}
--m--
"""
    )
    assert len(raw) > 5 * 1024 * 1024
    started = time.monotonic()
    parsed = parse_mime(raw)
    assert time.monotonic() - started < 30
    assert parsed.attachments[0].content == blob
    preview = parsed.properties["bodyPreview"]
    assert len(preview) == 255 and preview.startswith("Paragraph with some words in it. Paragraph")
    assert len(parsed.properties["body"]["content"]) > len(html)


@pytest.mark.parametrize(
    ("charset", "encoding", "body", "expected"),
    [
        ("utf-8", "8bit", b"Caf\xe9 cr\xe8me br\xfbl\xe9e", "Café crème brûlée"),  # latin-1 labelled UTF-8
        ("us-ascii", "quoted-printable", b"Caf=E9 =93quoted=94", "Café “quoted”"),  # cp1252 labelled ASCII
        ("iso-8859-1", "8bit", "Grüße".encode(), "Grüße"),  # UTF-8 labelled latin-1
        ("x-no-such-charset", "8bit", "Grüße".encode(), "Grüße"),
        ("x-no-such-charset", "8bit", b"Gr\xfc\xdfe", "Grüße"),
        ("shift_jis", "8bit", "日本語".encode("shift_jis"), "日本語"),
        ("utf-8", "base64", b"!!!not base64", None),  # broken transfer encoding: no exception
    ],
)
def test_wrong_or_broken_charsets(charset: str, encoding: str, body: bytes, expected: str | None) -> None:
    raw = (
        (
            f"From: a@example.com\r\nSubject: cs\r\nContent-Type: text/plain; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )
    content = parse_mime(raw).properties["body"]["content"]
    assert isinstance(content, str)
    if expected is not None:
        assert content.rstrip("\r\n") == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\nonly a body",
        b"no headers here, just text\nand more text\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)) * 4,
    ],
)
def test_garbage_is_not_a_message(raw: bytes) -> None:
    with pytest.raises(MimeError, match="no header block"):
        parse_mime(raw)


@pytest.mark.parametrize(
    "prefix",
    [b"\xef\xbb\xbf", b"\r\n\r\n", b"  \n", b">From alice@example.com Tue Mar  5 14:03:07 2024\r\n"],
)
def test_junk_before_the_header_block_is_skipped(prefix: bytes) -> None:
    parsed = parse_mime(prefix + PLAIN)
    assert parsed.properties["subject"] == "Quarterly numbers"
    assert parsed.properties["internetMessageId"] == "<CAF1234.5678@mail.example.com>"


def test_text_that_merely_contains_a_colon_is_not_a_message() -> None:
    with pytest.raises(MimeError, match="no header block"):
        parse_mime(b"Dear all,\nNote: this is just text\n")


def test_odd_but_parseable_messages_do_not_raise() -> None:
    samples = [
        b"Subject: only a header",
        b'From: <>\r\nTo: ,,,\r\nCc: "unterminated <x@\r\nSubject: =?bogus?q?x?= =?utf-8?b?!!?=\r\n\r\nx',
        b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nunterminated",
        b"From: a@example.com\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"Subject: inner\r\n\r\nhi\r\n"),
        b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>unclosed <b>tags<div",
        b"Date: Mon, 31 Feb 2024 25:61:00 +9999\r\nX-Priority: \r\n\r\n",
    ]
    for raw in samples:
        parsed = parse_mime(raw)
        assert isinstance(parsed.properties["subject"], str)
        assert len(parsed.properties["bodyPreview"]) <= 255
    inner = parse_mime(samples[4]).attachments[0]
    assert inner.content == b"Subject: inner\r\n\r\nhi\r\n"


def test_body_preview_is_at_most_255_characters() -> None:
    raw = eml("From: a@example.com\nSubject: long\n\n" + ("word " * 200 + "\n") * 5)
    preview = parse_mime(raw).properties["bodyPreview"]
    assert len(preview) == 255
    assert "  " not in preview and "\n" not in preview


def test_html_to_text() -> None:
    html = (
        "<html><head><title>Title</title><style>p{}</style></head><body>"
        "<h1>Heading</h1><p>First   para\ngraph</p><p>Second<br>line</p>"
        "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        "<pre>  keep   spacing\n  here</pre><script>var x = '<p>';</script>"
        "Tom &amp; Jerry&nbsp;&lt;3</body></html>"
    )
    assert html_to_text(html) == (
        "Heading\nFirst para graph\nSecond\nline\none\ntwo\na b\n  keep   spacing\n  here\nTom & Jerry <3"
    )
    assert html_to_text("<head><style>x</style><body>never closed head") == "never closed head"
    assert html_to_text("") == ""


def test_decode_base64_mime() -> None:
    encoded = base64.encodebytes(PLAIN).decode()  # with line breaks, as clients send it
    assert decode_base64_mime(encoded) == PLAIN
    assert decode_base64_mime(encoded.encode()) == PLAIN
    with pytest.raises(MimeError, match="mime is not valid base64"):
        decode_base64_mime("this is *not* base64!")
    with pytest.raises(MimeError, match="mime is not valid base64"):
        decode_base64_mime("é")


# ---------------------------------------------------------------------------------------------------------
# build_mime


DRAFT: dict[str, Any] = {
    "id": "AAMkAGI2TG93AAA=",
    "subject": "Grüße — the plan",
    "from": address("Jörg Müller", "joerg@example.de"),
    "sender": address("Assistant", "assistant@example.de"),
    "toRecipients": [address("Bob", "bob@contoso.com"), address("carol@contoso.com", "carol@contoso.com")],
    "ccRecipients": [address("Doe, Jane", "jane@contoso.com")],
    "bccRecipients": [address("Hidden", "hidden@contoso.com")],
    "replyTo": [address("Replies", "replies@example.de")],
    "body": {"contentType": "html", "content": "<p>Hello <b>Bob</b>,</p><p>see <img src='cid:chart@x'></p>"},
    "importance": "high",
    "sentDateTime": "2024-03-05T13:03:07Z",
    "internetMessageId": "<plan-1@example.de>",
    "internetMessageHeaders": [
        {"name": "X-Exsync-Ref", "value": "Kunde Nr. 42 — ä"},
        {"name": "Received", "value": "must not be copied"},
    ],
}


def test_build_then_parse_round_trip(schema: GraphSchema) -> None:
    attachments = [
        ParsedAttachment("chart.png", "image/png", PNG, True, "chart@x"),
        ParsedAttachment("Übersicht März.pdf", "application/pdf", PDF, False, None),
        ParsedAttachment("notes.txt", "text/plain", "naïve text\r\n".encode(), False, None),
        ParsedAttachment(
            "fwd.eml", "message/rfc822", b"Subject: inner\r\nFrom: x@y\r\n\r\nbody\r\n", False, None
        ),
    ]
    raw = build_mime(DRAFT, attachments)
    assert raw.isascii()  # everything encoded for any transport
    assert b"\r\nMIME-Version: 1.0\r\n" in raw and raw.count(b"MIME-Version") == 1
    assert b"must not be copied" not in raw
    parsed = parse_mime(raw)
    props = parsed.properties
    assert props["subject"] == DRAFT["subject"]
    for key in ("from", "sender", "toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
        assert props[key] == DRAFT[key], key
    assert props["internetMessageId"] == "<plan-1@example.de>"
    assert props["sentDateTime"] == "2024-03-05T13:03:07Z"
    assert props["importance"] == "high"
    assert props["body"]["contentType"] == "html"
    assert lines(props["body"]["content"]) == DRAFT["body"]["content"]
    assert props["bodyPreview"] == "Hello Bob,\nsee".replace("\n", " ")
    assert header(parsed, "X-Exsync-Ref") == ["Kunde Nr. 42 — ä"]
    assert parsed.attachments == attachments
    assert props["hasAttachments"] is True
    schema.check_schema("message", props)


def test_build_plain_text_and_defaults() -> None:
    raw = build_mime({"subject": "", "body": {"contentType": "text", "content": "just text"}})
    parsed = parse_mime(raw)
    props = parsed.properties
    assert props["subject"] == ""
    assert props["from"] is None and props["toRecipients"] == []
    assert re.fullmatch(r"<[0-9a-f]{32}@sandbox\.exsync>", props["internetMessageId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", props["sentDateTime"])  # now
    assert props["body"] == {"contentType": "text", "content": "just text\r\n"}
    assert header(parsed, "Content-Type") == ['text/plain; charset="utf-8"']
    # the generated Message-ID is stable for the same item
    assert (
        parse_mime(build_mime({"id": "A1"})).properties["internetMessageId"]
        == parse_mime(build_mime({"id": "A1"})).properties["internetMessageId"]
    )
    assert build_mime({}).startswith(b"Subject:")


def test_build_tolerates_odd_input() -> None:
    raw = build_mime(
        {
            "subject": "line\r\nbreak",
            "from": {"emailAddress": {"address": "no-name@example.com"}},
            "toRecipients": [{"emailAddress": {"name": "no address"}}, "junk", None],
            "body": None,
            "internetMessageId": "not an id",
            "internetMessageHeaders": [
                {"name": "X-Bad Name", "value": "v"},
                {"name": "x-ok", "value": "a\nb"},
            ],
        },
        [ParsedAttachment("", "not a type", b"\x00", False, None)],
    )
    props = parse_mime(raw).properties
    assert props["subject"] == "line  break"
    assert props["from"] == address("no-name@example.com", "no-name@example.com")
    assert props["toRecipients"] == []
    assert props["internetMessageId"].endswith("@sandbox.exsync>")
    assert [h["value"] for h in props["internetMessageHeaders"] if h["name"].lower().startswith("x-")] == [
        "a b"
    ]
    (attachment,) = parse_mime(raw).attachments
    assert attachment.content_type == "application/octet-stream" and attachment.content == b"\x00"


# ---------------------------------------------------------------------------------------------------------
# property: whatever Graph can hold survives build_mime → parse_mime

HEADER_TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=60).map(
    str.strip
)  # leading and trailing blanks are not kept by RFC 5322 headers
BODY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
LOCAL = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True).filter(
        lambda s: ".." not in s and not s.endswith(".")
    ),
    st.sampled_from(["jörg.müller", "用户"]),  # RFC 6532: UTF-8 in the header
)
RECIPIENT = st.builds(
    lambda name, local, domain: address(name or f"{local}@{domain}", f"{local}@{domain}"),
    HEADER_TEXT,
    LOCAL,
    st.sampled_from(["example.com", "contoso.onmicrosoft.com", "xn--bcher-kva.de"]),
)
CONTENT_ID = st.from_regex(r"[a-z0-9.]{1,20}@[a-z0-9]{1,10}", fullmatch=True)
ATTACHMENT = st.builds(
    lambda name, content_type, content, placement: ParsedAttachment(name, content_type, content, *placement),
    name=HEADER_TEXT.filter(bool),
    content_type=st.sampled_from(["application/pdf", "image/png", "text/plain", "application/octet-stream"]),
    content=st.binary(max_size=200),
    # (is_inline, content_id): an inline part is one the body refers to by its Content-ID
    placement=st.one_of(st.just((False, None)), st.tuples(st.booleans(), CONTENT_ID)),
)


@settings(max_examples=150, deadline=None)
@given(
    subject=HEADER_TEXT,
    sender=RECIPIENT,
    to=st.lists(RECIPIENT, max_size=3),
    cc=st.lists(RECIPIENT, max_size=2),
    body=BODY_TEXT,
    html=st.booleans(),
    attachments=st.lists(ATTACHMENT, max_size=2),
)
def test_round_trip_property(
    subject: str,
    sender: dict[str, Any],
    to: list[dict[str, Any]],
    cc: list[dict[str, Any]],
    body: str,
    html: bool,
    attachments: list[ParsedAttachment],
) -> None:
    content = f"<p>{body}</p>" if html else body
    message = {
        "subject": subject,
        "from": sender,
        "toRecipients": to,
        "ccRecipients": cc,
        "body": {"contentType": "html" if html else "text", "content": content},
        "internetMessageId": "<prop@example.com>",
    }
    parsed = parse_mime(build_mime(message, attachments))
    props = parsed.properties
    assert props["subject"] == subject
    assert props["from"] == sender
    assert props["toRecipients"] == to
    assert props["ccRecipients"] == cc
    assert props["internetMessageId"] == "<prop@example.com>"
    assert props["body"]["contentType"] == ("html" if html else "text")
    assert lines(props["body"]["content"]) == lines(content)
    assert len(props["bodyPreview"]) <= 255
    # an HTML body's inline images sit beside it in multipart/related, ahead of the other attachments
    referenced = [a for a in attachments if html and a.is_inline]
    assert parsed.attachments == referenced + [a for a in attachments if a not in referenced]


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b'attachment; filename="caf\xe9.pdf"', "café.pdf"),  # raw latin-1
        (b'attachment; filename="caf\xc3\xa9.pdf"', "café.pdf"),  # raw UTF-8
        (b"attachment; filename*=iso-8859-1''caf%E9.pdf", "café.pdf"),
        (b"attachment; filename*0*=utf-8''caf%C3%A9; filename*1=.pdf", "café.pdf"),
        (b'attachment; filename="<angle>.pdf"', "<angle>.pdf"),
        (b"attachment", "ATT00001.pdf"),
    ],
)
def test_attachment_names(disposition: bytes, name: str) -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: " + disposition + b"\r\n\r\n%PDF\r\n--b--\r\n"
    )
    (attachment,) = parse_mime(raw).attachments
    assert attachment.name == name
    assert attachment.content == b"%PDF"
