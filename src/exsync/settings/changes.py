"""Changing a setting through the CLI or the web console: kept in the state store, never the file."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from exsync.settings.errors import ConfigError, LockedSetting
from exsync.settings.layers import resolve
from exsync.settings.messages import closest, config_error
from exsync.settings.overrides import flatten, group_keys, leaf_fields, partial_model, unflatten
from exsync.settings.parts import ProfileSettings
from exsync.settings.schema import Config, covers, setting_keys
from exsync.state.records import SettingChange

Level = Literal["defaults", "profile"]
Actor = Literal["admin", "user"]


class SettingsStore(Protocol):
    """What settings need of the state store (``exsync.state.StateStore`` provides it)."""

    def setting_changes(self) -> list[SettingChange]: ...

    def set_setting(self, change: SettingChange, /) -> None: ...

    def unset_setting(self, level: Level, profile: str | None, key: str, /) -> bool: ...


def _field(key: str) -> FieldInfo:
    fields = leaf_fields(ProfileSettings)
    if key in fields:
        return fields[key]
    if key in group_keys(ProfileSettings):
        inside = ", ".join(k for k in fields if covers(key, k))
        raise ConfigError(f"{key} is a table. Fix: set its keys one at a time: {inside}", key=key)
    if key == "enabled":
        raise ConfigError(
            "enabled: a profile is switched off in the configuration file. Fix: write enabled = false "
            "in its [profiles.CODE] table",
            key=key,
        )
    suggestion = closest(key, setting_keys())
    fix = f'did you mean "{suggestion}"?' if suggestion else 'use a key such as "calendar.direction"'
    raise ConfigError(f"{key}: unknown setting. Fix: {fix}", key=key)


def parse_value(key: str, text: str) -> Any:
    """Read what was typed after ``KEY=`` the way the key's type needs it.

    Lists take ``a, b`` or a JSON/TOML list (``""`` is the empty list); numbers and booleans are
    JSON/TOML scalars; text is taken as typed (surrounding quotes, if any, are removed).
    """
    annotation = _field(key).annotation
    stripped = text.strip()
    if get_origin(annotation) is tuple:
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                try:
                    return tomllib.loads(f"v = {stripped}")["v"]
                except tomllib.TOMLDecodeError:
                    raise ConfigError(
                        f'{key}: {text!r} is not a list. Fix: write a, b or ["a", "b"]', key=key
                    ) from None
        return [item.strip() for item in stripped.split(",") if item.strip()]
    if stripped.startswith('"') and stripped.endswith('"') and len(stripped) >= 2:
        try:
            value: Any = json.loads(stripped)
            return value
        except json.JSONDecodeError:
            return stripped
    # Numbers and booleans: pydantic reads "25", "0.2", "true" itself and says what is wrong.
    return stripped


def check_value(key: str, value: Any) -> Any:
    """Validate one key's value with the file's rules; return it JSON-ready (``"15m"``, lists)."""
    _field(key)
    table = partial_model(ProfileSettings)
    try:
        given = table.model_validate(unflatten({key: value}))
    except ValidationError as exc:
        raise config_error(exc, ProfileSettings) from None
    return flatten(given.model_dump(mode="json", exclude_unset=True))[key]


def _check_actor(config: Config, code: str | None, key: str, actor: Actor) -> None:
    if actor != "user":
        return
    if code is None:
        raise LockedSetting(
            f"{key}: only an admin can change the defaults. Fix: change it for your own profile, "
            "or ask an admin",
            key=key,
        )
    if not config.policy.unlocked(key):
        raise LockedSetting(
            f"{key} is locked: users may not change it. Fix: an admin must unlock it by adding "
            f'"{key}" to users_may_change in [policy] of {config.path}, or change it as admin',
            key=key,
        )


def _same_slot(a: SettingChange, level: Level, code: str | None, key: str) -> bool:
    return a.level == level and a.profile == code and a.key == key


def change_setting(
    store: SettingsStore,
    config: Config,
    *,
    code: str | None,
    key: str,
    value: str,
    actor: Actor,
    by: str,
) -> SettingChange:
    """Set ``key`` to ``value`` (as typed) for profile ``code``, or at the defaults level (``None``).

    Raises ``LockedSetting`` for a user change the policy does not allow and ``ConfigError`` for
    an unknown key or a wrong value, before anything is stored.
    """
    key = key.strip()
    _field(key)
    _check_actor(config, code, key, actor)
    stored = check_value(key, parse_value(key, value))
    level: Level = "defaults" if code is None else "profile"
    change = SettingChange(
        level=level, profile=code, key=key, value=stored, actor=actor, by=by, at=datetime.now(UTC)
    )
    # Rules that span keys (mail.via = "imap" needs [imap]) see the change among all the others.
    after = [c for c in store.setting_changes() if not _same_slot(c, level, code, key)] + [change]
    _check_resolves(config, after, code)
    store.set_setting(change)
    return change


def clear_setting(
    store: SettingsStore, config: Config, *, code: str | None, key: str, actor: Actor
) -> bool:
    """Remove a stored change, so the layer below applies again. False if there was none."""
    key = key.strip()
    _field(key)
    _check_actor(config, code, key, actor)
    level: Level = "defaults" if code is None else "profile"
    after = [c for c in store.setting_changes() if not _same_slot(c, level, code, key)]
    _check_resolves(config, after, code)
    return store.unset_setting(level, code, key)


def _check_resolves(config: Config, changes: Sequence[SettingChange], code: str | None) -> None:
    # A defaults-level change reaches every profile, so check each one the file names as well.
    codes = [code] if code is not None else [None, *config.profile_codes()]
    for each in codes:
        resolve(config, changes, each)
