"""Restoration of poor selfies, measured: PSNR/SSIM against bicubic, and skin scores with and without it.

Why: issue #11 item 4 ships a restoration bundle (`models/restoration`, task
`image_to_image`), run on captures the quality gate finds `noisy` (this evaluation showed
that restoring a capture that is only `low_resolution` does worse than bicubic). Two
questions decide whether it earns its place:

1. **Does it restore?** On the recipe's held-out HELEN faces (the landmarker's seeded 15%,
   never trained on; the clean target is the 256-pixel skin crop cut at the photo's own
   resolution, `facelite_build.tasks.image_to_image.clean_faces`), each degradation kind of
   `facelite_build.degrade` (seeded per kind) makes a 128-pixel input; the restoration
   (`FaceRestorer.restore`, every variant) and OpenCV's bicubic ×2 of the same input are
   scored against the clean face by PSNR and SSIM (`facelite.tasks.restoration_scores`).
   Variants are compared with fp32 by the PSNR of their pixels.
2. **Does it help the skin scores?** On real photos (held-out HELEN with their annotated
   points, and every k-th ACNE04 photo with the shipped detector and landmarker's points),
   the photo's `SkinAnalyzer` report is the reference. Each photo is then shrunk (area)
   until its skin crop has 128 photo pixels across (eye distance about 36 px: the gate's
   `low_resolution`, at its border with `face_too_small`) and degraded at that size; its
   report is taken twice (restoration forced, whatever the gate says):
   without restoration (the skin crop upsampled from the small photo, as `SkinAnalyzer`
   cuts it) and with it (`FaceRestorer.restore_face`: the 128-pixel crop restored to 256,
   then measured as a photo of its own). The error is |score − reference score| per
   concern of the face, and per raw measure of the face region (`RawSkinMeasures`).
   The gate's verdict on the degraded copies is counted too.

    .venv/bin/python benchmarks/restoration_eval.py                       # all held-out faces, 40 photos
    .venv/bin/python benchmarks/restoration_eval.py --faces 40 --photos 10 --json out.json

Prints tables (and `--json` writes the numbers). Part 2 needs `facelite.skin.SkinAnalyzer`;
where it cannot be made, the raw measures of `facelite.skin_measures.SkinMeasurer` are
compared instead and the output says so.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from facelite import metrics  # noqa: E402
from facelite.quality import RESTORABLE_CHECKS, RESTORATION_TOLERATES
from facelite.bundle import VARIANT_NAMES, Bundle  # noqa: E402
from facelite.datasets import read_pts  # noqa: E402
from facelite.image import load_image  # noqa: E402
from facelite.options import BaseOptions  # noqa: E402
from facelite.paths import shipped_bundle  # noqa: E402
from facelite.preprocess import resize  # noqa: E402
from facelite.restoration import FaceRestorer, FaceRestorerOptions  # noqa: E402
from facelite.skin_measures import SKIN_CROP_SIZE, crop_matrix  # noqa: E402
from facelite.tasks import bicubic_upscale, restoration_scores  # noqa: E402
from facelite_build.degrade import KINDS, degrade  # noqa: E402
from facelite_build.recipe import load_recipe  # noqa: E402
from facelite_build.splits import split_pairs  # noqa: E402
from facelite_build.tasks.image_to_image import SCALE, clean_faces  # noqa: E402

RECIPE = REPO / "models" / "restoration" / "recipe.toml"
SEED = 2024
"""Seeds the degradations here (kind k uses SEED + k), apart from the build's own."""
LOW_CROP = SKIN_CROP_SIZE // SCALE
"""Photo pixels across the skin crop of a degraded copy (128: the gate's low_resolution)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def restorer_for(bundle: Path, variant: str) -> FaceRestorer:
    options = BaseOptions(bundle_path=bundle, variant=variant, accelerator="cpu", num_threads=2)
    return FaceRestorer.create_from_options(FaceRestorerOptions(base_options=options))


# -- part 1: held-out faces ----------------------------------------------------------------


def held_out_faces(limit: int | None) -> tuple[np.ndarray, list[str], dict]:
    recipe = load_recipe(RECIPE)
    _, val = split_pairs(recipe, recipe.data_dir())
    val = val[: 2 * limit] if limit else val  # about 1 face in 8 is too small; 2× leaves room
    faces, names, small = clean_faces(val, "bgr")
    faces, names = faces[:limit], names[:limit]
    return faces, names, {"held_out_photos": len(val), "too_small": small, "faces": len(faces)}


def tone_groups(names: list[str]) -> list[str]:
    """Each held-out face's ITA° category (`skin_scores.ita_category` of `SkinMeasurer`'s
    tone on the original photo), for the gains by skin tone."""
    from facelite.skin_measures import SkinMeasurer, SkinMeasurerOptions
    from facelite.skin_scores import ita_category

    options = SkinMeasurerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32"))
    with SkinMeasurer.create_from_options(options) as measurer:
        return [ita_category(measurer.measure(name, read_pts(Path(name).with_suffix(".pts"))).tone_ita)
                for name in names]


def gains_by_tone(groups: list[str], bundle: Path, faces: np.ndarray) -> dict:
    """Per ITA° category: faces, and the mean PSNR gain over bicubic (fp32, `mixed`)."""
    restorer = restorer_for(bundle, "fp32")
    rng = np.random.default_rng(SEED + KINDS.index("mixed"))
    gains: dict[str, list[float]] = {}
    for face, group in zip(faces, groups):
        x = degrade(face, "mixed", rng, SCALE, "bgr")
        gain = metrics.psnr_db(restorer.restore(x), face, 255.0, None) - \
            metrics.psnr_db(bicubic_upscale(x, SCALE), face, 255.0, None)
        gains.setdefault(group, []).append(gain)
    restorer.close()
    return {g: {"n": len(v), "psnr_gain_db": round(float(np.mean(v)), 3)} for g, v in gains.items()}


def face_scores(bundle: Path, faces: np.ndarray) -> dict:
    """Per degradation kind and variant: PSNR/SSIM of the restoration and of bicubic."""
    variants = [v for v in VARIANT_NAMES if v in Bundle.open(bundle).variants]
    restorers = {v: restorer_for(bundle, v) for v in variants}
    result = {}
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng(SEED + k)
        inputs = [degrade(face, kind, rng, SCALE, "bgr") for face in faces]
        restored = {v: [r.restore(x) for x in inputs] for v, r in restorers.items()}
        entry = {}
        for v, images in restored.items():
            entry[v] = restoration_scores(images, inputs, list(faces), SCALE)
            if v != "fp32":
                psnrs = [metrics.psnr_db(a, b, 255.0, None) for a, b in zip(images, restored["fp32"])]
                finite = [p for p in psnrs if p is not None]
                entry[v]["psnr_db_vs_fp32"] = round(float(np.mean(finite)), 3) if finite else None
                entry[v]["identical_to_fp32"] = len(psnrs) - len(finite)
        result[kind] = entry
        fp32 = entry["fp32"]
        log(f"  {kind:10s} bicubic {fp32['bicubic_psnr_db']:.2f} dB → restored {fp32['target_psnr_db']:.2f} dB "
            f"(gain {fp32['psnr_gain_db']:+.2f}; SSIM {fp32['bicubic_ssim']:.3f} → {fp32['target_ssim']:.3f})")
    for r in restorers.values():
        r.close()
    return result


# -- part 2: skin scores on degraded copies ---------------------------------------------------


def shrink_for_low_resolution(photo: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The photo area-averaged so its skin crop spans 2·LOW_CROP pixels (degrade halves it
    again), sides even; None when the photo holds the face at fewer pixels already."""
    m = crop_matrix(points, SKIN_CROP_SIZE)
    per_photo_px = math.hypot(m[0, 0], m[0, 1])           # crop pixels per photo pixel
    factor = per_photo_px * (2 * LOW_CROP) / SKIN_CROP_SIZE  # new photo size / old photo size
    if factor >= 1.0:
        return None
    h, w = photo.shape[:2]
    nh, nw = 2 * max(1, round(h * factor / 2)), 2 * max(1, round(w * factor / 2))
    small = resize(photo, nh, nw, "area")
    return small, (points * np.array([nw / w, nh / h], np.float32)).astype(np.float32)


