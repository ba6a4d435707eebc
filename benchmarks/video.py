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

Printed: per-frame median latency on the moving clips and its ratio to FaceMesh's
(target <= 0.5); NME (`facelite.metrics.per_face_nme`: mean point error / outer-eye-corner
distance of the true points) of each side per motion, VIDEO minus IMAGE in percentage
points (target <= 0.3); jitter on the still noisy clips — mean frame-to-frame motion of
the 68 points, over the same distance — with and without smoothing (target ratio >= 3).
A frame where a side finds no face counts as a miss for it; NME is averaged over the
frames where all three facelite sides found the face.

    python benchmarks/video.py                        # 6 photos x 5 clips, 1980 frames, a few minutes
    python benchmarks/video.py --photos 20 --noise 4 --json /tmp/video.json

Exit status: 0 when all three targets are met, 1 when one is not, 2 when something needed
is missing (the photos, the MediaPipe venv, VIDEO mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helen_photos import helen_photos  # benchmarks/helen_photos.py
from comparison_cli import add_comparison_arguments, run_comparison  # benchmarks/comparison_cli.py
from mediapipe_side import MediaPipeWorker, pin_cpus
from synthetic_clips import FRAME_SIZE, MOVING, clip

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.metrics import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, per_face_nme

LATENCY_TARGET = 0.5
"""VIDEO mode's per-frame median over FaceMesh video mode's, moving clips."""
NME_TARGET_PP = 0.3
"""VIDEO mode's NME may exceed per-frame IMAGE mode's by at most this many percentage points."""
JITTER_TARGET = 3.0
"""Still noisy face: jitter without smoothing over jitter with it, at least."""
SIDES = ("video", "video_raw", "image", "facemesh")
FACELITE_SIDES = ("video", "video_raw", "image")


def nearest_points(result, truth: np.ndarray) -> np.ndarray | None:
    """The landmarks of the result's face nearest the true points (None when it found none)."""
    if not result.faces:
        return None
    centre = truth.mean(axis=0)
    return min((f.landmarks for f in result.faces), key=lambda p: float(np.linalg.norm(p.mean(axis=0) - centre)))


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
    cpus = pin_cpus(args.threads)
    tasks = analyzers(args)
    per_clip = []
    stages: dict[str, list[float]] = {}
    with MediaPipeWorker(args.threads, args.max_faces, args.mediapipe_venv) as mp:
        warm = next(clip(photos[0].image, photos[0].points, "still", 1)).image
        for side, task in tasks.items():  # warm-up, then a fresh clip
            (task.analyze(warm) if side == "image" else task.analyze_video_frame(warm, 0))
            if side != "image":
                task.reset()
        mp.time("facemesh_video", warm)
        for n, (motion, i, frames, noise) in enumerate(clips):
            mp.new_clip()
            seen = {s: {"ms": [], "points": [], "found": []} for s in SIDES}
            truth = []
            for k, frame in enumerate(clip(photos[i].image, photos[i].points, motion, frames, FRAME_SIZE, noise,
                                           seed=n)):
                truth.append(frame.points)
                shift = (n + k) % len(SIDES)
                for side in SIDES[shift:] + SIDES[:shift]:
                    if side == "facemesh":
                        timing = mp.time("facemesh_video", frame.image)
                        took, found, faces = timing.ms, None, timing.faces
                    else:
                        t0 = time.perf_counter()
                        result = (tasks[side].analyze(frame.image) if side == "image" else
                                  tasks[side].analyze_video_frame(frame.image, frame.timestamp_ms))
                        took = (time.perf_counter() - t0) * 1e3
                        found, faces = nearest_points(result, frame.points), len(result.faces)
                        if side == "video" and motion in MOVING:
                            for stage, value in result.timings_ms.items():
                                stages.setdefault(stage, []).append(value)
                    seen[side]["ms"].append(took)
                    seen[side]["points"].append(found)
                    seen[side]["found"].append(faces > 0)
            for side in ("video", "video_raw"):
                tasks[side].reset()
            per_clip.append({"motion": motion, "photo": photos[i].path.name, "frames": frames, "noise": noise,
                             "seen": seen, "truth": truth})
    for task in tasks.values():
        task.close()
    return {"cpus": cpus, "mediapipe": mp.info, "clips": per_clip, "stages": stages}


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

    latency = {side: {"moving": round(median_ms(side, moving), 3), "still": round(median_ms(side, still), 3)}
               for side in SIDES}
    nme_by_motion = {m: {side: nme(side, [c for c in moving if c["motion"] == m]) for side in FACELITE_SIDES}
                     for m in MOVING}
    nme_all = {side: nme(side, moving) for side in FACELITE_SIDES}
    jitters = {side: [jitter(c["seen"][side]["points"], c["truth"]) for c in still] for side in FACELITE_SIDES}
    mean_jitter = {side: (round(100 * statistics.mean(v), 4) if all(x is not None for x in v) else None)
                   for side, v in jitters.items()}
    latency_ratio = round(latency["video"]["moving"] / latency["facemesh"]["moving"], 3)
    nme_gap = (round(nme_all["video"]["nme_pct"] - nme_all["image"]["nme_pct"], 3)
               if nme_all["video"]["nme_pct"] is not None and nme_all["image"]["nme_pct"] is not None else None)
    jitter_ratio = (round(mean_jitter["video_raw"] / mean_jitter["video"], 2)
                    if mean_jitter["video"] and mean_jitter["video_raw"] is not None else None)
    targets = {"latency_ratio_at_most_0.5": latency_ratio <= LATENCY_TARGET,
               "nme_gap_at_most_0.3_pp": nme_gap is not None and nme_gap <= NME_TARGET_PP,
               "jitter_ratio_at_least_3": jitter_ratio is not None and jitter_ratio >= JITTER_TARGET}
    return {
        "photos": args.photos, "frames_per_clip": args.frames, "still_frames": args.still_frames,
        "noise_sigma": args.noise, "frame_size": list(FRAME_SIZE), "threads": args.threads, "cpus": raw["cpus"],
        "variant": args.variant, "max_faces": args.max_faces, "mediapipe": raw["mediapipe"],
        "clips": [{"motion": c["motion"], "photo": c["photo"], "frames": c["frames"]} for c in clips],
        "median_ms": latency, "latency_ratio_video_vs_facemesh": latency_ratio,
        "video_stages_median_ms": {k: round(statistics.median(v), 3) for k, v in raw["stages"].items()},
        "video_stages_frames": {k: len(v) for k, v in raw["stages"].items()},
        "latency_ratio_image_vs_facemesh": round(latency["image"]["moving"] / latency["facemesh"]["moving"], 3),
        "frames_with_a_face": {side: sum(sum(c["seen"][side]["found"]) for c in clips) for side in SIDES},
        "frames": sum(c["frames"] for c in clips),
        "nme_moving": nme_all, "nme_by_motion": nme_by_motion, "nme_gap_video_minus_image_pp": nme_gap,
        "jitter_still_pct_of_interocular": mean_jitter, "jitter_per_clip": jitters,
        "jitter_ratio_raw_over_smoothed": jitter_ratio,
        "targets": targets,
    }


def print_text(doc: dict) -> None:
    mp = doc["mediapipe"]
    print(f"video: {len(doc['clips'])} clips from {doc['photos']} HELEN photos ({', '.join(MOVING)}: "
          f"{doc['frames_per_clip']} frames; still + noise sd {doc['noise_sigma']}: {doc['still_frames']} frames), "
          f"{doc['frame_size'][0]}x{doc['frame_size'][1]} at 30 fps, {doc['threads']} threads on {doc['cpus']} CPUs, "
          f"variant {doc['variant']}; MediaPipe {mp['mediapipe']}; interleaved per frame")
    print(f"{'side':22s} {'median ms moving':>17s} {'still':>8s} {'fps (moving)':>13s} {'frames with a face':>19s}")
    names = {"video": "facelite VIDEO", "video_raw": "facelite VIDEO raw", "image": "facelite IMAGE no skin",
             "facemesh": "FaceMesh video"}
    for side in SIDES:
        m = doc["median_ms"][side]
        print(f"{names[side]:22s} {m['moving']:17.2f} {m['still']:8.2f} {1000 / m['moving']:13.1f} "
              f"{doc['frames_with_a_face'][side]:>13d}/{doc['frames']}")
    t = doc["targets"]
    print(f"latency VIDEO/FaceMesh video {doc['latency_ratio_video_vs_facemesh']:.3f} (target <= {LATENCY_TARGET}: "
          f"{'met' if t['latency_ratio_at_most_0.5'] else 'NOT met'}); IMAGE (skin=False) per frame/FaceMesh video "
          f"{doc['latency_ratio_image_vs_facemesh']:.3f}")
    frames = doc["video_stages_frames"]
    print("facelite VIDEO stages on the moving clips, median ms over the frames each ran on (frames): " + ", ".join(
        f"{k} {v:.2f}" + ("" if frames[k] == frames["total"] else f" ({frames[k]})")
        for k, v in doc["video_stages_median_ms"].items()))
    print(f"NME % of outer-eye-corner distance (misses) {'VIDEO':>16s} {'VIDEO raw':>16s} {'IMAGE':>16s}")

    def cell(r: dict) -> str:
        return f"{'-' if r['nme_pct'] is None else format(r['nme_pct'], '.3f')} ({r['misses']})".rjust(16)

    for motion, row in [*doc["nme_by_motion"].items(), ("all moving", doc["nme_moving"])]:
        print(f"  {motion:40s} {cell(row['video'])} {cell(row['video_raw'])} {cell(row['image'])}")
    print(f"NME VIDEO - IMAGE {doc['nme_gap_video_minus_image_pp']} pp (target <= {NME_TARGET_PP}: "
          f"{'met' if t['nme_gap_at_most_0.3_pp'] else 'NOT met'})")
    j = doc["jitter_still_pct_of_interocular"]
    print(f"jitter on the still noisy face, % of outer-eye-corner distance per frame: VIDEO {j['video']}, "
          f"VIDEO raw (smoothing=False) {j['video_raw']}, IMAGE {j['image']}; raw/smoothed "
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
