"""Per-variant operating points of a detection bundle (`output.score_threshold_by_variant`):
the variant the engine runs picks its threshold, a variant not named falls back to
`output.score_threshold` (else 0.5), a `min_score` the user gives wins, and the schema
bounds the field. On the committed tiny detector, its fp32 model also stored as `int8`."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from fixture_bundles import fixture_bundle, signed_with_development_key

from facelite import BaseOptions, FaceDetector, FaceDetectorOptions
from facelite.bundle import Bundle, manifest_bytes, write_bundle
from facelite.errors import BundleError
from facelite.tasks import get_task


def detector_with(dst, **output):
    """The tiny fixture detector with `output` fields added and variants fp32 and int8
    (the same model under both names, so only the manifest tells them apart)."""
    with Bundle.open(fixture_bundle("face_detector")) as b:
        manifest = copy.deepcopy(b.manifest)
        model = bytes(b.variant_bytes("fp32"))
    manifest.pop("golden", None)
    for key, value in output.items():
        if value is None:
            manifest["output"].pop(key, None)
        else:
            manifest["output"][key] = value
    entry = manifest["variants"]["fp32"]
    manifest["variants"] = {"fp32": entry, "int8": copy.deepcopy(entry)}
    return signed_with_development_key(write_bundle(dst, manifest, {"fp32": model, "int8": model}))


def detector(path, variant, **options) -> FaceDetector:
    return FaceDetector(FaceDetectorOptions(
        base_options=BaseOptions(bundle_path=path, variant=variant, accelerator="cpu", num_threads=1), **options))


@pytest.fixture
def per_variant(tmp_path):
    return detector_with(tmp_path / "det.flb", score_threshold=0.45,
                         score_threshold_by_variant={"fp32": 0.3, "int8": 0.6})


def test_each_variant_runs_at_its_own_score_threshold(per_variant):
    assert detector(per_variant, "fp32").min_score == 0.3
    assert detector(per_variant, "int8").min_score == 0.6


def test_a_variant_the_manifest_does_not_name_runs_at_score_threshold_else_half(tmp_path):
    only_int8 = detector_with(tmp_path / "a.flb", score_threshold=0.45, score_threshold_by_variant={"int8": 0.6})
    assert detector(only_int8, "fp32").min_score == 0.45
    neither = detector_with(tmp_path / "b.flb", score_threshold=None)
    assert detector(neither, "int8").min_score == 0.5


def test_a_min_score_the_user_gives_wins_over_the_variant_threshold(per_variant):
    assert detector(per_variant, "int8", min_score=0.2).min_score == 0.2
    assert detector(per_variant, "fp32", min_score=0.9).min_score == 0.9


def test_boxes_under_the_variant_threshold_are_dropped(per_variant):
    image = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    low = detector(per_variant, "fp32", min_score=0.0).detect(image).boxes
    high = detector(per_variant, "int8").detect(image).boxes
    assert [b for b in low if b.score >= 0.6] == high


def test_evaluation_decodes_each_variant_at_its_own_threshold(per_variant):
    task = get_task("detection")
    with Bundle.open(per_variant) as b:
        engines = {v: detector(per_variant, v).engine for v in ("fp32", "int8")}
        assert {v: task.decoder(b, e).score_threshold for v, e in engines.items()} == {"fp32": 0.3, "int8": 0.6}


@pytest.mark.parametrize("by_variant, problem", [
    ({"int8": 1.5}, "int8: must be <= 1"),
    ({"int8": -0.1}, "int8: must be >= 0"),
    ({"int4": 0.4}, '"int4" is not one of fp32, fp16, dynamic, int8'),
    ([0.4], "must be an object"),
])
def test_the_schema_bounds_per_variant_thresholds(by_variant, problem):
    with Bundle.open(fixture_bundle("face_detector")) as b:
        manifest = copy.deepcopy(b.manifest)
    manifest["output"]["score_threshold_by_variant"] = by_variant
    with pytest.raises(BundleError, match=problem):
        manifest_bytes(manifest)
