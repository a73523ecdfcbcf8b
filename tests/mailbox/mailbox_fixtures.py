"""Helpers of the Graph connector's tests (importable by name, unlike conftest): trusting the sandbox's
CA, and making a fresh mailbox."""

from __future__ import annotations

import itertools
import ssl

import httpx

from exsync.sandbox.server import SandboxServer

_numbers = itertools.count(1)


def trust(server: SandboxServer) -> ssl.SSLContext:
    """A TLS context that trusts the sandbox's own CA."""
    return ssl.create_default_context(cafile=str(server.tls.ca))


def new_upn(server: SandboxServer, prefix: str = "user") -> str:
    """A fresh mailbox in the sandbox: its UPN."""
    upn = f"{prefix}{next(_numbers)}@firm.example"
    with httpx.Client(base_url=server.url, verify=trust(server)) as control:
        control.post("/_sandbox/users", json={"userPrincipalName": upn}).raise_for_status()
    return upn
