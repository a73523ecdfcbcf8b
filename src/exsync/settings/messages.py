"""pydantic's validation errors, rewritten for an admin: the dotted key, what is wrong, the fix."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from exsync.settings.errors import ConfigError, KeyProblem
from exsync.settings.overrides import model_at
from exsync.settings.parts import PART_MODELS
from exsync.settings.secrets import PasswordBook, Secret

_SECRET_MODELS: tuple[type[BaseModel], ...] = (Secret, PasswordBook)
_SECRET_WORDS = ("secret", "password", "certificate")

_EXPECTED = {
    "string_type": "a string in quotes",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": 'a list such as ["a", "b"]',
    "tuple_type": 'a list such as ["a", "b"]',
    "dict_type": "a table such as { key = value }",
    "model_type": "a table such as { key = value }",
    "model_attributes_type": "a table such as { key = value }",
    "date_type": "a date such as 2026-01-31",
    "date_parsing": "a date such as 2026-01-31",
    "date_from_datetime_parsing": "a date such as 2026-01-31",
    "date_from_datetime_inexact": "a date such as 2026-01-31",
    "path_type": "a path in quotes",
}

KeyName = Callable[[str], str]


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def closest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _is_secret(loc: Sequence[str | int], root: type[BaseModel]) -> bool:
    # Never echo what was written under a secret's key: it may be the secret itself.
    if any(isinstance(step, str) and any(w in step for w in _SECRET_WORDS) for step in loc):
        return True
    model = model_at(root, tuple(loc))
    return model is not None and issubclass(model, _SECRET_MODELS)


def _shown(value: Any) -> str:
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        return f" {value!r}" if not isinstance(value, bool) else f" {str(value).lower()}"
    return ""


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel], name: KeyName) -> str:
    parent, word = loc[:-1], str(loc[-1])
    key = name(dotted(loc))
    model = model_at(root, parent)
    valid = list(model.model_fields) if model is not None else []
    where = f"[{dotted(parent)}]" if parent else "the top level"
    part = next((p for p in reversed(parent) if isinstance(p, str) and p in PART_MODELS), None)
    if part is not None and word not in valid:
        others = [p for p, m in PART_MODELS.items() if p != part and word in m.model_fields]
        if others:
            return (
                f"{key}: `{word}` does not apply to {part} (it is a key of {', '.join(others)}). "
                f"Fix: remove it from {where}"
            )
    suggestion = closest(word, valid)
    fix = f"did you mean `{suggestion}`?" if suggestion else "remove it or check its spelling."
    listed = f" Valid keys in {where}: {', '.join(valid)}." if valid else ""
    return f"{key}: unknown key. Fix: {fix}{listed}"


def _missing(loc: tuple[str | int, ...], root: type[BaseModel], name: KeyName) -> str:
    key = name(dotted(loc))
    if model_at(root, loc) is not None:
        return f"{key}: required but missing. Fix: add a [{dotted(loc)}] table"
    where = f" under [{dotted(loc[:-1])}]" if len(loc) > 1 else ""
    return f"{key}: required but missing. Fix: add {loc[-1]} = …{where}"


def _one(error: ErrorDetails, root: type[BaseModel], name: KeyName) -> tuple[str, str]:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, KeyProblem):  # a model validator pointing at one of its keys
        loc = (*loc, *cause.key.split("."))
    raw, key = dotted(loc), name(dotted(loc))
    value = "" if _is_secret(loc, root) else _shown(error.get("input"))
    if kind == "extra_forbidden":
        return raw, _unknown_key(loc, root, name)
    if kind == "missing":
        return raw, _missing(loc, root, name)
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        if loc and loc[-1] == "direction":
            part = next((str(p) for p in reversed(loc[:-1]) if p in PART_MODELS), "this part")
            return raw, (
                f"{key}:{value} is not a direction {part} can have. Fix: use one of {expected}"
                + (' (mail only flows into the business archive)' if part == "mail" else "")
            )
        return raw, f"{key}:{value} is not allowed. Fix: use one of {expected}"
    if isinstance(cause, ValueError):  # our own validators phrase the problem and the fix
        return raw, f"{key}: {cause}"
    if kind in _EXPECTED:
        got = type(error.get("input")).__name__
        hint = ""
        if _is_secret(loc, root) and model_at(root, loc) is not None:
            hint = ' (name where the secret is, not the secret: { env = "VARIABLE" } or { file = "path" })'
        return raw, f"{key}: wrong type{value} ({got}). Fix: write {_EXPECTED[kind]}{hint}"
    return raw, f"{key}:{value} {error['msg'].lower()}. Fix: change the value"


def config_error(
    exc: ValidationError,
    root: type[BaseModel],
    *,
    name: KeyName = lambda key: key,
    key_for: KeyName = lambda key: key,
    heading: str = "",
) -> ConfigError:
    """One ``ConfigError`` listing every problem (an admin fixes them all in one edit).

    ``name`` turns a dotted key into the words that say where it is; ``key_for`` gives the
    ``ConfigError.key`` for it.
    """
    problems = [_one(error, root, name) for error in exc.errors()]
    lines = [message for _, message in problems]
    text = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
    if heading:
        text = f"{heading}:\n{text}" if len(lines) > 1 else f"{heading}: {text}"
    return ConfigError(text, key=key_for(problems[0][0]) if problems else None)
