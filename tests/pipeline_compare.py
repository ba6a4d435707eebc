"""How a C pipeline result is compared with `facelite.FaceAnalyzer`'s, face by face.

Shared by the parity tests of tests/mobile_bindings (the pipeline, test-time flip and
restoration checks): one set of tolerances and one comparison, so a check tightened for
one test is tightened for all. `Worst` keeps the largest differences seen for the report
(`pytest -s`); on the reference machine every one is 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelite.metrics import iou
from facelite.paths import bundle_in, shipped_bundles_dir

BOX_IOU_MIN = 0.99
LANDMARKS_MAX_PX = 0.5
SCORES_MAX_ABS = 1e-3
SKIN_SCORE_MAX_ABS = 1e-4
"""Skin scores (0-100); raw measures, lighting and ITA° are held to this relative to their size."""
CHECK_VALUE_MAX_REL = 1e-9
"""Quality values: both sides compute them in double from the same float32 points and measures."""


class Worst:
    """The largest differences seen, for the report."""

    def __init__(self):
        self.iou, self.landmarks, self.regions, self.scores, self.faces = 1.0, 0.0, 0.0, 0.0, 0
        self.skin_scores, self.skin_raw, self.skin_faces = 0.0, 0.0, 0

    def near(self, c: float | None, py: float, what: str, where: str) -> None:
        """A raw measure, lighting value or ITA°: within SKIN_SCORE_MAX_ABS relative (null: not finite)."""
        if c is None or not np.isfinite(py):
            assert c is None and not np.isfinite(py), f"{where}: {what} is {c} in C, {py} in Python"
            return
        diff = abs(c - py) / max(1.0, abs(py))
        self.skin_raw = max(self.skin_raw, diff)
        assert diff <= SKIN_SCORE_MAX_ABS, f"{where}: {what} {c!r} in C, {py!r} in Python"

    def concerns(self, py: dict, c: dict, where: str) -> None:
        """{concern: ConcernScore} against the C {concern: {score, band, raw}}."""
        assert list(c) == list(py), f"{where}: concerns {list(c)} in C, {list(py)} in Python"
        for concern, score in py.items():
            got = c[concern]
            assert got["band"] == score.band, f"{where} {concern}: band {got['band']} in C, {score.band} in Python"
            diff = abs(got["score"] - score.score)
            self.skin_scores = max(self.skin_scores, diff)
            assert diff <= SKIN_SCORE_MAX_ABS, f"{where} {concern}: score {got['score']!r} in C, {score.score!r}"
            self.near(got["raw"], score.raw, f"{concern} raw", where)

    def skin(self, py, c: dict | None, where: str) -> None:
        """A SkinReport against the C report (exact JSON)."""
        assert (py is None) == (c is None), f"{where}: skin ran on one side only"
        if py is None:
            return
        self.skin_faces += 1
        assert (c["reliable"], c["restored"]) == (py.reliable, py.restored), f"{where}: reliable/restored differ"
        assert c["quality"]["reliable"] == py.quality.reliable
        checks = c["quality"]["checks"]
        assert [k["code"] for k in checks] == [k.code for k in py.quality.checks], f"{where}: check codes differ"
        for got, want in zip(checks, py.quality.checks):
            assert (got["passed"], got["threshold"], got["message"]) == (want.passed, want.threshold, want.message), \
                f"{where}: check {want.code}: {got} in C, {want} in Python"
            if got["value"] is None or not np.isfinite(want.value):
                assert got["value"] is None and not np.isfinite(want.value), f"{where}: check {want.code} value"
            else:
                assert abs(got["value"] - want.value) <= CHECK_VALUE_MAX_REL * max(1.0, abs(want.value)), \
                    f"{where}: check {want.code} value {got['value']!r} in C, {want.value!r} in Python"
        assert (c["tone"] is None) == (py.tone is None), f"{where}: tone on one side only"
        if py.tone is not None:
            assert c["tone"]["category"] == py.tone.category, f"{where}: tone {c['tone']} in C, {py.tone} in Python"
            self.near(c["tone"]["ita_deg"], py.tone.ita_deg, "ITA", where)
        self.concerns(py.face, c["face"], f"{where} face")
        assert list(c["regions"]) == list(py.regions), f"{where}: regions {list(c['regions'])} in C"
        for region, scores in py.regions.items():
            self.concerns(scores, c["regions"][region], f"{where} {region}")
        assert list(c["lighting"]) == list(py.lighting), f"{where}: lighting keys differ"
        for key, value in py.lighting.items():
            self.near(c["lighting"][key], float(value), f"lighting {key}", where)
        assert c["models"] == py.models, f"{where}: models {c['models']} in C, {py.models} in Python"

    def classification(self, py, c: dict | None, what: str, where: str) -> None:
        assert (py is None) == (c is None), f"{where}: {what} ran on one side only"
        if py is None:
            return
        assert c["top"][0] == py.top[0], f"{where}: {what} {c['top'][0]} in C, {py.top[0]} in Python"
        assert list(c["scores"]) == list(py.scores), f"{where}: {what} labels differ"
        diff = max(abs(c["scores"][k] - v) for k, v in py.scores.items())
        self.scores = max(self.scores, diff, abs(c["top"][1] - py.top[1]))
        assert diff <= SCORES_MAX_ABS, f"{where}: {what} scores differ by {diff:.3g}"


def compare_face(py_face, c_face: dict, where: str, worst: Worst) -> None:
    b = c_face["box"]
    box = type(py_face.box)(b["x"], b["y"], b["w"], b["h"], b["score"])
    overlap = iou(py_face.box, box)
    worst.iou = min(worst.iou, overlap)
    worst.scores = max(worst.scores, abs(box.score - py_face.box.score))
    assert overlap >= BOX_IOU_MIN, f"{where}: box {box} in C, {py_face.box} in Python (IoU {overlap:.4f})"
    assert abs(box.score - py_face.box.score) <= SCORES_MAX_ABS, f"{where}: box scores differ"

    landmarks = np.abs(np.array(c_face["landmarks"], np.float64) - py_face.landmarks).max()
    worst.landmarks = max(worst.landmarks, landmarks)
    assert landmarks <= LANDMARKS_MAX_PX, f"{where}: landmarks differ by up to {landmarks:.3f} px"
    assert c_face["landmarks_source"] == py_face.landmarks_source

    assert list(c_face["regions"]) == list(py_face.regions), f"{where}: region names or order differ"
    for name, poly in py_face.regions.items():
        c_poly = np.array(c_face["regions"][name], np.float64)
        assert c_poly.shape == poly.shape, f"{where}: {name} has {len(c_poly)} points in C, {len(poly)} in Python"
        regions = np.abs(c_poly - poly).max()
        worst.regions = max(worst.regions, regions)
        assert regions <= LANDMARKS_MAX_PX, f"{where}: region {name} differs by up to {regions:.3f} px"

    worst.classification(py_face.expression, c_face["expression"], "expression", where)
    worst.skin(py_face.skin, c_face["skin"], where)


def bundles_with_edited(tmp_path: Path, name: str, edit) -> Path:
    """The shipped bundles folder with bundle `name`'s manifest edited (`edit(manifest)`,
    re-signed); the other bundles are links to the shipped files."""
    from facelite_build.package import rewrite_manifest

    bundles = tmp_path / "bundles"
    for folder in shipped_bundles_dir().iterdir():
        if folder.is_dir() and folder.name != name and bundle_in(shipped_bundles_dir(), folder.name):
            bundles.joinpath(folder.name).mkdir(parents=True)
            bundles.joinpath(folder.name, f"{folder.name}.flb").symlink_to(bundle_in(shipped_bundles_dir(), folder.name))
    (bundles / name).mkdir(parents=True)
    rewrite_manifest(bundle_in(shipped_bundles_dir(), name), edit, out=bundles / name / f"{name}.flb")
    return bundles


def bundles_with_edited_detector(tmp_path: Path, edit) -> Path:
    """`bundles_with_edited` for the face detector."""
    return bundles_with_edited(tmp_path, "face_detector", edit)
