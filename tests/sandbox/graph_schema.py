"""Checks every response the Graph sandbox gives against Microsoft's schema.

The schema is ``reference/graph/graph-v1.0-subset.openapi.yaml`` in the shared folder next to the
repository (an OpenAPI 3.0.1 subset derived from Graph's v1.0 CSDL). A response is matched to the operation
of its method and path (``/v1.0`` stripped, ``/me`` read as ``/users/{user-id}``, literal segments compared
case-insensitively, ``delta`` on the wire for the spec's ``delta()``, OData key syntax ``mailfolders('id')``
read as two segments), then to the response declared for its status (exact code, else ``2XX``/``4XX``/
``5XX``, else ``default``), and its body is validated with ``openapi_schema_validator.OAS30Validator``
(format checking on, ``$ref`` resolved through a ``referencing`` registry that holds the whole document).

Some paths (and methods) the sandbox serves are not in the subset; they are checked against the entity or
collection of the subset that Graph's documentation says they answer with (``_extra_paths``; errors against
ODataError as everywhere). Any other path is a violation ("no schema for …"): nothing the sandbox serves goes
unchecked, except what a hook is told to ignore (the sandbox's own endpoints, ``SANDBOX_ENDPOINTS``);
``test_sandbox_schema_check`` fails when a route the sandbox registers has no schema here.
Beyond the schema: a page's ``@odata.nextLink``/``@odata.deltaLink`` must lead back to the operation that
served the page, and each sub-response of a ``$batch`` is checked against the operation of its sub-request.
A body that is not JSON is checked only for its content type (``application/octet-stream``, Graph's
OpenAPI spelling for a media stream, accepts any).

For speed the validation copy of the document drops ``additionalProperties: {}`` (which allows anything,
exactly as an absent ``additionalProperties`` does) and puts the ``null`` branch of a nullable reference
first in its ``anyOf`` (branch order does not change what validates). Validators are built once per schema.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import httpx
import yaml
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from services import need_service

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPEC_PATH = SHARED / "reference" / "graph" / "graph-v1.0-subset.openapi.yaml"

#: The sandbox's own endpoints, which are not Graph: its control API, the identity endpoints (token,
#: discovery) and its front page. Regular expressions searched in the raw URL path.
SANDBOX_ENDPOINTS: tuple[str, ...] = (
    r"^/_sandbox(/|$)",
    r"^/[^/]+/oauth2/(v2\.0/)?(token|authorize|devicecode)$",
    r"^/([^/]+/)*\.well-known/",
    r"^/common/discovery/",
    r"^/$",
)

_SPEC_URI = "urn:exsync:graph-v1.0-subset"
_EXTRA_URI = "urn:exsync:graph-extra-paths"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_EXCERPT = 300


class Problem(NamedTuple):
    pointer: str  # JSON pointer of the failing value in the response body ("" = the body itself)
    message: str


class SchemaViolation(AssertionError):
    """A response that does not match the schema (or that no schema covers)."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        problems: Sequence[Problem],
        *,
        operation: str = "",
        body: Any = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.operation = operation
        self.problems = list(problems)
        self.pointers = list(dict.fromkeys(p.pointer for p in self.problems))
        matched = f" (checked as {operation})" if operation else ""
        lines = [f"{method} {_display_path(url)} → {status}{matched}: schema violation"]
        for n, problem in enumerate(self.problems):
            where = problem.pointer or "<body>"
            lines.append(f"  {'at' if n == 0 else 'also at'} {where}: {problem.message}")
        if body is not None:
            lines.append(f"  body: {_excerpt(body)}")
        super().__init__("\n".join(lines))


# ------------------------------------------------------------------------------------------------------
# Paths (and methods) the sandbox serves that the subset lacks, checked by the entity or collection
# they answer with (absolute refs into the subset).


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"{_SPEC_URI}#/components/schemas/microsoft.graph.{name}"}


