"""`exsync demo`: a reference database, a sandbox with a mailbox per staff member, a config, a full sync.

Everything lives in one folder (default ./exsync-demo). Run again, it only syncs: nothing to write."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, text

from exsync.cli.common import USAGE, Output, command, finish
from exsync.cli.sync import show_result
from exsync.engine import RunOptions
from exsync.service.sync import run_sync
from exsync.service.wiring import open_business, open_mailbox

MARKER = ".exsync-demo"  # only a folder carrying it is ever used as a demo
CONFIG = """\
# Made by `exsync demo`: the reference database and an in-process Graph sandbox in this folder.
[business]
url = "sqlite:///firm.db"
mapping = "reference"

[mailbox]
kind = "sandbox"
data = "sandbox"

[state]
url = "sqlite:///exsync-state.db"

[defaults.mail]
direction = "off"                   # the e-mail archive comes in a later release
"""
SIZE = {"staff": 5, "companies": 300, "people": 2000, "activities": 1000}


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="The demo folder (made if missing).")
    ] = Path("exsync-demo"),
) -> None:
    """Build a demo in DIR (reference database + Graph sandbox + config) and sync it; again: a no-op sync."""
    with command(False) as out:
        folder = directory.resolve()
        fresh = _prepare(folder)
        if fresh:
            _build(out, folder)
        config = out.config(folder / "exsync.toml")
        business, mailbox = open_business(config), open_mailbox(config)
        store = out.store(config)
        with _progress(out) as step:
            result = run_sync(
                config, store, business, mailbox, options=RunOptions(), on_pair=lambda c, p: step(f"{c} {p}")
            )
        show_result(out, result, dry_run=False)
        _next_steps(out, folder, fresh)
        finish(result.exit_code)


def _prepare(folder: Path) -> bool:
    """True for a new demo; False when DIR already is one (then only sync)."""
    if (folder / MARKER).exists():
        return False
    if folder.exists() and any(folder.iterdir()):
        print(
            f"error: {folder} exists, is not empty and is not an exsync demo. "
            "Fix: give another folder with --dir, or empty this one",
            file=sys.stderr,
        )
        raise typer.Exit(USAGE)
    folder.mkdir(parents=True, exist_ok=True)
    return True


def _build(out: Output, folder: Path) -> None:
    from exsync.business.reference.generate import generate
    from exsync.business.reference.schema import create_schema
    from exsync.sandbox.app import Sandbox
    from exsync.sandbox.server import FolderLock

    out.status("generating the reference database…")
    engine = create_engine(f"sqlite:///{folder / 'firm.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        counts = generate(conn, seed=2026, now=datetime.now(UTC), **SIZE)
        emails = conn.execute(text("SELECT email FROM staff WHERE active = 1 ORDER BY id")).scalars().all()
    engine.dispose()
    out.status("creating a sandbox mailbox per staff member…")
    lock = FolderLock(folder / "sandbox")  # nobody else may use the folder while it is made
    lock.acquire()
    try:
        Sandbox(folder / "sandbox", users=[str(e) for e in emails if e]).close()
    finally:
        lock.release()
    (folder / "exsync.toml").write_text(CONFIG, encoding="utf-8")
    (folder / MARKER).write_text("made by exsync demo\n", encoding="utf-8")
    out.out.print(
        f"Demo in {folder}: firm.db ({counts.staff} staff, {counts.companies} companies, {counts.people} "
        f"people, {counts.activities} activities), sandbox/ ({len(emails)} mailboxes), exsync.toml."
    )


class _progress:
    """A bar over the (profile, part) pairs on a terminal; a line per pair otherwise."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.bar: Progress | None = None

    def __enter__(self) -> Callable[[str], None]:
        if not self.out.err.is_terminal:
            return self.out.status
        self.bar = Progress(
            TextColumn("syncing {task.description}"), BarColumn(), TimeElapsedColumn(), console=self.out.err
        )
        self.bar.start()
        task = self.bar.add_task("…", total=None)

        def step(label: str) -> None:
            assert self.bar is not None
            self.bar.update(task, description=label, advance=1)

        return step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()



def _next_steps(out: Output, folder: Path, fresh: bool) -> None:
    where = f"cd {folder} && "
    intro = "Look further:" if fresh else "The demo already existed: that was a sync of it. Look further:"
    out.out.print(f"\n{intro}")
    for line in (
        f"{where}exsync profile list",
        f"{where}exsync profile show <CODE>",
        f"{where}exsync sync                       # again: nothing to write",
        f"{where}exsync conflicts",
        f"exsync sandbox --data {folder / 'sandbox'}   # browse the mailboxes at https://127.0.0.1:8443/",
    ):
        out.out.print(f"  {line}")
