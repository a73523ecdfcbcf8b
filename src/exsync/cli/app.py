"""The ``exsync`` command: wiring of the command groups, and the console-script entry point."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import typer

from exsync import __version__
from exsync.cli import admin, profiles
from exsync.cli import demo as demo_command
from exsync.cli import sandbox as sandbox_command
from exsync.cli import sync as sync_command
from exsync.cli.common import FAILED, USAGE

app = typer.Typer(
    name="exsync",
    help=(
        "Keeps a firm's business database and its people's Microsoft 365 mailboxes in step.\n\n"
        "Every command takes --config FILE (default ./exsync.toml) and --json. Exit codes: 0 ok, "
        "1 something failed, 2 usage or configuration error, 3 a guard has a pair suspended."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.command("sync")(sync_command.sync)
app.add_typer(profiles.profile_app, name="profile")
app.command("resume")(admin.resume)
app.command("conflicts")(admin.conflicts)
app.command("sandbox")(sandbox_command.sandbox)
app.command("demo")(demo_command.demo)


def _version(value: bool) -> None:
    if value:
        print(f"exsync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


# Recent Typer versions carry their own copy of click: find its ClickException via an exported subclass.
_CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: runs one command and exits with its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in args
    try:
        code = app(args=args, prog_name="exsync", standalone_mode=False)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        code = FAILED
    except _CLICK_ERROR as exc:  # unknown option, missing argument, bad value: a usage error
        exc.show()  # type: ignore[attr-defined]
        if want_json:
            print(json.dumps({"error": exc.format_message()}))  # type: ignore[attr-defined]
        code = getattr(exc, "exit_code", USAGE)
    except Exception as exc:  # a bug: say so, without locals (they may hold secrets)
        traceback.print_exc(file=sys.stderr)
        if want_json:
            print(json.dumps({"error": f"internal error: {type(exc).__name__}: {exc}"}))
        code = FAILED
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
