"""The configuration file (DESIGN.md, "The configuration file"), one model per table.

Every table forbids unknown keys: a misspelt key silently ignored is a setting that silently
does not apply. Paths and SQLite URLs are resolved against the file's folder while validating.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exsync.settings.errors import ConfigError, KeyProblem
from exsync.settings.messages import closest
from exsync.settings.overrides import Overrides, group_keys, leaf_fields
from exsync.settings.parts import Name, ProfileSettings
from exsync.settings.paths import DatabaseURL, DataPath, ExistingFile, context_folder, resolve_path
from exsync.settings.secrets import PasswordBook, Secret

_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _mapping(value: object, info: ValidationInfo) -> str | Path:
    if value == "reference":
        return "reference"
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError('not a mapping. Fix: write "reference" (built in) or a mapping file path')
    folder = context_folder(info)
    path = resolve_path(Path(value), folder)
    if not path.is_file():
        raise ValueError(
            f"mapping file {path} does not exist (relative paths are read from the config file's "
            f'folder {folder}). Fix: correct the path, or write "reference" for the built-in mapping'
        )
    return path


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s) URL. Fix: write e.g. \"https://graph.microsoft.com/v1.0\"")
    return value.rstrip("/")


def _login_template(value: str) -> str:
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
    except ValueError as exc:
        raise ValueError(f'{value!r} is not a valid template ({exc}). Fix: write e.g. "{{email}}"') from None
    unknown = sorted(names - {"email", "code"})
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{unknown[0]}}} in {value!r}. Fix: use {{email}} or {{code}} "
            "of the staff row"
        )
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]
MappingSource = Annotated[str | Path, PlainValidator(_mapping)]
LoginTemplate = Annotated[str, AfterValidator(_login_template)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessSection(_Table):
    url: DatabaseURL  # any SQLAlchemy URL; "memory:…" for the in-memory test business side
    mapping: MappingSource = "reference"  # "reference" or the (resolved) path of a mapping file


class Certificate(_Table):
    path: ExistingFile
    password: Secret | None = None


class MailboxSection(_Table):
    kind: Literal["graph", "sandbox", "memory"] = "graph"
    tenant: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    certificate: Certificate | None = None
    graph_url: HttpURL = "https://graph.microsoft.com/v1.0"
    login_url: HttpURL = "https://login.microsoftonline.com"
    ca_bundle: ExistingFile | None = None  # an extra CA to trust (the sandbox's, a proxy's)
    data: DataPath | None = None  # sandbox: its data folder; memory: the JSON store file

    @model_validator(mode="before")
    @classmethod
    def _sandbox_data(cls, values: Any) -> Any:
        # The demo's in-process sandbox keeps its data next to the config unless told otherwise.
        if isinstance(values, dict) and values.get("kind") == "sandbox" and "data" not in values:
            return {**values, "data": "sandbox"}
        return values

    @model_validator(mode="after")
    def _connection(self) -> MailboxSection:
        if self.kind == "memory" and self.data is None:
            raise KeyProblem("data", 'required with kind = "memory". Fix: add data = "mailbox.json"')
        if self.kind != "graph":
            return self
        if self.data is not None:
            raise KeyProblem("data", 'only used with kind = "sandbox" or "memory". Fix: remove it')
        for key, example in (("tenant", "contoso.onmicrosoft.com"), ("client_id", "the app's client id")):
            if not getattr(self, key):
                raise KeyProblem(key, f'required with kind = "graph". Fix: add {key} = "{example}"')
        if self.client_secret is not None and self.certificate is not None:
            raise KeyProblem("certificate", "give client_secret or certificate, not both. Fix: remove one")
        if self.client_secret is None and self.certificate is None:
            raise KeyProblem(
                "client_secret",
                'required with kind = "graph". Fix: add client_secret = { env = "EXSYNC_CLIENT_SECRET" } '
                '(or { file = "…" }), or certificate = { path = "…" }',
            )
        return self


class StateSection(_Table):
    # validate_default: the default is a relative SQLite URL too, resolved like any other.
    url: DatabaseURL = Field(default="sqlite:///exsync-state.db", validate_default=True)


class ImapSection(_Table):
    """Mail over IMAP (``mail.via = "imap"``): any server; Exchange Online with XOAUTH2."""

    host: Name
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    login: LoginTemplate = "{email}"  # over the staff row: {email}, {code}
    auth: Literal["password", "xoauth2"] = "password"
    passwords: PasswordBook | None = None  # lines: "user@firm.example" = "secret"
    password: Secret | None = None  # one password for every login

    @model_validator(mode="after")
    def _consistent(self) -> ImapSection:
        if self.security == "none" and self.host not in _LOOPBACK and not self.host.startswith("127."):
            raise KeyProblem(
                "security",
                f'"none" sends passwords in clear and is allowed only for loopback, not {self.host!r}. '
                'Fix: use "tls" or "starttls"',
            )
        if self.auth == "password":
            if self.passwords is not None and self.password is not None:
                raise KeyProblem("password", "give passwords or password, not both. Fix: remove one")
            if self.passwords is None and self.password is None:
                raise KeyProblem(
                    "passwords",
                    'required with auth = "password". Fix: add passwords = { file = "imap-passwords.toml" } '
                    'or password = { env = "…" }',
                )
        return self

    def login_for(self, *, email: str, code: str) -> str:
        return self.login.format(email=email, code=code)

    def password_for(self, login: str) -> str:
        """The password of ``login`` (read now; never kept)."""
        if self.passwords is not None:
            return self.passwords.reveal(login)
        if self.password is None:
            raise ConfigError(
                'imap.passwords: no password is configured. Fix: add passwords = { file = "…" } '
                'or password = { env = "…" } under [imap]',
                key="imap.passwords",
            )
        return self.password.reveal()


def setting_keys() -> tuple[str, ...]:
    """Every dotted key a profile has (``time_zone``, ``calendar.window.past_days``, …)."""
    return tuple(leaf_fields(ProfileSettings))


def covers(entry: str, key: str) -> bool:
    """Whether a ``users_may_change`` entry unlocks ``key`` (an entry may name a whole table)."""
    return key == entry or key.startswith(entry + ".")


class PolicySection(_Table):
    provision: Literal["auto", "listed"] = "auto"
    users_may_change: tuple[str, ...] = ()  # dotted keys (or tables such as "calendar.window")

    @field_validator("users_may_change")
    @classmethod
    def _known(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        known = (*setting_keys(), *group_keys(ProfileSettings))
        for entry in entries:
            if entry not in known:
                suggestion = closest(entry, known)
                fix = (
                    f'did you mean "{suggestion}"?' if suggestion
                    else 'use a profile key such as "calendar.direction"'
                )
                raise ValueError(f"{entry!r} is not a profile setting. Fix: {fix}")
        return entries

    def unlocked(self, key: str) -> bool:
        return any(covers(entry, key) for entry in self.users_may_change)


class ProfileTable(ProfileSettings):
    """The keys a ``[profiles.CODE]`` table may hold: the profile's settings, and ``enabled``."""

    enabled: bool = True