def real_photos(count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, photo, 68 points): held-out HELEN photos (annotated) and ACNE04 photos (found)."""
    recipe = load_recipe(RECIPE)
    _, val = split_pairs(recipe, recipe.data_dir())
    photos = []
    for image, pts in val[: count // 2]:
        photos.append((f"helen/{Path(image).name}", load_image(image), read_pts(pts)))
    acne = sorted((recipe.data_dir().parent / "acne04").glob("level*/*.jpg"))
    if acne:
        from facelite.face_detector import FaceDetector, FaceDetectorOptions
        from facelite.landmarker import FaceLandmarker, FaceLandmarkerOptions

        base = BaseOptions(accelerator="cpu", variant="fp32")
        with FaceDetector.create_from_options(FaceDetectorOptions(base_options=base)) as det, \
                FaceLandmarker.create_from_options(FaceLandmarkerOptions(base_options=base)) as lm:
            for path in acne[:: max(1, len(acne) // (count - count // 2))][: count - count // 2]:
                photo = load_image(path)
                boxes = det.detect(photo).boxes
                if boxes:
                    points = lm.detect_batch(photo, [det.to_extent(boxes[0])])[0].points
                    photos.append((f"acne04/{path.parent.name}/{path.name}", photo, points))
    return photos


class Scorer:
    """Skin numbers of a photo and its points: SkinAnalyzer's scores and raw measures, or
    (when the analyzer cannot be made) SkinMeasurer's raw measures alone."""

    def __init__(self) -> None:
        self.why_raw_only = None
        try:
            from facelite.skin import SkinAnalyzer, SkinAnalyzerOptions

            self.analyzer = SkinAnalyzer.create_from_options(
                SkinAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32")))
        except Exception as exc:  # noqa: BLE001 - reported, then the raw measures are used
            from facelite.skin_measures import SkinMeasurer, SkinMeasurerOptions

            self.analyzer = None
            self.why_raw_only = f"SkinAnalyzer unavailable ({type(exc).__name__}: {exc}); raw measures only"
            self.measurer = SkinMeasurer.create_from_options(
                SkinMeasurerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32")))

    def __call__(self, photo: np.ndarray, points: np.ndarray) -> dict:
        if self.analyzer is None:
            raw = self.measurer.measure(photo, points)
            return {"scores": {}, "raw": dict(raw.regions["face"]), "quality": None}
        report = self.analyzer.analyze(photo, points)
        failed = [c.code for c in report.quality.checks if not c.passed]
        return {"scores": dict(report.scores), "raw": dict(report.raw.regions["face"]) if report.raw else {},
                "quality": failed}


RAW_MEASURES = ("redness", "lightness_sd", "b_star_sd", "spot_fraction", "spot_contrast", "texture", "shine")


def score_errors(photos, bundle: Path, kinds: list[str]) -> dict:
    """Per kind: mean |Δ| of each score and raw measure vs the photo's own, without and with restoration."""
    scorer = Scorer()
    restorer = restorer_for(bundle, "fp32")
    refs = [scorer(photo, pts) for _, photo, pts in photos]
    result: dict = {"photos": len(photos), "note": scorer.why_raw_only}
    for k, kind in enumerate(kinds):
        rng = np.random.default_rng(SEED + 100 + k)
        errors = {"without": {}, "with": {}}
        gate: dict = {"n": 0, "restorable": 0, "failed": {}}
        for (name, photo, pts), ref in zip(photos, refs):
            shrunk = shrink_for_low_resolution(photo, pts)
            if shrunk is None:
                continue
            small2x, pts2x = shrunk
            degraded = degrade(small2x, kind, rng, SCALE, "bgr")
            pts_low = (pts2x / SCALE).astype(np.float32)
            plain = scorer(degraded, pts_low)
            crop = restorer.restore_face(degraded, pts_low)
            restored = scorer(crop.image, crop.points)
            gate["n"] += 1
            for code in plain["quality"] or []:
                gate["failed"][code] = gate["failed"].get(code, 0) + 1
            failed = set(plain["quality"] or [])
            gate["restorable"] += "noisy" in failed and failed <= {*RESTORABLE_CHECKS, *RESTORATION_TOLERATES}
            for side, got in (("without", plain), ("with", restored)):
                for group in ("scores", "raw"):
                    for key, value in got[group].items():
                        if group == "raw" and key not in RAW_MEASURES:
                            continue
                        ref_value = ref[group].get(key)
                        if value is not None and ref_value is not None:
                            errors[side].setdefault(f"{group}.{key}", []).append(abs(float(value) - float(ref_value)))
        result[kind] = {
            "n": gate["n"], "gate_on_degraded": gate,
            "mean_abs_error": {side: {key: round(float(np.mean(v)), 4) for key, v in errs.items()}
                               for side, errs in errors.items()},
        }
        without, with_ = result[kind]["mean_abs_error"]["without"], result[kind]["mean_abs_error"]["with"]
        scores = [key for key in without if key.startswith("scores.")]
        if scores:
            log(f"  {kind:10s} mean |Δscore| without {np.mean([without[s] for s in scores]):.2f}, "
                f"with {np.mean([with_[s] for s in scores]):.2f} (n={gate['n']})")
        else:
            log(f"  {kind:10s} raw texture error without {without.get('raw.texture')}, with {with_.get('raw.texture')}")
    restorer.close()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=None, help="restoration bundle (default: the shipped one)")
    p.add_argument("--faces", type=int, default=None, help="held-out faces for part 1 (default: all)")
    p.add_argument("--photos", type=int, default=40, help="real photos for part 2 (half HELEN, half ACNE04)")
    p.add_argument("--kinds", default=",".join(KINDS), help="degradations for part 2, comma-separated")
    p.add_argument("--json", type=Path, default=None, help="write every number here")
    args = p.parse_args(argv)
    bundle = args.bundle or shipped_bundle("restoration")
    if bundle is None:
        log("error: no restoration bundle (models/restoration/restoration.flb); pass --bundle")
        return 2
    t0 = time.perf_counter()
    log("part 1: held-out faces")
    faces, names, data = held_out_faces(args.faces)
    doc = {"bundle": str(bundle), "data": data, "faces": face_scores(bundle, faces)}
    doc["by_tone"] = gains_by_tone(tone_groups(names), bundle, faces)
    log(f"  by ITA° category (mixed, fp32): {doc['by_tone']}")
    log("part 2: skin scores on degraded copies of real photos")
    photos = real_photos(args.photos)
    doc["scores"] = score_errors(photos, bundle, args.kinds.split(","))
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    print_tables(doc)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


def print_tables(doc: dict) -> None:
    print(f"restoration bundle {doc['bundle']}; held-out faces: {doc['data']}")
    print("\nPart 1: PSNR (dB) / SSIM against the clean face, bicubic ×2 vs restored (per variant)")
    variants = list(next(iter(doc["faces"].values())))
    print(f"{'kind':10s} {'bicubic':>15s} " + " ".join(f"{v:>22s}" for v in variants))
    for kind, entry in doc["faces"].items():
        base = entry["fp32"]
        cells = [f"{e['target_psnr_db']:6.2f} {e['psnr_gain_db']:+5.2f} {e['target_ssim']:.3f}" for e in entry.values()]
        print(f"{kind:10s} {base['bicubic_psnr_db']:6.2f} {base['bicubic_ssim']:.3f}  " + " ".join(f"{c:>22s}" for c in cells))
    print("(cells: restored PSNR, gain over bicubic, SSIM); vs fp32 pixels: " + ", ".join(
        f"{v} {doc['faces']['mixed'][v].get('psnr_db_vs_fp32')} dB" for v in variants if v != "fp32"))
    print("PSNR gain by ITA° category (mixed, fp32): " + ", ".join(
        f"{g} {e['psnr_gain_db']:+.2f} dB (n={e['n']})" for g, e in doc["by_tone"].items()))
    scores = doc["scores"]
    print(f"\nPart 2: mean |error| vs the undegraded photo, {scores['photos']} photos" +
          (f" — {scores['note']}" if scores["note"] else ""))
    for kind, entry in scores.items():
        if not isinstance(entry, dict) or "mean_abs_error" not in entry:
            continue
        without, with_ = entry["mean_abs_error"]["without"], entry["mean_abs_error"]["with"]
        cells = ", ".join(f"{k} {without[k]:.3g}→{with_.get(k, float('nan')):.3g}" for k in without)
        print(f"{kind:10s} (n={entry['n']}, gate: {entry['gate_on_degraded']}) {cells}")


if __name__ == "__main__":
    sys.exit(main())
