"""Errors of the configuration: the CLI maps every ``ConfigError`` to exit code 2."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration (file or stored change) is wrong; the message names the key and the fix.

    Messages never carry a secret's value: they are printed, logged and put in ``--json``.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key  # the first dotted key at fault, when there is one

    def __str__(self) -> str:
        return self.message


class LockedSetting(ConfigError):
    """A user tried to change a setting the admin has not unlocked (or a defaults-level one)."""


class KeyProblem(ValueError):
    """Raised inside a model validator about one of its keys, so the message names that key.

    pydantic reports a model validator's error at the model itself; ``key`` (relative to the model)
    lets the message point at the key to fix instead.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
