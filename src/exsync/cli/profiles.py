"""``exsync profile list | show CODE | set CODE KEY=VALUE``: profiles and their layered settings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from exsync.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, Output, command, shown, who
from exsync.service.sync import provision_profiles
from exsync.service.wiring import open_business
from exsync.settings import Config, ConfigError, Resolved, change_setting, resolve
from exsync.settings.overrides import flatten
from exsync.state import ProfileRow, StateStore

profile_app = typer.Typer(
    help="Profiles: who is synced, each setting's effective value and the layer it came from.",
    no_args_is_help=True,
)

_LAYERS = (
    "layers, lowest first: built-in < file:defaults < store:defaults < staff (time zone) < "
    "file:profile < store:profile (changes made with `exsync profile set`)"
)


class _Profiles:
    """The profiles after provisioning from the business side's staff list, and their settings."""

    def __init__(self, out: Output, config: Config, store: StateStore) -> None:
        business = open_business(config)
        self.config, self.store = config, store
        self.rows, warnings = provision_profiles(config, store, business)
        for warning in warnings:
            out.warn(warning)

    def row(self, code: str) -> ProfileRow:
        for row in self.rows:
            if row.code == code:
                return row
        known = ", ".join(row.code for row in self.rows) or "(none: the staff list gives no profile)"
        raise ConfigError(
            f"CODE: there is no profile {code!r}. Fix: use one of {known} (`exsync profile list`)",
            key="CODE",
        )

    def resolved(self, code: str | None) -> Resolved:
        changes = self.store.setting_changes()
        if code is None:
            return resolve(self.config, changes, None)
        # The staff member's zone as provisioning recorded it, as `exsync sync` reads it.
        zone = next((row.time_zone for row in self.rows if row.code == code), "") or None
        return resolve(self.config, changes, code, staff_time_zone=zone)


def _settings(resolved: Resolved) -> dict[str, dict[str, Any]]:
    values = flatten(resolved.settings.model_dump(mode="json"))
    return {
        key: {"value": value, "origin": resolved.origins.get(key, "built-in")}
        for key, value in values.items()
    }


def _profile_json(row: ProfileRow, suspended: list[str]) -> dict[str, Any]:
    data = asdict(row)
    data["suspended"] = suspended
    return data


@profile_app.command("list")
def list_profiles(config: ConfigOption = DEFAULT_CONFIG, json_output: JsonOption = False) -> None:
    """The profiles provisioned from the business side's staff list, active and stopped."""
    with command(json_output) as out:
        settings = out.config(config)
        store = out.store(settings)
        profiles = _Profiles(out, settings, store)
        suspended: dict[str, list[str]] = {}
        for suspension in store.suspensions():
            suspended.setdefault(suspension.profile, []).append(suspension.part)
        if out.json:
            out.document(
                {"profiles": [_profile_json(row, suspended.get(row.code, [])) for row in profiles.rows]}
            )
            return
        if not profiles.rows:
            out.out.print("No profiles: the business side's staff list has nobody to sync yet.")
            return
        table = Table(title="Profiles", title_justify="left")
        for name in ("code", "name", "email", "state"):
            table.add_column(name, no_wrap=name != "state", overflow="fold")
        for row in profiles.rows:
            state = (
                Text("active", style="green") if row.active else Text(f"stopped: {row.stopped_reason}", "red")
            )
            if suspended.get(row.code):
                state.append(f" (suspended: {', '.join(suspended[row.code])})", style="magenta")
            table.add_row(row.code, row.name, row.email, state)
        out.out.print(table)


@profile_app.command("show")
def show_profile(
    code: Annotated[str, typer.Argument(metavar="CODE", help="The profile's staff code.")],
    config: ConfigOption = DEFAULT_CONFIG,
    json_output: JsonOption = False,
) -> None:
    """Every effective setting of a profile and the layer it came from."""
    with command(json_output) as out:
        settings = out.config(config)
        profiles = _Profiles(out, settings, out.store(settings))
        row = profiles.row(code)
        values = _settings(profiles.resolved(code))
        if out.json:
            out.document({"profile": _profile_json(row, []), "settings": values})
            return
        state = "active" if row.active else f"stopped: {row.stopped_reason}"
        out.out.print(f"Profile {row.code} — {row.name} <{row.email}> ({state})", style="bold")
        table = Table(show_header=True)
        table.add_column("setting", no_wrap=True)
        table.add_column("value", overflow="fold")
        table.add_column("from", no_wrap=True)
        for key, entry in values.items():
            origin = str(entry["origin"])
            table.add_row(
                key, shown(entry["value"]), Text(origin, style="" if origin == "built-in" else "cyan")
            )
        out.out.print(table)
        out.out.print(_LAYERS, style="dim")


@profile_app.command("set")
def set_setting(
    arguments: Annotated[
        list[str],
        typer.Argument(
            metavar="[CODE] KEY=VALUE", help="The profile's code (left out with --defaults) and the change."
        ),
    ],
    defaults: Annotated[
        bool,
        typer.Option("--defaults", help="Change the defaults every profile starts with, not one profile."),
    ] = False,
    as_user: Annotated[
        bool,
        typer.Option(
            "--as-user", help="Record the change as the profile's user (only keys in users_may_change)."
        ),
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    json_output: JsonOption = False,
) -> None:
    """Change a setting (as admin unless --as-user); kept in the state store, never in the file."""
    with command(json_output) as out:
        code, key, value = _split(arguments, defaults=defaults)
        settings = out.config(config)
        store = out.store(settings)
        profiles = _Profiles(out, settings, store)
        if code is not None:
            profiles.row(code)
        before = _settings(profiles.resolved(code)).get(key)
        change = change_setting(
            store, settings, code=code, key=key, value=value, actor="user" if as_user else "admin", by=who()
        )
        after = _settings(profiles.resolved(code))[key]
        document = {
            "level": change.level, "profile": code, "key": key, "actor": change.actor,
            "value": after["value"], "origin": after["origin"], "before": before,
        }  # fmt: skip
        if out.json:
            out.document(document)
            return
        target = "the defaults" if code is None else f"profile {code}"
        out.out.print(f"{key} = {shown(after['value'])} for {target} (from {after['origin']})")
        if before is not None:
            out.out.print(f"before: {shown(before['value'])} (from {before['origin']})", style="dim")
        if after["origin"] != f"store:profile({change.actor})" and code is not None:
            out.warn(f"{key} still comes from {after['origin']}, a layer above this change")


def _split(arguments: list[str], *, defaults: bool) -> tuple[str | None, str, str]:
    """``CODE KEY=VALUE`` (or ``KEY=VALUE`` with ``--defaults``) → (code, key, value)."""
    expected = "KEY=VALUE with --defaults" if defaults else "CODE KEY=VALUE"
    if defaults and len(arguments) == 2 and "=" not in arguments[0]:
        raise ConfigError(
            f"--defaults changes the defaults of every profile, so it takes no CODE ({arguments[0]!r}). "
            "Fix: leave out the CODE, or leave out --defaults to change one profile",
            key="--defaults",
        )
    if len(arguments) != (1 if defaults else 2):
        raise ConfigError(f"profile set: expected {expected}. Fix: e.g. `exsync profile set JD "
                          'calendar.direction=to-mailbox`', key="KEY=VALUE")  # fmt: skip
    code = None if defaults else arguments[0].strip()
    key, sep, value = arguments[-1].partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"{arguments[-1]!r} is not KEY=VALUE. Fix: write e.g. calendar.direction=to-mailbox",
            key="KEY=VALUE",
        )
    return code, key.strip(), value
