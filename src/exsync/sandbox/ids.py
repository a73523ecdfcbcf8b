"""Identifiers as Exchange shapes them: opaque URL-safe base64, a change key per version, and the regular
(folder-bound) id that changes when an item moves, beside the immutable one that does not."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from functools import lru_cache


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def new_id() -> str:
    """A new immutable item id (the shape of Exchange's `AAMk…=` ids)."""
    return "AAMkA" + _b64(os.urandom(33))


@lru_cache(maxsize=65536)  # rendered several times per item per request
def regular_id(immutable: str, moves: int) -> str:
    """The id a client sees without `Prefer: IdType="ImmutableId"`: never the immutable one (so a client that
    forgot the header notices before the first move), and a fresh one after every move."""
    return "AAMkA" + _b64(hashlib.sha256(f"{immutable}/{moves}".encode()).digest()[:33])


def change_key(item_id: str, version: int) -> str:
    """Exchange's change key: opaque, different for every version of the item."""
    return _b64(hashlib.sha256(item_id.encode()).digest()[:12] + version.to_bytes(8, "big")[2:])


def object_id() -> str:
    return str(uuid.uuid4())


def token() -> str:
    return _b64(os.urandom(24)).rstrip("=")
