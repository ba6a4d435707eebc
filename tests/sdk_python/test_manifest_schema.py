"""The manifest JSON Schema drives validate_manifest: every shipped and fixture bundle
validates, and a bad manifest is a BundleError naming the JSON path, never a TypeError."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pytest

from fixture_bundles import FIXTURE_BUNDLES
from facelite import bundle as bundle_module
from facelite import preprocess
from facelite.bundle import MANIFEST, Bundle, validate_manifest
from facelite.errors import BundleError
from facelite.schema import SCHEMA_FILES, manifest_schema, schema_errors
from facelite.strict_json import loads as load_json

MODELS = Path(__file__).resolve().parents[2] / "models"
BUNDLE_FILES = sorted(MODELS.glob("*/*.flb")) + sorted(FIXTURE_BUNDLES.glob("*.flb"))


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(MANIFEST))


@pytest.fixture(scope="module")
def good() -> dict:
    """The shipped expression manifest: classification, four variants, pixel goldens."""
    return _manifest(MODELS / "expression" / "expression.flb")


def test_shipped_and_fixture_bundles_are_all_checked():
    assert len(BUNDLE_FILES) >= 9  # five shipped (skin_metrics included) and four fixtures, at least


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_and_fixture_bundle_validates(path):
    validate_manifest(_manifest(path))
    with Bundle.open(path):
        pass


def _broken(manifest: dict, change) -> dict:
    m = copy.deepcopy(manifest)
    change(m)
    return m


BAD = [
    ("golden is a string", lambda m: m.update(golden="x"), 'golden: must be an object, got string "x"'),
    ("mean holds strings", lambda m: m["input"].update(mean=["x", "y", "z"]), 'input.mean[0]: must be a number, got string "x"'),
    ("std holds a zero", lambda m: m["input"]["std"].__setitem__(1, 0), "input.std[1]: must be > 0, got 0"),
    ("shape is not NHWC", lambda m: m["input"].update(shape=[1, 96, 96]), "input.shape: must hold exactly 4 items, got 3"),
    ("shape holds a float string", lambda m: m["input"]["shape"].__setitem__(3, "3"), 'input.shape[3]: must be an integer, got string "3"'),
    ("mean per channel", lambda m: m["input"].update(mean=[127.5]), "input.mean: needs 3 values, one per channel"),
    ("misspelt input key", lambda m: m["input"].update(colour="rgb"), "input: unknown key 'colour'; did you mean 'color'?"),
    ("unknown colour", lambda m: m["input"].update(color="yuv"), 'input.color: "yuv" is not one of rgb, bgr, gray, gray_as_rgb'),
    ("input missing", lambda m: m.pop("input"), "missing required key 'input'"),
    ("resize missing", lambda m: m["input"].pop("resize"), "input: missing required key 'resize'"),
    ("unknown task", lambda m: m.update(task="segmentation"), 'task: "segmentation" is not one of classification, landmarks, detection'),
    ("classification without labels", lambda m: m.pop("labels"), "missing required key 'labels' (required when task is \"classification\")"),
    ("classification with no labels", lambda m: m.update(labels=[]), "labels: must hold at least 1 item, got 0"),
    ("labels is a string", lambda m: m.update(labels="angry"), 'labels: must be an array, got string "angry"'),
    ("unknown output kind", lambda m: m["output"].update(kind="boxes"), 'output.kind: "boxes" is not one of'),
    ("no variants", lambda m: m.update(variants={}), "variants: must name at least 1 entry"),
    ("unknown variant name", lambda m: m["variants"].update(fp8=m["variants"]["fp32"]), 'variants: key "fp8" is not one of fp32, fp16, dynamic, int8'),
    ("variant entry is a list", lambda m: m["variants"].update(fp32=[]), "variants.fp32: must be an object, got array []"),
    ("unknown target", lambda m: m["variants"]["int8"].update(target="tpu"), 'variants.int8.target: "tpu" is not one of cpu, gpu, npu'),
    ("bytes is a boolean", lambda m: m["variants"]["fp32"].update(bytes=True), "variants.fp32.bytes: must be an integer, got boolean true"),
    ("variant sha256 missing", lambda m: m["variants"]["fp16"].pop("sha256"), "variants.fp16: missing required key 'sha256'"),
    ("zero quantization scale", lambda m: m["variants"]["int8"]["input_quant"].update(scale=0), "variants.int8.input_quant.scale: must be > 0, got 0"),
    ("golden sha256 not a string", lambda m: m["golden"]["sha256"].update({"golden/inputs.npy": 3}), 'golden.sha256["golden/inputs.npy"]: must be a string, got integer 3'),
    ("unknown golden domain", lambda m: m["golden"].update(input_domain="raw"), 'golden.input_domain: "raw" is not one of pixels, normalized'),
    ("golden outputs for a missing variant", lambda m: m["variants"].pop("fp16"), "golden.variant_outputs: names variants the bundle does not hold: ['fp16']"),
    ("schema_version from the future", lambda m: m.update(schema_version=2), "schema_version 2 is not supported (this facelite reads 1)"),
    ("schema_version as a string", lambda m: m.update(schema_version="1"), "schema_version '1' is not supported"),
]


@pytest.mark.parametrize("change, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_manifest_is_a_bundle_error_naming_the_json_path(good, change, message):
    with pytest.raises(BundleError) as e:
        validate_manifest(_broken(good, change))
    assert str(e.value).startswith(f"{MANIFEST}: ")
    assert message in str(e.value)


def test_a_manifest_that_is_not_an_object_is_a_bundle_error():
    with pytest.raises(BundleError, match="is not a JSON object"):
        validate_manifest(["not", "an", "object"])


def test_opening_a_bundle_with_a_mistyped_manifest_names_file_member_and_path(good, tmp_path):
    path = tmp_path / "bad.flb"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, json.dumps(_broken(good, lambda m: m["input"].update(mean=["x", "y", "z"]))))
    with pytest.raises(BundleError, match=r"bad\.flb:manifest\.json: input\.mean\[0\]: must be a number"):
        Bundle.open(path)


def test_more_problems_are_counted_after_the_first(good):
    with pytest.raises(BundleError, match=r"input\.mean\[0\]: .* \(and 2 more problems\)$"):
        validate_manifest(_broken(good, lambda m: m["input"].update(mean=["x", "y", "z"])))


def test_the_schema_ships_in_the_runtime_package_one_file_per_version():
    folder = Path(bundle_module.__file__).parent
    assert sorted(SCHEMA_FILES) == [bundle_module.SCHEMA_VERSION]
    for version, name in SCHEMA_FILES.items():
        schema = json.loads((folder / name).read_text())
        assert schema["properties"]["schema_version"]["const"] == version
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_python_vocabularies_are_the_schema_enums():
    props = manifest_schema(1)["properties"]
    assert bundle_module.TASKS == tuple(props["task"]["enum"])
    assert bundle_module.VARIANT_NAMES == ("fp32", "fp16", "dynamic", "int8")
    assert preprocess.COLORS == tuple(props["input"]["properties"]["color"]["enum"])
    assert preprocess.RESIZES == tuple(props["input"]["properties"]["resize"]["enum"])
    assert preprocess.CROPS == tuple(props["input"]["properties"]["crop"]["enum"])


def test_every_input_spec_field_is_a_schema_input_key():
    spec = preprocess.InputSpec((1, 8, 8, 3), "rgb", "bilinear", (0.0,) * 3, (1.0,) * 3, "face", 0.2)
    assert set(spec.to_manifest()) <= set(manifest_schema(1)["properties"]["input"]["properties"])


def test_the_validator_refuses_a_keyword_it_does_not_implement():
    with pytest.raises(ValueError, match="unsupported keywords \\['patternProperties'\\]"):
        schema_errors({"a": 1}, {"type": "object", "patternProperties": {"^a": {}}})


def test_integers_accept_integral_floats_but_not_booleans():
    assert schema_errors(3.0, {"type": "integer"}) == []
    assert schema_errors(True, {"type": "integer"}) == ["must be an integer, got boolean true"]
    assert schema_errors(float("nan"), {"type": "number"}) == ["must be a number, got number NaN"]
    assert schema_errors(float("inf"), {"type": "number"}) == ["must be a number, got number Infinity"]


def test_prefix_items_check_each_position_and_items_the_rest():
    schema = {"type": "array", "prefixItems": [{"const": 1}, {"type": "integer", "maximum": 9}],
              "items": {"type": "string"}}
    assert schema_errors([1, 9, "a", "b"], schema) == []
    assert schema_errors([2, 10, "a", 3], schema) == ["[0]: must be 1, got 2", "[1]: must be <= 9, got 10",
                                                      "[3]: must be a string, got integer 3"]


def test_a_pattern_is_searched_and_named_in_the_message():
    schema = {"type": "string", "pattern": "^[a-z0-9_]+$"}
    assert schema_errors("int8", schema) == []
    assert schema_errors("x;touch", schema) == ['must match ^[a-z0-9_]+$, got "x;touch"']


def _schemas(node, path="#"):
    """Every sub-schema of the manifest schema, with where it is."""
    if isinstance(node, dict):
        if "type" in node or "enum" in node or "const" in node:
            yield path, node
        for key, value in node.items():
            yield from _schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{path}/{i}")


def test_every_array_and_string_in_the_schema_is_bounded():
    """A hostile manifest cannot make a reader allocate more than its limits (lists,
    strings: here; nesting and the manifest's size: facelite.bundle)."""
    for path, schema in _schemas(manifest_schema(1)):
        kinds = schema.get("type", [])
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "array" in kinds:
            assert "maxItems" in schema, path
        if "string" in kinds:
            assert "maxLength" in schema or "enum" in schema, path


def test_input_sides_channels_and_batch_are_in_range(good):
    for shape, message in [([1, 8, 2048, 1], None), ([1, 7, 96, 3], "input.shape[1]: must be >= 8, got 7"),
                           ([1, 96, 2049, 3], "input.shape[2]: must be <= 2048, got 2049"),
                           ([2, 96, 96, 3], "input.shape[0]: must be 1, got 2"),
                           ([1, 96, 96, 2], "input.shape[3]: color 'rgb' gives 3 channels, got 2"),
                           ([1, 96, 96, 17], "input.shape[3]: must be <= 16, got 17")]:
        m = _broken(good, lambda m: m["input"].update(shape=shape, mean=[0] * shape[3], std=[1] * shape[3],
                                                      color="gray" if shape[3] == 1 else "rgb"))
        if message is None:
            validate_manifest(m)
        else:
            with pytest.raises(BundleError, match=re.escape(message)):
                validate_manifest(m)


def test_load_json_refuses_what_other_parsers_would_read_differently():
    assert load_json('{"a": [1.5, "x"]}') == {"a": [1.5, "x"]}
    for text, message in [('{"a": NaN}', "a: not a finite number"), ('[-Infinity]', "[0]: not a finite number"),
                          ('[1e400]', "[0]: not a finite number"), ('{"a": 1, "a": 2}', 'a: appears twice'),
                          ("[" * 33 + "]" * 33, "nested 33 levels deep; at most 32 allowed")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            load_json(text)
    assert load_json(json.dumps(["[{" * 40])) == ["[{" * 40]  # brackets inside strings do not nest
