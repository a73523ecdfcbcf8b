"""Per-field hashes and a stable projection hash.

Hashes are taken over the normalised projection, so two items that differ only in bookkeeping
or in what normalisation removes hash the same (rule 1, scenarios 43 and 66).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def digest(data: bytes) -> str:
    """A short, stable hash of ``data`` (versions and projections)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def value_hash(value: Any) -> str:
    return digest(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())


def field_hashes(fields: Mapping[str, Any]) -> dict[str, str]:
    return {name: value_hash(value) for name, value in fields.items()}


def projection_hash(fields: Mapping[str, Any]) -> str:
    """One hash for a whole projection, independent of key order."""
    return value_hash(sorted(field_hashes(fields).items()))
