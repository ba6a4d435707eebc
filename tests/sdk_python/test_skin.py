"""Skin v2 per face (facelite.skin, facelite.skin_scores): raw measures → 0–100 scores with
bands, tone by ITA°, the report's JSON, and SkinAnalyzer on real photos with the shipped
skin_metrics bundle."""

from __future__ import annotations

import dataclasses

import json
import math

import cv2
import numpy as np
import pytest

from facelite import BaseOptions, SkinAnalyzer, SkinAnalyzerOptions, UserError
from facelite.acne import AcneGrade
from facelite.errors import BundleError
from facelite.quality import CaptureQuality, QualityCheck
from facelite.regions import REGION_NAMES, face_regions, hidden_cheeks
from facelite.skin import SKIPPED_V1_ACNE, build_report
from facelite.skin_measures import CAPTURE_MEASURES, LIGHTING_MEASURES, MEASURE_ROWS, RawSkinMeasures, face_crop
from facelite.skin_scores import (ACNE_MAP, CONCERNS, MIN_SPAN, REGION_KINDS, ScoreMap, ScoreTable, band, concern_raw,
                                  concern_score, healthy_anchors, ita_category, region_scores, score_map,
                                  shipped_score_table)

CPU = BaseOptions(accelerator="cpu")
HEALTHY = {"pixels": 900.0, "lightness": 62.0, "a_star": 14.0, "b_star": 17.0, "redness": 0.5,
           "lightness_sd": 3.0, "b_star_sd": 1.5, "spot_fraction": 0.01, "spot_contrast": 5.0,
           "texture": 0.5, "shine": 0.002}


def raw_measures(regions: dict | None = None, tone_ita: float = 45.0) -> RawSkinMeasures:
    rows = {r: dict(HEALTHY) for r in MEASURE_ROWS}
    for r, m in (regions or {}).items():
        rows[r].update(m)
    return RawSkinMeasures(regions=rows, capture=dict.fromkeys(CAPTURE_MEASURES, 1.0), tone_ita=tone_ita,
                           lighting={m: 1.0 for m in LIGHTING_MEASURES})


def passed(reliable: bool = True) -> CaptureQuality:
    checks = [QualityCheck("blur", reliable, 50.0 if reliable else 5.0, 20.0, "Hold still.")]
    return CaptureQuality(reliable, checks)


# -- scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize("region", (*REGION_NAMES, "face"))
@pytest.mark.parametrize("concern", CONCERNS)
def test_every_score_falls_as_its_raw_measure_worsens_and_stays_within_0_100(concern, region):
    mapping = score_map(concern, region)
    (low, _), (high, _) = mapping.anchors[0], mapping.anchors[-1]
    raws = np.linspace(low - 1.0, high + 10 * (high - low), 200)
    scores = [mapping.score(float(r)) for r in raws]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert all(b <= a for a, b in zip(scores, scores[1:]))
    assert scores[0] == 100.0 and scores[-1] == 0.0


def test_the_shipped_anchors_are_the_healthy_percentiles_recorded_in_the_bundle():
    from facelite.bundle import Bundle
    from facelite.paths import shipped_bundle

    with Bundle.open(shipped_bundle("skin_metrics")) as b:
        doc = b.manifest["output"]["score_anchors"]
    assert doc["faces"] >= 50 and doc["region_kinds"] == REGION_KINDS
    for concern in CONCERNS[1:]:
        for region, kind in REGION_KINDS.items():
            row = doc["percentiles"][concern][kind]
            (p10, top), (p70, seventy) = score_map(concern, region).anchors
            assert ((p10, top), (p70, seventy)) == healthy_anchors(concern, row["p10"], row["p90"])
            assert p70 - p10 >= MIN_SPAN[concern] * 0.95           # the floor on the span (two digits)
            assert score_map(concern, region).score(p70 + (p70 - p10)) == pytest.approx(40.0)
    assert score_map("shine", "nose") != score_map("shine", "left_cheek")          # regions have their own
    assert score_map("shine", "left_cheek") == score_map("shine", "right_cheek")   # the cheeks share theirs


def test_the_anchors_span_at_least_the_floor_when_healthy_faces_barely_differ():
    assert healthy_anchors("shine", 0.084, 1.2) == ((0.084, 100.0), (3.1, 70.0))   # 1.1 % spread: floor 3 %
    assert healthy_anchors("evenness", 9.4, 18.0) == ((9.4, 100.0), (18.0, 70.0))   # wide enough: p90


