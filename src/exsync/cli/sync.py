"""``exsync sync``: one run now of the chosen (profile, part) pairs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from exsync.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, Output, check_parts, command, finish
from exsync.connector import Side
from exsync.engine import RunOptions, RunReport
from exsync.engine.execute import Counts
from exsync.model import PART_NAMES
from exsync.service.sync import SyncResult, run_sync
from exsync.service.wiring import open_business, open_mailbox

_STYLES = {"ok": "green", "failed": "red", "suspended": "magenta", "skipped": "yellow"}


def sync(
    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", metavar="CODE", help="Only this profile (staff code); repeatable."),
    ] = None,
    part: Annotated[
        list[str] | None,
        typer.Option("--part", metavar="PART", help=f"Only this part ({', '.join(PART_NAMES)}); repeatable."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Reconcile everything instead of using delta.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and write nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Pass a guard (and lift its suspension) once.")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    json_output: JsonOption = False,
) -> None:
    """One run now: profiles by staff id, parts contacts → calendar → tasks → mail."""
    with command(json_output) as out:
        parts = check_parts(part)
        settings = out.config(config)
        business, mailbox = open_business(settings), open_mailbox(settings)
        store = out.store(settings)
        verb = "planning" if dry_run else "syncing"
        with out.progress() as report:
            result = run_sync(
                settings, store, business, mailbox,
                profiles=profile or (), parts=parts,
                options=RunOptions(full=full, dry_run=dry_run, force=force),
                on_pair=lambda code, name: report(f"{verb} {code} {name}…"),
            )  # fmt: skip
        for warning in result.warnings:
            out.warn(warning)
        if out.json:
            out.document(result.as_json())
        else:
            show_result(out, result, dry_run=dry_run)
        finish(result.exit_code)


def show_result(out: Output, result: SyncResult, *, dry_run: bool) -> None:
    """The runs as a table, the failed items, the plans of a dry run."""
    if not result.runs:
        out.out.print(
            "Nothing to sync: no active profile has a part switched on (see `exsync profile list`)."
        )
        return
    title = "exsync sync --dry-run: planned writes (nothing was written)" if dry_run else "exsync sync"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("profile", "part", "outcome", "mailbox", "business", "conflicts"):
        table.add_column(name, no_wrap=True, min_width=len(name))
    table.add_column("message", overflow="fold", ratio=1)
    for run in result.runs:
        counts = _planned(run) if dry_run else {side: run.tally.writes[side].as_dict() for side in Side}
        table.add_row(
            run.profile, run.part, Text(run.outcome, style=_STYLES.get(run.outcome, "")),
            _counts(counts[Side.MAILBOX]), _counts(counts[Side.BUSINESS]), str(run.tally.conflicts),
            run.message or (f"{len(run.tally.errors)} item(s) failed" if run.tally.errors else ""),
        )  # fmt: skip
    out.out.print(table)
    out.out.print("mailbox, business: items created/updated/deleted on that side", style="dim")
    for run in result.runs:
        for error in run.tally.errors:
            out.out.print(
                f"{run.profile} {run.part}: {error['item']}: {error['message']}", style="red", soft_wrap=True
            )
    if dry_run:
        _show_plans(out, result.runs)
    if any(run.outcome == "suspended" for run in result.runs):
        out.out.print(
            "A guard suspended a pair: check the message, then `exsync resume --profile CODE --part PART` "
            "or `exsync sync --force`."
        )


def _show_plans(out: Output, runs: list[RunReport]) -> None:
    for run in runs:
        ops = [] if run.plan is None else [op for op in run.plan.ops if op.action != "nothing"]
        if not ops:
            out.out.print(f"Plan for {run.profile} {run.part}: nothing to do")
            continue
        out.out.print(f"Plan for {run.profile} {run.part}: {len(ops)} operation(s)", style="bold")
        for op in ops:
            ids = op.ids()
            business, mailbox = ids[Side.BUSINESS] or "-", ids[Side.MAILBOX] or "-"
            out.out.print(
                f"  {op.action}: business {business}, mailbox {mailbox} — {op.reason}", soft_wrap=True
            )


def _planned(run: RunReport) -> dict[Side, dict[str, int]]:
    """The writes a dry run's plan would make, per side."""
    counts = {side: Counts() for side in Side}
    for op in [] if run.plan is None else run.plan.ops:
        for side, write in op.writes.items():
            counts[side].add(write)
    return {side: c.as_dict() for side, c in counts.items()}


def _counts(counts: dict[str, int]) -> str:
    return f"{counts['created']}/{counts['updated']}/{counts['deleted']}"
