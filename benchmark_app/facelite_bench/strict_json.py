"""Strict JSON at the bench server's edges: bounded nesting, finite numbers only.

Python's `json` reads `NaN`, `Infinity` and `1e999` (as inf) and writes them back as
`NaN`/`Infinity`, which no other JSON parser accepts; and it parses one nesting level
per C stack frame. So everything the server reads from the network goes through `loads`,
which refuses all of that with a `JSONBodyError` naming the field (the API answers 400),
and everything it stores or answers goes through `finite_or_none`, so a non-finite number
that still gets in (the server's own runner, a row an older server wrote) reads back as
null and every response is strict JSON.

    >>> loads('{"runs": 5, "x": [1.5, null]}')
    {'runs': 5, 'x': [1.5, None]}
    >>> loads('{"job": {"runs": 1e999}}')
    Traceback (most recent call last):
    ...
    facelite_bench.strict_json.JSONBodyError: job.runs: not a finite number (NaN, Infinity and overflowing values like 1e999 are not JSON)
    >>> dumps({"avg_ms": float("nan"), "samples_ms": [1.0, float("inf")]})
    '{"avg_ms": null, "samples_ms": [1.0, null]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 16
"""Deepest nesting a request body may have (a job is 1 level, an agent's result about 4)."""


class JSONBodyError(ValueError):
    """A request body that is not strict, bounded JSON; `field` is the JSON path at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def loads(data: str | bytes) -> Any:
    """Parse a request body; JSONBodyError for bad JSON, deep nesting or a non-finite number."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONBodyError("body", "is not UTF-8 text; send UTF-8 JSON") from None
    try:
        doc = json.loads(data)  # NaN/Infinity/1e999 parse as floats; the walk below names them
    except RecursionError:
        raise JSONBodyError("body", f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise JSONBodyError("body", f"is not JSON ({exc})") from None
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise JSONBodyError(where or "body", "not a finite number (NaN, Infinity and overflowing "
                                                  "values like 1e999 are not JSON)")
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise JSONBodyError(where or "body", f"nested too deeply (at most {MAX_DEPTH} levels)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, _path(where, k), depth + 1) for k, v in items)
    return doc


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None (JSON null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def dumps(value: Any, **kw: Any) -> str:
    """Strict JSON text of `value`, non-finite numbers as null."""
    return json.dumps(finite_or_none(value), allow_nan=False, **kw)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with `loads` and the non-finite → null rule on every response."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(finite_or_none(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