def test_a_bundle_without_score_anchors_is_refused_with_the_rebuild_command():
    with pytest.raises(BundleError, match="no output.score_anchors.*facelite-build build"):
        ScoreTable.from_manifest({"output": {"kind": "measures"}}, "old.flb")
    table = shipped_score_table()
    assert table.score_map("redness", "left_cheek") == score_map("redness", "right_cheek")


def test_acne_band_edges_sit_half_way_between_the_grades():
    acne = ACNE_MAP
    assert shipped_score_table().score_map("acne", "chin") == acne               # the bundle carries the same
    assert (acne.score(0.0), acne.score(0.5), acne.score(1.5), acne.score(2.0)) == (100.0, 70.0, 40.0, 25.0)
    assert [concern_score("acne", s).band for s in (0.2, 1.0, 1.8)] == ["good", "fair", "attention"]


def test_bands_are_judged_on_the_score_as_printed():
    assert (band(70.0), band(69.5), band(69.4), band(40.0), band(39.6), band(39.4)) == (
        "good", "good", "fair", "fair", "fair", "attention")
    scored = concern_score("redness", 1.0)
    assert scored.to_json()["band"] == band(scored.to_json()["score"])


def test_score_maps_must_be_monotone():
    with pytest.raises(ValueError, match="raw increasing and score decreasing"):
        ScoreMap(((1.0, 50.0), (2.0, 80.0)), "x")


def test_raw_numbers_combine_the_measures_as_documented():
    m = {"spot_fraction": 0.02, "spot_contrast": 6.0, "lightness_sd": 3.0, "b_star_sd": 4.0, "shine": 0.015,
         "redness": 2.5, "texture": 1.2}
    assert concern_raw("pigmentation", m) == pytest.approx(12.0)   # 2 % × 6 ΔL*
    assert concern_raw("evenness", m) == pytest.approx(5.0)        # √(3² + 4²)
    assert concern_raw("shine", m) == pytest.approx(1.5)           # %
    assert (concern_raw("redness", m), concern_raw("texture", m)) == (2.5, 1.2)
    assert math.isnan(concern_raw("redness", {}))


def test_a_concern_that_was_not_measured_is_left_out_not_scored():
    scores = region_scores("nose", {**HEALTHY, "texture": math.nan})
    assert "texture" not in scores and "acne" not in scores and "redness" in scores
    assert list(region_scores("face", HEALTHY, 0.3)) == list(CONCERNS)


@pytest.mark.parametrize("ita, category", [(60.0, "very_light"), (55.0, "light"), (41.5, "light"),
                                           (41.0, "intermediate"), (28.0, "tan"), (10.5, "tan"),
                                           (10.0, "brown"), (-29.0, "brown"), (-30.0, "dark")])
def test_ita_categories_at_their_bounds(ita, category):
    assert ita_category(ita) == category


# -- the report -------------------------------------------------------------------------------


def test_report_json_has_the_contract_keys_whole_scores_and_rounded_raws():
    acne = AcneGrade(0.4, {"forehead": 0.2, "left_cheek": 0.9}, {"level0": 0.6, "level1": 0.4, "level2": 0.0})
    report = build_report(raw_measures({"left_cheek": {"redness": 3.21987}}), passed(), acne,
                          {"skin_metrics": "2.0.0", "acne": "2.0.0"})
    doc = report.to_json()
    assert list(doc) == ["reliable", "restored", "quality", "tone", "face", "regions", "lighting", "models"]
    assert doc["reliable"] is True and doc["quality"]["reliable"] is True
    assert doc["tone"] == {"ita_deg": 45.0, "category": "light"}
    assert list(doc["face"]) == list(CONCERNS) and list(doc["regions"]) == list(REGION_NAMES)
    assert set(doc["regions"]["forehead"]) == set(CONCERNS)
    assert "acne" not in doc["regions"]["nose"]                         # the acne model grades no nose patch
    cheek = doc["regions"]["left_cheek"]
    assert cheek["redness"]["raw"] == 3.22 and isinstance(cheek["redness"]["score"], int)
    assert cheek["acne"] == {"score": 58, "band": "fair", "raw": 0.9}
    assert doc["face"]["acne"]["raw"] == 0.4 and report.scores["acne"] == pytest.approx(76.0)
    assert len(json.dumps(doc)) < 4000, "the report should stay small"


