"""RFC 822/MIME messages to Graph `message` properties and back.

`parse_mime` reads whatever real mail looks like (it is the path for imported and received mail, and for
`POST …/messages` with a MIME body) and so never gives up on a message the `email` package can read at all;
`build_mime` renders a message created through the JSON API for `GET …/messages/{id}/$value`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import mimetypes
import quopri
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from io import BytesIO
from typing import Any

from exsync.model.html import TextExtractor, html_to_text

__all__ = [
    "MimeError",
    "ParsedAttachment",
    "ParsedMessage",
    "build_mime",
    "conversation_id",
    "decode_base64_mime",
    "html_to_text",
    "normalize_subject",
    "parse_mime",
]

PREVIEW_LENGTH = 255  # Graph's bodyPreview: the first 255 characters of the body as plain text
SANDBOX_DOMAIN = "sandbox.exsync"
# For writing: headers that came from source bytes stay as they were (no refolding), CRLF as on the wire.
_POLICY = email_policy.default.clone(refold_source="none", linesep="\r\n")


class MimeError(ValueError):
    """The bytes are not a message at all (or not the base64 of one)."""


@dataclass(frozen=True)
class ParsedAttachment:
    name: str
    content_type: str  # bare `type/subtype`, lower case
    content: bytes  # decoded (no transfer encoding)
    is_inline: bool
    content_id: str | None  # without the angle brackets, as Graph's fileAttachment.contentId


@dataclass(frozen=True)
class ParsedMessage:
    properties: dict[str, Any]
    attachments: list[ParsedAttachment]


def _html_preview_text(html: str) -> str:
    # a preview needs only the start: do not parse a multi-megabyte newsletter to the end
    parser = TextExtractor()
    chunk = 16384
    for start in range(0, len(html), chunk):
        parser.feed(html[start : start + chunk])
        if parser.visible > 2 * PREVIEW_LENGTH:
            break
    parser.close()
    return parser.text()


def _preview(text: str) -> str:
    words: list[str] = []
    length = 0
    for match in re.finditer(r"\S+", text):
        words.append(match.group())
        length += len(match.group()) + 1
        if length > PREVIEW_LENGTH:
            break
    return " ".join(words)[:PREVIEW_LENGTH]


# ---------------------------------------------------------------------------------------------------------
# text decoding

_SURROGATE = re.compile("[\ud800-\udfff]")
# What mailers mean by a label in practice (browsers do the same): the superset the text was written in.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "big5": "big5hkscs",
}
# Labels often put on UTF-8 by mistake; valid UTF-8 with non-ASCII bytes is almost never anything else.
_WESTERN = frozenset({"ascii", "utf-8", "iso8859-1", "iso8859-15", "cp1252"})


def _clean(text: str) -> str:
    """Undecodable bytes arrive as lone surrogates (surrogateescape); they cannot go into JSON."""
    if not _SURROGATE.search(text):
        return text
    return _decode_bytes(text.encode("utf-8", "surrogateescape"), None)


def _try_decode(data: bytes, encoding: str, errors: str = "strict") -> str | None:
    try:
        return data.decode(encoding, errors)
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Best effort: the declared charset when it works, else UTF-8, else Windows-1252, never an error."""
    codec: str | None = None
    if charset:
        try:
            codec = codecs.lookup(charset).name
        except (LookupError, ValueError):  # unknown, or not even a name ("utf-\x008")
            codec = None
    if codec is None or codec in _WESTERN:
        legacy = _SUPERSETS.get(codec, codec) if codec and codec != "utf-8" else "cp1252"
        for encoding in ("utf-8", legacy):
            text = _try_decode(data, encoding)
            if text is not None:
                return text
        return data.decode("latin-1")  # cp1252 leaves five bytes undefined; latin-1 takes anything
    for encoding in (_SUPERSETS.get(codec, codec), codec, "utf-8"):
        text = _try_decode(data, encoding)
        if text is not None:
            return text
    return _try_decode(data, codec, "replace") or data.decode("latin-1")


# ---------------------------------------------------------------------------------------------------------
# headers

_CONTROLS = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]"
)  # line breaks and the like: not in a header
_MESSAGE_ID = re.compile(r"<[^<>]*>")
_ENCODED_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_ADJACENT_WORDS = re.compile(rf"({_ENCODED_WORD})\s+(?={_ENCODED_WORD})")


def _unfold(value: str) -> str:
    return value.replace("\r\n", "").replace("\n", "").replace("\r", "")


