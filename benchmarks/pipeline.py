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
    native             facelite's C core (what a phone app links): `facelite-run --analyze --skin`
    native_no_skin     the same without --skin

Every side gets the same decoded BGR pixels (HELEN training photos scaled to 512 px on
the longer side; decoding is not timed), the same number of faces at most (`--max-faces`,
MediaPipe's default 1) and the same CPUs (both processes confined to `--threads` CPUs;
facelite runs `--threads` interpreter threads). facelite is timed around the `analyze`
call; MediaPipe around `process()` in its worker (benchmarks/mediapipe_side.py, which
creates the MediaPipe 0.10.14 venv on first use). One warm-up photo per side is not timed.

The C core (benchmarks/native_side.py; built with `--native-build DIR`, left out with
`--no-native` or, with the reason, when it cannot be built) gets the same photos as PNG
files and is timed by its own `timings_ms`: total less load, i.e. detect, landmarks,
align_regions, expression and the skin stages (skin_crop, skin_measures, quality, acne),
not the PNG's decode (the Python side's `load` of an array is only its check). It runs
one process per `--chunk` photos (each process's first photo analysed twice, the first
result dropped as its warm-up), so the photos go in chunks: the Python and MediaPipe sides
photo by photo over a chunk, then the C core over the same chunk (the order of the two
alternating from chunk to chunk), so load on the host affects every side alike.

    python benchmarks/pipeline.py                          # 330 photos, a few minutes
    python benchmarks/pipeline.py --limit 60 --variant int8 --json /tmp/pipeline.json

Exit status: 0 when facelite's full pipeline meets the target ratio — the C core's when it
was measured (it is what ships on a phone), else the Python reference's — 1 when not, 2
when something needed is missing (the photos, the MediaPipe venv).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helen_photos import SIDE, helen_photos  # benchmarks/helen_photos.py
from comparison_cli import add_comparison_arguments, run_comparison  # benchmarks/comparison_cli.py
from mediapipe_side import MediaPipeWorker, pin_cpus
from native_side import EXCLUDED_STAGE, open_native, write_png

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions

TARGET_RATIO = 0.67
"""facelite's full pipeline over FaceMesh's, median per photo (issue #13)."""
SIDES = ("facelite", "facelite_no_skin", "facemesh", "blazeface")
NATIVE_SIDES = ("native", "native_no_skin")
"""The C core with and without --skin (when it could be built)."""
FACELITE_SIDES = ("facelite", "facelite_no_skin", *NATIVE_SIDES)
LABELS = {"facelite": "facelite Python (full)", "facelite_no_skin": "facelite Python (skin=False)",
          "facemesh": "FaceMesh static", "blazeface": "BlazeFace",
          "native": "facelite C core (full)", "native_no_skin": "facelite C core (no skin)"}
CHUNK = 10


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))]


def measure(args) -> dict:
    photos = helen_photos(args.data, args.limit, args.side)
    cpus = pin_cpus(args.threads)  # the C runner's processes inherit it
    native = open_native(args, args.bundles)
    base = BaseOptions(accelerator="cpu", variant=args.variant, num_threads=args.threads)
    analyzers = {name: FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=base, bundles_dir=args.bundles, max_faces=args.max_faces, skin=name == "facelite"))
        for name in ("facelite", "facelite_no_skin")}
    sides = SIDES + (NATIVE_SIDES if native else ())
    ms: dict[str, list[float]] = {s: [] for s in sides}
    faces: dict[str, int] = dict.fromkeys(sides, 0)
    decode: list[float] = []
    stages: dict[str, dict[str, list[float]]] = {s: {} for s in sides if s in FACELITE_SIDES}
    with tempfile.TemporaryDirectory(prefix="facelite-pipeline-") as folder, \
            MediaPipeWorker(args.threads, args.max_faces, args.mediapipe_venv, args.refine_landmarks) as mp:
        pngs = [write_png(Path(folder), f"{i:04d}", p.image) for i, p in enumerate(photos)] if native else []

        def run(side: str, image) -> tuple[float, int, dict | None]:
            if side in analyzers:
                t0 = time.perf_counter()
                result = analyzers[side].analyze(image)
                return (time.perf_counter() - t0) * 1e3, len(result.faces), result.timings_ms
            timing = mp.time(f"{side}_static" if side == "facemesh" else side, image)
            return timing.ms, timing.faces, None

        def python_and_mediapipe(chunk: range) -> None:
            for i in chunk:
                for side in SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]:
                    took, found, timings = run(side, photos[i].image)
                    ms[side].append(took)
                    faces[side] += found > 0
                    for stage, value in (timings or {}).items():
                        stages[side].setdefault(stage, []).append(value)

        def c_core(chunk: range) -> None:
            for side in NATIVE_SIDES if chunk.start // args.chunk % 2 == 0 else NATIVE_SIDES[::-1]:
                for r in native.analyze([pngs[i] for i in chunk], skin=side == "native"):
                    ms[side].append(r.ms)
                    faces[side] += len(r.points) > 0
                    for stage, value in r.timings.items():
                        if stage == EXCLUDED_STAGE:
                            decode.append(value)
                        else:
                            stages[side].setdefault(stage, []).append(r.ms if stage == "total" else value)

        for side in SIDES:  # warm-up (each C runner process warms itself up)
            run(side, photos[0].image)
        for n, start in enumerate(range(0, len(photos), args.chunk)):
            chunk = range(start, min(start + args.chunk, len(photos)))
            steps = [python_and_mediapipe] + ([c_core] if native else [])
            for step in steps if n % 2 == 0 else steps[::-1]:
                step(chunk)
        mediapipe = mp.info
    info = {name: {stage: e.variant for stage, e in a.info.items()} for name, a in analyzers.items()}
    for a in analyzers.values():
        a.close()
    median = {s: statistics.median(v) for s, v in ms.items()}
    ratio = {f"{s}/{o}": round(median[s] / median[o], 3) for s in FACELITE_SIDES if s in median
             for o in ("facemesh", "blazeface")}
    if native:
        ratio.update({f"{n}/{p}": round(median[n] / median[p], 3)
                      for n, p in (("native", "facelite"), ("native_no_skin", "facelite_no_skin"))})
    met = {s: ratio[f"{s}/facemesh"] <= TARGET_RATIO for s in ("facelite", "native") if s in median}
    return {
        "photos": len(photos), "side_px": args.side, "threads": args.threads, "cpus": cpus,
        "max_faces": args.max_faces, "variant": args.variant, "variants_used": info["facelite"],
        "mediapipe": mediapipe, "chunk": args.chunk,
        "native": None if native is None else {
            "runner": str(native.runner), "counted": "timings_ms total less load (the PNG decode)",
            "decode_excluded_median_ms": round(statistics.median(decode), 3)},
        "median_ms": {s: round(v, 3) for s, v in median.items()},
        "p90_ms": {s: round(p90(v), 3) for s, v in ms.items()},
        "photos_with_a_face": faces,
        "ratios": ratio,
        "stages_median_ms": {side: {k: round(statistics.median(v), 3) for k, v in per.items()}
                             for side, per in stages.items()},
        "stages_counted": {k: len(v) for k, v in stages["facelite"].items()},
        "target_ratio": TARGET_RATIO,
        "met_by": met,
        "met": met["native"] if "native" in met else met["facelite"],
        "samples_ms": {s: [round(x, 3) for x in v] for s, v in ms.items()},
    }