def _collection_of(
    item: str | Mapping[str, Any], base: str = "BaseCollectionPaginationCountResponse"
) -> dict[str, Any]:
    """A page of ``item`` (a component's short name, or a schema): a list's page, or a delta round's with
    ``base="BaseDeltaFunctionResponse"`` (tombstones pass through the item's ``additionalProperties``)."""
    items = _ref(item) if isinstance(item, str) else dict(item)
    return {
        "title": f"Collection of {item if isinstance(item, str) else item.get('title', 'items')}",
        "type": "object",
        "allOf": [
            {"$ref": f"{_SPEC_URI}#/components/schemas/{base}"},
            {"type": "object", "properties": {"value": {"type": "array", "items": items}}},
        ],
    }


def _one_of_types(base: str, derived: Sequence[str]) -> dict[str, Any]:
    """``base`` by its ``@odata.type``: each derived type is checked against its own schema (the subset's
    polymorphic bases allow any property, so checking against the base alone would check nothing)."""
    return {
        "title": f"{base} ({', '.join(derived)})",
        "anyOf": [
            {
                "allOf": [
                    {
                        "type": "object",
                        "required": ["@odata.type"],
                        "properties": {"@odata.type": {"enum": [f"#microsoft.graph.{name}"]}},
                    },
                    _ref(name),
                ]
            }
            for name in derived
        ],
    }


_ERRORS = {
    "4XX": {"$ref": f"{_SPEC_URI}#/components/responses/error"},
    "5XX": {"$ref": f"{_SPEC_URI}#/components/responses/error"},
}


def _returns(label: str, schema: Mapping[str, Any], status: str = "2XX") -> dict[str, Any]:
    content = {"application/json": {"schema": dict(schema)}}
    return {
        "x-exsync-label": label,
        "responses": {status: {"description": label, "content": content}, **_ERRORS},
    }


def _entity(name: str) -> dict[str, Any]:
    return _returns(f"entity {name}", _ref(name))


def _list(name: str) -> dict[str, Any]:
    return _returns(f"entity {name}CollectionResponse", _collection_of(name))


def _no_body(label: str, status: str = "2XX") -> dict[str, Any]:
    return {"x-exsync-label": label, "responses": {status: {"description": f"{label}: no body"}, **_ERRORS}}


def _raw(label: str) -> dict[str, Any]:
    """A media stream (``$value``): checked for its presence only (``application/octet-stream`` accepts any
    content type, as in the subset's own ``$value`` operation)."""
    content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    return {
        "x-exsync-label": label,
        "responses": {"2XX": {"description": label, "content": content}, **_ERRORS},
    }


_NULLABLE_STRING = {"type": "string", "nullable": True}
_USER = {  # a user is not in the subset: the properties the sandbox serves
    "title": "user",
    "type": "object",
    "required": ["id", "userPrincipalName"],
    "properties": {
        "id": {"type": "string"},
        "userPrincipalName": {"type": "string"},
        "displayName": _NULLABLE_STRING,
        "mail": _NULLABLE_STRING,
    },
}
_ATTACHMENT = _one_of_types("attachment", ("fileAttachment", "itemAttachment", "referenceAttachment"))


