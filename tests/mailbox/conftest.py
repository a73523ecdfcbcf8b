"""Fixtures of the Graph connector's tests: one HTTPS sandbox per session, and a `GraphClient` on a fresh
mailbox per test (through the real MSAL path, trusting the sandbox's CA). Helpers to import by name are
in `mailbox_fixtures` (`new_upn(server)`, `trust(server)`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mailbox_fixtures import new_upn, trust

from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.testing import sandbox_client
from exsync.mailbox.graph.transport import close_transports
from exsync.sandbox.server import SandboxServer

__all__ = ["new_upn", "trust"]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server
        close_transports(server.url)  # idle keep-alive connections would hold the server's stop up


@pytest.fixture
def control(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    """The sandbox's control API (/_sandbox/…); faults armed by a test are cleared after it."""
    with httpx.Client(base_url=sandbox_server.url, verify=trust(sandbox_server), timeout=30) as client:
        yield client
        client.delete("/_sandbox/faults")


@pytest.fixture
def graph_client(sandbox_server: SandboxServer, control: httpx.Client) -> GraphClient:
    """A GraphClient on a fresh mailbox (`graph_client.mailbox` is its UPN)."""
    return sandbox_client(sandbox_server, new_upn(sandbox_server))