def print_text(doc: dict) -> None:
    mp = doc["mediapipe"]
    native = doc["native"]
    print(f"pipeline: {doc['photos']} HELEN photos at {doc['side_px']} px, {doc['threads']} threads on "
          f"{doc['cpus']} CPUs, variant {doc['variant']} ({', '.join(sorted(set(doc['variants_used'].values())))}), "
          f"at most {doc['max_faces']} face(s); MediaPipe {mp['mediapipe']} on {mp['cpus']} CPUs"
          f"{', FaceMesh refine_landmarks=True' if mp['refine_landmarks'] else ''}; interleaved"
          + ("" if native is None else f"; C core in chunks of {doc['chunk']} photos ({native['runner']})"))
    print(f"{'side':30s} {'median ms':>10s} {'p90 ms':>8s} {'photos with a face':>19s}")
    for side in doc["median_ms"]:
        print(f"{LABELS[side]:30s} {doc['median_ms'][side]:10.2f} {doc['p90_ms'][side]:8.2f} "
              f"{doc['photos_with_a_face'][side]:>12d}/{doc['photos']}")
    r, met = doc["ratios"], doc["met_by"]

    def verdict(side: str) -> str:
        return f"target <= {doc['target_ratio']}: {'met' if met[side] else 'NOT met'}"

    print(f"ratio facelite Python/FaceMesh {r['facelite/facemesh']:.3f} ({verdict('facelite')}); "
          f"skin=False/FaceMesh {r['facelite_no_skin/facemesh']:.3f}; "
          f"facelite/BlazeFace {r['facelite/blazeface']:.3f}; "
          f"skin=False/BlazeFace {r['facelite_no_skin/blazeface']:.3f}")
    if native is not None:
        print(f"ratio facelite C core/FaceMesh {r['native/facemesh']:.3f} ({verdict('native')}); "
              f"no skin/FaceMesh {r['native_no_skin/facemesh']:.3f}; C core/BlazeFace {r['native/blazeface']:.3f}; "
              f"no skin/BlazeFace {r['native_no_skin/blazeface']:.3f}; C core/Python {r['native/facelite']:.3f} "
              f"(no skin {r['native_no_skin/facelite_no_skin']:.3f})")
        print(f"C core time = its timings_ms total less load (PNG decode, median "
              f"{native['decode_excluded_median_ms']:.2f} ms, not counted)")
    per = doc["stages_median_ms"]
    columns = [s for s in FACELITE_SIDES if s in per]
    print("stages, median ms (skin stages over photos with a face; Python's load: the array's check): "
          + " | ".join(LABELS[s] for s in columns))
    names = list(dict.fromkeys(k for s in columns for k in per[s] if k != "total")) + ["total"]
    for stage in names:
        print(f"  {stage:16s} " + " | ".join(f"{per[s][stage]:8.2f}" if stage in per[s] else f"{'':8s}"
                                           for s in columns))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=330, help="HELEN photos (default 330)")
    p.add_argument("--side", type=int, default=SIDE, help=f"longer side of every photo in px (default {SIDE})")
    add_comparison_arguments(p, faces_help="faces per photo")
    p.add_argument("--chunk", type=int, default=CHUNK,
                   help=f"photos per C core process, alternating with the other sides (default {CHUNK})")
    p.add_argument("--refine-landmarks", action="store_true",
                   help="FaceMesh with refine_landmarks=True (its iris/lips attention model; not the issue's setting)")
    args = p.parse_args(argv)
    return run_comparison(args, lambda: measure(args), print_text, lambda doc: doc["met"])


if __name__ == "__main__":
    sys.exit(main())
