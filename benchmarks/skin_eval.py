"""Skin scores on real photos: calibration, acne by level, stability under re-lighting,
three annotated examples and a two-face photo.

Everything runs the runtime path (`facelite.skin.SkinAnalyzer`: the shipped skin_metrics
bundle, the acne bundle when it grades face crops, the quality gate) on ACNE04
(`FACELITE_DATA/acne04/level{0,1,2}`). Faces come from the shipped detector and
landmarker through the toolchain's face-geometry cache (`facelite_build.face_patches.
face_geometry`, under `FACELITE_CACHE`), the same faces `benchmarks/acne_eval.py` uses.

Photos: every level0 photo (the "healthy" reference) and the acne recipe's held-out
photos of every level (`held_out`: the acne model never trained on them). A photo is
*usable* when its face is in the frame and not a full profile (`usable`: the rule the
skin_metrics build calibrates its score anchors with).

Sections (each printed, and all in `--json`):

- `calibration`: the shipped skin_metrics bundle's score anchors (`output.score_anchors`,
  computed by the toolchain when it built the bundle: the percentiles of each concern's raw
  number over the usable level0 photos per region kind, docs/skin.md "Scores") and the
  mean face score per level (usable photos) with them.
- `acne_levels`: mean and SD of the acne score per level on the held-out photos with a
  face and Cohen's d between levels (needs an acne bundle trained on face crops;
  otherwise `null`).
- `stability`: the first `STABILITY_PER_LEVEL` held-out photos of each level (file-name
  order) that are usable (rule fixed before measuring), each re-lit in software in linear
  light on the whole photo, as docs/skin.md §8 defines it (`relight`): exposure ×1.3 and
  ×0.7; white balance of a 5700 K and a 7300 K illuminant against 6500 K (±800 K: von
  Kries gains between Planckian white points, `kelvin_gains`); a one-sided shadow (the
  light × 1 − `SHADOW_DEPTH`·s, s a smoothstep across the face's landmark x extent, from
  either side). Scored twice: on the original's landmarks (lighting alone), and with the
  face found again on every version (detector and landmarker too, as an app would).
  Reported per concern: max, median and 95th percentile of |Δscore| against the
  original, for the face and for the regions, and the worst version. With
  `--unnormalised-bundle` (the skin_metrics recipe built with `--set
  measures.normalise=false`, the graph's `skin_metrics(normalise=False)`: gains 1, no flat field, no
  exposure gain) the same before normalisation. Targets: ≤ 5 points and ≤ 20% of the
  level0 − level2 gap of the mean acne score.
- `examples`: one held-out photo per level (the first, by file name, whose capture is
  reliable; else the first usable one): `facelite skin-report` pages and annotated
  pictures (`facelite analyze --skin --annotate`) under `--out`, and the per-region
  scores.
- `two_faces`: the level0 and level2 examples side by side in one photo (same height):
  each face's report from the joint photo against the photo alone, and the difference
  between the two faces.

`--acne-bundle` grades acne with another bundle than the shipped one (the scores need one
trained on face crops). Usage (about 15 minutes on 2 busy cores the first time; the raw
measures are cached per skin_metrics bundle under `--out`):

    FACELITE_CACHE=/work/tmp/report/cache python benchmarks/skin_eval.py --out /work/tmp/report \\
        [--unnormalised-bundle raw/skin_metrics.flb] [--acne-bundle acne.flb] [--json results.json]

`--speed BEFORE.flb` instead (a minute; no `--out` needed): the per-face skin stage with
the skin_metrics bundle BEFORE against the shipped one, interleaved face by face (the order
alternating) on `SPEED_PHOTOS` HELEN photos shrunk to `SPEED_SIDE` px with their annotated
landmarks: medians of `skin_crop`, `skin_measures` (each bundle) and `acne` (ms), the
ratio, and the largest difference of any output between the two bundles.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions, SkinAnalyzer
from facelite.annotate import draw_result, skin_report_page
from facelite.datasets import labelled_images
from facelite.files import write_file_atomic
from facelite.detection import Box
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.image import load_image
from facelite.metrics import cohens_d
from facelite.paths import shipped_bundle
from facelite.quality import assess_capture
from facelite.skin import FACE
from facelite.skin_measures import (SkinMeasurer, SkinMeasurerOptions, face_crop, linear_to_srgb8,
                                    srgb_to_linear)
from facelite.skin_scores import ACNE_MAP, CONCERNS, ScoreTable, concern_raw
from facelite_build.face_patches import face_geometry
from facelite_build.paths import cache_root
from facelite_build.tasks.skin_metrics import CALIBRATION_MAX_YAW

LEVELS = ("level0", "level1", "level2")
MEASURED = CONCERNS[1:]
"""Concerns read from the skin_metrics bundle (acne comes from the acne model)."""
STABILITY_PER_LEVEL = 10
REFERENCE_K = 6500.0
KELVIN_STEP = 800.0
EXPOSURES = {"exposure+30%": 1.3, "exposure-30%": 0.7}
SHADOW_DEPTH = 0.5
"""The shadow side keeps half its light (one stop down)."""
TARGET_POINTS = 5.0
TARGET_GAP_FRACTION = 0.2
CPU = BaseOptions(accelerator="cpu", variant="fp32")
SPEED_PHOTOS = 30
SPEED_SIDE = 512
SPEED_ROUNDS = 3


# -- re-lighting -------------------------------------------------------------------------


def planck_xyz(kelvin: float) -> np.ndarray:
    """CIE 1931 XYZ (Y = 1) of the Planckian radiator at `kelvin` (1667–25000 K), by the
    cubic-spline approximation of the Planckian locus of Kim et al. (US patent 7024034,
    2006), as docs/skin.md §8 uses."""
    t = float(kelvin)
    if t <= 4000:
        x = -0.2661239e9 / t ** 3 - 0.2343589e6 / t ** 2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t ** 3 + 2.1070379e6 / t ** 2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x ** 3 - 1.34811020 * x ** 2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x ** 3 - 1.37418593 * x ** 2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x ** 3 - 5.87338670 * x ** 2 + 3.75112997 * x - 0.37001483
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


XYZ_TO_LINEAR_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                               [-0.9692660, 1.8760108, 0.0415560],
                               [0.0556434, -0.2040259, 1.0572252]])
SRGB_LUMINANCE = np.array([0.2126729, 0.7151522, 0.0721750])


def kelvin_gains(kelvin: float) -> np.ndarray:
    """Linear-light gains (B, G, R order) that turn a photo lit at REFERENCE_K into one lit
    at `kelvin` with no camera white balance: von Kries scaling by the ratio of the two
    Planckian white points in linear sRGB, scaled so white keeps its luminance."""
    g = (XYZ_TO_LINEAR_SRGB @ planck_xyz(kelvin)) / (XYZ_TO_LINEAR_SRGB @ planck_xyz(REFERENCE_K))
    return (g / float(g @ SRGB_LUMINANCE))[::-1]


def relight(image: np.ndarray, points: np.ndarray, version: str) -> np.ndarray:
    """The photo as it would look under another light (module docstring), on the whole
    photo in linear light, back to 8-bit sRGB."""
    lin = srgb_to_linear(image)
    if version.startswith("exposure"):
        lin = lin * EXPOSURES[version]
    elif version.startswith("wb"):
        lin = lin * kelvin_gains(REFERENCE_K + (KELVIN_STEP if version == "wb+800K" else -KELVIN_STEP))
    elif version.startswith("shadow"):
        x0, x1 = float(points[:, 0].min()), float(points[:, 0].max())
        t = np.clip((np.arange(image.shape[1]) - x0) / (x1 - x0), 0.0, 1.0)
        dark = t * t * (3.0 - 2.0 * t)                 # smoothstep: 0 at the face's image-left edge
        if version == "shadow_left":
            dark = 1.0 - dark
        lin = lin * (1.0 - SHADOW_DEPTH * dark)[None, :, None]
    else:
        raise ValueError(f"unknown version {version}")
    return linear_to_srgb8(lin)


VERSIONS = ("exposure+30%", "exposure-30%", "wb-800K", "wb+800K", "shadow_left", "shadow_right")


# -- the photos and their raw measures --------------------------------------------------------


def acne04_photos() -> list[tuple[Path, str]]:
    """Every ACNE04 photo with its level, in file-name order within each level."""
    root = Path(os.environ.get("FACELITE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    labels, items = labelled_images(root / "acne04", list(LEVELS), require_all=True)
    return [(path, labels[i]) for path, i in items]


def bundle_key(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def measure_all(photos: list[tuple[Path, str]], out: Path) -> dict[str, dict]:
    """{photo: {"level", "raw", "failed", "box", "points"}} for every photo with a face: the
    raw measures of the shipped skin_metrics bundle and the capture checks that failed,
    cached per bundle under `out`."""
    metrics = shipped_bundle("skin_metrics")
    cache = out / f"raw_acne04-{bundle_key(metrics)}.json"
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    faces = face_geometry([p for p, _ in photos], cache_root() / "face_geometry")
    todo = [(p, level) for p, level in photos if str(p) not in known and faces[p] is not None]
    if todo:
        with SkinMeasurer.create_from_options(SkinMeasurerOptions(base_options=CPU)) as measurer, \
                FaceDetector.create_from_options(FaceDetectorOptions(base_options=CPU)) as detector:
            for k, (path, level) in enumerate(todo):
                face = faces[path]
                image = load_image(path)
                raw = measurer.measure_crops([face_crop(image, face.points)])[0]
                box = detector.to_extent(Box(*face.box, face.score))
                quality = assess_capture(face.points, box, image.shape[1::-1], raw.capture)
                known[str(path)] = {"level": level, "raw": raw.to_json(), "failed": quality.failed,
                                    "yaw": round(quality.pose.yaw, 2),
                                    "box": [round(float(v), 3) for v in box],
                                    "points": np.round(face.points.astype(np.float64), 3).tolist()}
                if (k + 1) % 100 == 0:
                    print(f"  measured {k + 1}/{len(todo)}", file=sys.stderr)
                    write_file_atomic(cache, json.dumps(known).encode())
        write_file_atomic(cache, json.dumps(known).encode())
    return known


def usable(entry: dict) -> bool:
    """The calibration rule of the skin_metrics build (`facelite_build.tasks.skin_metrics.
    usable_face`): the `occluded` check passes and |yaw| ≤ CALIBRATION_MAX_YAW."""
    return "occluded" not in entry["failed"] and abs(entry["yaw"]) <= CALIBRATION_MAX_YAW


def calibration(measured: dict[str, dict], table: ScoreTable, anchors_doc: dict) -> dict:
    """The skin_metrics bundle's score anchors (computed when it was built, docs/skin.md
    "Scores") and the mean face score per level (usable photos) with them."""
    out = {"photos": len(measured), "usable": sum(map(usable, measured.values())),
           "source": anchors_doc.get("source"), "faces": anchors_doc.get("faces"),
           "percentiles": anchors_doc.get("percentiles"), "anchors": anchors_doc.get("anchors"),
           "score_by_level": {}}
    for level in LEVELS:
        rows = [e for e in measured.values() if e["level"] == level and usable(e)]
        out["score_by_level"][level] = {"n": len(rows), **{
            concern: round(float(np.mean([table.score_map(concern).score(concern_raw(concern, e["raw"]["regions"][FACE]))
                                          for e in rows])), 1) for concern in MEASURED}}
    return out


def held_out(photos: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """The acne recipe's held-out photos (its validation split), in file-name order: the
    acne model never trained on them."""
    from facelite_build.face_patches import split_photos
    from facelite_build.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[1] / "models" / "acne" / "recipe.toml")
    split = split_photos(recipe, recipe.data_dir(None))
    val = {Path(p) for p, _ in split.val}
    return [(p, level) for p, level in photos if p in val]


# -- reports ------------------------------------------------------------------------------------


def flat_scores(report) -> dict[str, float]:
    """{"<region>/<concern>": score} of a SkinReport, the face as region "face"."""
    out = {f"{FACE}/{c}": s.score for c, s in report.face.items()}
    for region, scores in report.regions.items():
        out.update({f"{region}/{c}": s.score for c, s in scores.items()})
    return out


def matching_face(result, points: np.ndarray):
    """The face of an AnalysisResult nearest to `points` (mean landmark distance), or None."""
    faces = [f for f in result.faces if f.skin is not None]
    return min(faces, key=lambda f: float(np.abs(f.landmarks - points).mean())) if faces else None


def bundles_folder(root: Path, skin_metrics: Path, acne: Path) -> Path:
    """A bundles folder for FaceAnalyzer: the shipped detector and landmarks bundles and
    the given skin_metrics and acne bundles (no expression: not measured here)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, path in (("face_detector", shipped_bundle("face_detector")), ("landmarks", shipped_bundle("landmarks")),
                       ("acne", Path(acne)), ("skin_metrics", Path(skin_metrics))):
        link = root / name / f"{name}.flb"
        link.parent.mkdir(exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(Path(path).resolve())
    return root


def face_analyzer(bundles: Path) -> FaceAnalyzer:
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=CPU, bundles_dir=bundles))


