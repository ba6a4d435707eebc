"""facelite's C core as a further side of a facelite-vs-MediaPipe benchmark: `facelite-run` over PNG files.

Why: facelite is an on-device SDK; a phone app links the C core (mobile_bindings/c), not
the Python reference, whose time around sub-millisecond models is mostly the interpreter's.
Issue #13's speed ratios (per photo, VIDEO per frame, cold start) are about what an app
gets, so `pipeline.py`, `video.py` and `coldstart.py` measure the C core in the same run
as MediaPipe and the Python side, through the native runner (mobile_bindings/README.md):

    facelite-run BUNDLES --analyze --max-faces N --input P1 --input P2 ... [--skin] --json      IMAGE mode
    facelite-run BUNDLES --analyze --max-faces N --video F1 F2 ... --timestamps MS,... [--skin]  VIDEO mode

The runner reads image files (the C core decodes no arrays from Python), so the photos
and frames are written once as PNG (lossless: the C core sees exactly the pixels the other
sides get) to a temporary folder. A run's time is the runner's own `timings_ms` per image:
`total` less `load` — the stages

    detect, landmarks, align_regions, expression, and with skin: skin_crop,
    skin_measures, quality, restoration (when it ran), acne; in VIDEO mode also smoothing

and not `load`, which is the PNG's decode plus the image check: the other sides get
decoded pixels (Python's `analyze(array)` times `load` as the array's check, ~0.01 ms).
Each IMAGE-mode process analyses its first photo twice and drops the first result (the
process's first inference of each model is its warm-up, as the other sides have one).

The runner comes from `--native-build DIR` (configured with the venv's libLiteRt.so and
built there, incrementally: benchmarks/native.py's `build_runner`; default
FACELITE_C_BUILD, else ~/.cache/facelite/mobile_bindings_c). When it cannot be built
(no cmake, a missing -dev package), `open_native` says why on stderr and the scripts
measure the other sides; `--no-native` skips it.

The runner keeps the faces the other sides keep: at most the scripts' `--max-faces`
(default 1, MediaPipe's) per image, handed to it as its own `--max-faces`.

    >>> side = open_native(args, bundles)                        # doctest: +SKIP
    >>> [r.ms for r in side.analyze([Path("a.png"), Path("b.png")], skin=True)]  # doctest: +SKIP
    [38.1, 41.7]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from native import Unavailable, build_runner  # benchmarks/native.py

from facelite.files import write_file_atomic

EXCLUDED_STAGE = "load"
"""Not counted in the native time: the PNG's decode (the other sides get decoded pixels)."""


@dataclass(frozen=True)
class NativeImage:
    """One image (photo or frame) through the C core: its pipeline ms (total less load),
    the faces' (68, 2) points, and the runner's `timings_ms`."""

    ms: float
    points: list[np.ndarray]
    timings: dict[str, float]


def default_build() -> Path:
    """FACELITE_C_BUILD, else ~/.cache/facelite/mobile_bindings_c."""
    return Path(os.environ.get("FACELITE_C_BUILD") or Path.home() / ".cache" / "facelite" / "mobile_bindings_c")


def write_png(folder: Path, name: str, image: np.ndarray) -> Path:
    """`image` (BGR uint8) as `folder/name.png`, written atomically."""
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"{name}: could not be encoded as PNG")
    path = folder / f"{name}.png"
    write_file_atomic(path, encoded.tobytes())
    return path


def _image(entry: dict, where: str) -> NativeImage:
    if "error" in entry:
        raise RuntimeError(f"facelite-run: {where}: {entry['error']}")
    t = entry["timings_ms"]
    return NativeImage(t["total"] - t.get(EXCLUDED_STAGE, 0.0),
                       [np.asarray(f["landmarks"], np.float64) for f in entry["faces"]], t)


