"""Strict JSON, both ways: what facelite reads from a file or the network, and what it prints.

Why stricter than `json`: Python reads `NaN`, `Infinity` and `1e999` (as inf) and writes
them back, which no other JSON parser accepts; it keeps the last of two equal keys where
other parsers keep the first; and it recurses once per nesting level, so a hostile
document of deep brackets raises RecursionError. A manifest every binding must read the
same way, a request body from the network, and a CLI's `--json` document can afford none
of that. One module, used by the bundle reader, the CLI core and the bench server.

- `loads`: UTF-8, nesting at most `max_depth` (measured before parsing, outside strings),
  no key twice in an object, finite numbers only; a `StrictJSONError` naming the JSON path
  at fault otherwise.
- `to_json_value` / `dumps`: NaN and infinity become null, numpy values plain numbers,
  paths strings.

Example:

    >>> from facelite.strict_json import dumps, loads
    >>> loads('{"runs": 5, "x": [1.5, null]}')
    {'runs': 5, 'x': [1.5, None]}
    >>> loads('{"job": {"runs": 1e999}}')
    Traceback (most recent call last):
    ...
    facelite.strict_json.StrictJSONError: job.runs: not a finite number (NaN, Infinity and overflowing values like 1e999 are not JSON)
    >>> dumps({"avg_ms": float("nan"), "samples_ms": [1.0, float("inf")]})
    '{"avg_ms": null, "samples_ms": [1.0, null]}'
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects `loads` accepts by default (a manifest needs 6)."""

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class StrictJSONError(ValueError):
    """A document that is not strict, bounded JSON; `field` is the JSON path at fault
    (`root`, as given to `loads`, for the document as a whole)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def loads(data: str | bytes | bytearray | memoryview, max_depth: int = MAX_DEPTH, root: str = "") -> Any:
    """Parse strict JSON (see the module docstring); StrictJSONError otherwise."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise StrictJSONError(root, "is not UTF-8 text; send UTF-8 JSON") from None
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", data))
    depth = max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)
    if depth > max_depth:
        raise StrictJSONError(root, f"nested {depth} levels deep; at most {max_depth} allowed")
    try:
        doc = json.loads(data, object_pairs_hook=_unique_keys)
    except RecursionError:  # unreachable after the depth check, kept as the last line of defence
        raise StrictJSONError(root, f"nested too deeply; at most {max_depth} levels allowed") from None
    except ValueError as exc:
        raise StrictJSONError(root, f"is not JSON ({exc})") from None
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:  # NaN, Infinity and 1e999 parse as floats; the walk names where they are
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise StrictJSONError(where or root, "not a finite number (NaN, Infinity and overflowing "
                                                  "values like 1e999 are not JSON)")
        if isinstance(value, _DuplicateKeys):
            raise StrictJSONError(_path(where, value.twice), "appears twice in one object; give each key once")
        if isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, _path(where, k)) for k, v in items)
    return doc


class _DuplicateKeys(dict):
    """An object that gave a key twice; `loads`' walk reports it with its path."""

    twice = ""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        marked = _DuplicateKeys(result)
        marked.twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        return marked
    return result


def to_json_value(obj: Any) -> Any:
    """`obj` as plain JSON values: NaN/inf → None, numpy scalars/arrays → Python, Paths → str."""
    if isinstance(obj, dict):
        return {str(k): to_json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_value(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, without importing numpy
    if callable(tolist):
        return to_json_value(tolist())
    return str(obj)


def dumps(obj: Any, indent: int | None = None, **kw: Any) -> str:
    """Strict JSON text of `obj` (`to_json_value` first, so it never fails on NaN)."""
    return json.dumps(to_json_value(obj), indent=indent, allow_nan=False, **kw)
