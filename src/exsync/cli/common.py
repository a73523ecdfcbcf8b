"""What every command shares: its options, opening the config and the state store, output, exit codes.

Exit codes (DESIGN.md, "The command line"): 0 success; 1 some item, pair or profile failed; 2 usage or
configuration error; 3 a guard has a pair suspended (3 wins over 1). With ``--json`` exactly one JSON
document goes to stdout, whatever happens; messages, warnings and progress go to stderr.
"""

from __future__ import annotations

import difflib
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from exsync.connector.errors import SideError
from exsync.model import PART_NAMES
from exsync.settings import Config, ConfigError, load_config
from exsync.state import StateStore

OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2
SUSPENDED: Final = 3

ConfigOption = Annotated[
    Path,
    typer.Option("--config", metavar="FILE", help="The configuration file.", show_default=True),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print exactly one JSON document on stdout (messages go to stderr)."),
]
DEFAULT_CONFIG: Final = Path("exsync.toml")


@dataclass
class Output:
    """Where a command's output goes: a human view on stdout, or one JSON document."""

    json: bool
    out: Console = field(default_factory=lambda: Console(markup=False, highlight=False, width=_width()))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
    )
    resources: ExitStack = field(default_factory=ExitStack)

    def document(self, data: Any) -> None:
        """The one JSON document of this command (``--json`` only)."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def status(self, message: str) -> None:
        """A progress line on stderr."""
        self.err.print(message, style="dim")

    @contextmanager
    def progress(self) -> Iterator[Callable[[str], None]]:
        """Report progress on stderr: one updating line on a terminal, else a line per step (logs)."""
        if not self.err.is_terminal:
            yield self.status
            return
        with self.err.status("starting…") as shown:
            yield lambda message: shown.update(message)

    def warn(self, message: str) -> None:
        self.err.print(f"warning: {message}", style="yellow")

    def config(self, path: Path) -> Config:
        return load_config(path)

    def store(self, config: Config) -> StateStore:
        """The state store the config names, closed when the command ends."""
        try:
            store = StateStore(config.state.url)
        except SQLAlchemyError as exc:
            raise ConfigError(
                f"state.url: cannot open the state store ({_first_line(exc)}). Fix: check the URL in "
                f"[state] of {config.path} and that its database server is running",
                key="state.url",
            ) from None
        self.resources.callback(store.close)
        return store


@contextmanager
def command(json_output: bool) -> Iterator[Output]:
    """Run one command's body: a ``ConfigError`` becomes exit code 2 with its message.

    The body ends with ``raise typer.Exit(code)`` (see ``finish``) or returns (exit code 0).
    """
    output = Output(json=json_output)
    with output.resources:
        try:
            yield output
        except ConfigError as exc:
            output.err.print(f"error: {exc.message}", style="red")
            if output.json:
                output.document({"error": exc.message, "key": exc.key})
            raise typer.Exit(USAGE) from None
        except SideError as exc:
            # A side cannot be reached at all (its database is down, its credentials are refused).
            output.err.print(f"error: {exc}", style="red")
            if output.json:
                output.document({"error": str(exc)})
            raise typer.Exit(FAILED) from None
        except SQLAlchemyError as exc:
            # The state store went away mid-command: the command failed, nothing was half-written.
            message = f"the state store failed: {_first_line(exc)}"
            output.err.print(f"error: {message}", style="red")
            if output.json:
                output.document({"error": message})
            raise typer.Exit(FAILED) from None


def finish(code: int) -> None:
    """End the command with ``code`` (0 returns normally)."""
    if code != OK:
        raise typer.Exit(code)


def check_parts(values: Sequence[str] | None, option: str = "--part") -> list[str]:
    """The parts named on the command line, checked; an unknown one is a usage error (exit 2)."""
    parts: list[str] = []
    for value in values or ():
        name = value.strip().lower()
        if name not in PART_NAMES:
            guess = difflib.get_close_matches(name, PART_NAMES, n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            raise ConfigError(
                f"{option}: {value!r} is not a part. Fix: {hint}use one of {', '.join(PART_NAMES)}",
                key=option,
            )
        if name not in parts:
            parts.append(name)
    return parts


def check_part(value: str, option: str = "--part") -> str:
    return check_parts([value], option)[0]


def who() -> str:
    """Who made a change, for the record: the operating-system user running the CLI."""
    try:
        return f"{getpass.getuser()} (cli)"
    except (KeyError, OSError):  # no passwd entry, e.g. in a container
        return "cli"


def shown(value: Any) -> str:
    """A setting's or field's value as an admin would write it."""
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False, default=str)


def _width() -> int | None:
    # Piped or captured output is read later, not on an 80-column terminal: do not cut it to 80.
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 120


def _first_line(exc: SQLAlchemyError) -> str:
    # The driver's message, without SQLAlchemy's "(Background on this error …)" or the statement.
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
