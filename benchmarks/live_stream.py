"""LIVE_STREAM mode under a producer twice as fast as the pipeline: order, drops, memory.

Why: issue #13 asks that with a camera outrunning the analyzer, results still arrive in
order, frames are dropped (and counted) rather than queued, and memory stays flat: RSS
grows by less than 10 MB over 10,000 frames. A queue would show here as RSS growing with
every frame and results falling further and further behind.

How: a real HELEN photo (`helen_photos`) moved sideways (`synthetic_clips`, the
`translation` motion) makes a 320x240 clip of `--clip-frames` frames, looped. The
pipeline's rate is measured first in VIDEO mode on one pass of the clip (mean time per
frame: skin and expression run at their own rates, so the mean is the rate a stream
sustains). Then a `FaceAnalyzer` in LIVE_STREAM mode is fed `--frames` frames at twice
that rate (timestamps at the producer's clock); the callback checks the order and keeps
no result. RSS (`/proc/self/status` VmRSS) is read after a warm-up of `--warmup` frames
(allocator pools and the interpreters' arenas fill on the first frames: that is not
growth per frame), every 1,000 frames, and after the last frame is submitted (the
analyzer still open, as at the start; `close` then analyses the last pending frame).

    python benchmarks/live_stream.py                   # 10,000 frames, a few minutes
    python benchmarks/live_stream.py --frames 2000     # quicker look

Prints the pipeline's rate, the producer's, results in order (yes/no), delivered and
dropped counts (they add up to the frames submitted), RSS at start and end and the
growth, and PASS/FAIL against the 10 MB bound.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import threading
import time
from pathlib import Path

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from helen_photos import default_data, helen_photos
from synthetic_clips import clip

FRAME_SIZE = (320, 240)
FACE_WIDTH = 100
RSS_BOUND_MB = 10.0


def rss_mb() -> float:
    """This process's resident set size now (VmRSS), in MB, after a garbage collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


class InOrder:
    """The result callback: counts results and checks their timestamps increase; keeps none."""

    def __init__(self):
        self.count, self.last, self.in_order, self.faces = 0, -1, True, 0
        self.lock = threading.Lock()

    def __call__(self, result, frame, timestamp_ms: int) -> None:
        with self.lock:
            self.in_order &= timestamp_ms > self.last and result.timestamp_ms == timestamp_ms
            self.last = timestamp_ms
            self.count += 1
            self.faces += len(result.faces)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10_000, help="frames the producer submits (default 10000)")
    ap.add_argument("--clip-frames", type=int, default=120, help="distinct frames in the looped clip (default 120)")
    ap.add_argument("--warmup", type=int, default=200, help="frames submitted before the start RSS (default 200)")
    ap.add_argument("--speedup", type=float, default=2.0, help="producer rate over the pipeline's (default 2)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=default_data())
    args = ap.parse_args()

    photo = helen_photos(args.data, limit=1, side=None)[0]
    frames = [f.image for f in clip(photo.image, photo.points, "translation", args.clip_frames, size=FRAME_SIZE,
                                    face_width=FACE_WIDTH)]
    base = BaseOptions(accelerator="cpu", num_threads=args.threads)

    with FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=base, running_mode="video")) as video:
        times = []
        for i, image in enumerate(frames):
            t0 = time.perf_counter()
            video.analyze_video_frame(image, i * 33)
            times.append((time.perf_counter() - t0) * 1000.0)
    pipeline_ms = statistics.fmean(times[1:])
    period_ms = max(1.0, pipeline_ms / args.speedup)
    print(f"photo {photo.path.name} at {FRAME_SIZE[0]}x{FRAME_SIZE[1]}, clip of {len(frames)} frames looped")
    print(f"pipeline (VIDEO mode, one pass): mean {pipeline_ms:.1f} ms/frame ({1000 / pipeline_ms:.1f} fps), "
          f"median {statistics.median(times[1:]):.1f} ms")
    print(f"producer: every {period_ms:.1f} ms ({1000 / period_ms:.1f} fps, {args.speedup:g}x the pipeline), "
          f"{args.frames} frames")

    results = InOrder()
    live = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=base, running_mode="live_stream",
                                                                result_callback=results))
    rss_before = rss_mb()
    rss_start = None
    samples = []
    start = time.perf_counter()
    for i in range(args.frames):
        delay = start + i * period_ms / 1000.0 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        live.analyze_async(frames[i % len(frames)], round(i * period_ms))
        if i + 1 == args.warmup:
            rss_start = rss_mb()
        if (i + 1) % 1000 == 0:
            samples.append(round(rss_mb(), 1))
    rss_end = rss_mb()                 # the analyzer still open, as at the start
    dropped = live.dropped_frames      # close analyses the pending frame: no drop after this
    live.close()
    wall_s = time.perf_counter() - start
    rss_start = rss_before if rss_start is None else rss_start
    growth = rss_end - rss_start

    print(f"submitted {args.frames} in {wall_s:.1f} s; delivered {results.count} "
          f"({results.count / wall_s:.1f} fps), dropped {dropped}; "
          f"delivered + dropped = submitted: {'yes' if results.count + dropped == args.frames else 'NO'}")
    print(f"results in order: {'yes' if results.in_order else 'NO'}; faces per result "
          f"{results.faces / max(1, results.count):.2f}")
    print(f"RSS before the stream {rss_before:.1f} MB; after {args.warmup} warm-up frames {rss_start:.1f} MB; "
          f"end {rss_end:.1f} MB; growth {growth:+.1f} MB (bound {RSS_BOUND_MB:g} MB)")
    print(f"RSS every 1000 frames (MB): {samples}")
    ok = results.in_order and results.count + dropped == args.frames and growth < RSS_BOUND_MB and dropped > 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