def _prepared(raw: str) -> str:
    # RFC 2047 §6.2: blanks between adjacent encoded words are not text, but the address parser keeps
    # them, splitting every long folded display name with a space
    return _ADJACENT_WORDS.sub(r"\1", _clean(_unfold(raw)))


def _decoded_header(name: str, raw: str) -> str:
    # raw 8-bit text first (UTF-8, else Windows-1252, rather than the parser's U+FFFD), then RFC 2047
    text = _prepared(raw)
    try:
        return _clean(str(email_policy.default.header_fetch_parse(name, text)))
    except Exception:  # the header parser has crashed on odd input before; keep the raw text then
        return text


def _header_value(name: str, raw: str) -> str:
    if name.lower() == "message-id":  # the parser's Message-ID class cuts odd ids short
        return _clean(_unfold(raw)).strip()
    return _decoded_header(name, raw)


class _Headers:
    """The header block as raw values (what `exactly as in the header` needs) with decoding on demand."""

    def __init__(self, message: EmailMessage) -> None:
        self.raw: list[tuple[str, str]] = [(str(k), str(v)) for k, v in message.raw_items()]

    def first_raw(self, name: str) -> str | None:
        wanted = name.lower()
        return next((_clean(_unfold(v)) for k, v in self.raw if k.lower() == wanted), None)

    def first(self, name: str) -> str | None:
        wanted = name.lower()
        return next((_decoded_header(k, v) for k, v in self.raw if k.lower() == wanted), None)

    def all_raw(self, name: str) -> list[str]:
        wanted = name.lower()
        return [_clean(_unfold(v)) for k, v in self.raw if k.lower() == wanted]


def _recipient(name: str, address: str) -> dict[str, Any]:
    # Exchange shows the address as the name when a mailbox has no display name
    return {"emailAddress": {"name": name or address, "address": address}}


def _recipients(headers: _Headers, name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for raw in headers.all_raw(name):
        pairs: list[tuple[str, str]] = []
        try:
            header = email_policy.default.header_fetch_parse(name, _prepared(raw))
            # groups are flattened; `undisclosed-recipients:;` is a group without members
            pairs = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
        except Exception:
            pairs = getaddresses([_decoded_header(name, raw)])
        for display, address in pairs:
            display, address = _clean(display).strip(), _clean(address).strip()
            if address and address != "<>":
                result.append(_recipient(display, address))
    return result


def _sent_date_time(headers: _Headers) -> str | None:
    raw = headers.first_raw("Date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
        if when.tzinfo is None:  # "-0000": UTC with no claim about the local zone
            when = when.replace(tzinfo=UTC)
        when = when.astimezone(UTC)
    except Exception:  # garbage, or a date out of datetime's range
        return None
    return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}Z"


def _importance(headers: _Headers) -> str:
    value = (headers.first("Importance") or "").strip().lower()
    if value in ("low", "normal", "high"):
        return value
    priority = (headers.first("X-Priority") or "").strip()[:1]
    if priority in ("1", "2"):
        return "high"
    if priority in ("4", "5"):
        return "low"
    if priority == "3":
        return "normal"
    value = (headers.first("X-MSMail-Priority") or "").strip().lower()
    if value in ("low", "normal", "high"):
        return value
    value = (headers.first("Priority") or "").strip().lower()
    return {"urgent": "high", "non-urgent": "low"}.get(value, "normal")


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = [m.strip() for m in _MESSAGE_ID.findall(value) if m.strip("<> \t")]
    return found or [f"<{v.strip('<>')}>" for v in value.replace(",", " ").split() if v.strip("<>")]


# ---------------------------------------------------------------------------------------------------------
# conversations

_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg)\s*(?:\[\d+\]|\(\d+\))?\s*:)+", re.IGNORECASE)


def normalize_subject(subject: str | None) -> str:
    """The thread's subject: reply and forward prefixes stripped, whitespace collapsed, casefolded."""
    return " ".join(_REPLY_PREFIX.sub("", subject or "").split()).casefold()


def _normalize_id(value: str | None) -> str | None:
    inner = (value or "").strip().strip("<>").strip()
    return f"<{inner}>" if inner else None


def conversation_id(subject: str | None, references: Sequence[str], message_id: str | None) -> str:
    """A stable conversationId for the thread's root.

    `references` are the ids of the References header in order, or the In-Reply-To id when there is no
    References header; the root is the first of them, else the message itself, else (mail without any
    Message-ID) the normalised subject.
    """
    root = next((n for n in map(_normalize_id, references) if n), None) or _normalize_id(message_id)
    key = f"id:{root}" if root else f"subject:{normalize_subject(subject)}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return "AAQkA" + base64.urlsafe_b64encode(digest).decode()  # the shape of Exchange's `AAQk…=` ids


