"""Fixtures of the sandbox's own suite: one HTTPS sandbox per session, a raw httpx client per test with
a token from the identity endpoint, a fresh mailbox per test, and the schema hook on every response."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from graph_schema import GraphSchema
from sandbox_fixtures import Graph, token, trust

from exsync.sandbox.server import SandboxServer

IGNORE = (r"^/_sandbox/", r"^/[^/]+/oauth2/", r"/\.well-known/", r"/discovery/instance", r"^/$")


@pytest.fixture(scope="session")
def schema() -> GraphSchema:
    return GraphSchema.load()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def graph(sandbox_server: SandboxServer, schema: GraphSchema) -> Iterator[Graph]:
    hook = schema.hook(ignore=IGNORE)
    control = httpx.Client(base_url=sandbox_server.url, verify=trust(sandbox_server))
    client = httpx.Client(
        base_url=sandbox_server.url,
        verify=trust(sandbox_server),
        headers={"Authorization": f"Bearer {token(sandbox_server)}", "Prefer": 'IdType="ImmutableId"'},
        event_hooks={"response": [hook]},
        timeout=30,
    )
    with client, control:
        setup = Graph(client, control, sandbox_server, "")
        setup.upn = setup.new_user()
        yield setup
