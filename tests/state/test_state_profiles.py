"""Settings changed through the CLI or web console, and provisioned profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exsync.state import ProfileRow, SettingChange, StateStore


def test_setting_changes_round_trip_oldest_first(store: StateStore) -> None:
    store.set_setting(SettingChange("defaults", None, "calendar.direction", "to-mailbox", by="admin@firm"))
    store.set_setting(SettingChange("profile", "JD", "calendar.types", ["Meeting", "Hearing"], "user", "jd"))
    store.set_setting(SettingChange("profile", "AB", "contacts.guard", {"max_deletes": 50}))

    changes = store.setting_changes()
    assert [(c.level, c.profile, c.key) for c in changes] == [
        ("defaults", None, "calendar.direction"),
        ("profile", "JD", "calendar.types"),
        ("profile", "AB", "contacts.guard"),
    ]
    assert changes[0].value == "to-mailbox" and changes[0].by == "admin@firm" and changes[0].actor == "admin"
    assert changes[1].value == ["Meeting", "Hearing"] and changes[1].actor == "user" and changes[1].by == "jd"
    assert changes[2].value == {"max_deletes": 50}
    for change in changes:
        assert change.at is not None and abs(change.at - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_setting_is_replaced_by_level_profile_and_key(store: StateStore) -> None:
    store.set_setting(SettingChange("defaults", None, "calendar.direction", "to-mailbox"))
    store.set_setting(SettingChange("profile", "JD", "calendar.direction", "both"))
    first_at = store.setting_changes()[0].at
    store.set_setting(SettingChange("defaults", None, "calendar.direction", "off", by="boss"))

    changes = store.setting_changes()
    assert len(changes) == 2
    assert [(c.profile, c.value) for c in changes] == [("JD", "both"), (None, "off")]  # re-stamped: newest
    assert changes[1].by == "boss"
    assert changes[1].at is not None and first_at is not None and changes[1].at >= first_at


def test_unset_setting(store: StateStore) -> None:
    store.set_setting(SettingChange("defaults", None, "tasks.list", "Firm Tasks"))
    store.set_setting(SettingChange("profile", "JD", "tasks.list", "Mine"))
    assert store.unset_setting("defaults", None, "tasks.list") is True
    assert store.unset_setting("defaults", None, "tasks.list") is False
    assert store.unset_setting("profile", "AB", "tasks.list") is False
    assert [(c.profile, c.value) for c in store.setting_changes()] == [("JD", "Mine")]


def test_a_setting_may_be_null(store: StateStore) -> None:
    store.set_setting(SettingChange("profile", "JD", "mail.since", None))
    (change,) = store.setting_changes()
    assert change.value is None and change.key == "mail.since"


def test_profiles_upsert_by_code_and_list_by_staff_id(store: StateStore) -> None:
    assert store.profiles() == [] and store.profile("JD") is None
    jd = ProfileRow("JD", 7, "jd@firm.example", "Jane Doe", "Europe/Vienna")
    ab = ProfileRow("AB", 3, "ab@firm.example")
    store.save_profile(jd)
    store.save_profile(ab)
    assert store.profiles() == [ab, jd]
    assert store.profile("JD") == jd

    left = ProfileRow("JD", 7, "jd@firm.example", "Jane Doe", "Europe/Vienna", False, "left the firm")
    store.save_profile(left)
    assert store.profile("JD") == left
    assert len(store.profiles()) == 2