def acne_levels(analyzer: SkinAnalyzer, photos: list[tuple[Path, str]], measured: dict) -> dict | None:
    """Acne score by level on the held-out photos with a face (all poses), and Cohen's d."""
    if analyzer.grader is None:
        return None
    scores: dict[str, list[float]] = {level: [] for level in LEVELS}
    for path, level in photos:
        entry = measured.get(str(path))
        if entry is None:
            continue
        crop = face_crop(load_image(path), np.asarray(entry["points"], np.float32))
        scores[level].append(ACNE_MAP.score(analyzer.grader.grade(crop).severity))
    out = {level: {"n": len(v), "mean": round(float(np.mean(v)), 2), "sd": round(float(np.std(v, ddof=1)), 2)}
           for level, v in scores.items()}
    for a, b in (("level0", "level1"), ("level1", "level2"), ("level0", "level2")):
        d = cohens_d(scores[a], scores[b])
        out[f"d_{a[-1]}{b[-1]}"] = None if d is None else round(d, 2)
    out["gap_0_2"] = round(out["level0"]["mean"] - out["level2"]["mean"], 2)
    return out


# -- stability ------------------------------------------------------------------------------------


def stability_photos(photos: list[tuple[Path, str]], measured: dict,
                     per_level: int = STABILITY_PER_LEVEL) -> list[tuple[Path, str]]:
    """The first `per_level` held-out photos of each level whose original is usable."""
    chosen = []
    for level in LEVELS:
        rows = [(p, lv) for p, lv in photos if lv == level and str(p) in measured and usable(measured[str(p)])]
        chosen += rows[:per_level]
    return chosen


