"""App-only tokens for Graph through MSAL's ConfidentialClientApplication (client credentials, with a
secret or a certificate), cached in memory. Secrets never reach a message or a log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal  # type: ignore[import-untyped]
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from exsync.connector.errors import AuthFailed, Unavailable
from exsync.mailbox.graph.transport import CachedTokenSource
from exsync.settings import ConfigError
from exsync.settings.schema import Certificate

# Microsoft's sign-in hosts, which MSAL knows without instance discovery against them.
MICROSOFT_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.microsoftonline.de",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    }
)
# Graph's national clouds: their tokens are for themselves. Anything else (the sandbox, a proxy) is a
# stand-in for global Graph, whose resource it expects.
NATIONAL_GRAPH_HOSTS = frozenset(
    {"graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn", "graph.microsoft.de"}
)
GLOBAL_GRAPH = "https://graph.microsoft.com"


def graph_scope(graph_url: str) -> str:
    host = (urlsplit(graph_url).hostname or "").lower()
    resource = f"https://{host}" if host in NATIONAL_GRAPH_HOSTS else GLOBAL_GRAPH
    return f"{resource}/.default"


def load_certificate(certificate: Certificate) -> dict[str, str]:
    """MSAL's certificate credential from one PEM file holding the private key and its certificate:
    the key unencrypted (decrypted with ``certificate.password`` when it has one), the SHA-1 thumbprint
    Entra lists, and the certificate itself (sent as x5c)."""
    key = "mailbox.certificate"
    try:
        pem = certificate.path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{key}.path: cannot read {certificate.path} ({exc.strerror}). Fix: check the path and that the "
            "service's user may read it",
            key=f"{key}.path",
        ) from None
    password = certificate.password.reveal().encode() if certificate.password is not None else None
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ConfigError(
            f"{key}.path: {certificate.path} holds no PEM certificate. Fix: one PEM file with the private "
            "key and the certificate (-----BEGIN CERTIFICATE-----)",
            key=f"{key}.path",
        ) from None
    try:
        private = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError):  # no key, a wrong or missing password: never say more about it
        raise ConfigError(
            f"{key}.path: {certificate.path} holds no private key this exsync can read (missing, or "
            "encrypted and the password is wrong or not given). Fix: put the PEM private key in the same "
            "file, and give certificate.password when it is encrypted",
            key=f"{key}.path",
        ) from None
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "private_key": private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "thumbprint": hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


class MsalTokens(CachedTokenSource):
    """Tokens of one app registration in one tenant. ``client_secret`` reads the secret when it is needed
    (``Secret.reveal`` from the config), so it is held nowhere else."""

    def __init__(
        self,
        *,
        tenant: str,
        client_id: str,
        login_url: str,
        graph_url: str,
        client_secret: Callable[[], str] | None = None,
        certificate: Certificate | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        super().__init__(self._acquire)
        self.tenant = tenant
        self.client_id = client_id
        self.scope = graph_scope(graph_url)
        self._secret = client_secret
        self._certificate = certificate
        self._login_url = login_url.rstrip("/")
        self._ca_bundle = ca_bundle
        self._app: msal.ConfidentialClientApplication | None = None
        self._session: requests.Session | None = None

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is not None:
            return self._app
        credential: str | dict[str, str]
        if self._certificate is not None:
            credential = load_certificate(self._certificate)
        elif self._secret is not None:
            credential = self._secret()
        else:
            raise ConfigError(
                'mailbox.client_secret: no credential. Fix: add client_secret = { env = "…" } or '
                'certificate = { path = "…" }',
                key="mailbox.client_secret",
            )
        host = (urlsplit(self._login_url).hostname or "").lower()
        options: dict[str, Any] = {}
        if self._ca_bundle is not None:
            # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment would silently replace MSAL's verify=.
            session = requests.Session()
            session.verify = str(self._ca_bundle)
            session.trust_env = False
            options["http_client"] = self._session = session
        self._app = msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=credential,
            authority=f"{self._login_url}/{self.tenant}",
            instance_discovery=host in MICROSOFT_LOGIN_HOSTS,
            timeout=30,
            **options,
        )
        return self._app

    def _acquire(self) -> tuple[str, float]:
        where = f"app {self.client_id} in tenant {self.tenant} at {self._login_url}"
        try:
            app = self._application()
            app.remove_tokens_for_client()  # asked for a token: ours is ending or was refused
            result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as exc:
            raise Unavailable(
                f"sign-in for {where}: the identity platform could not be reached ({type(exc).__name__})"
            ) from None
        except ValueError as exc:  # MSAL: the authority could not be discovered
            raise AuthFailed(f"sign-in for {where}: {self._scrub(str(exc))}") from None
        if "access_token" not in result:
            self._app = None  # the next sign-in reads the credential again (it may have been rotated)
            error = result.get("error", "unknown_error")
            description = str(result.get("error_description", "")).splitlines()[0:1]
            detail = f": {self._scrub(description[0])}" if description else ""
            raise AuthFailed(f"sign-in for {where} refused ({error}){detail}")
        return str(result["access_token"]), float(result.get("expires_in", 3599))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def _scrub(self, text: str) -> str:
        if self._secret is not None:
            try:
                value = self._secret()
            except ConfigError:
                return text
            text = text.replace(value, "***")
        return text
