"""Value normalisation (DESIGN.md rule 1).

Both sides' values pass through these functions before they are compared, hashed or written,
so that bookkeeping differences (line endings, Unicode forms, case of an e-mail domain, ``None``
versus ``""``) never look like edits.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime

import idna

_LINE_ENDINGS = re.compile(r"\r\n?")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def text(value: object, max_length: int | None = None) -> str:
    """One-line or multi-line text: NFC, LF line endings, no surrounding whitespace."""
    if value is None:
        return ""
    s = unicodedata.normalize("NFC", str(value))
    s = _LINE_ENDINGS.sub("\n", s)
    s = _TRAILING_SPACE.sub("\n", s).strip()
    if max_length is not None and len(s) > max_length:
        # Deterministic truncation: the hash is taken over the truncated value (scenario 63).
        s = s[:max_length].rstrip()
    return s


def email(value: object) -> str:
    """An e-mail address with its domain case-folded and IDNA-decoded."""
    s = text(value)
    if "@" not in s:
        return s
    local, _, domain = s.rpartition("@")
    return f"{local}@{domain_name(domain)}"


def domain_name(value: object) -> str:
    """A DNS domain in its Unicode form, lower-case: ``XN--MNCHEN-3YA.de`` -> ``münchen.de``.

    Lower-casing, not ``casefold``: case-folding turns ``faß.de`` into ``fass.de``, another domain
    under IDNA 2008, whose decoder (the ``idna`` package) is used for the ``xn--`` labels.
    """
    labels = []
    for label in text(value).lower().rstrip(".").split("."):
        if label.startswith("xn--"):
            # Not valid punycode: keep it as written rather than fail the item.
            with contextlib.suppress(idna.IDNAError, UnicodeError):
                label = idna.decode(label)
        labels.append(unicodedata.normalize("NFC", label))
    return ".".join(labels)


def emails(values: Iterable[object] | None) -> list[str]:
    """E-mail addresses in order, empties and repeats (compared case-insensitively) dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values or ():
        e = email(value)
        if e and e.casefold() not in seen:
            seen.add(e.casefold())
            out.append(e)
    return out


def texts(values: Iterable[object] | None) -> list[str]:
    """An ordered list of short texts, empties dropped."""
    return [t for t in (text(v) for v in values or ()) if t]


def tags(values: Iterable[object] | str | None) -> list[str]:
    """A set of labels (categories): order does not matter, so it is sorted.

    Ties of the case-insensitive order ("Firm", "firm") are broken by the exact text: never by set
    iteration, which follows per-process string hashing, so every process sorts them the same.
    """
    if isinstance(values, str):
        values = values.split(",")
    return sorted({t for t in (text(v) for v in values or ()) if t}, key=lambda t: (t.casefold(), t))


def flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "t"}
    return bool(value)


def integer(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def day(value: object) -> str:
    """A calendar date as ``YYYY-MM-DD`` (a floating date: no zone, no shift)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(text(value)[:10]).isoformat()


def wall_time(value: object) -> str:
    """A local wall-clock time ``YYYY-MM-DD HH:MM`` or, for a date only, ``YYYY-MM-DD``."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    s = text(value).replace("T", " ")
    if len(s) <= 10:
        return date.fromisoformat(s).isoformat()
    return datetime.fromisoformat(s[:19]).strftime("%Y-%m-%d %H:%M")
