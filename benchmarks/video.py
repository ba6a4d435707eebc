"""VIDEO mode vs per-frame IMAGE mode vs MediaPipe FaceMesh's video mode, on synthetic clips with true points.

Why: issue #13 promises that facelite's VIDEO mode (faces tracked from frame to frame,
points smoothed; docs/video.md) takes at most 0.5x FaceMesh's video mode per frame, loses
no more than 0.3 percentage points of landmark NME against analysing every frame on its
own, and makes a still face's points at least 3x stiller than without smoothing. Those
need clips whose true points are known on every frame, so the clips are synthesised from
real HELEN photos moved by known motions (benchmarks/synthetic_clips.py: translation,
zoom, rotation, a brightness ramp, and a still face with sensor-like noise drawn anew per
frame), 640x480 at 30 fps. Per frame, in a rotating order, in one run:

    video       FaceAnalyzer, running_mode="video" (`analyze_video_frame`), default options
    video_raw   the same with smoothing=False (raw tracked points)
    image       FaceAnalyzer, running_mode="image": `analyze` on every frame on its own, with
                skin=False (it is the reference for landmark error and jitter; without skin
                on every frame the run is 5x shorter, so more photos fit in a few minutes)
    facemesh    FaceMesh(static_image_mode=False, refine_landmarks=False), one per clip
                (benchmarks/mediapipe_side.py; its MediaPipe 0.10.14 venv is made on first use)
    native      facelite's C core (what a phone app links) in VIDEO mode, default options as
                `video` (smoothing on, skin every 10th frame): `facelite-run --analyze --skin
                --video FRAME... --timestamps ...` over the clip's frames as PNG files, one
                fresh process per clip (benchmarks/native_side.py; `--native-build DIR`,
                `--no-native`; left out, with the reason, when it cannot be built)

The native side runs a clip at a time, so clips alternate: the other sides frame by frame
over a clip, then the C core over the same clip (or the other way round, from clip to
clip). Its time per frame is its own `timings_ms` total less load (the PNG's decode; the
other sides get decoded pixels): detect (when it ran), landmarks, smoothing, align_regions,
expression and, on the frames skin ran, its stages. Its first frame is also its process's
first inference of each model (no warm-up: a frame more would change the clip); the medians
do not notice one frame of sixty. Its points must be Python VIDEO mode's — the C core
implements docs/video.md step for step — within tests/mobile_bindings/test_video_parity.py's
1e-3 px, and so its NME Python VIDEO mode's: both are printed, over the frames both found
the face. (Every side keeps up to `--max-faces` faces, the C runner through its own
`--max-faces`: the face nearest the true points is compared.)

Printed: per-frame median latency on the moving clips and its ratio to FaceMesh's
(target <= 0.5: the C core's when measured, as it ships on phones, else Python's); NME
(`facelite.metrics.per_face_nme`: mean point error / outer-eye-corner distance of the
true points) of each side per motion, VIDEO minus IMAGE in percentage
points (target <= 0.3); jitter on the still noisy clips — mean frame-to-frame motion of
the 68 points, over the same distance — with and without smoothing (target ratio >= 3).
A frame where a side finds no face counts as a miss for it; NME is averaged over the
frames where all three facelite sides found the face.

    python benchmarks/video.py                        # 6 photos x 5 clips, 1980 frames, a few minutes
    python benchmarks/video.py --photos 20 --noise 4 --json /tmp/video.json

Exit status: 0 when all three targets are met (and, when measured, the C core's points are
Python's), 1 when one is not, 2 when something needed is missing (the photos, the
MediaPipe venv, VIDEO mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helen_photos import helen_photos  # benchmarks/helen_photos.py
from comparison_cli import add_comparison_arguments, run_comparison  # benchmarks/comparison_cli.py
from mediapipe_side import MediaPipeWorker, pin_cpus
from native_side import EXCLUDED_STAGE, open_native, write_png
from synthetic_clips import FRAME_SIZE, MOVING, clip

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.metrics import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, per_face_nme

LATENCY_TARGET = 0.5
"""VIDEO mode's per-frame median over FaceMesh video mode's, moving clips."""
NME_TARGET_PP = 0.3
"""VIDEO mode's NME may exceed per-frame IMAGE mode's by at most this many percentage points."""
JITTER_TARGET = 3.0
"""Still noisy face: jitter without smoothing over jitter with it, at least."""
PARITY_MAX_PX = 1e-3
"""The C core's VIDEO points vs Python's: tests/mobile_bindings/test_video_parity.py's LANDMARKS_MAX_PX."""
SIDES = ("video", "video_raw", "image", "facemesh")
FACELITE_SIDES = ("video", "video_raw", "image")
NATIVE = "native"
NAMES = {"video": "facelite VIDEO", "video_raw": "facelite VIDEO raw", "image": "facelite IMAGE no skin",
         "facemesh": "FaceMesh video", NATIVE: "facelite C core VIDEO"}


