"""The verbatim Graph documentation examples in the shared folder, and a comparison of shapes against them.

``reference/graph/examples/`` holds one file per code block of Microsoft's docs: ``.http`` files carry a
status line ("HTTP/1.1 200 OK", or just "200 OK") or a request line ("POST https://…"), headers, a blank
line and the body; ``.json`` files only a body. ``index.json`` gives each file's source and notes (its
known quirks). The one body that is not valid JSON (a trailing comma in the batch response) is repaired,
and the repair recorded.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from services import need_service

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "graph" / "examples"

_STATUS_LINE = re.compile(r"^(?:HTTP/\d+(?:\.\d+)?\s+)?(?P<status>[1-5]\d\d)\b")
_REQUEST_LINE = re.compile(r"^(?P<method>[A-Z]+)\s+(?P<target>\S+)")
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")
_CLOSING = re.compile(r"\s*[}\]]")
_LINKS = ("@odata.nextLink", "@odata.deltaLink")


@dataclass(frozen=True)
class Example:
    name: str  # the file name, e.g. "contact-delta.response.http"
    status: int | None  # None for a request or a bare body
    headers: dict[str, str]  # as written (names keep their case)
    body: Any  # the parsed JSON body (None: no body)
    raw: str  # the file's text, verbatim
    notes: str  # index.json's note: the example's known quirks
    start_line: str = ""  # the status or request line as written ("" for a bare body)
    repairs: tuple[str, ...] = ()  # what had to be repaired to parse the body
    source_url: str = ""

    @property
    def is_request(self) -> bool:
        return _REQUEST_LINE.match(self.start_line) is not None and self.status is None

    @property
    def request_method(self) -> str | None:
        match = _REQUEST_LINE.match(self.start_line) if self.status is None else None
        return match["method"] if match else None

    @property
    def request_url(self) -> str | None:
        match = _REQUEST_LINE.match(self.start_line) if self.status is None else None
        return match["target"] if match else None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def parse_example(name: str, raw: str, notes: str = "", source_url: str = "") -> Example:
    """Parse one example file's text (see the module docstring for the forms it takes)."""
    status: int | None = None
    headers: dict[str, str] = {}
    start_line = ""
    body_text = raw
    if not name.endswith(".json"):
        parts = _BLANK_LINE.split(raw, maxsplit=1)
        head, body_text = (parts[0], parts[1]) if len(parts) == 2 else (raw, "")
        lines = head.strip("\r\n").splitlines()
        start_line = lines[0].strip() if lines else ""
        status_line = _STATUS_LINE.match(start_line)
        if status_line is not None:
            status = int(status_line["status"])
        elif _REQUEST_LINE.match(start_line) is None:
            raise ValueError(f"{name}: neither a status line nor a request line: {start_line!r}")
        for line in lines[1:]:
            key, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"{name}: not a header line: {line!r}")
            headers[key.strip()] = value.strip()
    body, repairs = _parse_body(name, body_text)
    return Example(name, status, headers, body, raw, notes, start_line, repairs, source_url)


def _parse_body(name: str, text: str) -> tuple[Any, tuple[str, ...]]:
    if not text.strip():
        return None, ()
    try:
        return json.loads(text), ()
    except json.JSONDecodeError as exc:
        repaired, lines = _without_trailing_commas(text)
        if not lines:
            raise ValueError(f"{name}: the body is not JSON: {exc}") from exc
        try:
            body = json.loads(repaired)
        except json.JSONDecodeError as again:
            raise ValueError(f"{name}: the body is not JSON even without trailing commas: {again}") from exc
        where = ", ".join(str(n) for n in lines)
        return body, (f"removed a trailing comma before }} or ] (body line {where})",)


def _without_trailing_commas(text: str) -> tuple[str, list[int]]:
    """``text`` without the commas that stand right before a closing brace or bracket (outside strings), and
    the body lines they were on."""
    out: list[str] = []
    lines: list[int] = []
    in_string = escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "," and _CLOSING.match(text, i + 1):
            lines.append(text.count("\n", 0, i) + 1)
            continue
        out.append(char)
    return "".join(out), lines


@functools.cache
def _load(directory: Path) -> dict[str, Example]:
    if not directory.is_dir():
        need_service("the Graph documentation examples", f"{directory} does not exist")
    index = {
        entry["file"]: entry for entry in json.loads((directory / "index.json").read_text(encoding="utf-8"))
    }
    names = sorted(
        {p.name for p in directory.iterdir() if p.suffix in (".http", ".json") and p.name != "index.json"}
        | set(index)
    )
    examples = {}
    for name in names:
        entry = index.get(name, {})
        raw = (directory / name).read_bytes().decode("utf-8")  # no newline translation: verbatim
        examples[name] = parse_example(name, raw, entry.get("note", ""), entry.get("source_url", ""))
    return examples