# ---------------------------------------------------------------------------------------------------------
# body and attachments


def _content_type(part: EmailMessage) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: EmailMessage) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _header_params(part: EmailMessage, name: str) -> dict[str, str]:
    raw = next((str(v) for k, v in part.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return {}
    try:  # parsed from the cleaned raw value: 8-bit names decode, `<x>` keeps its brackets
        params = getattr(email_policy.default.header_fetch_parse(name, _prepared(raw)), "params", {})
        return {str(k): _clean(str(v)) for k, v in params.items()}
    except Exception:
        return {}


def _filename(part: EmailMessage) -> str | None:
    name: Any = _header_params(part, "Content-Disposition").get("filename") or _header_params(
        part, "Content-Type"
    ).get("name")
    if not name:
        try:  # the older, more forgiving parameter parser
            name = part.get_filename() or part.get_param("name")
        except Exception:
            return None
    if isinstance(name, tuple):  # an RFC 2231 value `get_param` did not collapse
        name = _decode_bytes(name[2].encode("latin-1", "replace"), name[0] or None)
    if not isinstance(name, str):
        return None
    return _clean(_unfold(name)).strip() or None


def _content_id(part: EmailMessage) -> str | None:
    try:
        value = part.get("Content-ID")
    except Exception:
        return None
    return _clean(_unfold(str(value))) if value is not None else None


def _is_message(part: EmailMessage) -> bool:
    # the parser gives message/* parts their inner message(s) as payload: leaves for us, not containers
    return _content_type(part).startswith("message/")


def _children(part: EmailMessage) -> list[EmailMessage]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, EmailMessage)] if isinstance(payload, list) else []


def _body_candidates(part: EmailMessage) -> list[EmailMessage]:
    """The text/plain and text/html parts that are the body of this subtree, alternatives included."""
    if _disposition(part) == "attachment" or _is_message(part):
        return []
    ctype = _content_type(part)
    if ctype in ("text/plain", "text/html"):
        return [] if _filename(part) else [part]
    if not ctype.startswith("multipart/"):
        return []
    children = _children(part)
    if ctype == "multipart/alternative":
        return [c for child in children for c in _body_candidates(child)]
    if ctype == "multipart/related" and children:
        start = part.get_param("start")
        wanted = _normalize_id(start) if isinstance(start, str) else None
        root = next((c for c in children if wanted and _normalize_id(_content_id(c)) == wanted), None)
        return _body_candidates(root or children[0])
    # mixed, signed, report, …: the first part that has a body is the body
    for child in children:
        found = _body_candidates(child)
        if found:
            return found
    return []


def _part_text(part: EmailMessage) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        raw = part.get_payload()
        return _clean(raw) if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return _decode_bytes(data, charset)


def _flatten(message: EmailMessage) -> bytes:
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_POLICY).flatten(message)
    return out.getvalue()


def _part_bytes(part: EmailMessage) -> bytes:
    """The decoded content of a leaf part; for message/* the inner message(s) as they were written."""
    if not _is_message(part):
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        if isinstance(data, bytes):
            return data
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        data = b"".join(_flatten(inner) for inner in _children(part))
    except Exception:
        return b""
    # message/* must not be transfer-encoded (RFC 2046), but some mailers do it anyway
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(b"".join(data.split()))
        if encoding == "quoted-printable":
            return quopri.decodestring(data)
    except (binascii.Error, ValueError):
        return data
    return data


_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")  # RFC 6838 names
_MIME_TYPES = mimetypes.MimeTypes()  # the built-in table only: names must not depend on the host's files


def _attachment_name(part: EmailMessage, ctype: str, unnamed: int) -> str:
    if ctype == "message/rfc822":
        inner = _children(part)
        subject = _Headers(inner[0]).first("Subject") if inner else None
        if subject and subject.strip():
            return f"{subject.strip()}.eml"
    extension = _MIME_TYPES.guess_extension(ctype) or ".dat"
    return f"ATT{unnamed:05d}{extension}"  # Exchange's name for parts that come without one


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    children = _children(part)
    if _is_message(part) or not children:
        yield part
        return
    for child in children:
        yield from _leaves(child)


