"""Provisioning profiles from the staff list: auto, listed, enabled = false, leavers stopped."""

from __future__ import annotations

from exsync.connector.protocol import Staff
from exsync.settings import provision
from exsync.state.records import ProfileRow

STAFF = [
    Staff(id=3, code="CL", name="Carol Lee", email="cl@firm.example", time_zone="Asia/Tokyo"),
    Staff(id=1, code="JD", name="Jane Doe", email="jd@firm.example"),
    Staff(id=2, code="AB", name="Al Bert", email="ab@firm.example", active=False),
    Staff(id=4, code="NE", name="No Email", email=""),
]


def test_auto_gives_every_active_staff_member_with_an_email_a_profile_by_staff_id(write_config) -> None:
    config = write_config('[defaults]\ntime_zone = "Europe/Paris"\n')
    result = provision(config, STAFF, [])
    assert [(p.code, p.staff_id, p.active) for p in result.profiles] == [("JD", 1, True), ("CL", 3, True)]
    jd, cl = result.profiles
    assert (jd.email, jd.name, jd.time_zone) == ("jd@firm.example", "Jane Doe", "Europe/Paris")
    assert cl.time_zone == "Asia/Tokyo"  # the staff member's own zone wins over the default
    assert all(p.stopped_reason == "" for p in result.profiles)


def test_listed_gives_profiles_only_to_codes_with_a_table(write_config) -> None:
    config = write_config('[policy]\nprovision = "listed"\n[profiles.CL]\n[profiles.ZZ]\n')
    result = provision(config, STAFF, [])
    assert [p.code for p in result.profiles] == ["CL"]
    assert any("[profiles.ZZ] names no staff member" in w for w in result.warnings)


def test_a_profile_table_naming_nobody_is_a_warning_with_a_suggestion(write_config) -> None:
    config = write_config("[profiles.JDD]\ncalendar = { direction = 'off' }\n")
    result = provision(config, STAFF, [])
    assert [p.code for p in result.active] == ["JD", "CL"]
    assert result.warnings == [
        "[profiles.JDD] names no staff member (did you mean JD?); fix the code or remove the table"
    ]


def test_enabled_false_excludes_and_stops_an_existing_profile(write_config) -> None:
    config = write_config("[profiles.JD]\nenabled = false\n")
    assert [p.code for p in provision(config, STAFF, []).profiles] == ["CL"]
    existing = [ProfileRow(code="JD", staff_id=1, email="jd@firm.example")]
    result = provision(config, STAFF, existing)
    jd = result.profiles[0]
    assert (jd.code, jd.active) == ("JD", False)
    assert "enabled = false" in jd.stopped_reason


def test_leavers_are_stopped_with_a_reason_and_kept(write_config) -> None:
    config = write_config()
    existing = [
        ProfileRow(code="AB", staff_id=2, email="ab@firm.example", name="Al Bert", time_zone="UTC"),
        ProfileRow(code="GO", staff_id=0, email="gone@firm.example", name="Gone"),
        ProfileRow(code="JD", staff_id=1, email="jd@firm.example"),
    ]
    result = provision(config, STAFF, existing)
    assert [(p.code, p.active) for p in result.profiles] == [
        ("GO", False), ("JD", True), ("AB", False), ("CL", True),
    ]
    by_code = {p.code: p for p in result.profiles}
    assert by_code["AB"].stopped_reason == "staff member AB is no longer active"
    assert by_code["GO"].stopped_reason == "staff member GO is no longer in the staff list"
    # Kept as they were (their links belong to that mailbox); nothing is dropped.
    gone = by_code["GO"]
    assert (gone.email, gone.staff_id, gone.name) == ("gone@firm.example", 0, "Gone")
    assert by_code["AB"].email == "ab@firm.example"
    assert [p.code for p in result.stopped] == ["GO", "AB"]


def test_a_returning_staff_member_is_active_again(write_config) -> None:
    config = write_config()
    existing = [ProfileRow(code="JD", staff_id=1, email="jd@firm.example", active=False,
                           stopped_reason="staff member JD is no longer active")]
    jd = next(p for p in provision(config, STAFF, existing).profiles if p.code == "JD")
    assert (jd.active, jd.stopped_reason) == (True, "")


def test_listed_profile_for_an_inactive_member_is_reported(write_config) -> None:
    config = write_config('[policy]\nprovision = "listed"\n[profiles.AB]\n')
    result = provision(config, STAFF, [])
    assert result.profiles == []
    assert result.warnings == ["[profiles.AB] gets no profile: staff member AB is not active"]


def test_stored_default_time_zone_is_used(write_config) -> None:
    from exsync.state.records import SettingChange

    config = write_config()
    changes = [SettingChange(level="defaults", profile=None, key="time_zone", value="Europe/Rome")]
    jd = provision(config, STAFF, [], changes=changes).profiles[0]
    assert jd.time_zone == "Europe/Rome"
