"""Layers: each wins over the one below and says so; changes kept in the store; the lock policy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import pytest

from exsync.settings import (
    ConfigError,
    LockedSetting,
    change_setting,
    clear_setting,
    effective,
    fingerprint,
    origins,
    resolve,
)
from exsync.state.records import SettingChange

LAYERED = """
[defaults.calendar]
interval = "1h"
[profiles.JD.calendar]
interval = "2h"
"""


def admin(
    level: Literal["defaults", "profile"], key: str, value: object, profile: str | None = None
) -> SettingChange:
    return SettingChange(level=level, profile=profile, key=key, value=value, actor="admin", by="root")


def user(key: str, value: object, profile: str = "JD") -> SettingChange:
    return SettingChange(level="profile", profile=profile, key=key, value=value, actor="user", by=profile)


def test_each_layer_wins_over_the_one_below_and_names_itself(write_config) -> None:
    bare = write_config()
    key = "calendar.interval"
    assert effective(bare, [], "JD").calendar.interval == timedelta(minutes=5)
    assert origins(bare, [], "JD")[key] == "built-in"

    config = write_config(LAYERED.replace("[profiles.JD.calendar]\ninterval = \"2h\"\n", "")
                          + '[policy]\nusers_may_change = ["calendar.interval"]\n')
    assert effective(config, [], "JD").calendar.interval == timedelta(hours=1)
    assert origins(config, [], "JD")[key] == "file:defaults"

    changes = [admin("defaults", key, "90m")]
    assert effective(config, changes, "JD").calendar.interval == timedelta(minutes=90)
    assert origins(config, changes, "JD")[key] == "store:defaults"

    config = write_config(LAYERED + '[policy]\nusers_may_change = ["calendar.interval"]\n')
    assert effective(config, changes, "JD").calendar.interval == timedelta(hours=2)
    assert origins(config, changes, "JD")[key] == "file:profile"

    changes.append(admin("profile", key, "3h", "JD"))
    assert effective(config, changes, "JD").calendar.interval == timedelta(hours=3)
    assert origins(config, changes, "JD")[key] == "store:profile(admin)"

    changes.append(user(key, "4h"))
    assert effective(config, changes, "JD").calendar.interval == timedelta(hours=4)
    assert origins(config, changes, "JD")[key] == "store:profile(user)"

    # Another profile sees only the layers that apply to it.
    assert effective(config, changes, "AB").calendar.interval == timedelta(minutes=90)
    assert origins(config, changes, "AB")[key] == "store:defaults"
    # With no profile: the defaults new profiles start with.
    assert effective(config, changes).calendar.interval == timedelta(minutes=90)


def test_layers_merge_key_by_key_inside_nested_tables(write_config) -> None:
    config = write_config(
        """
        [defaults.calendar]
        window = { past_days = 30, future_days = 365 }
        [profiles.JD]
        calendar = { window = { past_days = 7 } }
        """
    )
    resolved = resolve(config, [], "JD")
    assert resolved.settings.calendar.window.past_days == 7
    assert resolved.settings.calendar.window.future_days == 365
    assert resolved.origins["calendar.window.past_days"] == "file:profile"
    assert resolved.origins["calendar.window.future_days"] == "file:defaults"
    assert resolved.origins["calendar.direction"] == "built-in"


def test_time_zone_layers_staff_sits_between_defaults_and_profile(write_config) -> None:
    config = write_config('[defaults]\ntime_zone = "Europe/Paris"\n[profiles.JD]\ntime_zone = "Asia/Tokyo"\n')
    assert effective(config, [], "AB").time_zone == "Europe/Paris"
    assert effective(config, [], "AB", staff_time_zone="America/New_York").time_zone == "America/New_York"
    assert origins(config, [], "AB", staff_time_zone="America/New_York")["time_zone"] == "staff"
    assert effective(config, [], "JD", staff_time_zone="America/New_York").time_zone == "Asia/Tokyo"


def test_user_changes_stop_applying_when_the_key_is_locked_again(write_config) -> None:
    changes = [user("calendar.direction", "to-mailbox")]
    unlocked = write_config('[policy]\nusers_may_change = ["calendar.direction"]\n')
    assert effective(unlocked, changes, "JD").calendar.direction == "to-mailbox"
    locked = write_config()
    assert effective(locked, changes, "JD").calendar.direction == "both"
    assert origins(locked, changes, "JD")["calendar.direction"] == "built-in"
    # And a user change at the defaults level never applies.
    sneaky = [SettingChange(level="defaults", profile=None, key="calendar.direction",
                            value="off", actor="user", by="JD")]
    assert effective(unlocked, sneaky, "JD").calendar.direction == "both"


def test_later_changes_in_a_layer_win(write_config) -> None:
    config = write_config()
    changes = [admin("profile", "tasks.list", "One", "JD"), admin("profile", "tasks.list", "Two", "JD")]
    assert effective(config, changes, "JD").tasks.list == "Two"


def test_a_bad_stored_change_names_the_key_and_where_it_is(write_config) -> None:
    config = write_config()
    with pytest.raises(ConfigError) as caught:
        effective(config, [admin("profile", "calendar.interval", "20s", "JD")], "JD")
    assert caught.value.key == "calendar.interval"
    assert "calendar.interval (a change for profile JD kept in the state store)" in str(caught.value)
    assert "under 1 minute" in str(caught.value)
    with pytest.raises(ConfigError, match=r'calendar\.directon.*did you mean "calendar\.direction"'):
        effective(config, [admin("defaults", "calendar.directon", "both")])


# change_setting -----------------------------------------------------------------------------


def test_admin_change_is_stored_typed_and_takes_effect(write_config, store) -> None:
    config = write_config()
    change = change_setting(store, config, code="JD", key="calendar.interval", value="2h",
                            actor="admin", by="root")
    assert (change.level, change.profile, change.key) == ("profile", "JD", "calendar.interval")
    assert change.value == "2h"
    assert change.actor == "admin" and change.by == "root" and change.at is not None
    assert store.changes == [change]
    assert effective(config, store.setting_changes(), "JD").calendar.interval == timedelta(hours=2)
    assert origins(config, store.setting_changes(), "JD")["calendar.interval"] == "store:profile(admin)"


def test_admin_defaults_level_change(write_config, store) -> None:
    config = write_config()
    change = change_setting(store, config, code=None, key="contacts.folder", value="default",
                            actor="admin", by="root")
    assert (change.level, change.profile) == ("defaults", None)
    assert effective(config, store.setting_changes(), "JD").contacts.folder == "default"
    assert origins(config, store.setting_changes(), "JD")["contacts.folder"] == "store:defaults"


def test_locked_key_is_refused_for_users_and_allowed_for_admins(write_config, store) -> None:
    config = write_config('[policy]\nusers_may_change = ["calendar.direction"]\n')
    with pytest.raises(LockedSetting) as caught:
        change_setting(store, config, code="JD", key="tasks.direction", value="off", actor="user", by="JD")
    message = str(caught.value)
    assert caught.value.key == "tasks.direction"
    assert "locked" in message and "admin must unlock it" in message and "users_may_change" in message
    assert store.changes == []

    change_setting(store, config, code="JD", key="tasks.direction", value="off", actor="admin", by="root")
    assert effective(config, store.setting_changes(), "JD").tasks.direction == "off"

    change_setting(
        store, config, code="JD", key="calendar.direction", value="to-mailbox", actor="user", by="JD"
    )
    assert origins(config, store.setting_changes(), "JD")["calendar.direction"] == "store:profile(user)"


def test_unlocking_a_table_unlocks_its_keys(write_config, store) -> None:
    config = write_config('[policy]\nusers_may_change = ["calendar.window"]\n')
    change_setting(
        store, config, code="JD", key="calendar.window.past_days", value="14", actor="user", by="JD"
    )
    assert effective(config, store.setting_changes(), "JD").calendar.window.past_days == 14
    with pytest.raises(LockedSetting):
        change_setting(store, config, code="JD", key="calendar.types", value="Call", actor="user", by="JD")


def test_users_cannot_change_the_defaults(write_config, store) -> None:
    config = write_config('[policy]\nusers_may_change = ["calendar.direction"]\n')
    with pytest.raises(LockedSetting, match="only an admin can change the defaults"):
        change_setting(store, config, code=None, key="calendar.direction", value="off", actor="user", by="JD")
    assert store.changes == []


@pytest.mark.parametrize(
    ("key", "typed", "expected"),
    [
        ("calendar.types", "Meeting, Call", ("Meeting", "Call")),
        ("calendar.types", '["Meeting", "Hearing"]', ("Meeting", "Hearing")),
        ("calendar.series", "", ()),
        ("calendar.send_invitations", "true", True),
        ("contacts.guard.max_deletes", "10", 10),
        ("contacts.guard.max_delete_share", "0.5", 0.5),
        ("mail.since", "2025-01-31", date(2025, 1, 31)),
        ("mail.since", "", None),
        ("contacts.filter", "company.kind = 'client'", "company.kind = 'client'"),
        ("tasks.list", '"Firm Tasks 2"', "Firm Tasks 2"),
        ("time_zone", "Europe/Berlin", "Europe/Berlin"),
        ("mail.interval", "90", timedelta(seconds=90)),
    ],
)
def test_values_are_parsed_to_the_keys_type(
    write_config, store, key: str, typed: str, expected: object
) -> None:
    config = write_config()
    change_setting(store, config, code="JD", key=key, value=typed, actor="admin", by="root")
    settings = effective(config, store.setting_changes(), "JD")
    node: object = settings
    for part in key.split("."):
        node = getattr(node, part)
    assert node == expected


@pytest.mark.parametrize(
    ("key", "typed", "fragments"),
    [
        ("calendar.interval", "30s", ["calendar.interval:", "under 1 minute"]),
        ("mail.direction", "both", ["mail.direction:", "not a direction mail can have"]),
        ("contacts.guard.max_deletes", "lots", ["contacts.guard.max_deletes:", "whole number"]),
        ("calendar.intervall", "5m",
         ["calendar.intervall: unknown setting", 'did you mean "calendar.interval"']),
        ("calendar.window", "10", ["calendar.window is a table", "calendar.window.past_days"]),
        ("mail.via", "imap", ["mail.via", "needs an [imap] table"]),
    ],
)
def test_wrong_changes_are_refused_naming_the_key(
    write_config, store, key: str, typed: str, fragments: list[str]
) -> None:
    config = write_config()
    with pytest.raises(ConfigError) as caught:
        change_setting(store, config, code="JD", key=key, value=typed, actor="admin", by="root")
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "Fix:" in str(caught.value)
    assert store.changes == []


def test_a_new_change_replaces_the_old_one_and_clear_removes_it(write_config, store) -> None:
    config = write_config()
    change_setting(store, config, code="JD", key="tasks.list", value="A", actor="admin", by="root")
    change_setting(store, config, code="JD", key="tasks.list", value="B", actor="admin", by="root")
    assert [c.value for c in store.changes] == ["B"]
    assert clear_setting(store, config, code="JD", key="tasks.list", actor="admin") is True
    assert effective(config, store.setting_changes(), "JD").tasks.list == "Firm Tasks"
    assert clear_setting(store, config, code="JD", key="tasks.list", actor="admin") is False


def test_users_cannot_clear_a_locked_key(write_config, store) -> None:
    config = write_config()
    change_setting(store, config, code="JD", key="tasks.list", value="A", actor="admin", by="root")
    with pytest.raises(LockedSetting):
        clear_setting(store, config, code="JD", key="tasks.list", actor="user")
    assert len(store.changes) == 1


# fingerprint --------------------------------------------------------------------------------


def test_fingerprint_follows_scope_keys_only(write_config) -> None:
    base = effective(write_config())
    fp = fingerprint(base.calendar)
    assert fp == fingerprint(effective(write_config()).calendar)  # stable

    def calendar(extra: str) -> str:
        return fingerprint(effective(write_config(extra)).calendar)

    assert calendar('[defaults.calendar]\nfilter = "matter = \'X\'"\n') != fp
    assert calendar('[defaults.calendar]\ntypes = ["Meeting"]\n') != fp
    assert calendar('[defaults.calendar]\nseries = ["LIT"]\n') != fp
    assert calendar("[defaults.calendar]\nwindow = { past_days = 10 }\n") != fp

    assert calendar('[defaults.calendar]\ninterval = "1h"\n') == fp
    assert calendar("[defaults.calendar]\nguard = { max_deletes = 3 }\n") == fp
    assert calendar('[defaults.calendar]\nconflict = "record-only"\n') == fp
    assert calendar("[defaults.calendar]\nsend_invitations = true\n") == fp
    assert calendar('[defaults.contacts]\nfilter = "x = 1"\n') == fp  # another part's filter

    filtered = effective(write_config('[defaults.contacts]\nfilter = "x"\n'))
    assert fingerprint(base.contacts) != fingerprint(filtered.contacts)
    assert fingerprint(base.tasks) != fingerprint(base.contacts)