def _attachments(message: EmailMessage, body: Sequence[EmailMessage]) -> list[ParsedAttachment]:
    body_ids = {id(p) for p in body}
    result: list[ParsedAttachment] = []
    unnamed = 0
    for part in _leaves(message):
        if id(part) in body_ids:
            continue
        ctype = _content_type(part)
        if ctype.startswith("multipart/"):
            continue  # an empty multipart: nothing to attach
        disposition = _disposition(part)
        name = _filename(part)
        # alternatives of the body and text without a name or disposition are body text, not files
        if ctype.startswith("text/") and name is None and disposition is None:
            continue
        if name is None:
            unnamed += 1
            name = _attachment_name(part, ctype, unnamed)
        content_id = _normalize_id(_content_id(part))
        result.append(
            ParsedAttachment(
                name=name,
                content_type=ctype if _MEDIA_TYPE.fullmatch(ctype) else "application/octet-stream",
                content=_part_bytes(part),
                is_inline=content_id is not None and disposition != "attachment",
                content_id=content_id.strip("<>") if content_id else None,
            )
        )
    return result


# ---------------------------------------------------------------------------------------------------------
# parsing


def decode_base64_mime(data: str | bytes) -> bytes:
    """The MIME a client POSTs as `text/plain` base64 (Graph's create-from-MIME), decoded."""
    try:
        compact = b"".join((data.encode("ascii") if isinstance(data, str) else bytes(data)).split())
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise MimeError("mime is not valid base64") from exc


_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_KNOWN_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "received", "return-path", "mime-version", "content-type"}
)


def _skip_junk(raw: bytes) -> bytes | None:
    """The message behind a byte-order mark, blank lines or a few broken lines before its header block
    (where the parser gives up and reads everything as body), or None."""
    text = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    lines = text.splitlines(keepends=True)[:6]
    for skip, line in enumerate(lines):
        if _HEADER_LINE.match(line):
            text = text[sum(map(len, lines[:skip])) :]
            return text if text != raw else None
    return None


def _parse(raw: bytes) -> tuple[EmailMessage, _Headers]:
    message = BytesParser(policy=email_policy.default).parsebytes(raw)
    headers = _Headers(message)
    if not headers.raw:
        recovered = _skip_junk(raw)
        if recovered is not None:
            retry = BytesParser(policy=email_policy.default).parsebytes(recovered)
            retry_headers = _Headers(retry)
            if any(name.lower() in _KNOWN_HEADERS for name, _ in retry_headers.raw):
                return retry, retry_headers
        raise MimeError("not an RFC 822 message: no header block")
    return message, headers


def parse_mime(raw: bytes) -> ParsedMessage:
    """Graph properties and attachments of an RFC 822 message; best effort on anything with headers."""
    message, headers = _parse(bytes(raw))

    senders = _recipients(headers, "From")
    on_behalf = _recipients(headers, "Sender")
    message_id = (headers.first_raw("Message-ID") or "").strip() or None
    references = _message_ids(headers.first_raw("References")) or _message_ids(
        headers.first_raw("In-Reply-To")
    )
    subject = headers.first("Subject") or ""

    candidates = _body_candidates(message)
    html = next((p for p in reversed(candidates) if _content_type(p) == "text/html"), None)
    plain = next((p for p in reversed(candidates) if _content_type(p) == "text/plain"), None)
    if html is not None:
        body = {"contentType": "html", "content": _part_text(html)}
        preview = _preview(_part_text(plain) if plain is not None else _html_preview_text(body["content"]))
    else:
        text = _part_text(plain) if plain is not None else ""
        body = {"contentType": "text", "content": text}
        preview = _preview(text)
    attachments = _attachments(message, candidates)

    properties: dict[str, Any] = {
        "subject": subject,
        "from": senders[0] if senders else None,
        "sender": (on_behalf or senders)[0] if on_behalf or senders else None,
        "toRecipients": _recipients(headers, "To"),
        "ccRecipients": _recipients(headers, "Cc"),
        "bccRecipients": _recipients(headers, "Bcc"),
        "replyTo": _recipients(headers, "Reply-To"),
        "internetMessageHeaders": [
            {"name": _clean(name), "value": _header_value(name, value)} for name, value in headers.raw
        ],
        "body": body,
        "bodyPreview": preview,
        "hasAttachments": any(not a.is_inline for a in attachments),
        "importance": _importance(headers),
        "isRead": False,
        "conversationId": conversation_id(subject, references, message_id),
    }
    if message_id is not None:
        properties["internetMessageId"] = message_id
    sent = _sent_date_time(headers)
    if sent is not None:
        properties["sentDateTime"] = sent
    return ParsedMessage(properties=properties, attachments=attachments)