def stability(analyzer: FaceAnalyzer, photos: list[tuple[Path, str]], measured: dict) -> dict:
    """|Δscore| of every version against the original, per concern (module docstring), on
    the original's landmarks (`fixed_landmarks`) and with the face found again (`redetected`)."""
    deltas = {"fixed_landmarks": {v: {} for v in VERSIONS}, "redetected": {v: {} for v in VERSIONS}}
    lost = 0
    for path, _ in photos:
        image = load_image(path)
        entry = measured[str(path)]
        points, box = np.asarray(entry["points"], np.float32), entry["box"]
        fixed = flat_scores(analyzer.skin.analyze(image, points, box))
        found = matching_face(analyzer.analyze(image), points)
        again = flat_scores(found.skin) if found else None
        for version in VERSIONS:
            relit = relight(image, points, version)
            relit_fixed = flat_scores(analyzer.skin.analyze(relit, points, box))
            add_deltas(deltas["fixed_landmarks"][version], fixed, relit_fixed)
            face = matching_face(analyzer.analyze(relit), points)
            if face is None or again is None:
                lost += 1
                continue
            add_deltas(deltas["redetected"][version], again, flat_scores(face.skin))
    return {"photos": len(photos), "versions_without_a_face": lost,
            **{name: summarise_deltas(d) for name, d in deltas.items()}}


