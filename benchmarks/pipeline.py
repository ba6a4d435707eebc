"""facelite's face pipeline vs MediaPipe FaceMesh and BlazeFace, per photo, interleaved in one run.

Why: issue #13 promises that `FaceAnalyzer.analyze` — detection, 68 landmarks, regions,
expression and skin — takes at most 0.67x MediaPipe FaceMesh's time per photo (1.5x
faster), with the stage breakdown to show where the time goes. Timing on a shared host is
noisy, so the sides run photo by photo, in a rotating order, in one run, and the script
prints ratios of medians:

    facelite           FaceAnalyzer.analyze, the full pipeline (skin included)
    facelite_no_skin   the same without skin (skin=False): FaceMesh does no skin analysis
    facemesh           FaceMesh(static_image_mode=True, refine_landmarks=False): detection + 468 points
    blazeface          FaceDetection(model_selection=0): BlazeFace short-range, detection only

Every side gets the same decoded BGR pixels (HELEN training photos scaled to 512 px on
the longer side; decoding is not timed), the same number of faces at most (`--max-faces`,
MediaPipe's default 1) and the same CPUs (both processes confined to `--threads` CPUs;
facelite runs `--threads` interpreter threads). facelite is timed around the `analyze`
call; MediaPipe around `process()` in its worker (benchmarks/mediapipe_side.py, which
creates the MediaPipe 0.10.14 venv on first use). One warm-up photo per side is not timed.

    python benchmarks/pipeline.py                          # 330 photos, a few minutes
    python benchmarks/pipeline.py --limit 60 --variant int8 --json /tmp/pipeline.json

Exit status: 0 when facelite's full pipeline meets the target ratio, 1 when not, 2 when
something needed is missing (the photos, the MediaPipe venv).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helen_photos import SIDE, helen_photos  # benchmarks/helen_photos.py
from comparison_cli import add_comparison_arguments, run_comparison  # benchmarks/comparison_cli.py
from mediapipe_side import MediaPipeWorker, pin_cpus

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions

TARGET_RATIO = 0.67
"""facelite's full pipeline over FaceMesh's, median per photo (issue #13)."""
SIDES = ("facelite", "facelite_no_skin", "facemesh", "blazeface")
LABELS = {"facelite": "facelite (full)", "facelite_no_skin": "facelite (skin=False)",
          "facemesh": "FaceMesh static", "blazeface": "BlazeFace"}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))]


def measure(args) -> dict:
    photos = helen_photos(args.data, args.limit, args.side)
    cpus = pin_cpus(args.threads)
    base = BaseOptions(accelerator="cpu", variant=args.variant, num_threads=args.threads)
    analyzers = {name: FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=base, bundles_dir=args.bundles, max_faces=args.max_faces, skin=name == "facelite"))
        for name in ("facelite", "facelite_no_skin")}
    ms: dict[str, list[float]] = {s: [] for s in SIDES}
    faces: dict[str, int] = dict.fromkeys(SIDES, 0)
    stages: dict[str, dict[str, list[float]]] = {"facelite": {}, "facelite_no_skin": {}}
    with MediaPipeWorker(args.threads, args.max_faces, args.mediapipe_venv, args.refine_landmarks) as mp:
        def run(side: str, image) -> tuple[float, int, dict | None]:
            if side in analyzers:
                t0 = time.perf_counter()
                result = analyzers[side].analyze(image)
                return (time.perf_counter() - t0) * 1e3, len(result.faces), result.timings_ms
            timing = mp.time(f"{side}_static" if side == "facemesh" else side, image)
            return timing.ms, timing.faces, None

        for side in SIDES:  # warm-up
            run(side, photos[0].image)
        for i, photo in enumerate(photos):
            for side in SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]:
                took, found, timings = run(side, photo.image)
                ms[side].append(took)
                faces[side] += found > 0
                for stage, value in (timings or {}).items():
                    stages[side].setdefault(stage, []).append(value)
        mediapipe = mp.info
    info = {name: {stage: e.variant for stage, e in a.info.items()} for name, a in analyzers.items()}
    for a in analyzers.values():
        a.close()
    median = {s: statistics.median(v) for s, v in ms.items()}
    ratio = {f"{s}/{o}": round(median[s] / median[o], 3) for s in ("facelite", "facelite_no_skin")
             for o in ("facemesh", "blazeface")}
    return {
        "photos": len(photos), "side_px": args.side, "threads": args.threads, "cpus": cpus,
        "max_faces": args.max_faces, "variant": args.variant, "variants_used": info["facelite"],
        "mediapipe": mediapipe,
        "median_ms": {s: round(v, 3) for s, v in median.items()},
        "p90_ms": {s: round(p90(v), 3) for s, v in ms.items()},
        "photos_with_a_face": faces,
        "ratios": ratio,
        "stages_median_ms": {side: {k: round(statistics.median(v), 3) for k, v in per.items()}
                             for side, per in stages.items()},
        "stages_counted": {k: len(v) for k, v in stages["facelite"].items()},
        "target_ratio": TARGET_RATIO,
        "met": ratio["facelite/facemesh"] <= TARGET_RATIO,
        "samples_ms": {s: [round(x, 3) for x in v] for s, v in ms.items()},
    }


def print_text(doc: dict) -> None:
    mp = doc["mediapipe"]
    print(f"pipeline: {doc['photos']} HELEN photos at {doc['side_px']} px, {doc['threads']} threads on "
          f"{doc['cpus']} CPUs, variant {doc['variant']} ({', '.join(sorted(set(doc['variants_used'].values())))}), "
          f"at most {doc['max_faces']} face(s); MediaPipe {mp['mediapipe']} on {mp['cpus']} CPUs"
          f"{', FaceMesh refine_landmarks=True' if mp['refine_landmarks'] else ''}; interleaved")
    print(f"{'side':24s} {'median ms':>10s} {'p90 ms':>8s} {'photos with a face':>19s}")
    for side in SIDES:
        print(f"{LABELS[side]:24s} {doc['median_ms'][side]:10.2f} {doc['p90_ms'][side]:8.2f} "
              f"{doc['photos_with_a_face'][side]:>12d}/{doc['photos']}")
    r = doc["ratios"]
    print(f"ratio facelite/FaceMesh {r['facelite/facemesh']:.3f} (target <= {doc['target_ratio']}: "
          f"{'met' if doc['met'] else 'NOT met'}); skin=False/FaceMesh {r['facelite_no_skin/facemesh']:.3f}; "
          f"facelite/BlazeFace {r['facelite/blazeface']:.3f}; skin=False/BlazeFace {r['facelite_no_skin/blazeface']:.3f}")
    full, no_skin = doc["stages_median_ms"]["facelite"], doc["stages_median_ms"]["facelite_no_skin"]
    print("facelite stages, median ms (full | skin=False; skin stages over photos with a face):")
    for stage in full:
        other = no_skin.get(stage)
        print(f"  {stage:16s} {full[stage]:8.2f} | {'' if other is None else f'{other:.2f}'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=330, help="HELEN photos (default 330)")
    p.add_argument("--side", type=int, default=SIDE, help=f"longer side of every photo in px (default {SIDE})")
    add_comparison_arguments(p, faces_help="faces per photo")
    p.add_argument("--refine-landmarks", action="store_true",
                   help="FaceMesh with refine_landmarks=True (its iris/lips attention model; not the issue's setting)")
    args = p.parse_args(argv)
    return run_comparison(args, lambda: measure(args), print_text, lambda doc: doc["met"])


if __name__ == "__main__":
    sys.exit(main())
