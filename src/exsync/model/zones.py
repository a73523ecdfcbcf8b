"""Windows and IANA time-zone names, both ways (the CLDR mapping that ``tzlocal`` ships).

Microsoft Graph names zones the Windows way (``"W. Europe Standard Time"``); Python's ``zoneinfo``
knows IANA names (``"Europe/Berlin"``). CLDR maps each Windows zone to one IANA zone (its
territory "001" entry) and each IANA zone to one Windows zone.
"""

from __future__ import annotations

import functools
import os
import zoneinfo

from tzlocal.windows_tz import tz_win, win_tz

__all__ = ["WINDOWS_NAMES", "UnknownZone", "iana_to_windows", "windows_to_iana", "zone"]


class UnknownZone(ValueError):
    """A zone name that neither table nor ``zoneinfo`` knows."""

    def __init__(self, name: str, detail: str = "is neither a Windows nor an IANA time zone name") -> None:
        super().__init__(f"{name!r} {detail}")
        self.name = name


WINDOWS_NAMES: frozenset[str] = frozenset(win_tz)

# Spellings of UTC Graph uses or accepts; all of them are plain "UTC" on both sides.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "tzone://Microsoft/Utc"})

# CLDR keeps some IANA names that IANA has since renamed (they live on there as links); hand out the
# current ones. Names not listed here are already current.
_CURRENT_IANA = {
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
}

# IANA names the CLDR table lacks, as the IANA zone (or link) it has. A zone file symlinked to a
# name in the table is found without this list (see _link_target); these cover copied files.
_IANA_ALIASES = {
    "CST6CDT": "America/Chicago",
    "EST5EDT": "America/New_York",
    "Europe/Uzhgorod": "Europe/Kyiv",
    "Europe/Zaporozhye": "Europe/Kyiv",
    "GMT": "Etc/GMT",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
    "US/East-Indiana": "America/Indiana/Indianapolis",
}

# Files in the zone directory that load but are no place's zone.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

# Graph matches Windows names without regard to case; keep the table's spelling.
_WINDOWS_BY_FOLDED = {name.casefold(): name for name in win_tz}


def windows_to_iana(name: str) -> str:
    """The IANA name for a Windows zone name; an IANA name comes back as given, UTC as ``"UTC"``."""
    if name in _UTC_NAMES:
        return "UTC"
    windows = _windows_name(name)
    if windows is not None:
        iana = win_tz[windows]
        return _CURRENT_IANA.get(iana, iana)
    if _is_iana(name):
        return name
    raise UnknownZone(name)


def iana_to_windows(name: str) -> str:
    """The Windows name for an IANA zone name or alias; a Windows name comes back as the table spells it."""
    if name in _UTC_NAMES:
        return "UTC"
    windows = _windows_name(name)
    if windows is not None:
        return windows
    if not _is_iana(name):
        raise UnknownZone(name)
    for candidate in (name, _IANA_ALIASES.get(name), _link_target(name)):
        if candidate and candidate in tz_win:
            return tz_win[candidate]
    raise UnknownZone(name, "is an IANA time zone with no Windows equivalent")


@functools.lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone for a Windows or IANA name."""
    return zoneinfo.ZoneInfo(windows_to_iana(name))


def _windows_name(name: str) -> str | None:
    if name in win_tz:
        return name
    return _WINDOWS_BY_FOLDED.get(name.casefold())


@functools.cache
def _iana_names() -> frozenset[str]:
    # available_timezones() walks the zone directories once; membership also keeps paths such as
    # "../x" or "tzdata.zi" away from ZoneInfo.
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _is_iana(name: str) -> bool:
    return name in _iana_names()


def _link_target(name: str) -> str | None:
    """The zone a system zone file named ``name`` is a symlink to (tzdata installs links that way)."""
    for base in zoneinfo.TZPATH:
        path = os.path.join(base, name)
        if not os.path.islink(path):
            continue
        root = os.path.realpath(base)
        target = os.path.relpath(os.path.realpath(path), root)
        if not target.startswith(os.pardir):
            return target.replace(os.sep, "/")
    return None
