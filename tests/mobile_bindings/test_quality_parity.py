"""The C quality gate (`mobile_bindings/c/src/quality.c`) gives `facelite.quality`'s verdicts.

`tool_quality` (a helper of the session's CMake build, `c_build`) reads the gate's inputs
as JSON lines and prints the C verdicts. On the same inputs both sides must agree: the
same checks in the same order with the same codes, thresholds and messages, the same
pass/fail and `reliable`/`restorable`, values and pose angles within 1e-9. Inputs: every
5th face of the 300W annotations (afw, helen_train) with detector-like boxes and capture
measures drawn around the thresholds, and made-up faces (the mean shape rotated, mirrored,
shrunk, pushed out of the frame; degenerate and collinear points; NaN and missing
measures).
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest

from facelite.datasets import extent_box, pts_pairs, read_pts
from facelite.mean_shape import IBUG_MIRROR, fit_to_box
from facelite.quality import CAPTURE_CHECKS, CHECK_RULES, RESTORABLE_CHECKS, RESTORATION_TOLERATES, assess_capture
from facelite.skin_measures import CAPTURE_MEASURES

TOLERANCE = 1e-9
"""Degrees, pixels and ratios: both sides compute in double from the same float32 points."""

MEASURES = CAPTURE_MEASURES
"""Every capture measure the bundle gives, checked or not (the C side matches them by name)."""
_THRESHOLDS = {measure: next(r.threshold for r in CHECK_RULES if r.code == code)
               for code, measure in CAPTURE_CHECKS.items()}


def run_tool(c_build, *args: str, stdin: str = "") -> list:
    p = subprocess.run([str(c_build.tool("tool_quality")), *args], input=stdin, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(line) for line in p.stdout.splitlines()]


def capture_near_thresholds(rng: np.random.Generator) -> dict | None:
    """A capture dict whose values straddle the thresholds (×0.5…×1.5), some NaN or missing."""
    kind = rng.integers(0, 5)
    if kind == 0:
        return None
    capture = {m: float(_THRESHOLDS.get(m, 100.0) * rng.uniform(0.5, 1.5)) for m in MEASURES}
    if kind == 1:
        capture[MEASURES[rng.integers(len(MEASURES))]] = math.nan
    if kind == 2:
        del capture[MEASURES[rng.integers(len(MEASURES))]]
    return capture


def rotated(points: np.ndarray, degrees: float, about=(200.0, 200.0)) -> np.ndarray:
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return ((points - about) @ rot.T + about).astype(np.float32)


def made_up_faces(rng: np.random.Generator) -> list[tuple[np.ndarray, tuple | None, tuple[int, int]]]:
    mean = fit_to_box((100, 100, 200, 220))
    mirrored = mean[IBUG_MIRROR].copy()
    mirrored[:, 0] = 400 - mirrored[:, 0]
    faces = [(mean, (100, 100, 200, 220), (400, 400)), (mirrored, None, (400, 400)),
             (mean / 8, None, (400, 400)), (mean + 250, (350, 350, 200, 220), (400, 400)),
             (np.zeros((68, 2), np.float32), None, (10, 10)),
             (np.stack([np.arange(68), np.arange(68)], 1).astype(np.float32), (0, 0, 67, 67), (100, 100)),
             (mean * 1e5, None, (1, 1)), (mean - 150, (-50, -50, 200, 220), (300, 300))]
    faces += [(rotated(mean, angle), (100, 100, 200, 220), (400, 400)) for angle in (-90, -30, -24.9, 10, 45, 179)]
    faces += [((mean + rng.normal(0, 6, mean.shape)).astype(np.float32), tuple(rng.uniform(50, 250, 4)), (400, 300))
              for _ in range(20)]
    return faces


@pytest.fixture(scope="module")
def inputs(shared_data) -> list[dict]:
    rng = np.random.default_rng(11)
    faces = []
    root = shared_data / "landmarks300w"
    for _, pts in pts_pairs([root / "afw", root / "helen_train"])[::5]:
        points = read_pts(pts)
        x, y, w, h = extent_box(points)
        box = (x + rng.normal(0, 0.05) * w, y + rng.normal(0, 0.05) * h, w * rng.uniform(0.8, 1.2),
               h * rng.uniform(0.8, 1.2)) if rng.random() < 0.8 else None
        size = (int(x + w * rng.uniform(0.6, 3)), int(y + h * rng.uniform(0.6, 3)))
        faces.append((points, box, size))
    faces += made_up_faces(rng)
    return [{"points": np.asarray(p, np.float32).astype(np.float64).tolist(),
             "box": None if b is None else [float(v) for v in b], "image_size": list(s),
             "capture": capture_near_thresholds(rng)} for p, b, s in faces]


def python_verdict(case: dict) -> dict:
    capture = case["capture"]
    if capture is not None:
        capture = {k: (math.nan if v is None else v) for k, v in capture.items()}
    q = assess_capture(np.array(case["points"], np.float32), case["box"], tuple(case["image_size"]), capture)
    return {"reliable": q.reliable, "restorable": q.restorable, "pose": q.pose.to_json(),
            "checks": [c.to_json() for c in q.checks]}


def close(py, c) -> bool:
    if py is None or c is None or (isinstance(py, float) and math.isnan(py)):
        return (py is None or math.isnan(py)) and c is None
    return abs(py - c) <= TOLERANCE * max(1.0, abs(py))


def test_c_check_table_is_the_python_one(c_build):
    rules = run_tool(c_build, "rules")[0]
    assert rules == [{"code": r.code, "threshold": r.threshold, "at_least": r.at_least,
                      "restorable": r.code in RESTORABLE_CHECKS,
                      "tolerated": r.code in RESTORATION_TOLERATES, "message": r.message} for r in CHECK_RULES]


def test_c_gate_gives_the_python_verdicts_on_real_and_made_up_faces(c_build, inputs):
    for case in inputs:  # JSON has no NaN: a NaN measure travels as null
        if case["capture"]:
            case["capture"] = {k: (None if math.isnan(v) else v) for k, v in case["capture"].items()}
    c_out = run_tool(c_build, "assess", stdin="".join(json.dumps(case) + "\n" for case in inputs))
    assert len(c_out) == len(inputs)
    worst, near_threshold = 0.0, 0
    for i, (case, c) in enumerate(zip(inputs, c_out)):
        py = python_verdict(case)
        where = f"input {i} (points[0] = {case['points'][0]})"
        assert "error" not in c, f"{where}: {c}"
        for angle in ("yaw", "pitch", "roll"):
            assert close(py["pose"][angle], c["pose"][angle]), f"{where}: {angle} {c['pose']} vs {py['pose']}"
        assert [k["code"] for k in c["checks"]] == [k["code"] for k in py["checks"]], where
        borderline = False
        for pk, ck in zip(py["checks"], c["checks"]):
            assert ck["threshold"] == pk["threshold"] and ck["message"] == pk["message"], where
            assert close(pk["value"], ck["value"]), f"{where}: {pk['code']} {ck['value']!r} vs {pk['value']!r}"
            if pk["value"] is not None and ck["value"] is not None:
                worst = max(worst, abs(pk["value"] - ck["value"]))
                if abs(pk["value"] - pk["threshold"]) <= TOLERANCE * max(1.0, abs(pk["threshold"])):
                    borderline = True
                    continue
            assert ck["passed"] == pk["passed"], f"{where}: {pk['code']} passed {ck['passed']} vs {pk['passed']}"
        near_threshold += borderline
        if not borderline:
            assert (c["reliable"], c["restorable"]) == (py["reliable"], py["restorable"]), where
    print(f"\n{len(inputs)} inputs, worst value difference {worst:.3g}, {near_threshold} on a threshold")
    assert near_threshold <= 2
