"""The part of the Microsoft identity platform a confidential client uses: OpenID discovery, the
client-credentials token endpoint, and the bearer-token check Graph makes on every call.

What MSAL Python's ``ConfidentialClientApplication`` + ``acquire_token_for_client`` needs:

* ``GET {authority}/v2.0/.well-known/openid-configuration``, of which it reads ``authorization_endpoint``
  and ``token_endpoint`` (both required), ``issuer`` and ``device_authorization_endpoint``. It takes the
  tenant from the token endpoint's first path segment.
* ``GET /common/discovery/instance?authorization_endpoint=…&api-version=…`` only when instance discovery is
  on, the authority host is not one of Microsoft's and ``validate_authority`` is true; it reads
  ``tenant_discovery_endpoint`` (and ``error == "invalid_instance"``).
* ``POST {token_endpoint}`` with the form ``client_id``, ``grant_type=client_credentials``, ``scope``,
  ``client_info=1`` and either ``client_secret`` or ``client_assertion_type`` + ``client_assertion``. It
  reads ``access_token``, ``expires_in``, ``ext_expires_in`` and ``token_type`` back, or ``error`` and
  ``error_description`` from a 4xx answer (it raises only on 5xx).

Tokens are HS256 JWTs over a key the caller keeps in the data folder, so they outlive a server restart.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CLIENT_ID = "exsync-sandbox"
DEFAULT_CLIENT_SECRET = "exsync-sandbox"
CLIENT_ID_VARIABLE = "EXSYNC_SANDBOX_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "EXSYNC_SANDBOX_CLIENT_SECRET"

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's well-known application id
# Graph accepts its URL or its application id as the audience; tokens here always carry the URL.
GRAPH_AUDIENCES = frozenset({GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID})
DEFAULT_SUFFIX = "/.default"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Microsoft's token validators allow five minutes of clock skew on both ends of a lifetime.
CLOCK_SKEW = 300.0
CERTIFICATE_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"

# Graph's own 401 messages, as it words them.
EMPTY_TOKEN = "Access token is empty."
MALFORMED_TOKEN = (
    "IDX14100: JWT is not well formed, there are no dots (.).\n"
    "The token needs to be in JWS or JWE Compact Serialization Format. "
    "(JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. "
    "(JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
    "EncodedCiphertext.EncodedAuthenticationTag'."
)
BAD_SIGNATURE = "Signature is invalid."
BAD_AUDIENCE = "Access token validation failure. Invalid audience."
INVALID_TOKEN = "Access token validation failure."
EXPIRED = "Lifetime validation failed, the token is expired."
NOT_YET_VALID = "Lifetime validation failed, the token is not yet valid."
INVALID_AUTHENTICATION_TOKEN = "InvalidAuthenticationToken"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Claims:
    app_id: str
    tenant: str
    expires_at: float
    issued_at: float


class TokenError(Exception):
    """The token endpoint's OAuth error: send ``body`` as JSON with HTTP ``status``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{body['error']}: {body['error_description']}")
        self.status = status
        self.body = body


