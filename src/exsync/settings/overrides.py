"""Partial tables: the keys one layer gives, checked with the full model's own field rules.

``partial_model(CalendarSettings)`` is derived from the full model (same keys, same validators,
nothing required), so ``[defaults.calendar]`` and ``[profiles.JD.calendar]`` can never drift from
the settings the engine reads. ``Overrides[M]`` is the field type that holds such a table.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, SerializationInfo, create_model
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, core_schema

M = TypeVar("M", bound=BaseModel)


def _model_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


@functools.cache
def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with every key optional (nested models partial too); only given keys count."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = _model_type(info.annotation)
        if nested is not None:
            annotation: Any = partial_model(nested)
        elif info.metadata:
            annotation = Annotated[(info.annotation, *info.metadata)]  # keep validators, bounds
        else:
            annotation = info.annotation
        # The None default is never validated nor dumped: callers use exclude_unset.
        fields[name] = (annotation, None)
    partial: type[BaseModel] = create_model(
        f"{model.__name__}Override",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __module__=model.__module__,
        **fields,
    )
    return partial


class Overrides(Generic[M]):
    """The keys of model ``M`` that one layer of the configuration gives, already validated."""

    __slots__ = ("_given",)

    def __init__(self, given: BaseModel | None = None) -> None:
        self._given = given

    @property
    def values(self) -> dict[str, Any]:
        """The given keys as nested dicts (nested models as dicts), with validated values."""
        return {} if self._given is None else self._given.model_dump(exclude_unset=True)

    def flat(self) -> dict[str, Any]:
        """The given keys by dotted name: ``{"guard.max_deletes": 10}``."""
        return flatten(self.values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.flat().get(key, default)

    def __bool__(self) -> bool:
        return bool(self.values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Overrides) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.flat())))

    def __repr__(self) -> str:
        return f"Overrides({self.values!r})"

    def _dump(self, info: SerializationInfo) -> dict[str, Any]:
        if self._given is None:
            return {}
        return self._given.model_dump(mode=info.mode, exclude_unset=True)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        args = get_args(source)
        model = _model_type(args[0]) if args else None
        if model is None:
            raise TypeError("use Overrides[SomeModel]")
        inner = handler.generate_schema(partial_model(model))
        table = core_schema.no_info_after_validator_function(cls, inner)
        return core_schema.no_info_before_validator_function(
            _unwrap,
            table,
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls._dump, info_arg=True, return_schema=core_schema.dict_schema()
            ),
        )


def _unwrap(value: Any) -> Any:
    return value.values if isinstance(value, Overrides) else value


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys. Only tables nest: lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping):
            out.update(flatten(value, key))
        else:
            out[key] = value
    return out


def unflatten(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def _leaves(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        nested = _model_type(info.annotation)
        if nested is not None:
            yield from _leaves(nested, key)
        else:
            yield key, info


@functools.cache
def leaf_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Every leaf key of ``model`` by dotted name, in declaration order."""
    return dict(_leaves(model))


@functools.cache
def group_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The dotted names of nested tables (``calendar``, ``calendar.window``): they hold leaves."""
    groups: list[str] = []
    for key in leaf_fields(model):
        parts = key.split(".")
        for end in range(1, len(parts)):
            group = ".".join(parts[:end])
            if group not in groups:
                groups.append(group)
    return tuple(groups)


def model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at ``loc`` (a pydantic error location), if any.

    Walks fields, ``X | None``, ``Overrides[X]`` and ``dict[str, X]`` (whose keys are free names).
    """
    current: Any = root
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        model = _model_type(current)
        if model is None or not isinstance(step, str) or step not in model.model_fields:
            return None
        current = _strip(model.model_fields[step].annotation)
        while get_origin(current) is dict:
            if not steps:
                return None
            steps.pop(0)  # the free name (a profile code)
            current = _strip(get_args(current)[1])
    return _model_type(current)


def _strip(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Overrides[X]`` -> ``X``; ``Annotated[X, …]`` -> ``X``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _strip(get_args(annotation)[0])
    if origin is Overrides:
        return get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        models = [m for m in members if _model_type(_strip(m)) is not None]
        return _strip(models[0]) if models else members[0]
    return annotation
