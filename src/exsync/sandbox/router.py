"""URL templates → handlers. Graph's paths are case-insensitive and accept OData key syntax
(`mailFolders('AAMk…')`); the template a request matched names it in the statistics."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exsync.sandbox.errors import GraphError, no_route

if TYPE_CHECKING:
    from exsync.sandbox.context import Ctx
    from exsync.sandbox.http import Response

Handler = Callable[["Ctx"], "Response"]
_KEY_SYNTAX = re.compile(r"^([^(]+)\('([^']*)'\)$")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    part: str | None  # contacts, calendar, tasks, mail: what a denied permission shuts off
    segments: tuple[str, ...]

    @property
    def literals(self) -> int:
        return sum(1 for s in self.segments if not s.startswith("{"))


class Router:
    def __init__(self) -> None:
        self._routes: dict[int, list[Route]] = {}

    def route(self, method: str, template: str, part: str | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            segments = tuple(template.strip("/").split("/"))
            routes = self._routes.setdefault(len(segments), [])
            routes.append(Route(method, template, handler, part, segments))
            routes.sort(key=lambda r: -r.literals)  # literal segments win over parameters
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        segments = split_path(path)
        allowed = False
        for route in self._routes.get(len(segments), ()):
            params = _bind(route.segments, segments)
            if params is None:
                continue
            if route.method == method:
                return route, params
            allowed = True
        if allowed:
            raise GraphError(
                405, "BadRequest", f"The HTTP method '{method}' is not allowed for this resource."
            )
        raise no_route(method, path)


def split_path(path: str) -> list[str]:
    """`/users/a/mailFolders('x')/messages` → ['users', 'a', 'mailFolders', 'x', 'messages']."""
    out: list[str] = []
    for segment in path.strip("/").split("/"):
        match = _KEY_SYNTAX.match(segment)
        if match:
            out.extend(match.groups())
        elif segment:
            out.append(segment)
    return out


def _bind(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for want, got in zip(template, segments, strict=True):
        if want.startswith("{"):
            params[want[1:-1]] = got
        elif want.lower() != got.lower():
            return None
    return params


ROUTES = Router()
route = ROUTES.route