def add_deltas(into: dict[str, list[float]], reference: dict[str, float], scores: dict[str, float]) -> None:
    for key, score in scores.items():
        if key in reference:
            into.setdefault(key, []).append(abs(score - reference[key]))


def summarise_deltas(deltas: dict[str, dict[str, list[float]]]) -> dict:
    """Per concern: max, median, p95 and the count over TARGET_POINTS of |Δ| for the face,
    the same for the regions, and the version with the largest face |Δ|."""
    out: dict = {"face": {}, "regions": {}}
    for concern in CONCERNS:
        face = [d for v in deltas.values() for d in v.get(f"{FACE}/{concern}", [])]
        regions = [d for v in deltas.values() for k, ds in v.items()
                   if k.endswith(f"/{concern}") and not k.startswith(f"{FACE}/") for d in ds]
        if not face:
            continue
        worst = max(VERSIONS, key=lambda v: max(deltas[v].get(f"{FACE}/{concern}", [0.0])))
        out["face"][concern] = {**spread(face), "worst_version": worst}
        out["regions"][concern] = spread(regions)
    return out


def spread(values: list[float]) -> dict:
    v = np.asarray(values, np.float64)
    return {"max": round(float(v.max()), 2), "median": round(float(np.median(v)), 2),
            "p95": round(float(np.percentile(v, 95)), 2), "over_5": int((v > TARGET_POINTS).sum()), "n": int(len(v))}


