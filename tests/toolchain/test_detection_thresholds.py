"""Per-variant score thresholds chosen on the training split (`Detection.operating_points`,
`choose_threshold`) and recorded into an existing bundle without retraining
(`package.rewrite_manifest`, `facelite-build thresholds`). Synthetic heatmaps: each photo's
face peak and any false peak have known scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixture_bundles import DEVELOPMENT_KEY, fixture_bundle, tamper

from facelite.bundle import MANIFEST, Bundle
from facelite.errors import BundleError, UserError
from facelite.signing import SIGNATURE_MEMBER, check_signature
from facelite_build.data import Examples
from facelite_build.detection_targets import make_targets
from facelite_build.recipe import DataConfig, HeadConfig, InputConfig, Recipe
from facelite_build.tasks import get_task
from facelite_build.tasks.detection import THRESHOLD_GRID, choose_threshold

SIZE, STRIDE = 160, 8
FACES = np.array([[0.1 + 0.02 * i, 0.1, 0.4, 0.4] for i in range(10)], np.float32)  # top-left quarter


def recipe() -> Recipe:
    return Recipe("face_detector", "0", "detection",
                  data=DataConfig(layout="pts300w", train=["afw", "helen_train"], val=["helen_train"]),
                  input=InputConfig(size=SIZE, crop="letterbox"), head=HeadConfig(type="centernet", stride=STRIDE))


def photos(folder: str = "helen_train") -> Examples:
    return Examples(np.zeros((len(FACES), SIZE, SIZE, 3), np.uint8), FACES, [f"/d/{folder}/{i}.jpg" for i in range(len(FACES))])


def outputs(face_score: float, false_scores: list[float]) -> np.ndarray:
    """Flat model outputs: every face found at `face_score`; photo i also holds a false
    face (bottom-right, no overlap) at `false_scores[i]` when given."""
    out = []
    for i, box in enumerate(FACES):
        t = make_targets(box[None], SIZE, STRIDE)[..., :5].copy()
        t[..., 0] *= face_score
        if i < len(false_scores):
            t[16, 16] = (false_scores[i], 0.1, 0.1, 0.5, 0.5)
        out.append(t.reshape(-1))
    return np.stack(out)


def test_the_rule_takes_the_highest_recall_within_the_false_box_bound_then_the_highest_threshold():
    curve = [{"score_threshold": 0.3, "recall": 1.0, "false_boxes_per_image": 0.3},
             {"score_threshold": 0.35, "recall": 0.99, "false_boxes_per_image": 0.1},
             {"score_threshold": 0.4, "recall": 0.99, "false_boxes_per_image": 0.08},
             {"score_threshold": 0.45, "recall": 0.95, "false_boxes_per_image": 0.0}]
    assert choose_threshold(curve)["score_threshold"] == 0.4
    too_many = [dict(p, false_boxes_per_image=0.5) for p in curve]
    assert choose_threshold(too_many)["score_threshold"] == 0.45


def test_the_curve_equals_decoding_again_at_every_threshold():
    task, r, val = get_task("detection"), recipe(), photos()
    out = outputs(0.5, [0.42, 0.3, 0.61, 0.45])
    curve = {p["score_threshold"]: p for p in task.threshold_curve(out, val, r)}
    assert list(curve) == list(THRESHOLD_GRID)
    for t in (0.05, 0.3, 0.31, 0.42, 0.43, 0.5, 0.51, 0.61, 0.62, 0.95):
        m = task.metrics(out, val, r, score_threshold=t)
        assert (curve[t]["recall"], curve[t]["false_boxes_per_image"]) == (m["recall"], m["false_boxes_per_image"])


def test_each_variant_gets_the_threshold_that_keeps_its_own_faces():
    """int8's faces score 0.37 where fp32's score 0.5: one threshold for both would drop
    every int8 face; each gets the highest threshold that keeps all of its faces with
    one false box in ten photos (at 0.42)."""
    task = get_task("detection")
    runs = {"fp32": outputs(0.5, [0.42]), "int8": outputs(0.37, [0.42])}
    handed = []

    def run(examples):
        handed.append(examples.names)
        return runs

    train = Examples.concat([photos("afw"), photos("helen_train")])
    fields, record = task.operating_points(recipe(), train, run)
    assert fields == {"score_threshold_by_variant": {"fp32": 0.5, "int8": 0.37}}
    assert handed == [photos("helen_train").names]            # the held-out split's folder only
    assert record["split"] == "train" and record["n"] == 10 and record["folders"] == ["helen_train"]
    assert record["int8"] == {"score_threshold": 0.37, "recall": 1.0, "false_boxes_per_image": 0.1}
    output = {**task.output(recipe()), **fields}
    assert [task.variant_metrics(runs[v], photos(), recipe(), None, output, v)["recall"] for v in runs] == [1.0, 1.0]
    assert task.metrics(runs["int8"], photos(), recipe())["recall"] == 0.0   # at the shared 0.4


def test_without_photos_from_the_held_out_folders_every_training_photo_is_used():
    task = get_task("detection")
    assert task.tuning_photos(recipe(), photos("afw")).names == photos("afw").names


def test_a_task_without_operating_points_runs_nothing():
    def run(examples):
        raise AssertionError("ran")

    assert get_task("classification").operating_points(recipe(), photos(), run) == ({}, {})


def test_rewriting_the_manifest_keeps_every_other_member_and_signs_again(tmp_path):
    from facelite_build.package import rewrite_manifest

    src = fixture_bundle("face_detector")
    out = rewrite_manifest(src, lambda m: m["output"].update(score_threshold_by_variant={"fp32": 0.33}),
                           out=tmp_path / "det.flb", signing_key=DEVELOPMENT_KEY)
    with Bundle.open(src) as a, Bundle.open(out) as b:
        assert b.manifest["output"]["score_threshold_by_variant"] == {"fp32": 0.33}
        assert {k: v for k, v in b.manifest.items() if k != "output"} == {k: v for k, v in a.manifest.items() if k != "output"}
        for name in a.member_names():
            if name not in (MANIFEST, SIGNATURE_MEMBER):
                assert bytes(a.member_view(name)) == bytes(b.member_view(name)), name
        assert check_signature(b).problem is None and json.loads(b.member_bytes(MANIFEST)) == b.manifest


def test_a_damaged_bundle_or_an_invalid_manifest_is_not_rewritten(tmp_path):
    from facelite_build.package import rewrite_manifest

    damaged = tamper(fixture_bundle("face_detector"), tmp_path / "bad.flb", "fp32.tflite")
    with pytest.raises(BundleError, match="will not re-sign"):
        rewrite_manifest(damaged, lambda m: None, out=tmp_path / "out.flb")
    with pytest.raises(BundleError, match="score_threshold_by_variant.fp32: must be <= 1"):
        rewrite_manifest(fixture_bundle("face_detector"),
                         lambda m: m["output"].update(score_threshold_by_variant={"fp32": 2}), out=tmp_path / "o.flb")
    assert not (tmp_path / "o.flb").exists() and not (tmp_path / "out.flb").exists()


def test_thresholds_refuse_a_bundle_that_is_not_the_recipes(tmp_path):
    from facelite_build.paths import CHECKOUT
    from facelite_build.thresholds import record_operating_points

    with pytest.raises(UserError, match="is 'tiny' .*not the recipe's 'face_detector'"):
        record_operating_points(CHECKOUT / "models" / "face_detector" / "recipe.toml", fixture_bundle("tiny"))