# ---------------------------------------------------------------------------------------------------------
# building


_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without colon (RFC 5322 ftext)
_PLAIN_MESSAGE_ID = re.compile(r"<[!-;=?-~]+>")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"  # non-ASCII as RFC 6532 allows it
_ATOM_PHRASE = re.compile(rf"{_ATEXT}(?: {_ATEXT})*")
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_PRINTABLE = re.compile(r"[ -~]*")
_FOLD_AT = 78


def _text(value: Any) -> str:
    # JSON can carry lone surrogates ("\ud800"); they cannot be encoded into a message
    return "" if value is None else str(value).encode("utf-8", "replace").decode()


def _header_text(value: Any) -> str:
    return _CONTROLS.sub(" ", _text(value))


def _folded(name: str, value: str) -> str:
    return str(_POLICY.header_factory(name, value).fold(policy=_POLICY))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 B-words of at most 75 characters, never splitting a character."""
    chunks: list[bytes] = [b""]
    for char in text:
        data = char.encode("utf-8", "replace")
        if len(chunks[-1]) + len(data) > 45:  # 45 bytes → 60 base64 characters → a 72-character word
            chunks.append(b"")
        chunks[-1] += data
    return [f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=" for chunk in chunks if chunk]


def _phrase(name: str) -> list[str]:
    if "=?" not in name and name.isascii():  # text that looks like an encoded word must be encoded itself
        if _ATOM_PHRASE.fullmatch(name):
            return name.split(" ")
        if _PRINTABLE.fullmatch(name):
            return [_quoted(name)]  # keeps specials and runs of blanks
    return _encoded_words(name)


def _addr_spec(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if not _DOT_ATOM.fullmatch(local):
        local = _quoted(local)
    return f"{local}@{domain}" if at else local


def _address_header(name: str, mailboxes: Sequence[tuple[str, str]]) -> str:
    """An address header, written here rather than by `email`: its folder drops the blank between two
    encoded words of a display name (`a ¡ ¡¡` comes back as `a ¡¡¡`)."""
    tokens: list[str] = []
    for index, (display, address) in enumerate(mailboxes):
        words = [*_phrase(display), f"<{_addr_spec(address)}>"] if display else [_addr_spec(address)]
        if index < len(mailboxes) - 1:
            words[-1] += ","
        tokens.extend(words)
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > _FOLD_AT and lines[-1].strip() != f"{name}:":
            lines.append(f" {token}")
        else:
            lines[-1] += f" {token}"
    return "\r\n".join(lines) + "\r\n"


def _mailbox(recipient: Any) -> tuple[str, str] | None:
    if not isinstance(recipient, Mapping):
        return None
    email_address = recipient.get("emailAddress")
    if not isinstance(email_address, Mapping):
        return None
    address = _header_text(email_address.get("address") or "").strip()
    if not address:
        return None
    name = _header_text(email_address.get("name") or "").strip()
    return ("" if name == address else name), address


def _mailboxes(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [m for m in map(_mailbox, value) if m is not None]


def _date(message: Mapping[str, Any]) -> datetime:
    for key in ("sentDateTime", "createdDateTime"):
        value = message.get(key)
        if isinstance(value, str) and value:
            try:
                when = datetime.fromisoformat(value)
                return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
            except (ValueError, OverflowError):  # not a date, or out of range once in UTC
                continue
    return datetime.now(UTC)


def _new_message_id(message: Mapping[str, Any]) -> str:
    item_id = message.get("id")
    if isinstance(item_id, str) and item_id:  # the same id on every GET of the same item
        return f"<{hashlib.sha256(item_id.encode()).hexdigest()[:32]}@{SANDBOX_DOMAIN}>"
    return f"<{uuid.uuid4().hex}@{SANDBOX_DOMAIN}>"


def _set_text(part: EmailMessage, text: str, subtype: str) -> None:
    # 7bit where it is plain ASCII in short lines, quoted-printable otherwise: safe on any transport
    simple = text.isascii() and all(len(line) <= 78 for line in text.splitlines())
    if simple:
        part.set_content(text, subtype=subtype)
    else:
        part.set_content(text, subtype=subtype, cte="quoted-printable")


def _add_attachment(target: EmailMessage, attachment: ParsedAttachment, related: bool) -> None:
    media_type = attachment.content_type.partition(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = "application/octet-stream"
    maintype, _, subtype = media_type.partition("/")
    content_id = _header_text(attachment.content_id).strip().strip("<>").strip()
    cid = f"<{content_id}>" if content_id else None
    disposition = "inline" if attachment.is_inline else "attachment"
    name = _header_text(attachment.name).strip() or None
    if maintype == "message":
        # RFC 2046 forbids base64 for message/*: the inner message goes in as it is, parsed so that the
        # generator finds the structure it expects (message/delivery-status is a list of header blocks)
        encoding = "7bit" if attachment.content.isascii() else "8bit"
        part = BytesParser(policy=_POLICY).parsebytes(
            f"Content-Type: {maintype}/{subtype}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
            + attachment.content
        )
        part["Content-Disposition"] = disposition
        if name:
            part.set_param("filename", name, header="Content-Disposition")
        if cid:
            part["Content-ID"] = cid
        if related and target.get_content_type() != "multipart/related":
            target.make_related()
        elif not related and target.get_content_type() != "multipart/mixed":
            target.make_mixed()
        target.attach(part)
        return
    kwargs: dict[str, Any] = {"maintype": maintype, "subtype": subtype, "disposition": disposition}
    if name:
        kwargs["filename"] = name
    if cid:
        kwargs["cid"] = cid
    if related:
        target.add_related(attachment.content, **kwargs)
    else:
        target.add_attachment(attachment.content, **kwargs)


def build_mime(message: Mapping[str, Any], attachments: Sequence[ParsedAttachment] = ()) -> bytes:
    """The RFC 822 form of a Graph message (what `$value` returns for one created through JSON)."""
    # The top header block is written here, in the usual order; `email` only lays out the MIME structure.
    head: list[str] = []
    senders = _mailboxes([message.get("from")])
    on_behalf = _mailboxes([message.get("sender")])
    if senders or on_behalf:
        head.append(_address_header("From", (senders or on_behalf)[:1]))
    if senders and on_behalf and senders[0][1].lower() != on_behalf[0][1].lower():
        head.append(_address_header("Sender", on_behalf[:1]))
    for header, key in (
        ("To", "toRecipients"),
        ("Cc", "ccRecipients"),
        ("Bcc", "bccRecipients"),
        ("Reply-To", "replyTo"),
    ):
        recipients = _mailboxes(message.get(key))
        if recipients:
            head.append(_address_header(header, recipients))
    head.append(_folded("Subject", _header_text(message.get("subject"))))
    head.append(_folded("Date", format_datetime(_date(message))))
    message_id = _header_text(message.get("internetMessageId")).strip()
    if not _PLAIN_MESSAGE_ID.fullmatch(message_id):
        message_id = _new_message_id(message)
    head.append(f"Message-ID: {message_id}\r\n")  # verbatim: `email` mangles odd or long ids
    importance = str(message.get("importance") or "normal").lower()
    if importance in ("low", "high"):
        head.append(_folded("Importance", importance))
    extra = message.get("internetMessageHeaders")
    for header in extra if isinstance(extra, Sequence) and not isinstance(extra, str) else ():
        if not isinstance(header, Mapping):
            continue
        name = str(header.get("name") or "").strip()
        if name.lower().startswith("x-") and _HEADER_NAME.fullmatch(name):  # Graph takes only x- headers
            head.append(_folded(name, _header_text(header.get("value")).strip()))

    mail = EmailMessage(policy=_POLICY)
    mail["MIME-Version"] = "1.0"

    body = message.get("body")
    body = body if isinstance(body, Mapping) else {}
    content = _text(body.get("content") or "")
    inline = [a for a in attachments if a.is_inline and a.content_id]
    if str(body.get("contentType") or "text").lower() == "html":
        _set_text(mail, html_to_text(content), "plain")
        html_part = EmailMessage(policy=_POLICY)
        _set_text(html_part, content, "html")
        for attachment in inline:  # images the HTML shows by cid: go beside it in multipart/related
            _add_attachment(html_part, attachment, related=True)
        mail.make_alternative()
        mail.attach(html_part)
    else:
        _set_text(mail, content, "plain")
        inline = []
    for attachment in attachments:
        if not any(attachment is a for a in inline):
            _add_attachment(mail, attachment, related=False)

    for part in mail.walk():
        if part is not mail:  # EmailMessage stamps every part it creates; only the top one needs it
            del part["MIME-Version"]
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_POLICY).flatten(mail)
    return "".join(head).encode() + out.getvalue()