def test_a_failed_capture_is_reported_unreliable_with_its_scores():
    doc = build_report(raw_measures(), passed(reliable=False), None, {}).to_json()
    assert doc["reliable"] is False and doc["quality"]["checks"][0]["passed"] is False
    assert doc["face"]["redness"]["score"] > 0 and "acne" not in doc["face"]


def test_regions_without_pixels_are_left_out_and_no_face_pixels_means_no_tone():
    report = build_report(raw_measures({"chin": {"pixels": 0.0}}), passed(), None, {})
    assert "chin" not in report.regions and "forehead" in report.regions and report.tone is not None
    empty = build_report(raw_measures({r: {"pixels": 0.0} for r in MEASURE_ROWS}), passed(), None, {})
    assert empty.regions == {} and empty.face == {} and empty.to_json()["tone"] is None


def test_a_hidden_cheek_is_left_out_of_the_report_like_a_region_without_pixels():
    report = build_report(raw_measures(), passed(), None, {}, hidden=frozenset({"right_cheek"}))
    assert "right_cheek" not in report.regions and "left_cheek" in report.regions
    assert "right_cheek" not in report.to_json()["regions"]


def test_redder_skin_scores_lower_redness_in_that_region_only():
    report = build_report(raw_measures({"right_cheek": {"redness": 8.0}}), passed(), None, {})
    assert report.regions["right_cheek"]["redness"].score < report.regions["left_cheek"]["redness"].score - 30


# -- SkinAnalyzer ---------------------------------------------------------------------------------


def test_options_refuse_a_single_bundle_path():
    with pytest.raises(UserError, match="pass bundles_dir"):
        SkinAnalyzerOptions(base_options=BaseOptions(bundle_path="x.flb"))


def test_a_folder_without_skin_metrics_or_restoration_is_a_bundle_error_naming_the_file(tmp_path):
    with pytest.raises(BundleError, match="skin_metrics.flb not found"):
        SkinAnalyzer.create_from_options(SkinAnalyzerOptions(base_options=CPU, bundles_dir=tmp_path))


@pytest.fixture(scope="module")
def skin_analyzer():
    with SkinAnalyzer.create_from_options(SkinAnalyzerOptions(base_options=CPU)) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def acne_face(acne_photo):
    """(pixels, 68 points, extent box) of the ACNE04 test photo's face, by the shipped detector and landmarker."""
    from facelite import FaceDetector, FaceDetectorOptions, FaceLandmarker, FaceLandmarkerOptions, load_image

    pixels = load_image(acne_photo)
    with FaceDetector.create_from_options(FaceDetectorOptions(base_options=CPU)) as detector, \
            FaceLandmarker.create_from_options(FaceLandmarkerOptions(base_options=CPU)) as landmarker:
        box = detector.to_extent(detector.detect(pixels).boxes[0])
        return pixels, landmarker.detect(pixels, box).points, box


def test_a_real_face_gets_every_measured_concern_per_region_and_a_tone(skin_analyzer, acne_face):
    pixels, points, box = acne_face
    report = skin_analyzer.analyze(pixels, points, box)
    crop = face_crop(pixels, points)
    hidden = hidden_cheeks(face_regions(crop.points, (crop.size, crop.size)))  # this photo turns a little
    assert set(report.regions) == set(REGION_NAMES) - hidden and len(hidden) <= 1
    for concern in ("redness", "pigmentation", "evenness", "texture", "shine"):
        assert 0 <= report.face[concern].score <= 100
        assert all(concern in scores for scores in report.regions.values())
    assert report.tone is not None and -90 < report.tone.ita_deg < 90
    assert report.models["skin_metrics"] and {"skin_crop", "skin_measures", "quality"} <= set(report.timings_ms)
    if skin_analyzer.grader is not None:
        assert "acne" in report.face and "acne" in report.regions["forehead"]
    else:
        assert skin_analyzer.stages["acne"] in ("skipped (no bundle)", SKIPPED_V1_ACNE)


def test_an_int8_analyzer_runs_the_fp32_only_skin_metrics_bundle_and_the_same_measures(skin_analyzer, acne_face):
    pixels, points, box = acne_face
    options = SkinAnalyzerOptions(base_options=dataclasses.replace(CPU, variant="int8"), acne=False)
    with SkinAnalyzer.create_from_options(options) as int8:
        assert int8.info["skin_metrics"].variant == "fp32"
        report = int8.analyze(pixels, points, box)
    assert report.raw == skin_analyzer.analyze(pixels, points, box).raw