class Config(_Table):
    """A loaded configuration file. ``path``/``folder`` say where it was read from."""

    business: BusinessSection
    mailbox: MailboxSection
    state: StateSection
    defaults: Overrides[ProfileSettings] = Overrides()
    imap: ImapSection | None = None
    policy: PolicySection = PolicySection()
    profiles: dict[str, Overrides[ProfileTable]] = {}

    _path: Path = PrivateAttr(default_factory=lambda: Path.cwd() / "exsync.toml")

    @model_validator(mode="before")
    @classmethod
    def _state_default(cls, values: Any) -> Any:
        # Built here rather than as a default so its SQLite URL is resolved against the file's folder.
        if isinstance(values, dict) and "state" not in values:
            return {**values, "state": {}}
        return values

    @property
    def path(self) -> Path:
        return self._path

    @property
    def folder(self) -> Path:
        return self._path.parent

    def profile_codes(self) -> list[str]:
        """Codes with a ``[profiles.CODE]`` table, in file order."""
        return list(self.profiles)

    def profile_enabled(self, code: str) -> bool:
        table = self.profiles.get(code)
        return True if table is None else bool(table.get("enabled", True))

    def profile_overrides(self, code: str) -> dict[str, Any]:
        """The settings ``[profiles.CODE]`` gives, by dotted key (without ``enabled``)."""
        table = self.profiles.get(code)
        given = {} if table is None else table.flat()
        given.pop("enabled", None)
        return given

    def default_overrides(self) -> dict[str, Any]:
        """The settings ``[defaults]`` gives, by dotted key."""
        return self.defaults.flat()