# -- examples and two faces ------------------------------------------------------------------------


def example_photos(photos: list[tuple[Path, str]], measured: dict) -> list[tuple[Path, str]]:
    """One photo per level: the first (file-name order) whose capture is reliable, else the
    first usable one."""
    chosen = []
    for level in LEVELS:
        rows = [p for p, lv in photos if lv == level and str(p) in measured]
        reliable = [p for p in rows if not measured[str(p)]["failed"]]
        front = [p for p in rows if usable(measured[str(p)])]
        chosen.append(((reliable or front or rows)[0], level))
    return chosen


def region_table(report) -> dict:
    return {region: {c: int(round(s.score)) for c, s in scores.items()}
            for region, scores in [(FACE, report.face), *report.regions.items()]}


def save_pictures(image: np.ndarray, result, out: Path, stem: str) -> dict:
    """The skin-report page and the annotated picture of one photo, as `facelite
    skin-report` and `facelite analyze --skin --annotate` write them."""
    out.mkdir(parents=True, exist_ok=True)
    page, annotated = out / f"{stem}_report.png", out / f"{stem}_annotated.jpg"
    cv2.imwrite(str(page), skin_report_page(image, [(f.landmarks, f.skin) for f in result.faces], stem))
    cv2.imwrite(str(annotated), draw_result(image, result))
    return {"page": str(page), "annotated": str(annotated)}


def examples(analyzer: FaceAnalyzer, chosen: list[tuple[Path, str]], out: Path) -> dict:
    rows = {}
    for path, level in chosen:
        image = load_image(path)
        result = analyzer.analyze(image)
        face = result.faces[0]
        rows[level] = {"photo": str(path), "reliable": face.skin.reliable, "failed": face.skin.quality.failed,
                       "tone": face.skin.tone.to_json() if face.skin.tone else None,
                       "scores": region_table(face.skin), **save_pictures(image, result, out, path.stem)}
    return rows


def two_faces(analyzer: FaceAnalyzer, left: Path, right: Path, out: Path) -> dict:
    """The two photos side by side (the right one scaled to the left's height): each face's
    scores in the joint photo, alone, and the difference between the faces."""
    a, b = load_image(left), load_image(right)
    b = cv2.resize(b, (round(b.shape[1] * a.shape[0] / b.shape[0]), a.shape[0]), interpolation=cv2.INTER_AREA)
    joint = np.hstack([a, b])
    result = analyzer.analyze(joint)
    faces = sorted((f for f in result.faces if f.skin is not None), key=lambda f: f.box.x)
    doc = {"photos": [str(left), str(right)], "faces_found": len(faces),
           **save_pictures(joint, result, out, "two_faces")}
    if len(faces) < 2:
        return doc
    alone = [matching_face(analyzer.analyze(img), f.landmarks - [dx, 0])
             for img, f, dx in ((a, faces[0], 0), (b, faces[1], a.shape[1]))]
    joint_scores = [flat_scores(f.skin) for f in faces[:2]]
    alone_scores = [flat_scores(f.skin) if f else {} for f in alone]
    doc["face_scores"] = [{c: int(round(s[f"{FACE}/{c}"])) for c in CONCERNS if f"{FACE}/{c}" in s}
                          for s in joint_scores]
    doc["tones"] = [f.skin.tone.to_json() if f.skin.tone else None for f in faces[:2]]
    doc["joint_vs_alone_max"] = {
        where: [round(max((abs(j[k] - s[k]) for k in j if k in s and k.startswith(prefix) == (where == "face")),
                          default=float("nan")), 2) for j, s in zip(joint_scores, alone_scores)]
        for where, prefix in (("face", f"{FACE}/"), ("regions", f"{FACE}/"))}
    doc["between_faces"] = {c: round(abs(joint_scores[0][f"{FACE}/{c}"] - joint_scores[1][f"{FACE}/{c}"]), 1)
                            for c in CONCERNS if f"{FACE}/{c}" in joint_scores[0] and f"{FACE}/{c}" in joint_scores[1]}
    return doc


# -- report ----------------------------------------------------------------------------------------


