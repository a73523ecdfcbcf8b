"""The sandbox's own request and answer: framework-free, so `$batch` sub-requests, the ASGI server and an
in-process client all go through the same handler."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from exsync.sandbox.errors import bad_request

JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
_PREFER_PART = re.compile(r'\s*([\w.-]+)\s*(?:=\s*("(?:[^"]*)"|[^,;]*))?')


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str] = field(default_factory=dict)  # $-option names lower-cased
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    base_url: str = "https://127.0.0.1"
    _prefer: tuple[str, dict[str, str]] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_url(
        cls,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        base_url: str = "",
    ) -> Request:
        parts = urlsplit(url)
        return cls(
            method=method.upper(),
            path=unquote(parts.path),
            query=parse_query(parts.query),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            base_url=base_url,
        )

    def json(self) -> Any:
        if not self.body.strip():
            raise bad_request("Empty Payload. JSON content expected.")
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise bad_request(f"Invalid JSON payload: {exc}.") from None
        if b"\\u" in self.body and _unpaired_surrogate(value):
            # "\ud800" alone parses but is no character: stored, it would break every answer showing it
            raise bad_request("Invalid JSON payload: a string holds an unpaired surrogate (\\ud800-\\udfff).")
        return value

    def json_object(self) -> dict[str, Any]:
        value = self.json()
        if not isinstance(value, dict):
            raise bad_request("The request body must be a JSON object.")
        return value

    def prefer(self) -> dict[str, str]:
        """The Prefer header's preferences, lower-cased names, unquoted values (parsed once: every item
        rendered asks for the id type)."""
        raw = self.headers.get("prefer", "")
        if self._prefer is None or self._prefer[0] != raw:
            out: dict[str, str] = {}
            for item in raw.split(","):
                match = _PREFER_PART.match(item)
                if match and match.group(1):
                    out[match.group(1).lower()] = (match.group(2) or "").strip().strip('"')
            self._prefer = (raw, out)
        return self._prefer[1]

    @property
    def immutable_ids(self) -> bool:
        return self.prefer().get("idtype", "").lower() == "immutableid"


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes for raw content
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.body is not None:
            ctype = self.content_type
            if ctype == "application/json":
                ctype = JSON_CONTENT_TYPE
            headers.setdefault("Content-Type", ctype)
        return headers


def _unpaired_surrogate(value: Any) -> bool:
    stack = [value]  # not recursive: the JSON may nest as deep as the parser allows
    while stack:
        top = stack.pop()
        if isinstance(top, str):
            try:
                top.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(top, dict):
            stack.extend(top.keys())
            stack.extend(top.values())
        elif isinstance(top, list):
            stack.extend(top)
    return False


def parse_query(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = name.lower() if name.startswith("$") else name
        out.setdefault(key, value)
    return out