def nearest_points(faces: list[np.ndarray], truth: np.ndarray) -> np.ndarray | None:
    """Of the faces' (68, 2) points, those nearest the true points (None when there are none)."""
    if not faces:
        return None
    centre = truth.mean(axis=0)
    return min(faces, key=lambda p: float(np.linalg.norm(p.mean(axis=0) - centre)))


def keep(seen: dict, took: float, points: np.ndarray | None, found: bool) -> None:
    """Record one frame of one side: its ms, the points compared (None: no face) and whether it found a face."""
    seen["ms"].append(took)
    seen["points"].append(points)
    seen["found"].append(found)


def interocular(truth: np.ndarray) -> float:
    """Outer-eye-corner distance of the true points (the NME normaliser)."""
    return float(np.linalg.norm(truth[LEFT_EYE_OUTER] - truth[RIGHT_EYE_OUTER]))


def jitter(points: list[np.ndarray | None], truth: list[np.ndarray]) -> float | None:
    """Mean over consecutive frames (both with a face) of the mean point motion / interocular distance."""
    steps = [float(np.linalg.norm(b - a, axis=1).mean()) / interocular(t)
             for a, b, t in zip(points, points[1:], truth[1:]) if a is not None and b is not None]
    return statistics.mean(steps) if steps else None


def analyzers(args) -> dict[str, FaceAnalyzer]:
    base = BaseOptions(accelerator="cpu", variant=args.variant, num_threads=args.threads)
    common = FaceAnalyzerOptions(base_options=base, bundles_dir=args.bundles, max_faces=args.max_faces)
    return {"video": FaceAnalyzer.create_from_options(dataclasses.replace(common, running_mode="video")),
            "video_raw": FaceAnalyzer.create_from_options(
                dataclasses.replace(common, running_mode="video", smoothing=False)),
            "image": FaceAnalyzer.create_from_options(dataclasses.replace(common, skin=False))}


