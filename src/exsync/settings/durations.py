"""Intervals: ``"90s"``, ``"15m"``, ``"1h"``, ``"1h30m"``, ``"1d"`` or a whole number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_WHOLE = re.compile(r"(?:\d+[dhms])+")
_PART = re.compile(r"(\d+)([dhms])")

EXAMPLE = '"15m" (also "90s", "1h", "1h30m", or a number of seconds)'


def parse_duration(value: object) -> timedelta:
    """Read a duration; raise ``ValueError`` with the accepted forms when it cannot be read."""
    if isinstance(value, timedelta):
        return value
    # bool is an int subclass: `interval = true` is a mistake, not one second.
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a duration cannot be negative ({value}). Fix: write e.g. {EXAMPLE}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return timedelta(seconds=int(text))
        if text and _WHOLE.fullmatch(text):
            return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))
        raise ValueError(f"{value!r} is not a duration. Fix: write e.g. {EXAMPLE}")
    raise ValueError(f"wrong type ({type(value).__name__}). Fix: write a duration such as {EXAMPLE}")


def format_duration(value: timedelta) -> str:
    """The shortest form ``parse_duration`` reads back: ``timedelta(minutes=90)`` -> ``"1h30m"``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