class NativeSide:
    """The C runner with fixed bundles, variant, threads and faces per image at most (CPU: both
    sides confined to the same CPUs by `mediapipe_side.pin_cpus`, which the runner's processes
    inherit)."""

    def __init__(self, runner: Path, bundles: Path, variant: str, threads: int, max_faces: int):
        self.runner, self.bundles, self.variant, self.threads = runner, bundles, variant, threads
        self.max_faces = max_faces

    def _common(self, skin: bool, accelerator: str = "cpu") -> list[str]:
        return ["--variant", self.variant, "--threads", str(self.threads), "--accelerator", accelerator,
                "--max-faces", str(self.max_faces), *(["--skin"] if skin else [])]

    def _run(self, cmd: list[str], what: str) -> str:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"facelite-run ({what}) exited {p.returncode}: {p.stderr.strip()[-1500:]}")
        return p.stdout

    def analyze(self, paths: list[Path], skin: bool) -> list[NativeImage]:
        """IMAGE mode over `paths` in one process, the first analysed once more first (warm-up, dropped)."""
        inputs = [a for p in [paths[0], *paths] for a in ("--input", str(p))]
        out = self._run([str(self.runner), str(self.bundles), "--analyze", *self._common(skin), "--json", *inputs],
                        f"--analyze, {len(paths)} photos")
        doc = json.loads(out.strip().splitlines()[-1])
        return [_image(e, e.get("image", "?")) for e in doc["images"][1:]]

    def video(self, frames: list[Path], timestamps: list[int], skin: bool, smoothing: bool = True) -> list[NativeImage]:
        """VIDEO mode (docs/video.md: tracking, One Euro smoothing, skin every 10th frame of a
        track) over the frames of one clip in one fresh process; numbers printed exactly."""
        cmd = [str(self.runner), str(self.bundles), "--analyze", *self._common(skin), "--exact",
               *([] if smoothing else ["--no-smoothing"]), "--timestamps", ",".join(map(str, timestamps)),
               "--video", *map(str, frames)]
        lines = [json.loads(line) for line in self._run(cmd, f"--video, {len(frames)} frames").splitlines()
                 if line.strip()]
        per_frame = [line for line in lines if "frame" in line]
        if len(per_frame) != len(frames):
            raise RuntimeError(f"facelite-run --video printed {len(per_frame)} frame lines for {len(frames)} frames")
        return [_image(line, f"frame {line['frame']}") for line in per_frame]

    def cold_start_command(self, photo: Path, skin: bool, accelerator: str = "auto") -> list[str]:
        """A fresh process analysing `photo` (its decode included) and printing one JSON
        document: `pipeline` holds init_ms, first_ms and cold_start_ms (from main())."""
        return [str(self.runner), str(self.bundles), "--analyze", *self._common(skin, accelerator), "--json",
                "--input", str(photo)]


def open_native(args, bundles: str | os.PathLike | None) -> NativeSide | None:
    """The native side from the shared options (`--native-build`, `--no-native`,
    `--variant`, `--threads`, `--max-faces`), or None with the reason on stderr."""
    if args.no_native:
        return None
    folder = Path(args.native_build) if args.native_build else default_build()
    try:
        print(f"building the C core in {folder} (incremental; --native-build DIR, --no-native)", file=sys.stderr)
        runner = build_runner(folder)
        help_text = subprocess.run([str(runner), "--help"], capture_output=True, text=True, timeout=30,
                                   check=False).stdout
        if not all(option in help_text for option in ("--analyze", "--video", "--max-faces")):
            raise Unavailable(f"{runner} has no --analyze --video --max-faces: rebuild from this checkout")
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"native side skipped: the C core could not be built in {folder}: {exc}\n"
              "(mobile_bindings/README.md lists what the build needs; --no-native skips this)", file=sys.stderr)
        return None
    if bundles is None:
        from facelite.paths import shipped_bundles_dir
        bundles = shipped_bundles_dir()
    return NativeSide(runner, Path(bundles), args.variant, args.threads, args.max_faces)