def run_clips(args) -> dict:
    photos = helen_photos(args.data, args.photos, side=None)
    clips = [(m, i, args.frames, 0.0) for i in range(len(photos)) for m in MOVING] + \
            [("still", i, args.still_frames, args.noise) for i in range(len(photos))]
    cpus = pin_cpus(args.threads)  # the C runner's processes inherit it
    native = open_native(args, args.bundles)
    sides = SIDES + ((NATIVE,) if native else ())
    tasks = analyzers(args)
    per_clip = []
    stages: dict[str, dict[str, list[float]]] = {"video": {}, NATIVE: {}}
    with tempfile.TemporaryDirectory(prefix="facelite-video-") as folder, \
            MediaPipeWorker(args.threads, args.max_faces, args.mediapipe_venv) as mp:
        warm = next(clip(photos[0].image, photos[0].points, "still", 1)).image
        for side, task in tasks.items():  # warm-up, then a fresh clip
            (task.analyze(warm) if side == "image" else task.analyze_video_frame(warm, 0))
            if side != "image":
                task.reset()
        mp.time("facemesh_video", warm)

        def python_and_mediapipe(n: int, motion: str, shots: list, seen: dict) -> None:
            mp.new_clip()
            for k, frame in enumerate(shots):
                shift = (n + k) % len(SIDES)
                for side in SIDES[shift:] + SIDES[:shift]:
                    if side == "facemesh":
                        timing = mp.time("facemesh_video", frame.image)
                        keep(seen[side], timing.ms, None, timing.faces > 0)
                        continue
                    t0 = time.perf_counter()
                    result = (tasks[side].analyze(frame.image) if side == "image" else
                              tasks[side].analyze_video_frame(frame.image, frame.timestamp_ms))
                    keep(seen[side], (time.perf_counter() - t0) * 1e3,
                         nearest_points([f.landmarks for f in result.faces], frame.points), bool(result.faces))
                    if side == "video" and motion in MOVING:
                        for stage, value in result.timings_ms.items():
                            stages[side].setdefault(stage, []).append(value)
            for side in ("video", "video_raw"):
                tasks[side].reset()

        def c_core(n: int, motion: str, shots: list, seen: dict) -> None:
            pngs = [write_png(Path(folder), f"{k:04d}", f.image) for k, f in enumerate(shots)]
            for frame, r in zip(shots, native.video(pngs, [f.timestamp_ms for f in shots], skin=True)):
                keep(seen[NATIVE], r.ms, nearest_points(r.points, frame.points), bool(r.points))
                if motion in MOVING:
                    for stage, value in r.timings.items():
                        if stage != EXCLUDED_STAGE:
                            stages[NATIVE].setdefault(stage, []).append(r.ms if stage == "total" else value)

        steps = [python_and_mediapipe] + ([c_core] if native else [])
        for n, (motion, i, frames, noise) in enumerate(clips):
            shots = list(clip(photos[i].image, photos[i].points, motion, frames, FRAME_SIZE, noise, seed=n))
            seen = {s: {"ms": [], "points": [], "found": []} for s in sides}
            for step in steps if n % 2 == 0 else steps[::-1]:
                step(n, motion, shots, seen)
            per_clip.append({"motion": motion, "photo": photos[i].path.name, "frames": frames, "noise": noise,
                             "seen": seen, "truth": [f.points for f in shots]})
    for task in tasks.values():
        task.close()
    return {"cpus": cpus, "mediapipe": mp.info, "clips": per_clip, "stages": stages, "sides": sides,
            "runner": None if native is None else str(native.runner)}


