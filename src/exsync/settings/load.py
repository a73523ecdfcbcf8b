"""Reading the configuration file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from exsync.settings.errors import ConfigError
from exsync.settings.layers import resolve
from exsync.settings.messages import config_error
from exsync.settings.schema import Config
from exsync.settings.secrets import name_secrets


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML configuration file; any problem is a ``ConfigError``."""
    path = Path(path).expanduser().absolute()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no configuration file there. Fix: pass --config FILE, or create it "
            "(`exsync demo` writes a working example)"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text. Fix: save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read it ({exc.strerror}). Fix: check the path and its rights"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # the message carries "(at line L, column C)"
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix: correct the syntax there") from None
    return config_from_dict(data, path=path)


def config_from_dict(data: Mapping[str, Any], *, path: str | os.PathLike[str]) -> Config:
    """A ``Config`` from already-parsed TOML; relative paths are read from ``path``'s folder."""
    path = Path(path).expanduser().absolute()
    try:
        config = Config.model_validate(dict(data), context={"folder": path.parent})
    except ValidationError as exc:
        raise config_error(exc, Config, heading=str(path)) from None
    config._path = path
    name_secrets(config)
    # Rules that span keys, for what the file alone says (stored changes are checked when made).
    for code in (None, *config.profile_codes()):
        try:
            resolve(config, (), code)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}", key=exc.key) from None
    return config