def _extra_paths() -> dict[str, dict[str, Any]]:
    """The paths the sandbox serves that the subset lacks, each answered with an entity of the subset (the
    response of Graph's documentation for the operation; errors are ODataError as everywhere)."""
    user = "/users/{user-id}"
    task = f"{user}/todo/lists/{{todoTaskList-id}}/tasks/{{todoTask-id}}"
    folder = f"{user}/mailFolders/{{mailFolder-id}}"
    paths: dict[str, dict[str, Any]] = {
        "/users": {"get": _returns("entity userCollectionResponse", _collection_of(_USER))},
        user: {"get": _returns("entity user", _USER)},
        # contacts of the default folder
        f"{user}/contacts": {"get": _list("contact"), "post": _entity("contact")},
        f"{user}/contacts/delta()": {
            "get": _returns("delta of contact", _collection_of("contact", "BaseDeltaFunctionResponse"))
        },
        f"{user}/contacts/{{contact-id}}": {
            "get": _entity("contact"),
            "patch": _entity("contact"),
            "delete": _no_body("entity contact deleted"),
        },
        # calendars
        f"{user}/calendar": {"get": _entity("calendar")},
        f"{user}/calendars": {"get": _list("calendar")},
        f"{user}/calendars/{{calendar-id}}": {"get": _entity("calendar")},
        f"{user}/calendar/events/{{event-id}}/instances": {"get": _list("event")},
        # mail folders
        f"{user}/mailFolders": {"post": _entity("mailFolder")},
        folder: {"patch": _entity("mailFolder"), "delete": _no_body("entity mailFolder deleted")},
        f"{folder}/childFolders": {"get": _list("mailFolder"), "post": _entity("mailFolder")},
        # messages
        f"{user}/messages": {"get": _list("message"), "post": _entity("message")},
        f"{folder}/messages": {"post": _entity("message")},
        f"{folder}/messages/{{message-id}}/$value": {"get": _raw("entity message MIME content")},
        # to-do linked resources
        f"{task}/linkedResources": {"get": _list("linkedResource"), "post": _entity("linkedResource")},
        f"{task}/linkedResources/{{linkedResource-id}}": {
            "get": _entity("linkedResource"),
            "patch": _entity("linkedResource"),
            "delete": _no_body("entity linkedResource deleted"),
        },
    }
    for events in (f"{user}/events", f"{user}/calendar/events"):
        for action in ("accept", "decline", "tentativelyAccept", "cancel"):
            paths[f"{events}/{{event-id}}/{action}"] = {"post": _no_body(f"action {action}", "202")}
    for messages in (f"{user}/messages", f"{folder}/messages"):
        message = f"{messages}/{{message-id}}"
        paths.setdefault(message, {}).update(
            {"patch": _entity("message"), "delete": _no_body("entity message deleted")}
        )
        for action in ("move", "copy"):
            paths[f"{message}/{action}"] = {"post": _entity("message")}
        paths[f"{message}/attachments"] = {
            "get": _returns("entity attachmentCollectionResponse", _collection_of(_ATTACHMENT)),
            "post": _returns("entity attachment", _ATTACHMENT),
        }
        paths[f"{message}/attachments/{{attachment-id}}"] = {
            "get": _returns("entity attachment", _ATTACHMENT),
            "delete": _no_body("entity attachment deleted"),
        }
        paths[f"{message}/attachments/{{attachment-id}}/$value"] = {"get": _raw("entity attachment content")}
    return paths


# ------------------------------------------------------------------------------------------------------
# Paths


class _Route(NamedTuple):
    template: str
    literals: tuple[str | None, ...]  # normalised literal segment, None for a {parameter}
    document: str  # URI of the document that declares the path
    item: Mapping[str, Any]  # its path item


_KEY_SYNTAX = re.compile(r"^(?P<name>[A-Za-z_$][\w.$]*)\((?P<key>.*)\)$", re.DOTALL)


def _normal(segment: str) -> str:
    return segment.lower().removeprefix("microsoft.graph.").removesuffix("()")


def _path_of(url: str) -> str:
    """The percent-encoded path of ``url`` (absolute, or relative as in a $batch sub-request)."""
    path = urlsplit(url).path
    return path if path.startswith("/") else "/" + path


def _display_path(url: str) -> str:
    return urlsplit(url).path or url


def wire_segments(url: str) -> list[str]:
    """The segments of ``url``'s path as Graph reads them: decoded, ``/v1.0`` dropped, ``/me`` as
    ``/users/me``, key syntax ``name('key')`` split into ``name`` and ``key``, ``delta()`` as ``delta``."""
    segments: list[str] = []
    for raw in _path_of(url).split("/"):
        if not raw:
            continue
        segment = unquote(raw)
        key_syntax = _KEY_SYNTAX.match(segment)
        if key_syntax is None:
            segments.append(segment)
            continue
        segments.append(key_syntax["name"])
        key = key_syntax["key"].strip()
        if len(key) >= 2 and key[0] == key[-1] == "'":
            key = key[1:-1].replace("''", "'")
        if key:
            segments.append(key)
    if segments and segments[0].lower() == "v1.0":
        del segments[0]
    if segments and segments[0].lower() == "me":
        segments[:1] = ["users", "me"]
    return segments


def _route_of(template: str, document: str, item: Mapping[str, Any]) -> _Route:
    literals = tuple(
        None if s.startswith("{") and s.endswith("}") else _normal(s) for s in template.split("/") if s
    )
    return _Route(template, literals, document, item)


