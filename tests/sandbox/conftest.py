"""Fixtures of the sandbox's own suite: one HTTPS sandbox per session, a raw httpx client per test with
a token from the identity endpoint, a fresh mailbox per test, and the schema hook on every response."""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from graph_schema import GraphSchema

from exsync.sandbox.server import SandboxServer

_numbers = itertools.count(1)
IGNORE = (r"^/_sandbox/", r"^/[^/]+/oauth2/", r"/\.well-known/", r"/discovery/instance", r"^/$")


@pytest.fixture(scope="session")
def schema() -> GraphSchema:
    return GraphSchema.load()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def trust(server: SandboxServer) -> ssl.SSLContext:
    """A TLS context that trusts the sandbox's own CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(server.tls.ca))


def token(server: SandboxServer, client_id: str = "exsync-sandbox", secret: str = "exsync-sandbox") -> str:
    response = httpx.post(
        f"{server.url}/firm/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=trust(server),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@dataclass
class Graph:
    """A raw client on one fresh mailbox: `graph.get(f"{graph.me}/contacts")`."""

    client: httpx.Client
    control: httpx.Client  # /_sandbox, no token
    server: SandboxServer
    upn: str

    @property
    def me(self) -> str:
        return f"/v1.0/users/{self.upn}"

    def new_user(self, prefix: str = "user") -> str:
        upn = f"{prefix}{next(_numbers)}@firm.example"
        self.control.post("/_sandbox/users", json={"userPrincipalName": upn}).raise_for_status()
        return upn

    def all_pages(self, url: str, **kwargs: object) -> tuple[list[dict[str, object]], dict[str, object]]:
        """Follow @odata.nextLink to the end: (every value, the last page)."""
        values: list[dict[str, object]] = []
        while True:
            response = self.client.get(url, **kwargs)  # type: ignore[arg-type]
            response.raise_for_status()
            page = response.json()
            values.extend(page["value"])
            kwargs = {}
            if "@odata.nextLink" not in page:
                return values, page
            url = page["@odata.nextLink"]


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
