"""Property tests (hypothesis) for the manifest's schema validator and strict JSON reader.

A manifest comes from a file anyone can edit, so whatever JSON it holds, in whatever
field, `facelite.bundle.validate_manifest` must either accept it or raise `BundleError`
(exit 2, naming the field): never a TypeError, KeyError, OverflowError or RecursionError
(exit 1). Conversely, every manifest built by the schema's own rules must validate, so
the validator is not stricter than the schema it documents. `facelite.strict_json.loads`,
which reads a manifest's bytes, must return a value or raise ValueError for any bytes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from facelite.bundle import Bundle, validate_manifest  # noqa: E402
from facelite.errors import BundleError  # noqa: E402
from facelite.strict_json import loads as load_json  # noqa: E402
from fixture_bundles import fixture_bundle  # noqa: E402

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)

EXTREMES = (10**400, -(10**400), 2**64, 2**53 + 1, 1e308, -1e308, -0.0, 5e-324, float("nan"), float("inf"), True,
            "", "\u0000", "\ud800")
"""Values that break naive numeric and string code: beyond float range, NaN, a lone surrogate."""

# Any JSON value Python's json module can produce, with the awkward corners: huge and
# negative integers, NaN and infinities, empty and non-ASCII strings, deep-ish nesting.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
    | st.sampled_from(["fp32", "int8", "classification", "gray", "golden/inputs.npy", "a" * 64, "0" * 64])
    | st.sampled_from(EXTREMES),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


def _manifests() -> list[dict[str, Any]]:
    manifests = []
    for name in ("tiny", "expression", "landmarks", "face_detector"):
        with Bundle.open(fixture_bundle(name)) as b:
            manifests.append(b.manifest)
    return manifests


BASES = _manifests()


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) to a value inside `doc`, the root excluded."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out += _paths(value, prefix + (key,))
    return out


def _container_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths to every object inside `doc`, the root included."""
    out = [prefix] if isinstance(doc, dict) else []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out += _container_paths(value, prefix + (key,))
    return out


def _node(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def validates_or_refuses(manifest: Any) -> bool:
    """True when valid; False when refused with a BundleError naming the manifest; anything else raises."""
    try:
        validate_manifest(manifest)
    except BundleError as exc:
        assert str(exc).startswith("manifest.json: "), str(exc)
        return False
    return True


@SETTINGS
@given(doc=JSON)
def test_any_json_document_as_a_manifest_validates_or_raises_bundle_error(doc):
    assert not validates_or_refuses(doc)


@SETTINGS
@given(data=st.data())
def test_any_json_value_in_any_field_validates_or_raises_bundle_error(data):
    manifest = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    path = data.draw(st.sampled_from(_paths(manifest)))
    _node(manifest, path[:-1])[path[-1]] = data.draw(JSON)
    validates_or_refuses(manifest)


@SETTINGS
@given(data=st.data())
def test_extreme_values_in_any_field_validate_or_raise_bundle_error(data):
    manifest = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    path = data.draw(st.sampled_from(_paths(manifest)))
    _node(manifest, path[:-1])[path[-1]] = data.draw(st.sampled_from(EXTREMES))
    validates_or_refuses(manifest)


@SETTINGS
@given(data=st.data())
def test_any_extra_key_in_any_object_validates_or_raises_bundle_error(data):
    manifest = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    target = _node(manifest, data.draw(st.sampled_from(_container_paths(manifest))))
    target[data.draw(st.text(max_size=12) | st.sampled_from(["fp64", "x;rm -rf", "", "golden/../x.npy"]))] = \
        data.draw(JSON)
    validates_or_refuses(manifest)


@SETTINGS
@given(data=st.data())
def test_removing_any_field_validates_or_raises_bundle_error(data):
    manifest = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    removable = [p for p in _paths(manifest) if isinstance(_node(manifest, p[:-1]), dict)]
    path = data.draw(st.sampled_from(removable))
    del _node(manifest, path[:-1])[path[-1]]
    validates_or_refuses(manifest)


@SETTINGS
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_manifest_bytes_parse_strictly_or_raise_value_error(data):
    try:
        load_json(data)
    except ValueError:
        pass


@SETTINGS
@given(depth=st.integers(min_value=0, max_value=200_000), opener=st.sampled_from(["[", '{"a":']))
def test_nesting_of_any_depth_is_refused_with_value_error_not_recursion_error(depth, opener):
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "0" + closer * depth
    try:
        load_json(text)
    except ValueError:
        assert depth > 0


# -- valid manifests, built by the schema's rules -----------------------------------------------

NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)
STEM = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=20)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
UNIT = st.floats(min_value=0, max_value=1)
VARIANT_NAMES = ("fp32", "fp16", "dynamic", "int8")
SMALL_JSON_OBJECT = st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.integers() | FINITE
                                    | st.text(max_size=8), max_size=4)


