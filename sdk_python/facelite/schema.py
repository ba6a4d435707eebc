"""The bundle manifest's JSON Schema, one file per `schema_version`, and the validator that applies it.

The schema files ship inside the runtime package (`facelite/manifest.v<N>.schema.json`)
so the C core and the mobile bindings validate a manifest against the very file the
Python runtime uses. A new manifest version adds a file and an entry in
`SCHEMA_FILES`; older files stay, so older bundles keep reading.

The validator understands the JSON Schema subset those files use, and nothing more:
`type`, `const`, `enum`, `minimum`, `maximum`, `exclusiveMinimum`, `minLength`,
`maxLength`, `pattern`, `prefixItems`, `items`, `minItems`, `maxItems`, `required`,
`properties`, `additionalProperties`, `propertyNames`, `minProperties`, `allOf`,
`if`/`then` and local `$ref` (`#/$defs/...`). A schema using another keyword is refused
rather than half-checked. No third-party dependency: the runtime stays numpy, OpenCV and
LiteRT. Numbers must be finite (JSON has no NaN or infinity; `facelite.bundle` refuses
those literals before the schema sees the document).

    >>> from facelite.schema import manifest_schema, schema_errors
    >>> schema = manifest_schema(1)
    >>> shape = schema["properties"]["input"]["properties"]["shape"]
    >>> schema_errors([1, 20000, 96, 3], shape, root=schema)
    ['[1]: must be <= 2048, got 20000']
    >>> schema_errors({"mean": ["x"]}, {"properties": {"mean": {"type": "array", "items": {"type": "number"}}}})
    ['mean[0]: must be a number, got string "x"']

Documents are parsed with `facelite.strict_json.loads` first (no NaN or infinity, no key
given twice, bounded nesting), so every reader of a manifest sees the same values.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
import math
import re
from typing import Any, Mapping

SCHEMA_FILES = {1: "manifest.v1.schema.json"}
"""Manifest `schema_version` → schema file in this package."""

KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "$defs", "$ref", "title", "description",
    "type", "const", "enum", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength",
    "pattern", "prefixItems", "items", "minItems", "maxItems", "required", "properties", "additionalProperties",
    "propertyNames", "minProperties", "allOf", "if", "then",
})
"""Every keyword the validator implements (or, for annotations, knowingly ignores)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

@functools.lru_cache(maxsize=None)
def _load(version: int) -> str:
    return importlib.resources.files(__package__).joinpath(SCHEMA_FILES[version]).read_text(encoding="utf-8")


def manifest_schema(version: int) -> dict[str, Any]:
    """The manifest schema for `schema_version == version` (a fresh dict; KeyError if none)."""
    return json.loads(_load(version))


def json_path(parent: str, key: str | int) -> str:
    """`input` + `std` → `input.std`; `input.std` + 1 → `input.std[1]`; odd keys are quoted."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if not _IDENTIFIER.match(key):
        return f"{parent}[{json.dumps(key)}]"
    return f"{parent}.{key}" if parent else key


def schema_errors(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> list[str]:
    """Every way `instance` breaks `schema`, as `"<json path>: <what is wrong>"` strings (empty when valid).

    `root` is the schema `$ref`s resolve against (default: `schema` itself).
    """
    errors: list[str] = []
    _check(instance, schema, "", root if root is not None else schema, errors)
    return errors


def _show(value: Any) -> str:
    """`value` as JSON text, cut to 40 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(value: Any) -> str:
    """`string "x"`, `number 0.5`, `object {...}`: the JSON type and the value."""
    kind = _json_type(value)
    return f"{kind} {_show(value)}" if kind != "other" else f"{type(value).__name__} {_show(value)}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "other"


def _is_type(value: Any, kind: str) -> bool:
    actual = _json_type(value)
    if kind == "number":
        return actual == "integer" or (actual == "number" and math.isfinite(value))
    if kind == "integer":
        return actual == "integer" or (actual == "number" and math.isfinite(value) and float(value).is_integer())
    return actual == kind


_ARTICLE = {"integer": "an integer", "object": "an object", "array": "an array"}