def print_summary(doc: dict) -> None:
    cal = doc["calibration"]
    print(f"calibration: {cal['photos']} photos with a face, {cal['usable']} usable; the bundle's anchors: "
          f"{cal['source']}; raw p10 / p50 / p90 per region kind:")
    for c in MEASURED:
        print(f"  {c:13s} " + "  ".join(f"{k} {r['p10']:.3g}/{r['p50']:.3g}/{r['p90']:.3g}"
                                         for k, r in cal["percentiles"][c].items()))
    print("  anchors (raw at 100 → raw at 70): " + json.dumps(
        {c: {k: [a[0][0], a[1][0]] for k, a in kinds.items()} for c, kinds in cal["anchors"].items() if c != "acne"}))
    print("  mean face score by level (usable): " + "; ".join(
        f"{lv} (n={s['n']}): " + " ".join(f"{c} {s[c]}" for c in MEASURED) for lv, s in cal["score_by_level"].items()))
    acne = doc["acne_levels"]
    if acne:
        print("acne score by level (held out): " + ", ".join(
            f"{lv} {acne[lv]['mean']}±{acne[lv]['sd']} (n={acne[lv]['n']})" for lv in LEVELS)
              + f"; d01 {acne['d_01']} d12 {acne['d_12']} d02 {acne['d_02']}; gap {acne['gap_0_2']}")
    else:
        print("acne score by level: no acne bundle for face crops")
    for name in ("normalised", "unnormalised"):
        st = doc["stability"].get(name)
        if not st:
            continue
        for how in ("fixed_landmarks", "redetected"):
            print(f"stability, {name}, {how} ({st['photos']} photos × {len(VERSIONS)} versions"
                  + (f", {st['versions_without_a_face']} without a face" if how == "redetected" else "")
                  + "): |Δscore| face max / median / p95 (over 5), regions max / p95 (over 5)")
            for c, f in st[how]["face"].items():
                r = st[how]["regions"][c]
                print(f"  {c:13s} face {f['max']:5.1f} / {f['median']:4.1f} / {f['p95']:4.1f} ({f['over_5']}/{f['n']}, "
                      f"worst {f['worst_version']})   regions {r['max']:5.1f} / {r['p95']:4.1f} "
                      f"({r['over_5']}/{r['n']})")
    print(f"targets: ≤ {TARGET_POINTS:g} points; ≤ {TARGET_GAP_FRACTION:.0%} of the acne gap = "
          f"{doc['stability']['gap_target']}")
    for level, ex in doc["examples"].items():
        print(f"example {level}: {ex['photo']} reliable {ex['reliable']} {ex['failed']} tone {ex['tone']}")
        for region, scores in ex["scores"].items():
            print(f"  {region:16s} " + "  ".join(f"{c} {v:3d}" for c, v in scores.items()))
        print(f"  pictures: {ex['page']} {ex['annotated']}")
    two = doc["two_faces"]
    print(f"two faces: {two['faces_found']} found; scores {two.get('face_scores')}; tones {two.get('tones')}; "
          f"joint vs alone max |Δ| {two.get('joint_vs_alone_max')}; between faces {two.get('between_faces')}; "
          f"{two['page']}")