def summarise(args, raw: dict) -> dict:
    clips = raw["clips"]
    moving = [c for c in clips if c["motion"] in MOVING]
    still = [c for c in clips if c["motion"] == "still"]

    def median_ms(side: str, group: list[dict]) -> float:
        return statistics.median(ms for c in group for ms in c["seen"][side]["ms"])

    def nme(side: str, group: list[dict]) -> dict:
        """NME over the frames where every facelite side found the face (so all compare on the same frames)."""
        errors, misses = [], 0
        for c in group:
            for k, truth in enumerate(c["truth"]):
                found = [c["seen"][s]["points"][k] for s in FACELITE_SIDES]
                misses += c["seen"][side]["points"][k] is None
                if all(p is not None for p in found):
                    errors.append(float(per_face_nme(c["seen"][side]["points"][k][None], truth[None])[0]))
        return {"nme_pct": round(100 * statistics.mean(errors), 3) if errors else None,
                "misses": misses, "frames_compared": len(errors), "frames": sum(c["frames"] for c in group)}

    def native_vs_video(group: list[dict]) -> dict:
        """The C core's NME and Python VIDEO mode's over the frames both found the face, and
        the largest distance between their points there."""
        errors: dict[str, list[float]] = {NATIVE: [], "video": []}
        apart = 0.0
        for c in group:
            for k, truth in enumerate(c["truth"]):
                found = {s: c["seen"][s]["points"][k] for s in errors}
                if all(p is not None for p in found.values()):
                    for s, p in found.items():
                        errors[s].append(float(per_face_nme(p[None], truth[None])[0]))
                    apart = max(apart, float(np.abs(found[NATIVE] - found["video"]).max()))
        pct = {s: round(100 * statistics.mean(v), 4) if v else None for s, v in errors.items()}
        return {"nme_pct": pct, "frames_compared": len(errors[NATIVE]),
                "misses": sum(p is None for c in group for p in c["seen"][NATIVE]["points"]),
                "difference_pp": None if None in pct.values() else round(pct[NATIVE] - pct["video"], 4),
                "max_point_difference_px": round(apart, 6), "equal": bool(errors[NATIVE]) and apart <= PARITY_MAX_PX}

    sides = raw["sides"]
    latency = {side: {"moving": round(median_ms(side, moving), 3), "still": round(median_ms(side, still), 3)}
               for side in sides}
    nme_by_motion = {m: {side: nme(side, [c for c in moving if c["motion"] == m]) for side in FACELITE_SIDES}
                     for m in MOVING}
    nme_all = {side: nme(side, moving) for side in FACELITE_SIDES}
    jitters = {side: [jitter(c["seen"][side]["points"], c["truth"]) for c in still]
               for side in FACELITE_SIDES + ((NATIVE,) if NATIVE in sides else ())}
    mean_jitter = {side: (round(100 * statistics.mean(v), 4) if all(x is not None for x in v) else None)
                   for side, v in jitters.items()}
    ratios = {side: round(latency[side]["moving"] / latency["facemesh"]["moving"], 3)
              for side in ("video", "image", NATIVE) if side in latency}
    latency_ratio = ratios[NATIVE] if NATIVE in ratios else ratios["video"]
    native = None if NATIVE not in sides else {
        "runner": raw["runner"], "moving": native_vs_video(moving), "still": native_vs_video(still)}
    nme_gap = (round(nme_all["video"]["nme_pct"] - nme_all["image"]["nme_pct"], 3)
               if nme_all["video"]["nme_pct"] is not None and nme_all["image"]["nme_pct"] is not None else None)
    jitter_ratio = (round(mean_jitter["video_raw"] / mean_jitter["video"], 2)
                    if mean_jitter["video"] and mean_jitter["video_raw"] is not None else None)
    targets = {"latency_ratio_at_most_0.5": latency_ratio <= LATENCY_TARGET,
               "nme_gap_at_most_0.3_pp": nme_gap is not None and nme_gap <= NME_TARGET_PP,
               "jitter_ratio_at_least_3": jitter_ratio is not None and jitter_ratio >= JITTER_TARGET}
    if native is not None:
        targets["native_points_are_python_video_points"] = native["moving"]["equal"] and native["still"]["equal"]
    return {
        "photos": args.photos, "frames_per_clip": args.frames, "still_frames": args.still_frames,
        "noise_sigma": args.noise, "frame_size": list(FRAME_SIZE), "threads": args.threads, "cpus": raw["cpus"],
        "variant": args.variant, "max_faces": args.max_faces, "mediapipe": raw["mediapipe"],
        "clips": [{"motion": c["motion"], "photo": c["photo"], "frames": c["frames"]} for c in clips],
        "median_ms": latency, "latency_ratio_vs_facemesh": ratios,
        "latency_ratio_target_side": NATIVE if NATIVE in ratios else "video",
        "stages_median_ms": {side: {k: round(statistics.median(v), 3) for k, v in per.items()}
                             for side, per in raw["stages"].items() if per},
        "stages_frames": {side: {k: len(v) for k, v in per.items()} for side, per in raw["stages"].items() if per},
        "native": native,
        "frames_with_a_face": {side: sum(sum(c["seen"][side]["found"]) for c in clips) for side in sides},
        "frames": sum(c["frames"] for c in clips),
        "nme_moving": nme_all, "nme_by_motion": nme_by_motion, "nme_gap_video_minus_image_pp": nme_gap,
        "jitter_still_pct_of_interocular": mean_jitter, "jitter_per_clip": jitters,
        "jitter_ratio_raw_over_smoothed": jitter_ratio,
        "targets": targets,
    }


