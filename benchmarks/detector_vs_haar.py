"""Face detector bundle vs OpenCV's Haar cascade on the held-out HELEN split and ACNE04.

Both detectors run through the runtime's `facelite.face_detector.FaceDetector` on the
original photos (the bundle with its letterbox preprocessing and the manifest's decoder;
the Haar cascade as the runtime's stand-in), and each box is converted to the landmark
extent convention with `FaceDetector.to_extent`, as `facelite evaluate` does.

- HELEN val: the seeded 15% of `helen_train` the recipe holds out (`facelite_build.splits.split_pairs`,
  identical for the landmarker and the detector). One annotated face per photo; a match
  is IoU ≥ 0.5 with the 68 points' extent box. Unannotated background faces count as
  false boxes for both detectors.
- ACNE04: share of the 1,002 photos where at least one face is found, and where exactly
  one is (each photo shows one person: no face and two or more are both wrong), with the
  counts of photos with none and with two or more (no box labels).

Each bundle variant runs at its own operating point (`output.score_threshold_by_variant`).

    python benchmarks/detector_vs_haar.py [--bundle models/face_detector/face_detector.flb]
        [--variants fp32,int8] [--no-haar] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from facelite.datasets import extent_box, read_pts
from facelite.detection import Box
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.image import load_image
from facelite.metrics import match_detections
from facelite.options import BaseOptions
from facelite_build.paths import CHECKOUT, data_root


def helen_val(recipe_path: Path):
    from facelite_build.recipe import load_recipe
    from facelite_build.splits import split_pairs

    recipe = load_recipe(recipe_path)
    _, val = split_pairs(recipe, recipe.data_dir())
    return [(load_image(img), Box(*extent_box(read_pts(pts)))) for img, pts in val]


def haar_detector() -> FaceDetector:
    """The runtime's Haar stand-in, even where a detection bundle is shipped."""
    return FaceDetector(FaceDetectorOptions(stand_in="always"))


def score_helen(det: FaceDetector, photos) -> dict:
    """Recall / precision / false boxes with the one detection matching rule (`facelite.metrics`)."""
    t0 = time.perf_counter()
    found = [[Box(*det.to_extent(b), b.score) for b in det.detect(image).boxes] for image, _ in photos]
    ms = 1000 * (time.perf_counter() - t0) / len(photos)
    r = match_detections(found, [[truth] for _, truth in photos])
    keys = ("n", "recall", "precision", "false_boxes_per_image")
    return {**{k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keys}, "ms_per_image": round(ms, 2)}


def score_acne(det: FaceDetector, files: list[Path]) -> dict:
    counts = [len(det.detect(load_image(f)).boxes) for f in files]
    none, one = counts.count(0), counts.count(1)
    return {"n": len(files), "face_found": round(1 - none / len(files), 4), "exactly_one": round(one / len(files), 4),
            "no_face": none, "two_or_more": len(files) - none - one, "min_score": det.min_score}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=CHECKOUT / "models" / "face_detector" / "face_detector.flb")
    p.add_argument("--recipe", type=Path, default=CHECKOUT / "models" / "face_detector" / "recipe.toml")
    p.add_argument("--acne", type=Path, default=data_root() / "acne04")
    p.add_argument("--variants", default="fp32,fp16,dynamic,int8")
    p.add_argument("--no-haar", action="store_true", help="skip OpenCV's Haar cascade (the slow row)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    photos = helen_val(args.recipe)
    acne = sorted(args.acne.glob("level*/*.jpg")) if args.acne.is_dir() else []
    detectors = {
        f"bundle:{v}": FaceDetector(FaceDetectorOptions(
            base_options=BaseOptions(bundle_path=args.bundle, variant=v, num_threads=2)))
        for v in args.variants.split(",")}
    if not args.no_haar:
        detectors["opencv-haar"] = haar_detector()
    rows = {}
    for name, det in detectors.items():
        rows[name] = {"helen_val": score_helen(det, photos)}
        if acne:
            rows[name]["acne04"] = score_acne(det, acne)
        print(f"{name}: {rows[name]}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("| detector | HELEN val recall | precision | false boxes / image | ms / image | ACNE04 face found "
              "| ACNE04 exactly one | none / two or more |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in rows.items():
            h, a = r["helen_val"], r.get("acne04", {})
            print(f"| {name} | {h['recall']:.1%} | {h['precision'] or 0:.1%} | {h['false_boxes_per_image']:.3f} "
                  f"| {h['ms_per_image']} | {a.get('face_found', float('nan')):.1%} "
                  f"| {a.get('exactly_one', float('nan')):.1%} | {a.get('no_face')} / {a.get('two_or_more')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
