"""Fixtures of the Graph connector's tests: one HTTPS sandbox per session, and a `GraphClient` on a fresh
mailbox per test (through the real MSAL path, trusting the sandbox's CA)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from exsync.mailbox.graph.client import GraphClient
from exsync.mailbox.graph.testing import sandbox_client
from exsync.sandbox.server import SandboxServer

_numbers = itertools.count(1)


def new_upn(server: SandboxServer, prefix: str = "user") -> str:
    """A fresh mailbox in the sandbox: its UPN."""
    upn = f"{prefix}{next(_numbers)}@firm.example"
    with httpx.Client(base_url=server.url, verify=str(server.tls.ca)) as control:
        control.post("/_sandbox/users", json={"userPrincipalName": upn}).raise_for_status()
    return upn


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def control(sandbox_server: SandboxServer) -> Iterator[httpx.Client]:
    """The sandbox's control API (/_sandbox/…); faults armed by a test are cleared after it."""
    with httpx.Client(base_url=sandbox_server.url, verify=str(sandbox_server.tls.ca), timeout=30) as client:
        yield client
        client.delete("/_sandbox/faults")


@pytest.fixture
def graph_client(sandbox_server: SandboxServer, control: httpx.Client) -> GraphClient:
    """A GraphClient on a fresh mailbox (`graph_client.mailbox` is its UPN)."""
    return sandbox_client(sandbox_server, new_upn(sandbox_server))
