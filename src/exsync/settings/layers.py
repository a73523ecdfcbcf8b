"""Settings resolve in layers; every effective value knows the layer it came from.

Lowest to highest: built-in < file ``[defaults]`` < a defaults-level change kept in the state store
< the staff member's time zone (``time_zone`` only) < file ``[profiles.CODE]`` < a profile-level
change kept in the state store (by an admin, or by the user for an unlocked key). Layers merge key
by key (``calendar.window.past_days`` alone can come from a profile), then the merged whole is
validated once more, so rules that span keys hold whatever layer each key came from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from exsync.settings.errors import ConfigError
from exsync.settings.messages import closest, config_error
from exsync.settings.overrides import flatten, unflatten
from exsync.settings.parts import ProfileSettings
from exsync.settings.schema import Config, setting_keys
from exsync.state.records import SettingChange

Origin = Literal[
    "built-in",
    "file:defaults",
    "store:defaults",
    "staff",
    "file:profile",
    "store:profile(admin)",
    "store:profile(user)",
]


@dataclass(frozen=True, slots=True)
class Resolved:
    settings: ProfileSettings
    origins: dict[str, Origin]  # every dotted key -> the layer its effective value came from


@functools.cache
def _built_in() -> dict[str, Any]:
    return flatten(ProfileSettings().model_dump())


def file_key(key: str, origin: Origin, code: str | None) -> str:
    """The key as the file spells it when the value came from the file, else the profile key."""
    if origin == "file:defaults":
        return f"defaults.{key}"
    if origin == "file:profile":
        return f"profiles.{code}.{key}"
    return key


def describe(key: str, origin: Origin, code: str | None) -> str:
    """Where to fix ``key``, given the layer its value came from."""
    if origin in ("file:defaults", "file:profile"):
        return file_key(key, origin, code)
    if origin == "store:defaults":
        return f"{key} (a defaults-level change kept in the state store)"
    if origin.startswith("store:profile"):
        return f"{key} (a change for profile {code} kept in the state store)"
    if origin == "staff":
        return f"{key} (staff member {code}'s time zone on the business side)"
    return key


def _applies(change: SettingChange, config: Config, code: str | None) -> bool:
    if change.level == "defaults":
        return change.actor == "admin"  # users never change the defaults
    if code is None or change.profile != code:
        return False
    # A user's change stops applying as soon as the admin locks the key again.
    return change.actor == "admin" or config.policy.unlocked(change.key)


def resolve(
    config: Config,
    changes: Sequence[SettingChange] = (),
    code: str | None = None,
    *,
    staff_time_zone: str | None = None,
) -> Resolved:
    """The settings of profile ``code`` (``None``: the defaults new profiles start with).

    ``changes`` are the store's; later entries win within a layer. ``staff_time_zone`` is the
    staff member's zone from the business side, used unless the profile layers set one.
    """
    values = dict(_built_in())
    origins: dict[str, Origin] = dict.fromkeys(values, "built-in")

    def put(key: str, value: Any, origin: Origin) -> None:
        if key not in values:
            suggestion = closest(key, setting_keys())
            fix = f'did you mean "{suggestion}"?' if suggestion else "remove it"
            raise ConfigError(f"{describe(key, origin, code)}: unknown setting. Fix: {fix}", key=key)
        values[key] = value
        origins[key] = origin

    for key, value in config.default_overrides().items():
        put(key, value, "file:defaults")
    for change in changes:
        if change.level == "defaults" and _applies(change, config, code):
            put(change.key, change.value, "store:defaults")
    if staff_time_zone:
        put("time_zone", staff_time_zone, "staff")
    if code is not None:
        for key, value in config.profile_overrides(code).items():
            put(key, value, "file:profile")
        for change in changes:
            if change.level == "profile" and _applies(change, config, code):
                put(change.key, change.value, "store:profile(user)" if change.actor == "user"
                    else "store:profile(admin)")

    def origin_of(key: str) -> Origin:
        return origins.get(key.split("[", 1)[0], "built-in")

    def name(key: str) -> str:
        return describe(key, origin_of(key), code)

    def key_for(key: str) -> str:
        return file_key(key, origin_of(key), code)

    try:
        settings = ProfileSettings.model_validate(unflatten(values))
    except ValidationError as exc:
        raise config_error(exc, ProfileSettings, name=name, key_for=key_for) from None
    _check_together(settings, config, name, key_for)
    return Resolved(settings=settings, origins=origins)


def _check_together(
    settings: ProfileSettings, config: Config, name: Callable[[str], str], key_for: Callable[[str], str]
) -> None:
    if settings.mail.direction != "off" and settings.mail.via == "imap" and config.imap is None:
        raise ConfigError(
            f'{name("mail.via")}: "imap" needs an [imap] table. Fix: add [imap] with host = "…", '
            'or set mail.via = "graph"',
            key=key_for("mail.via"),
        )


def effective(
    config: Config,
    changes: Sequence[SettingChange] = (),
    code: str | None = None,
    *,
    staff_time_zone: str | None = None,
) -> ProfileSettings:
    """The effective settings of profile ``code`` (``None``: the defaults)."""
    return resolve(config, changes, code, staff_time_zone=staff_time_zone).settings


def origins(
    config: Config,
    changes: Sequence[SettingChange] = (),
    code: str | None = None,
    *,
    staff_time_zone: str | None = None,
) -> dict[str, Origin]:
    """For every dotted key of the profile, the layer its effective value came from."""
    return resolve(config, changes, code, staff_time_zone=staff_time_zone).origins
