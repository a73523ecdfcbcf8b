"""Windows <-> IANA zone names: the common zones, aliases, UTC spellings, unknown names, the whole table."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

import pytest

from exsync.model import zones
from exsync.model.zones import UnknownZone, iana_to_windows, windows_to_iana, zone

COMMON = [
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("GMT Standard Time", "Europe/London"),
    ("Romance Standard Time", "Europe/Paris"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("UTC", "UTC"),
]


@pytest.mark.parametrize(("windows", "iana"), COMMON)
def test_common_zones_both_ways(windows: str, iana: str) -> None:
    assert windows_to_iana(windows) == iana
    assert iana_to_windows(iana) == windows
    assert iana_to_windows(windows_to_iana(windows)) == windows


@pytest.mark.parametrize(
    ("iana", "windows"),
    [
        ("Asia/Calcutta", "India Standard Time"),  # the old name CLDR itself uses
        ("Europe/Kiev", "FLE Standard Time"),
        ("Europe/Zaporozhye", "FLE Standard Time"),  # a link the table lacks
        ("US/Pacific", "Pacific Standard Time"),
        ("America/Argentina/Buenos_Aires", "Argentina Standard Time"),
        ("America/Buenos_Aires", "Argentina Standard Time"),
        ("Europe/Amsterdam", "W. Europe Standard Time"),  # not the territory-001 zone, still mapped
        ("GMT", "UTC"),
    ],
)
def test_iana_aliases_map_to_windows(iana: str, windows: str) -> None:
    assert iana_to_windows(iana) == windows


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "tzone://Microsoft/Utc"])
def test_utc_spellings(name: str) -> None:
    assert windows_to_iana(name) == "UTC"
    assert iana_to_windows(name) == "UTC"
    assert zone(name).utcoffset(datetime(2026, 7, 1)) == UTC.utcoffset(None)


def test_iana_names_pass_through_as_given() -> None:
    assert windows_to_iana("Europe/Berlin") == "Europe/Berlin"
    assert windows_to_iana("Asia/Calcutta") == "Asia/Calcutta"
    assert windows_to_iana("Etc/GMT+5") == "Etc/GMT+5"


def test_windows_names_ignore_case_and_come_back_as_spelt_in_the_table() -> None:
    assert windows_to_iana("w. europe standard time") == "Europe/Berlin"
    assert iana_to_windows("PACIFIC STANDARD TIME") == "Pacific Standard Time"


@pytest.mark.parametrize(
    "name", ["Mars Standard Time", "Europe/Atlantis", "", "europe/berlin", "../etc/passwd"]
)
def test_unknown_names_raise_a_helpful_error(name: str) -> None:
    with pytest.raises(UnknownZone) as caught:
        windows_to_iana(name)
    message = str(caught.value)
    assert repr(name) in message
    assert "neither a Windows nor an IANA time zone name" in message
    assert caught.value.name == name
    assert isinstance(caught.value, ValueError)
    with pytest.raises(UnknownZone):
        iana_to_windows(name)
    with pytest.raises(UnknownZone):
        zone(name)


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory"])
def test_zone_directory_files_that_are_no_place_are_unknown(name: str) -> None:
    with pytest.raises(UnknownZone):
        windows_to_iana(name)


def test_an_iana_zone_without_a_windows_twin_says_so() -> None:
    with pytest.raises(UnknownZone, match="no Windows equivalent"):
        iana_to_windows("Antarctica/Troll")


def test_zone_gives_the_right_offsets_and_is_cached() -> None:
    berlin = zone("W. Europe Standard Time")
    assert isinstance(berlin, zoneinfo.ZoneInfo)
    assert berlin.key == "Europe/Berlin"
    assert datetime(2026, 1, 15, 12, tzinfo=berlin).utcoffset() == datetime(2026, 1, 15, 13) - datetime(
        2026, 1, 15, 12
    )
    assert zone("W. Europe Standard Time") is berlin
    assert zone("Europe/Berlin").key == "Europe/Berlin"


def test_every_windows_name_maps_to_a_loadable_zone_and_back() -> None:
    assert len(zones.WINDOWS_NAMES) > 130
    for windows in sorted(zones.WINDOWS_NAMES):
        iana = windows_to_iana(windows)
        loaded = zone(windows)
        assert loaded.key == iana
        assert iana_to_windows(iana) == windows, windows


def test_the_current_name_table_only_renames_links() -> None:
    # Each renamed zone must behave exactly like the CLDR name it replaces (same offsets all year).
    instants = [datetime(2026, month, 1, tzinfo=UTC) for month in range(1, 13)]
    for old, new in zones._CURRENT_IANA.items():
        assert iana_to_windows(old) == iana_to_windows(new)
        old_zone, new_zone = zoneinfo.ZoneInfo(old), zoneinfo.ZoneInfo(new)
        assert [i.astimezone(old_zone).utcoffset() for i in instants] == [
            i.astimezone(new_zone).utcoffset() for i in instants
        ]
