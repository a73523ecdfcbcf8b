"""What the sandbox tests share, importable by name (unlike conftest, a name several test folders share):
trusting the sandbox's CA, a token, and the `Graph` client setup the `graph` fixture yields."""

from __future__ import annotations

import itertools
import ssl
from dataclasses import dataclass

import httpx

from exsync.sandbox.server import SandboxServer

_numbers = itertools.count(1)


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