def test_the_same_face_gives_the_same_report_and_image_only_finds_it(skin_analyzer, acne_face, acne_photo):
    pixels, points, box = acne_face
    one = skin_analyzer.analyze(pixels, points, box)
    found = skin_analyzer.analyze_image(acne_photo)
    assert len(found) == 1 and found[0].to_json() == one.to_json()


def test_two_faces_of_one_photo_are_measured_each_on_its_own_crop(skin_analyzer, acne_face):
    """A photo holding the face twice, the right copy blurred: only its report says so."""
    pixels, points, box = acne_face
    w = pixels.shape[1]
    two = np.hstack([pixels, cv2.GaussianBlur(pixels, (0, 0), 12)])
    sharp, blurred = skin_analyzer.analyze_faces(two, [points, points + np.array([w, 0], np.float32)])
    assert blurred.raw.capture["sharpness"] < sharp.raw.capture["sharpness"] / 4
    assert "blur" in blurred.quality.failed and "blur" not in sharp.quality.failed
    assert blurred.face["texture"].raw < sharp.face["texture"].raw


def test_a_blurred_photo_is_unreliable_with_the_blur_check_failed(skin_analyzer, acne_face):
    pixels, points, box = acne_face
    blurred = cv2.GaussianBlur(pixels, (0, 0), 12)
    report = skin_analyzer.analyze(blurred, points, box)
    assert report.reliable is False and "blur" in report.quality.failed
    assert report.to_json()["reliable"] is False


def test_the_v1_acne_bundle_is_skipped_and_said_so(tmp_path, shipped_bundles_dir):
    from facelite import Bundle
    from facelite.paths import shipped_bundle

    for name in ("skin_metrics", "acne"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.flb").symlink_to(shipped_bundle(name))
    with Bundle.open(shipped_bundle("acne")) as acne:
        v1 = acne.input_spec.crop != "face"
    with SkinAnalyzer.create_from_options(SkinAnalyzerOptions(base_options=CPU, bundles_dir=tmp_path)) as analyzer:
        assert analyzer.stages["acne"] == (SKIPPED_V1_ACNE if v1 else "bundle:acne")
        assert analyzer.stages["restoration"] == "off"
    with pytest.raises(BundleError, match="restoration.flb not found"):
        SkinAnalyzer.create_from_options(SkinAnalyzerOptions(base_options=CPU, bundles_dir=tmp_path, restore=True))


def test_a_noisy_face_is_restored_and_gated_again_but_a_face_only_low_resolution_is_not(tmp_path, data):
    """A frontal HELEN face shrunk until `low_resolution` fails: with restore=True it is not
    restored (restoration is worse than bicubic there). The same face with σ = 35 grain
    also fails `noisy`: it goes through the shipped restoration bundle, is measured and
    gated again, and stays unreliable because it is still low-resolution."""
    from facelite.paths import shipped_bundle

    for name in ("skin_metrics", "restoration"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.flb").symlink_to(shipped_bundle(name))
    image = cv2.imread(str(data / "landmarks300w" / "helen_train" / "100466187_1.jpg"))
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    grain = np.random.default_rng(0).normal(0.0, 35.0, small.shape)
    noisy = np.clip(small + grain, 0, 255).astype(np.uint8)
    options = dict(base_options=CPU, bundles_dir=tmp_path)
    with SkinAnalyzer.create_from_options(SkinAnalyzerOptions(**options)) as plain, \
            SkinAnalyzer.create_from_options(SkinAnalyzerOptions(**options, restore=True)) as restoring:
        low_only = restoring.analyze_image(small)[0]
        before, after = plain.analyze_image(noisy)[0], restoring.analyze_image(noisy)[0]
    assert low_only.quality.failed == ["low_resolution"] and not low_only.restored
    assert "restoration" not in low_only.models
    assert before.quality.failed == ["low_resolution", "noisy"] and not before.restored
    assert after.restored and after.to_json()["restored"] is True and "restoration" in after.models
    assert "restoration" in after.timings_ms and after.raw is not before.raw
    assert after.raw.capture["noise"] < before.raw.capture["noise"]
    assert after.quality.failed == ["low_resolution"] and not after.reliable
