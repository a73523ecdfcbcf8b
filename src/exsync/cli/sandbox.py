"""`exsync sandbox`: serve the Graph emulator over HTTPS until stopped."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from exsync.cli.common import FAILED, USAGE


def sandbox(
    port: Annotated[int, typer.Option("--port", metavar="N", help="The TCP port on 127.0.0.1.")] = 8443,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", metavar="DIR", help="Keep the state (and the CA) in DIR; default: memory only."
        ),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", metavar="UPN", help="Create this mailbox at start (repeatable)."),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale", metavar="X", help="Run limit windows and token lifetimes X times faster."
        ),
    ] = 1.0,
) -> None:
    """Serve the Graph sandbox (/v1.0/…, identity endpoints, /_sandbox/… and a read-only page at /)."""
    from exsync.sandbox.identity import clients_from_environment
    from exsync.sandbox.server import DataFolderInUse, SandboxServer

    if not 0 <= port <= 65535:
        print(f"error: --port {port} is not a TCP port (0-65535).", file=sys.stderr)
        raise typer.Exit(USAGE)
    if not 0 < time_scale < float("inf"):  # also refuses nan
        print(f"error: --time-scale {time_scale} must be a positive number (1 = real time).", file=sys.stderr)
        raise typer.Exit(USAGE)
    for upn in user or []:
        if "@" not in upn:
            print(
                f"error: --user {upn!r} is not a user principal name like ann@firm.example.", file=sys.stderr
            )
            raise typer.Exit(USAGE)
    try:
        server = SandboxServer(data, port=port, users=user or [], time_scale=time_scale)
    except DataFolderInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(FAILED) from None
    except OSError as exc:
        print(f"error: cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(FAILED) from None
    clients = clients_from_environment()
    client_id = next(iter(clients))
    secret_from = (
        "EXSYNC_SANDBOX_CLIENT_SECRET"
        if client_id != "exsync-sandbox"
        else "the default secret 'exsync-sandbox'"
    )
    mailboxes = ", ".join(m.upn for m in server.sandbox.store.mailboxes.values()) or "none yet"
    print(f"exsync sandbox serving {server.url}/v1.0/", flush=True)
    print(f"  CA certificate:  {server.tls.ca}", flush=True)
    print(f"  token endpoint:  {server.url}/<tenant>/oauth2/v2.0/token", flush=True)
    print(f"  client id:       {client_id} (secret: {secret_from})", flush=True)
    print(f"  mailboxes:       {mailboxes}", flush=True)
    print(f"  browse:          {server.url}/", flush=True)
    print(f"  state:           {data if data is not None else 'in memory (gone when stopped)'}", flush=True)
    server.serve_forever()