def load_examples(directory: Path | None = None) -> dict[str, Example]:
    """Every example, by file name. Call it from a test or fixture: a missing folder skips (fails in CI)."""
    return dict(_load((directory or EXAMPLES_DIR).resolve()))


def load_index(directory: Path | None = None) -> list[dict[str, Any]]:
    directory = (directory or EXAMPLES_DIR).resolve()
    if not (directory / "index.json").is_file():
        need_service("the Graph documentation examples", f"{directory / 'index.json'} does not exist")
    entries: list[dict[str, Any]] = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    return entries


# ------------------------------------------------------------------------------------------------------
# Shapes


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    raise TypeError(f"not a JSON value: {value!r}")


def _family(value: Any) -> str:
    """Array elements are compared within a family: a delta tombstone (``@removed``) with a tombstone."""
    if isinstance(value, dict):
        return "tombstone" if "@removed" in value else "object"
    return json_type(value)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{json.dumps(key)}]"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


def _query_names(link: str) -> list[str]:
    query = urlsplit(link).query
    return sorted({unquote(part.partition("=")[0]) for part in query.split("&") if part})


def same_shape(
    actual: Any,
    example: Any,
    *,
    path: str = "$",
    notes: str = "",
    quirks: list[str] | None = None,
) -> list[str]:
    """Where ``actual`` differs in shape from ``example`` (a body, or an :class:`Example`, whose notes then
    count). Values are not compared, only JSON types:

    - every key of an example object must be in the actual one, with the same JSON type (extra keys are fine);
    - each element of an actual array is compared with an example element of its family (a delta tombstone,
      ``@removed``, with a tombstone; an item with an item): the one it differs least from, since an example's
      array may mix kinds (a batch's sub-responses);
    - a page with ``@odata.nextLink`` (``@odata.deltaLink``) in the example must have it too, with the same
      query parameter names (``$skiptoken``/``$deltatoken``), and not the other link;
    - a boolean where the example has the string "true"/"false" is a difference, unless the notes document
      that quirk (name the property and the quoted string): then it goes to ``quirks`` instead."""
    if isinstance(example, Example):
        notes = notes or example.notes
        example = example.body
    differences: list[str] = []
    _compare(actual, example, path, "", notes, differences, quirks if quirks is not None else [])
    return differences


def _compare(
    actual: Any, example: Any, path: str, key: str, notes: str, differences: list[str], quirks: list[str]
) -> None:
    actual_type, example_type = json_type(actual), json_type(example)
    if actual_type != example_type:
        if (
            example_type == "string"
            and actual_type == "boolean"
            and example in ("true", "false")
            and key
            and key in notes
            and f'"{example}"' in notes
        ):
            quirks.append(f"{path}: the example has the string {example!r}, a documented quirk")
            return
        differences.append(f"{path}: {actual_type} where the example has {example_type} ({_short(example)})")
        return
    if isinstance(example, dict):
        for name, value in example.items():
            child = _child(path, name)
            if name not in actual:
                differences.append(f"{child}: missing (the example has {_short(value)})")
                continue
            _compare(actual[name], value, child, name, notes, differences, quirks)
            if name in _LINKS and isinstance(value, str) and isinstance(actual[name], str):
                want, got = _query_names(value), _query_names(actual[name])
                if want != got:
                    differences.append(f"{child}: query parameters {got} where the example's link has {want}")
        links = [name for name in _LINKS if name in example]
        if len(links) == 1:
            other = next(name for name in _LINKS if name != links[0])
            if other in actual:
                differences.append(
                    f"{_child(path, other)}: present, but the example's page has only {links[0]}"
                )
    elif isinstance(example, list):
        for i, element in enumerate(actual):
            family = _family(element)
            best: tuple[list[str], list[str]] | None = None
            for counterpart in (e for e in example if _family(e) == family):
                found: tuple[list[str], list[str]] = ([], [])
                _compare(element, counterpart, f"{path}[{i}]", "", notes, *found)
                if best is None or len(found[0]) < len(best[0]):
                    best = found
                if not found[0]:
                    break
            if best is not None:
                differences += best[0]
                quirks += best[1]
            elif example and not any(json_type(e) == json_type(element) for e in example):
                kinds = sorted({json_type(e) for e in example})
                differences.append(
                    f"{path}[{i}]: {json_type(element)} where the example's elements are {kinds}"
                )