def speed(before: Path) -> dict:
    """`--speed`: the skin stage with skin_metrics bundle `before` against the shipped one
    (module docstring). Timing on a shared host is noisy: compare the ratio, not the ms."""
    import time

    from facelite.acne import AcneGrader, AcneGraderOptions
    from facelite.datasets import pts_pairs, read_pts

    root = Path(os.environ.get("FACELITE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    photos = []
    for image_path, pts_path in pts_pairs(root / "landmarks300w" / "helen_train")[:SPEED_PHOTOS]:
        image, points = load_image(image_path), read_pts(pts_path)
        f = SPEED_SIDE / max(image.shape[:2])
        size = (round(image.shape[1] * f), round(image.shape[0] * f))
        photos.append((cv2.resize(image, size, interpolation=cv2.INTER_AREA), (points * f).astype(np.float32)))
    options = {"before": BaseOptions(accelerator="cpu", variant="fp32", bundle_path=before),
               "after": CPU}
    times: dict[str, list[float]] = {k: [] for k in ("skin_crop", "skin_measures.before", "skin_measures.after", "acne")}
    worst = 0.0
    measurers = {k: SkinMeasurer.create_from_options(SkinMeasurerOptions(base_options=o)) for k, o in options.items()}
    try:
        with AcneGrader.create_from_options(AcneGraderOptions(base_options=CPU)) as grader:
            for r in range(SPEED_ROUNDS):
                for k, (image, points) in enumerate(photos):
                    t = time.perf_counter()
                    crop = face_crop(image, points)
                    times["skin_crop"].append(time.perf_counter() - t)
                    rows = {}
                    for which in (("before", "after") if (r + k) % 2 == 0 else ("after", "before")):
                        t = time.perf_counter()
                        measurers[which].measure_crops([crop])
                        times[f"skin_measures.{which}"].append(time.perf_counter() - t)
                        rows[which] = measurers[which].engine.outputs()[0]
                    worst = max(worst, float(np.abs(rows["before"] - rows["after"]).max()))
                    t = time.perf_counter()
                    grader.grade_batch([crop])
                    times["acne"].append(time.perf_counter() - t)
    finally:
        for m in measurers.values():
            m.close()
    med = {k: round(1e3 * float(np.median(v)), 2) for k, v in times.items()}
    return {"photos": len(photos), "rounds": SPEED_ROUNDS, "median_ms": med,
            "skin_measures_ratio": round(med["skin_measures.after"] / med["skin_measures.before"], 3),
            "max_abs_output_difference": worst,
            "bundles": {k: measurers[k].bundle.manifest["version"] for k in measurers}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="folder for the pictures and the raw-measure cache (required but with --speed)")
    ap.add_argument("--speed", type=Path, metavar="BEFORE.flb",
                    help="only time the skin stage: this skin_metrics bundle against the shipped one")
    ap.add_argument("--unnormalised-bundle", type=Path,
                    help="a skin_metrics bundle built with the lighting normalisation off (stability before)")
    ap.add_argument("--acne-bundle", type=Path, help="the acne bundle (default: the shipped one)")
    ap.add_argument("--per-level", type=int, default=STABILITY_PER_LEVEL,
                    help=f"stability photos per level (default {STABILITY_PER_LEVEL})")
    ap.add_argument("--json", type=Path, help="write every number here")
    a = ap.parse_args()
    if a.speed:
        doc = {"speed": speed(a.speed)}
        print(json.dumps(doc["speed"], indent=1))
        if a.json:
            write_file_atomic(a.json, json.dumps(doc, indent=1).encode())
        return
    if a.out is None:
        ap.error("--out is required (but with --speed)")

    photos = acne04_photos()
    test = held_out(photos)
    wanted = {p for p, level in photos if level == "level0"} | {p for p, _ in test}
    measured = measure_all([(p, level) for p, level in photos if p in wanted], a.out)
    with SkinMeasurer.create_from_options(SkinMeasurerOptions(base_options=CPU)) as measurer:
        manifest = measurer.bundle.manifest
    doc: dict = {"calibration": calibration(measured, ScoreTable.from_manifest(manifest),
                                            manifest["output"]["score_anchors"])}
    acne = a.acne_bundle or shipped_bundle("acne")
    bundles = bundles_folder(a.out / "bundles" / "normalised", shipped_bundle("skin_metrics"), acne)
    with face_analyzer(bundles) as analyzer:
        doc["stages"] = analyzer.stages
        doc["acne_levels"] = acne_levels(analyzer.skin, test, measured)
        chosen = stability_photos(test, measured, a.per_level)
        doc["stability"] = {"photos": [str(p) for p, _ in chosen], "normalised": stability(analyzer, chosen, measured)}
        doc["examples"] = examples(analyzer, example_photos(test, measured), a.out)
        ex = doc["examples"]
        doc["two_faces"] = two_faces(analyzer, Path(ex["level0"]["photo"]), Path(ex["level2"]["photo"]), a.out)
    if a.unnormalised_bundle:
        raw_bundles = bundles_folder(a.out / "bundles" / "unnormalised", a.unnormalised_bundle, acne)
        with face_analyzer(raw_bundles) as analyzer:
            doc["stability"]["unnormalised"] = stability(analyzer, chosen, measured)
    gap = doc["acne_levels"]["gap_0_2"] if doc["acne_levels"] else None
    doc["stability"]["gap_target"] = None if gap is None else round(TARGET_GAP_FRACTION * gap, 2)
    doc["bundles"] = {"skin_metrics": bundle_key(shipped_bundle("skin_metrics")), "acne": str(acne)}
    print_summary(doc)
    if a.json:
        write_file_atomic(a.json, json.dumps(doc, indent=1).encode())


if __name__ == "__main__":
    main()