@st.composite
def valid_manifests(draw) -> dict[str, Any]:
    task = draw(st.sampled_from(["classification", "landmarks", "detection"]))
    color = draw(st.sampled_from(["rgb", "bgr", "gray", "gray_as_rgb"]))
    channels = 1 if color == "gray" else 3
    side = st.integers(min_value=8, max_value=2048)
    spec = {
        "shape": [1, draw(side), draw(side), channels], "color": color,
        "resize": draw(st.sampled_from(["bilinear", "area", "nearest"])),
        "mean": draw(st.lists(st.floats(min_value=-65536, max_value=65536), min_size=channels, max_size=channels)),
        "std": draw(st.lists(st.floats(min_value=1e-6, max_value=65536), min_size=channels, max_size=channels)),
    }
    if draw(st.booleans()):
        spec["crop"] = draw(st.sampled_from(["none", "face", "letterbox"]))
    if draw(st.booleans()):
        spec["margin"] = draw(UNIT)
    if draw(st.booleans()):
        spec["dtype"] = "float32"
    names = draw(st.lists(st.sampled_from(VARIANT_NAMES), min_size=1, max_size=4, unique=True))
    variants = {}
    for name in names:
        entry = {"file": draw(STEM) + ".tflite", "bytes": draw(st.integers(0, 2**29)), "sha256": draw(HEX64),
                 "target": draw(st.sampled_from(["cpu", "gpu", "npu"])),
                 "input_dtype": draw(st.sampled_from(["float32", "int8"]))}
        if draw(st.booleans()):
            entry["output_dtype"] = draw(st.sampled_from(["float32", "int8"]))
        if draw(st.booleans()):
            entry["sparsity"] = draw(UNIT)
        if draw(st.booleans()):
            entry["compatibility"] = {acc: {"ok": draw(st.booleans())} for acc in ("gpu", "npu")}
        if draw(st.booleans()):
            entry["output_quant"] = draw(st.none() | st.fixed_dictionaries(
                {"scale": st.floats(min_value=1e-9, max_value=1e3), "zero_point": st.integers(-128, 127)}))
        variants[name] = entry
    kind = {"classification": st.sampled_from(["probabilities", "logits"]), "landmarks": st.just("points"),
            "detection": st.just("heatmap")}[task]
    output: dict[str, Any] = {"kind": draw(kind)}
    if draw(st.booleans()):
        output["shape"] = draw(st.lists(st.integers(1, 1 << 20), min_size=1, max_size=4))
    if task == "detection":
        output["stride"] = draw(st.integers(1, 2048))
        output["score_threshold"] = draw(UNIT)
    manifest = {"schema_version": 1, "name": draw(NAME), "version": draw(NAME), "task": task, "input": spec,
                "output": output, "variants": variants}
    if task == "classification":
        manifest["labels"] = draw(st.lists(st.text(min_size=1, max_size=64), min_size=1, max_size=30))
    if draw(st.booleans()):
        golden = {"inputs": "golden/inputs.npy", "outputs": "golden/fp32_outputs.npy",
                  "input_domain": draw(st.sampled_from(["pixels", "normalized"])), "count": draw(st.integers(1, 100))}
        others = [n for n in names if n != "fp32"]
        golden["variant_outputs"] = {n: f"golden/{n}_outputs.npy" for n in others}
        golden["sha256"] = {m: draw(HEX64) for m in [golden["inputs"], golden["outputs"],
                                                     *golden["variant_outputs"].values()]}
        manifest["golden"] = golden
    if draw(st.booleans()):
        manifest["verify"] = {"tolerance": {n: {"max_abs_err": draw(st.none() | st.floats(0, 1))} for n in names}}
    if draw(st.booleans()):
        manifest["metrics"] = draw(SMALL_JSON_OBJECT)
        manifest["build"] = draw(SMALL_JSON_OBJECT)
    return manifest


@SETTINGS
@given(manifest=valid_manifests())
def test_manifests_built_by_the_schema_rules_validate(manifest):
    validate_manifest(manifest)


@SETTINGS
@given(manifest=valid_manifests())
def test_valid_manifests_survive_the_strict_json_round_trip(manifest):
    text = json.dumps(manifest, indent=2, allow_nan=False).encode()
    parsed = load_json(text)
    assert parsed == manifest
    validate_manifest(parsed)