def _at(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _check(value: Any, schema: Mapping[str, Any], path: str, root: Mapping[str, Any], errors: list[str]) -> None:
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"schema at '{path or '(root)'}' uses unsupported keywords {sorted(unknown)}")
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), path, root, errors)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, k) for k in kinds):
            wanted = " or ".join(_ARTICLE.get(k, f"a {k}") for k in kinds)
            errors.append(_at(path, f"must be {wanted}, got {_describe(value)}"))
            return
    if "const" in schema and not _equal(value, schema["const"]):
        errors.append(_at(path, f"must be {json.dumps(schema['const'])}, got {_show(value)}"))
        return
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        choices = ", ".join(str(e) for e in schema["enum"])
        errors.append(_at(path, f"{_show(value)} is not one of {choices}"))
        return
    if _json_type(value) in ("integer", "number"):
        _check_number(value, schema, path, errors)
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(_at(path, "must not be empty" if schema["minLength"] == 1
                              else f"must be at least {schema['minLength']} characters, got {len(value)}"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(_at(path, f"must be at most {schema['maxLength']} characters, got {len(value)}"))
        elif "pattern" in schema and not _regex(schema["pattern"]).search(value):
            errors.append(_at(path, f"must match {schema['pattern']}, got {_show(value)}"))
    elif isinstance(value, (list, tuple)):
        _check_array(value, schema, path, root, errors)
    elif isinstance(value, Mapping):
        _check_object(value, schema, path, root, errors)
    for part in schema.get("allOf", ()):
        _check(value, part, path, root, errors)
    if "if" in schema and not schema_errors(value, schema["if"], root):
        because = _condition(schema["if"])
        for error in schema_errors(value, schema.get("then", {}), root):
            errors.append(_at(path, f"{error} (required when {because})"))


def _check_number(value: float, schema: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if "minimum" in schema and not value >= schema["minimum"]:
        errors.append(_at(path, f"must be >= {schema['minimum']}, got {value}"))
    if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
        errors.append(_at(path, f"must be > {schema['exclusiveMinimum']}, got {value}"))
    if "maximum" in schema and not value <= schema["maximum"]:
        errors.append(_at(path, f"must be <= {schema['maximum']}, got {value}"))


def _check_array(value, schema: Mapping[str, Any], path: str, root, errors: list[str]) -> None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and low == high and len(value) != low:
        errors.append(_at(path, f"must hold exactly {low} items, got {len(value)}"))
    elif low is not None and len(value) < low:
        errors.append(_at(path, f"must hold at least {low} item{'s' * (low != 1)}, got {len(value)}"))
    elif high is not None and len(value) > high:
        errors.append(_at(path, f"must hold at most {high} items, got {len(value)}"))
    prefix = schema.get("prefixItems", ())
    for i, (item, part) in enumerate(zip(value, prefix)):
        _check(item, part, json_path(path, i), root, errors)
    if "items" in schema:
        for i, item in enumerate(value[len(prefix):], start=len(prefix)):
            _check(item, schema["items"], json_path(path, i), root, errors)


def _check_object(value: Mapping, schema: Mapping[str, Any], path: str, root, errors: list[str]) -> None:
    for key in schema.get("required", ()):
        if key not in value:
            errors.append(_at(path, f"missing required key '{key}'"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(_at(path, f"must name at least {schema['minProperties']} entr"
                                f"{'y' if schema['minProperties'] == 1 else 'ies'}"))
    known = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if not isinstance(key, str):
            errors.append(_at(path, f"key {key!r} must be a string"))
            continue
        if "propertyNames" in schema:
            problems = schema_errors(key, schema["propertyNames"], root)
            if problems:
                errors.append(_at(path, f"key {problems[0]}"))
                continue
        if key in known:
            _check(item, known[key], json_path(path, key), root, errors)
        elif extra is False:
            hint = difflib.get_close_matches(key, list(known), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f" (known keys: {', '.join(known)})"
            errors.append(_at(path, f"unknown key '{key}'{suggestion}"))
        elif isinstance(extra, Mapping):
            _check(item, extra, json_path(path, key), root, errors)


@functools.lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern:
    """A schema `pattern`, compiled once (the schema's patterns use the syntax Python and ECMA-262 share)."""
    return re.compile(pattern)


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"schema $ref '{ref}' is not local (#/...); only local references are supported")
    node: Any = root
    try:
        for part in ref[2:].split("/"):
            node = node[part]
    except (KeyError, TypeError):
        raise ValueError(f"schema $ref '{ref}' names nothing in the root schema (pass root=)") from None
    return node


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _condition(schema: Mapping[str, Any]) -> str:
    """A short English reading of an `if` schema (`task is 'classification'`)."""
    parts = [f"{key} is {json.dumps(sub['const'])}" for key, sub in schema.get("properties", {}).items()
             if isinstance(sub, Mapping) and "const" in sub]
    return " and ".join(parts) or "the schema's condition holds"