class _Refusal(Exception):
    """Why the token endpoint says no; ``issue`` turns it into a TokenError with the request's ids."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


class Unauthorized(Exception):
    """A Graph call's bearer token is missing or invalid: answer 401 with ``code`` and ``str(self)``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def clients_from_environment(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The client the sandbox accepts: the pair from the environment when both variables are set (and
    non-empty), otherwise the built-in ``exsync-sandbox`` pair."""
    client_id, secret = env.get(CLIENT_ID_VARIABLE, ""), env.get(CLIENT_SECRET_VARIABLE, "")
    if client_id and secret:
        return {client_id: secret}
    return {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}


class Identity:
    """Issues client-credentials tokens for the registered clients and checks them on Graph calls."""

    def __init__(
        self,
        signing_key: bytes,
        clients: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        lifetime: float = 3599.0,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the sandbox's time, which token lifetimes follow (tests and the time-scale factor
        move it); ``wall_clock`` is the real time that clients stamp their own assertions with."""
        if len(signing_key) < 32:
            raise ValueError("the signing key needs at least 32 bytes (HS256 wants 256 bits)")
        if lifetime < 1:
            raise ValueError("a token lifetime is at least one second")
        self._key = bytes(signing_key)
        self._clients = dict(clients)
        self._clock = clock
        self._verified: dict[str, tuple[str, str, float, float, float]] = {}
        self._wall_clock = wall_clock
        self._lifetime = lifetime

    # Discovery

    def openid_configuration(self, base_url: str, tenant: str) -> dict[str, Any]:
        """The ``{tenant}/v2.0/.well-known/openid-configuration`` document, every endpoint on ``base_url``."""
        base = base_url.rstrip("/")
        root = f"{base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            # Secrets travel in the form only (no HTTP Basic), as MSAL sends them.
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "name", "email"],
            "kerberos_endpoint": f"{root}/kerberos",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            # Where Graph lives: here, in the sandbox.
            "msgraph_host": _netloc(base),
            "rbac_url": "https://pas.windows.net",
        }

    def instance_discovery(self, base_url: str, tenant: str) -> dict[str, Any]:
        """The ``/common/discovery/instance`` answer for an authority on ``base_url``."""
        base = base_url.rstrip("/")
        host = _netloc(base)
        return {
            "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            # host:port rather than the bare host: MSAL builds "https://{alias}/{tenant}" from an alias
            # that matches its instance, and a bare host would drop the sandbox's port.
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }

    # The token endpoint

    def issue(
        self, tenant: str, form: Mapping[str, str], base_url: str, *, correlation_id: str | None = None
    ) -> dict[str, Any]:
        """Answer ``POST {base_url}/{tenant}/oauth2/v2.0/token``: a token response, or raise TokenError.
        ``correlation_id`` is the request's ``client-request-id`` header, which Entra echoes in errors."""
        base = base_url.rstrip("/")
        try:
            return self._issue(tenant, form, base)
        except _Refusal as refusal:
            raise self._error(refusal, base, correlation_id) from None

    def _issue(self, tenant: str, form: Mapping[str, str], base: str) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise _Refusal(400, "invalid_request", 900144, _missing("grant_type"))
        if grant_type != "client_credentials":
            raise _Refusal(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        client_id = form.get("client_id", "")
        if not client_id:
            raise _Refusal(400, "invalid_request", 900144, _missing("client_id"))
        expected = self._clients.get(client_id)
        if expected is None:
            # Entra answers an unknown application with unauthorized_client, not invalid_client.
            raise _Refusal(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                "This can happen if the application has not been installed by the administrator of the "
                "tenant or consented to by any user in the tenant. You may have sent your authentication "
                "request to the wrong tenant.",
            )
        if form.get("client_assertion_type") or form.get("client_assertion"):
            self._check_assertion(form, client_id, f"{base}/{tenant}/oauth2/v2.0/token")
            authentication = "2"  # appidacr: certificate
        elif "client_secret" in form:
            if not hmac.compare_digest(form["client_secret"].encode(), expected.encode()):
                raise _Refusal(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the "
                    "client secret value, not the client secret ID, "
                    f"for a secret added to app '{client_id}'.",
                )
            authentication = "1"  # appidacr: client secret
        else:
            raise _Refusal(401, "invalid_client", 7000216, _NO_CREDENTIAL)
        audience = self._audience(form.get("scope", ""), tenant)
        token = self._sign(self._access_claims(tenant, client_id, audience, authentication, base))
        lifetime = int(self._lifetime)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _audience(self, scope: str, tenant: str) -> str:
        scopes = scope.split()
        if not scopes:
            raise _Refusal(400, "invalid_request", 900144, _missing("scope"))
        if len(scopes) != 1 or not scopes[0].endswith(DEFAULT_SUFFIX):
            raise _Refusal(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = scopes[0].removesuffix(DEFAULT_SUFFIX)
        if resource.rstrip("/").lower() not in {GRAPH_RESOURCE, GRAPH_APP_ID}:
            # The sandbox knows one resource, Graph; Entra says this for a resource not in the tenant.
            raise _Refusal(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {tenant}. "
                "This can happen if the application has not been installed by the administrator of the "
                "tenant or consented to by any user in the tenant. You might have sent your authentication "
                "request to the wrong tenant.",
            )
        return GRAPH_RESOURCE

    def _check_assertion(self, form: Mapping[str, str], client_id: str, endpoint: str) -> None:
        """A certificate credential (private_key_jwt). No certificate is registered with the sandbox, so
        the assertion's signature cannot be and is not checked: any well-formed JWT naming this client as
        its issuer and subject, addressed to this token endpoint and within its lifetime is accepted."""
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise _Refusal(401, "invalid_client", 7000216, _NO_CREDENTIAL)
        parts = _decode_jwt(assertion)
        expires = _number(parts[1].get("exp")) if parts is not None else None
        if parts is None or expires is None:
            raise _Refusal(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        claims = parts[1]
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise _Refusal(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. "
                f"Review the documentation at {CERTIFICATE_DOCS} .",
            )
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if endpoint not in audiences:
            raise _Refusal(
                401,
                "invalid_client",
                50013,
                f"Assertion audience claim does not match the required value. The audience in the assertion "
                f"was '{audience}' and the expected audience is '{endpoint}'.",
            )
        # The client stamps its assertion with its own (real) clock, not the sandbox's.
        now = self._wall_clock()
        starts = _number(claims.get("nbf")) or 0.0
        if not starts - CLOCK_SKEW <= now < expires + CLOCK_SKEW:
            raise _Refusal(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: {_iso(now)}, "
                f"assertion valid from {_iso(starts)}, expiry time of assertion {_iso(expires)}. "
                f"Review the documentation at {CERTIFICATE_DOCS} .",
            )

    def _access_claims(
        self, tenant: str, client_id: str, audience: str, authentication: str, base: str
    ) -> dict[str, Any]:
        now = int(self._clock())
        issuer = f"{base}/{tenant}/"  # the v1 "https://sts.windows.net/{tenant}/" shape, at the sandbox
        principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"exsync-sandbox:{tenant}/{client_id}"))
        return {
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(self._lifetime),
            "appid": client_id,
            "appidacr": authentication,
            "idp": issuer,
            "idtyp": "app",
            "oid": principal,
            "sub": principal,
            "roles": [],
            "tid": tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }

    def _sign(self, claims: Mapping[str, Any]) -> str:
        header = _b64(_json({"typ": "JWT", "alg": "HS256"}))
        signing_input = f"{header}.{_b64(_json(claims))}"
        signature = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def _error(self, refusal: _Refusal, base: str, correlation_id: str | None) -> TokenError:
        """An error shaped like Entra's. Descriptions name the client at most: never a secret or assertion."""
        stamp = dt.datetime.fromtimestamp(self._clock(), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id, correlation_id = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
        code = refusal.code
        return TokenError(
            refusal.status,
            {
                "error": refusal.error,
                # Entra's layout: the message, then the ids and time on lines of their own.
                "error_description": f"AADSTS{code}: {refusal.description}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{base}/error?code={code}",
            },
        )

    # Graph's side

    def verify(self, authorization: str | None) -> Claims:
        """Check a Graph call's ``Authorization`` header; the caller answers 401 on Unauthorized."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, EMPTY_TOKEN)
        checked = self._verified.get(token)
        if checked is None:
            checked = self._check_signed(token)
            if len(self._verified) >= 1024:  # a bounded cache: clients reuse a token for its lifetime
                self._verified.clear()
            self._verified[token] = checked
        app_id, tenant, expires, issued, not_before = checked
        now = self._clock()
        if now >= expires + CLOCK_SKEW:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, EXPIRED)
        if now < not_before - CLOCK_SKEW:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, NOT_YET_VALID)
        return Claims(app_id=app_id, tenant=tenant, expires_at=expires, issued_at=issued)

    def _check_signed(self, token: str) -> tuple[str, str, float, float, float]:
        """What a token says, once its signature and audience are checked (time is checked per use)."""
        parts = _decode_jwt(token)
        if parts is None:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, MALFORMED_TOKEN)
        header, claims = parts
        signing_input, _, signature = token.rpartition(".")
        expected = _b64(hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest())
        if header.get("alg") != "HS256" or not hmac.compare_digest(signature, expected):
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, BAD_SIGNATURE)
        if claims.get("aud") not in GRAPH_AUDIENCES:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, BAD_AUDIENCE)
        app_id, tenant = claims.get("appid"), claims.get("tid")
        expires, issued = _number(claims.get("exp")), _number(claims.get("iat"))
        not_before = _number(claims.get("nbf", claims.get("iat")))
        if not isinstance(app_id, str) or not isinstance(tenant, str):
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, INVALID_TOKEN)
        if expires is None or issued is None or not_before is None:
            raise Unauthorized(INVALID_AUTHENTICATION_TOKEN, INVALID_TOKEN)
        return app_id, tenant, expires, issued, not_before


_NO_CREDENTIAL = (
    "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."
)


def _missing(parameter: str) -> str:
    return f"The request body must contain the following parameter: '{parameter}'."


def _number(value: object) -> float | None:
    """A JSON number as a float; None for anything else (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _netloc(base_url: str) -> str:
    return base_url.split("://", 1)[-1].split("/", 1)[0]


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A compact JWS's header and claims, or None when it is not one (the signature is not checked here)."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    decoded: list[dict[str, Any]] = []
    for piece in pieces[:2]:
        raw = _unb64(piece)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:  # also UnicodeDecodeError
            return None
        if not isinstance(value, dict):
            return None
        decoded.append(value)
    if _unb64(pieces[2]) is None:
        return None
    return decoded[0], decoded[1]