# ------------------------------------------------------------------------------------------------------
# The validation copy of the document


def _for_validation(node: Any) -> Any:
    if isinstance(node, dict):
        out = {
            k: _for_validation(v) for k, v in node.items() if not (k == "additionalProperties" and v == {})
        }
        branches = out.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and _is_null_branch(branches[1]):
            out["anyOf"] = [branches[1], branches[0]]
        return out
    if isinstance(node, list):
        return [_for_validation(v) for v in node]
    return node


def _is_null_branch(node: Any) -> bool:
    return isinstance(node, dict) and node.get("enum") == [None]


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for source in (Draft4Validator.FORMAT_CHECKER, oas30_format_checker):
        checker.checkers.update(source.checkers)
    if "date-time" not in checker.checkers:  # jsonschema checks date-time only with rfc3339-validator
        raise RuntimeError("jsonschema cannot check date-time here (is rfc3339-validator installed?)")
    return checker


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(tokens: Iterable[object]) -> str:
    return "".join("/" + _escape(t) for t in tokens)


def _excerpt(value: Any, limit: int = _EXCERPT) -> str:
    if isinstance(value, bytes | bytearray):
        text = repr(bytes(value[: limit + 1]))
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _shorten(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors that explain ``error``: for an anyOf/oneOf, those of the branch that came closest (a
    nullable reference reports what is wrong inside the object, not that it is not null; a value of a
    polymorphic type, what is wrong in the branch of its ``@odata.type``)."""
    if not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        if sub.relative_schema_path:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    its_type = [b for b, errors in branches.items() if not any(map(_wrong_type, errors))]
    if len(its_type) == 1:
        branch = its_type[0]
    else:
        closest = best_match([error])
        while closest is not None and closest.parent is not error:
            closest = closest.parent
        if closest is None or not closest.relative_schema_path:  # no branch came closest: the anyOf itself
            return [error]
        branch = closest.relative_schema_path[0]
    return [leaf for sub in branches.get(branch, ()) for leaf in _leaves(sub)]


def _wrong_type(error: ValidationError) -> bool:
    """Whether ``error`` says the value is not of a branch's derived type (its ``@odata.type``)."""
    if error.validator == "enum":
        return list(error.relative_path) == ["@odata.type"]
    return error.validator == "required" and "'@odata.type'" in error.message


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    media = _media_type(content_type)
    return media == "application/json" or media.endswith("+json")


def _accepts(declared: str, media: str) -> bool:
    declared = declared.lower()
    if declared in ("application/octet-stream", "*/*"):  # Graph's OpenAPI spelling for a stream of any type
        return True
    if declared.endswith("/*"):
        return media.startswith(declared[:-1])
    return media == declared


class GraphSchema:
    """The Graph v1.0 subset, ready to check responses. Get one with :meth:`load`."""

    _loaded: dict[Path, GraphSchema] = {}
    _loading = threading.Lock()

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = _for_validation(spec)
        extra = {"paths": _extra_paths()}
        self._documents: dict[str, Any] = {_SPEC_URI: self.spec, _EXTRA_URI: extra}
        self._registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT4))
            for uri, doc in self._documents.items()
        )
        self._format_checker = _format_checker()
        self._validators: dict[str, Any] = {}
        routes = [_route_of(t, _SPEC_URI, item) for t, item in self.spec.get("paths", {}).items()]
        routes += [_route_of(t, _EXTRA_URI, item) for t, item in extra["paths"].items()]
        self._routes: dict[int, list[_Route]] = {}
        for route in routes:
            self._routes.setdefault(len(route.literals), []).append(route)
        self.checked: Counter[tuple[str, int]] = Counter()
        self.ignored: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None) -> GraphSchema:
        """The schema at ``path`` (default: the shared reference), loaded once per path. Call it from a test
        or a fixture: when the file is missing the test is skipped (failed in CI)."""
        path = (path or SPEC_PATH).resolve()
        with cls._loading:
            if path not in cls._loaded:
                if not path.is_file():
                    need_service("the Graph v1.0 reference schema", f"{path} does not exist")
                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                with path.open(encoding="utf-8") as stream:
                    cls._loaded[path] = cls(yaml.load(stream, Loader=loader))
            return cls._loaded[path]

    # ------------------------------------------------------------------------------------------------------
    # Public checks

    def check(
        self,
        method: str,
        url: str,
        status: int,
        body: Any,
        *,
        request_body: Any = None,
        content_type: str | None = None,
    ) -> str:
        """Check a response; returns the operation it was checked as (``"GET /users/{user-id}/events"``, or
        ``"entity contact"`` for a path the subset lacks). ``body`` is the parsed JSON (``None``: no body), or
        the raw bytes/text when ``content_type`` says it is not JSON. A ``$batch`` response needs the batch
        ``request_body`` (parsed) to check each sub-response against its sub-request."""
        method = method.upper()
        operation, problems = self._evaluate(method, url, status, body, content_type, request_body)
        if problems:
            raise SchemaViolation(method, url, status, problems, operation=operation, body=body)
        return operation

    def check_schema(self, name: str, value: Any) -> str:
        """Validate ``value`` against the component schema ``name`` (``"microsoft.graph.contact"``, or
        ``"contact"`` for short); returns the schema's name."""
        if name not in self.spec["components"]["schemas"]:
            name = f"microsoft.graph.{name}"
        if name not in self.spec["components"]["schemas"]:
            raise KeyError(f"no component schema {name!r}")
        problems = self._validate(f"{_SPEC_URI}#/components/schemas/{quote(name)}", value)
        if problems:
            raise SchemaViolation(
                "-", f"#/components/schemas/{name}", 0, problems, operation=name, body=value
            )
        return name

    def check_response(self, response: httpx.Response) -> str:
        """Check an httpx response (read first): method, URL, status, content type and body."""
        response.read()
        request = response.request
        method, url, status = request.method, str(request.url), response.status_code
        content_type = response.headers.get("content-type", "")
        body: Any = None
        if response.content:
            if _is_json(content_type):
                try:
                    body = json.loads(response.content)
                except ValueError as exc:
                    problem = Problem(
                        "", f"the body is not valid JSON ({exc}) though Content-Type is {content_type}"
                    )
                    raise SchemaViolation(method, url, status, [problem], body=response.content) from None
                content_type = None
            else:
                body = response.content
        else:
            content_type = None
        request_body = None
        if method == "POST" and [s.lower() for s in wire_segments(url)] == ["$batch"]:
            try:
                request_body = json.loads(request.content or b"null")
            except (ValueError, httpx.RequestNotRead):
                request_body = None
        return self.check(method, url, status, body, request_body=request_body, content_type=content_type)

    def hook(self, *, ignore: Sequence[str] = SANDBOX_ENDPOINTS) -> Callable[[httpx.Response], None]:
        """A response event hook: ``httpx.Client(event_hooks={"response": [schema.hook()]})``. Paths that
        match one of the ``ignore`` regular expressions (the raw path, ``/v1.0`` included) are counted in
        ``self.ignored`` and not checked; every checked (operation, status) is counted in ``self.checked``."""
        patterns = [re.compile(p) for p in ignore]

        def check_response(response: httpx.Response) -> None:
            response.read()
            if not self._ignored(response, patterns):
                self.check_response(response)

        return check_response

    def async_hook(self, *, ignore: Sequence[str] = SANDBOX_ENDPOINTS) -> Callable[[httpx.Response], Any]:
        """:meth:`hook` for an ``httpx.AsyncClient``."""
        patterns = [re.compile(p) for p in ignore]

        async def check_response(response: httpx.Response) -> None:
            await response.aread()
            if not self._ignored(response, patterns):
                self.check_response(response)

        return check_response

    def _ignored(self, response: httpx.Response, patterns: Sequence[re.Pattern[str]]) -> bool:
        path = _path_of(str(response.request.url))
        if any(p.search(path) for p in patterns):
            with self._lock:
                self.ignored[path] += 1
            return True
        return False

    # ------------------------------------------------------------------------------------------------------
    # Matching

    def operation_for(self, method: str, url: str) -> tuple[str, str, str, Mapping[str, Any]] | None:
        """(label, document URI, JSON pointer, operation object) for ``method`` on ``url``, or None."""
        route = self._match(method, url)
        if route is None:
            return None
        method = method.lower()
        operation = route.item[method]
        label = operation.get("x-exsync-label") or f"{method.upper()} {route.template}"
        return label, route.document, _pointer(["paths", route.template, method]), operation

    def fallbacks(self) -> list[tuple[str, str]]:
        """(METHOD, template) of every operation checked by a fallback (a path or method the subset lacks)."""
        extra = self._documents[_EXTRA_URI]["paths"]
        return [(m.upper(), t) for t, item in extra.items() for m in item if m in _METHODS]

    def template_for(self, method: str, url: str) -> str | None:
        """The path template (of the subset, or of the fallbacks) that ``method`` on ``url`` is checked by."""
        route = self._match(method, url)
        return None if route is None else route.template

    def _match(self, method: str, url: str) -> _Route | None:
        """The path that declares ``method`` and matches ``url``; literal segments win over parameters."""
        method = method.lower()
        normal = [_normal(s) for s in wire_segments(url)]
        best: tuple[tuple[bool, ...], _Route] | None = None
        for route in self._routes.get(len(normal), ()):
            if method not in route.item:
                continue
            if all(lit is None or lit == seg for lit, seg in zip(route.literals, normal, strict=True)):
                score = tuple(lit is not None for lit in route.literals)
                if best is None or score > best[0]:
                    best = (score, route)
        return None if best is None else best[1]

    def _methods_at(self, url: str) -> list[str]:
        segments = [_normal(s) for s in wire_segments(url)]
        found: set[str] = set()
        for route in self._routes.get(len(segments), ()):
            if all(lit is None or lit == seg for lit, seg in zip(route.literals, segments, strict=True)):
                found.update(m.upper() for m in route.item if m in _METHODS)
        return sorted(found)

    def _resolve(self, document: str, pointer: str, node: Any) -> tuple[str, str, Any]:
        """Follow ``$ref`` from ``node`` (at ``document#pointer``) to its target."""
        while isinstance(node, Mapping) and "$ref" in node:
            ref: str = node["$ref"]
            target, _, fragment = ref.partition("#")
            document = target or document
            pointer = unquote(fragment)
            node = self._documents[document]
            for token in pointer.split("/")[1:]:
                node = node[token.replace("~1", "/").replace("~0", "~")]
        return document, pointer, node

    def _response_for(
        self, document: str, pointer: str, operation: Mapping[str, Any], status: int
    ) -> tuple[str, str, Any] | None:
        """The response declared for ``status``: the exact code, else ``2XX``…, else ``default``."""
        responses = {str(k).upper(): (k, v) for k, v in operation.get("responses", {}).items()}
        for key in (str(status), f"{status // 100}XX", "DEFAULT"):
            if key in responses:
                original, response = responses[key]
                return self._resolve(document, f"{pointer}/responses/{_escape(original)}", response)
        return None

    # ------------------------------------------------------------------------------------------------------
    # Checking

    def _evaluate(
        self,
        method: str,
        url: str,
        status: int,
        body: Any,
        content_type: str | None,
        request_body: Any,
    ) -> tuple[str, list[Problem]]:
        found = self.operation_for(method, url)
        if found is None:
            others = self._methods_at(url)
            has = f" (the path has {', '.join(others)})" if others else ""
            return "", [Problem("", f"no schema for {method} {_display_path(url)}{has}")]
        label, document, pointer, operation = found
        with self._lock:
            self.checked[(label, status)] += 1
        response = self._response_for(document, pointer, operation, status)
        if response is None:
            declared = ", ".join(str(k) for k in operation.get("responses", {}))
            return label, [Problem("", f"status {status} is not declared for {label} (declared: {declared})")]
        response_document, response_pointer, declared_response = response
        contents: Mapping[str, Any] = declared_response.get("content") or {}
        if body is None or body == b"" or body == "" or status in (204, 304):
            if body not in (None, b"", ""):
                return label, [Problem("", f"status {status} must not carry a body")]
            if contents and status not in (204, 304):
                return label, [Problem("", f"no body, but the schema declares {', '.join(contents)}")]
            return label, []
        if not contents:
            return label, [Problem("", f"the schema declares no body for {label} → {status}, got one")]
        if content_type is not None and not _is_json(content_type):
            media = _media_type(content_type)
            if any(_accepts(declared, media) for declared in contents):
                return label, []
            shown = content_type or "no Content-Type"
            return label, [Problem("", f"{shown}, but the schema declares {', '.join(contents)}")]
        json_media = next((m for m in contents if _is_json(m)), None)
        if json_media is None:
            return label, [Problem("", f"a JSON body, but the schema declares {', '.join(contents)}")]
        schema = contents[json_media].get("schema")
        if schema is None:
            return label, []
        schema_pointer = f"{response_pointer}/content/{_escape(json_media)}/schema"
        if isinstance(schema, Mapping) and set(schema) == {"$ref"}:
            target, _, fragment = schema["$ref"].partition("#")
            ref = f"{target or response_document}#{fragment}"
        else:
            ref = f"{response_document}#{quote(schema_pointer)}"
        problems = self._validate(ref, body)
        if not problems and isinstance(body, dict):
            if label == "POST /$batch":
                problems = self._check_batch(body, request_body)
            elif method == "GET":
                problems = self._check_links(method, url, label, body)
        return label, problems

    def _validator(self, ref: str) -> Any:
        validator = self._validators.get(ref)
        if validator is None:
            validator = OAS30Validator(
                {"$ref": ref}, registry=self._registry, format_checker=self._format_checker
            )
            self._validators[ref] = validator
        return validator

    def _validate(self, ref: str, body: Any) -> list[Problem]:
        leaves = [leaf for error in self._validator(ref).iter_errors(body) for leaf in _leaves(error)]
        problems = sorted({Problem(_pointer(e.absolute_path), _shorten(e.message)) for e in leaves})
        if len(problems) > 12:
            problems[12:] = [Problem("", f"… and {len(problems) - 12} more")]
        return problems

    def _check_links(self, method: str, url: str, label: str, body: Mapping[str, Any]) -> list[Problem]:
        """A page's nextLink/deltaLink must lead back to the same path (not just an operation of the same
        label: several fallback paths answer with the same entity)."""
        problems = []
        served = self._match(method, url)
        for key in ("@odata.nextLink", "@odata.deltaLink"):
            link = body.get(key)
            if isinstance(link, str):
                leads = self._match("GET", link)
                if leads is None or leads is not served:
                    found = self.operation_for("GET", link)
                    shown = found[0] if found else "no operation of the schema"
                    problems.append(Problem("/" + _escape(key), f"{link} leads to {shown}, not to {label}"))
        return problems

    def _check_batch(self, body: Mapping[str, Any], request_body: Any) -> list[Problem]:
        responses = body.get("responses") or []
        if not responses:
            return []
        requests = request_body.get("requests") if isinstance(request_body, Mapping) else None
        if not isinstance(requests, list):
            return [Problem("/responses", "the batch request body is needed to check the sub-responses")]
        by_id = {r.get("id"): r for r in requests if isinstance(r, Mapping)}
        problems: list[Problem] = []
        for n, sub in enumerate(responses):
            request = by_id.get(sub.get("id"))
            if request is None:
                problems.append(Problem(f"/responses/{n}/id", f"no sub-request has id {sub.get('id')!r}"))
                continue
            sub_method, sub_url, sub_status = (
                str(request.get("method", "")).upper(),
                str(request.get("url")),
                sub["status"],
            )
            headers = {str(k).lower(): v for k, v in (sub.get("headers") or {}).items()}
            sub_type = headers.get("content-type")
            content_type = None if sub_type is None or _is_json(sub_type) else sub_type
            operation, sub_problems = self._evaluate(
                sub_method, sub_url, sub_status, sub.get("body"), content_type, None
            )
            context = f"sub-request {sub['id']} ({sub_method} {sub_url} → {sub_status}"
            context += f", checked as {operation})" if operation else ")"
            for problem in sub_problems:
                problems.append(
                    Problem(f"/responses/{n}/body{problem.pointer}", f"{problem.message} [{context}]")
                )
        return problems
