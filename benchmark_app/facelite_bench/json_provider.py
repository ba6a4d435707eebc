"""Flask's JSON, made strict: every request body and response goes through `facelite.strict_json`.

A request body is parsed by `facelite.strict_json.loads` at most `MAX_DEPTH` deep (a
`StrictJSONError` naming the field: the API answers 400); every response and stored row
goes through `to_json_value`, so a non-finite number that still gets in (the server's own
runner, a row an older server wrote) reads back as null and every response is strict JSON.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from facelite.strict_json import dumps, loads, to_json_value

MAX_DEPTH = 16
"""Deepest nesting a request body may have (a job is 1 level, an agent's result about 4)."""


def loads_body(data: str | bytes) -> Any:
    """A request body, strictly parsed (`facelite.strict_json.loads`, at most MAX_DEPTH deep)."""
    return loads(data, max_depth=MAX_DEPTH, root="body")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider: strict parsing, and non-finite numbers as null in every response."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(to_json_value(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_body(s)


__all__ = ["MAX_DEPTH", "StrictJSONProvider", "dumps", "loads_body", "to_json_value"]