def print_text(doc: dict) -> None:
    mp = doc["mediapipe"]
    native = doc["native"]
    print(f"video: {len(doc['clips'])} clips from {doc['photos']} HELEN photos ({', '.join(MOVING)}: "
          f"{doc['frames_per_clip']} frames; still + noise sd {doc['noise_sigma']}: {doc['still_frames']} frames), "
          f"{doc['frame_size'][0]}x{doc['frame_size'][1]} at 30 fps, {doc['threads']} threads on {doc['cpus']} CPUs, "
          f"variant {doc['variant']}; MediaPipe {mp['mediapipe']}; interleaved per frame"
          + ("" if native is None else f"; C core per clip, alternating ({native['runner']})"))
    print(f"{'side':22s} {'median ms moving':>17s} {'still':>8s} {'fps (moving)':>13s} {'frames with a face':>19s}")
    for side, m in doc["median_ms"].items():
        print(f"{NAMES[side]:22s} {m['moving']:17.2f} {m['still']:8.2f} {1000 / m['moving']:13.1f} "
              f"{doc['frames_with_a_face'][side]:>13d}/{doc['frames']}")
    t, r = doc["targets"], doc["latency_ratio_vs_facemesh"]
    target_side = doc["latency_ratio_target_side"]
    print(f"latency per frame / FaceMesh video: {NAMES[target_side]} {r[target_side]:.3f} (target <= {LATENCY_TARGET}: "
          f"{'met' if t['latency_ratio_at_most_0.5'] else 'NOT met'}); "
          + "; ".join(f"{NAMES[s]} {v:.3f}" for s, v in r.items() if s != target_side))
    for side, per in doc["stages_median_ms"].items():
        frames = doc["stages_frames"][side]
        print(f"{NAMES[side]} stages on the moving clips, median ms over the frames each ran on (frames): " + ", ".join(
            f"{k} {v:.2f}" + ("" if frames[k] == frames["total"] else f" ({frames[k]})") for k, v in per.items()))
    if native is not None:
        print("  (the C core's total is its timings_ms total less load, the PNG decode; Python's load is the "
              "array's check)")
    print(f"NME % of outer-eye-corner distance (misses) {'VIDEO':>16s} {'VIDEO raw':>16s} {'IMAGE':>16s}")

    def cell(r: dict) -> str:
        return f"{'-' if r['nme_pct'] is None else format(r['nme_pct'], '.3f')} ({r['misses']})".rjust(16)

    for motion, row in [*doc["nme_by_motion"].items(), ("all moving", doc["nme_moving"])]:
        print(f"  {motion:40s} {cell(row['video'])} {cell(row['video_raw'])} {cell(row['image'])}")
    print(f"NME VIDEO - IMAGE {doc['nme_gap_video_minus_image_pp']} pp (target <= {NME_TARGET_PP}: "
          f"{'met' if t['nme_gap_at_most_0.3_pp'] else 'NOT met'})")
    if native is not None:
        for group in ("moving", "still"):
            n = native[group]
            print(f"C core VIDEO vs Python VIDEO, {group} clips, {n['frames_compared']} frames both found the face "
                  f"(C core misses {n['misses']}): NME {n['nme_pct'][NATIVE]} % vs {n['nme_pct']['video']} % "
                  f"({n['difference_pp']} pp); points at most {n['max_point_difference_px']} px apart (parity "
                  f"<= {PARITY_MAX_PX} px: {'equal' if n['equal'] else 'NOT equal'})")
    j = doc["jitter_still_pct_of_interocular"]
    print(f"jitter on the still noisy face, % of outer-eye-corner distance per frame: VIDEO {j['video']}, "
          f"VIDEO raw (smoothing=False) {j['video_raw']}, IMAGE {j['image']}"
          + (f", C core VIDEO {j[NATIVE]}" if NATIVE in j else "") + "; raw/smoothed "
          f"{doc['jitter_ratio_raw_over_smoothed']} (target >= {JITTER_TARGET}: "
          f"{'met' if t['jitter_ratio_at_least_3'] else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=6, help="HELEN photos; each gives one clip per motion (default 6)")
    p.add_argument("--frames", type=int, default=60, help="frames per moving clip (default 60)")
    p.add_argument("--still-frames", type=int, default=90, help="frames per still clip (default 90)")
    p.add_argument("--noise", type=float, default=3.0, help="sd of the still clips' per-frame noise, grey levels")
    add_comparison_arguments(p, faces_help="faces per frame")
    args = p.parse_args(argv)
    return run_comparison(args, lambda: summarise(args, run_clips(args)), print_text,
                          lambda doc: all(doc["targets"].values()))


if __name__ == "__main__":
    sys.exit(main())
