"""Secrets named in the file by where they live, read only when needed.

The file says ``{ env = "VAR" }`` or ``{ file = "path" }``; the value itself is never held by the
model, so repr, str, errors and JSON dumps cannot show it.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from exsync.settings.errors import ConfigError
from exsync.settings.paths import ExistingFile


class Secret(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: ExistingFile | None = None
    _key: str = PrivateAttr(default="secret")  # the dotted key, set once the whole file is read

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "=" in value):
            raise ValueError(
                f'{value!r} is not an environment variable name. Fix: write e.g. env = "EXSYNC_SECRET"'
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError('needs exactly one source. Fix: write { env = "VARIABLE" } or { file = "path" }')
        return self

    @property
    def key(self) -> str:
        return self._key

    def reveal(self) -> str:
        """The secret's value, read now (so a rotated secret is picked up without a restart)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(
                    f"{self._key}: the environment variable {self.env} is not set. Fix: set it in the "
                    f"environment exsync runs in, or point {self._key} at a file with file = \"…\"",
                    key=self._key,
                )
            source = f"the environment variable {self.env}"
        else:
            assert self.file is not None  # guaranteed by _one_source
            try:
                value = self.file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"{self._key}: cannot read {self.file} ({exc.strerror}). Fix: check the path "
                    "and that the service's user may read it",
                    key=self._key,
                ) from None
            source = f"the file {self.file}"
        value = value.strip()  # files end with a newline; no secret has surrounding blanks
        if not value:
            raise ConfigError(f"{self._key}: {source} is empty. Fix: put the secret there", key=self._key)
        return value

    def __repr__(self) -> str:
        where = f"env={self.env!r}" if self.env is not None else f"file={str(self.file)!r}"
        return f"Secret({where})"

    __str__ = __repr__


class PasswordBook(BaseModel):
    """A TOML file of ``"login" = "password"`` lines (IMAP passwords per mailbox)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: ExistingFile
    _key: str = PrivateAttr(default="passwords")

    @property
    def key(self) -> str:
        return self._key

    def reveal(self, login: str) -> str:
        try:
            with self.file.open("rb") as handle:
                book = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(
                f"{self._key}: cannot read {self.file} ({exc.strerror}). Fix: check the path and "
                "that the service's user may read it",
                key=self._key,
            ) from None
        except tomllib.TOMLDecodeError as exc:  # its message has a position, never the content
            raise ConfigError(
                f"{self._key}: {self.file} is not valid TOML ({exc}). Fix: one line per login, "
                'like "user@firm.example" = "secret"',
                key=self._key,
            ) from None
        value = book.get(login)
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{self._key}: {self.file} has no password for {login!r}. Fix: add a line "
                f'"{login}" = "…"',
                key=self._key,
            )
        return value

    def __repr__(self) -> str:
        return f"PasswordBook(file={str(self.file)!r})"

    __str__ = __repr__


def name_secrets(node: Any, prefix: str = "") -> None:
    """Tell every secret in a validated tree its dotted key, for the messages ``reveal`` raises."""
    if isinstance(node, Secret | PasswordBook):
        node._key = prefix
        return
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            name_secrets(getattr(node, name), f"{prefix}.{name}" if prefix else name)
    elif isinstance(node, dict):
        for name, value in node.items():
            name_secrets(value, f"{prefix}.{name}" if prefix else str(name))


__all__ = ["PasswordBook", "Secret", "name_secrets"]
