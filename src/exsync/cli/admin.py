"""``exsync resume`` (lift a guard's suspension) and ``exsync conflicts`` (the conflict log)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from exsync.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    JsonOption,
    check_part,
    command,
    shown,
)
from exsync.model import PART_NAMES
from exsync.settings import ConfigError

_PART_HELP = f"The part: {', '.join(PART_NAMES)}."


def resume(
    profile: Annotated[str, typer.Option("--profile", metavar="CODE", help="The profile's staff code.")],
    part: Annotated[str, typer.Option("--part", metavar="PART", help=_PART_HELP)],
    config: ConfigOption = DEFAULT_CONFIG,
    json_output: JsonOption = False,
) -> None:
    """Lift a guard's suspension of one (profile, part); the next sync runs it again."""
    with command(json_output) as out:
        name = check_part(part)
        settings = out.config(config)
        store = out.store(settings)
        known = [row.code for row in store.profiles()]
        if profile not in known:
            raise ConfigError(
                f"--profile: there is no profile {profile!r}. "
                f"Fix: use one of {', '.join(known) or '(none yet)'} (`exsync profile list`)",
                key="--profile",
            )
        suspension = store.suspension(profile, name)
        resumed = store.resume(profile, name) if suspension is not None else False
        reason = suspension.reason if suspension is not None else None
        if out.json:
            out.document({"profile": profile, "part": name, "resumed": resumed, "reason": reason})
        elif resumed:
            out.out.print(f"Lifted the suspension of {profile} {name} (it was: {reason}).")
            out.out.print("The next `exsync sync` runs it again; the guard still checks that run.")
        else:
            out.out.print(f"{profile} {name} was not suspended: there was no suspension to lift.")


def conflicts(
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="CODE", help="Only this profile.")
    ] = None,
    part: Annotated[str | None, typer.Option("--part", metavar="PART", help=_PART_HELP)] = None,
    unresolved: Annotated[
        bool, typer.Option("--unresolved", help="Only conflicts not yet resolved.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 500,
    config: ConfigOption = DEFAULT_CONFIG,
    json_output: JsonOption = False,
) -> None:
    """The conflict log: fields both sides changed to different values, and what was kept."""
    with command(json_output) as out:
        name = check_part(part) if part is not None else None
        settings = out.config(config)
        store = out.store(settings)
        entries = store.conflicts(profile, name, unresolved_only=unresolved, limit=limit)
        if out.json:
            out.document({"conflicts": [asdict(entry) for entry in entries]})
            return
        if not entries:
            out.out.print(
                "No conflicts logged" + (" for that selection." if profile or name or unresolved else ".")
            )
            return
        table = Table(title="Conflicts (newest first)", title_justify="left")
        for column in ("when", "profile", "part", "key", "field", "business value", "mailbox value", "winner",
                       "kept value"):  # fmt: skip
            table.add_column(column, overflow="fold")
        for entry in entries:
            when = entry.at.strftime("%Y-%m-%d %H:%M:%S") if entry.at is not None else "—"
            winner = entry.winner if not entry.resolved else f"{entry.winner} (resolved)"
            table.add_row(
                when, entry.profile, entry.part, entry.key, entry.field, shown(entry.business_value),
                shown(entry.mailbox_value), winner, shown(entry.kept_value),
            )  # fmt: skip
        out.out.print(table)
