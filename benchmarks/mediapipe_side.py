"""MediaPipe as the other side of a side-by-side benchmark: its own venv and a timing worker.

Why: issue #13 compares facelite with MediaPipe FaceMesh and BlazeFace on the same photos
and frames, interleaved photo by photo in one run, so a host busy with other work slows
both sides alike. MediaPipe 0.10.14 is the last release with the `mp.solutions` FaceMesh
API and its bundled models, and it pins numpy < 2 and protobuf < 5, so it cannot live in
facelite's environment: it gets a venv of its own, outside the repository, created on
first use (`pip install mediapipe==0.10.14` from the configured index):

    FACELITE_MEDIAPIPE_VENV, else ~/.cache/facelite/mediapipe-0.10.14 (scripts: --mediapipe-venv)

That venv's python runs `WORKER`, a small process answering timing requests on
stdin/stdout, one JSON line each way. A request carries the pixels (a header line with
the frame's shape, then its raw BGR bytes) or a photo path; the worker converts to RGB
(MediaPipe's input) and times only the `process()` call:

    facemesh_static   FaceMesh(static_image_mode=True, refine_landmarks=False): every
                      image on its own (a detection, then the 468-point mesh);
                      `refine_landmarks=True` adds the iris/lips attention model (about
                      1 ms more here), which facelite has no counterpart of
    facemesh_video    FaceMesh(static_image_mode=False, ...): frames of one clip, the
                      mesh tracked from the previous frame; `new_clip` starts another
    blazeface         FaceDetection(model_selection=0): BlazeFace short-range, detection only

Both sides are confined to the same `threads` CPUs (`pin_cpus`): the solutions API has no
thread setting, and XNNPACK would otherwise take up to four cores.

Example (a few seconds after the venv exists):

    >>> from mediapipe_side import MediaPipeWorker                     # doctest: +SKIP
    >>> with MediaPipeWorker(threads=2) as mp:                         # doctest: +SKIP
    ...     mp.time("facemesh_static", frame)
    Timing(ms=11.2, faces=1)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEDIAPIPE_VERSION = "0.10.14"
VENV_ENV = "FACELITE_MEDIAPIPE_VENV"
OPS = ("facemesh_static", "facemesh_video", "blazeface")

# The worker, run by the MediaPipe venv's python. argv: threads max_faces refine_landmarks(0/1).
WORKER = r"""
import json, os, sys, time
threads, max_faces, refine = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
cpus = sorted(os.sched_getaffinity(0))
if len(cpus) > threads:
    os.sched_setaffinity(0, cpus[:threads])
import cv2
import mediapipe as mp
import numpy as np

def facemesh(static):
    return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, refine_landmarks=refine,
                                           max_num_faces=max_faces, min_detection_confidence=0.5)

solutions = {"facemesh_static": facemesh(True), "facemesh_video": facemesh(False),
             "blazeface": mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)}
found = {"facemesh_static": lambda r: len(r.multi_face_landmarks or []),
         "facemesh_video": lambda r: len(r.multi_face_landmarks or []),
         "blazeface": lambda r: len(r.detections or [])}
out = sys.stdout
sys.stdout = sys.stderr  # anything MediaPipe prints stays off the protocol
def reply(doc):
    out.write(json.dumps(doc) + "\n"); out.flush()
reply({"ready": True, "mediapipe": mp.__version__, "numpy": np.__version__, "cpus": len(os.sched_getaffinity(0)),
       "refine_landmarks": refine})
stdin = sys.stdin.buffer
for line in iter(stdin.readline, b""):
    req = json.loads(line)
    op = req["op"]
    if op == "quit":
        break
    if op == "new_clip":
        solutions["facemesh_video"].close()
        solutions["facemesh_video"] = facemesh(False)
        reply({"ok": True}); continue
    if "shape" in req:
        h, w = req["shape"]
        pixels = np.frombuffer(stdin.read(h * w * 3), np.uint8).reshape(h, w, 3)
    else:
        pixels = cv2.imread(req["path"], cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(pixels[:, :, ::-1])
    t0 = time.perf_counter()
    result = solutions[op].process(rgb)
    ms = (time.perf_counter() - t0) * 1e3
    reply({"ms": ms, "faces": found[op](result)})
"""


class MediaPipeUnavailable(Exception):
    """The MediaPipe venv could not be made or started: the message says why and what to do."""


@dataclass(frozen=True)
class Timing:
    """One timed MediaPipe call: its milliseconds (the `process()` call alone) and faces found."""

    ms: float
    faces: int


def default_venv() -> Path:
    """FACELITE_MEDIAPIPE_VENV, else ~/.cache/facelite/mediapipe-<version>."""
    return Path(os.environ.get(VENV_ENV) or Path.home() / ".cache" / "facelite" / f"mediapipe-{MEDIAPIPE_VERSION}")


def venv_python(venv: str | os.PathLike | None = None) -> Path:
    """The venv's python, with mediapipe==MEDIAPIPE_VERSION installed there first if missing."""
    venv = Path(venv) if venv else default_venv()
    python = venv / "bin" / "python"
    if _has_mediapipe(python):
        return python
    print(f"creating the MediaPipe {MEDIAPIPE_VERSION} venv at {venv} (once; a few minutes)", file=sys.stderr)
    base = getattr(sys, "_base_executable", sys.executable)
    for cmd in ([base, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "-q", f"mediapipe=={MEDIAPIPE_VERSION}"]):
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise MediaPipeUnavailable(
                f"{' '.join(cmd)} failed (exit {p.returncode}):\n{(p.stdout + p.stderr)[-2000:]}\n"
                f"fix the cause, or point --mediapipe-venv / {VENV_ENV} at a venv with mediapipe=={MEDIAPIPE_VERSION}")
    if not _has_mediapipe(python):
        raise MediaPipeUnavailable(f"{python}: mediapipe {MEDIAPIPE_VERSION} still does not import after the install")
    return python


def _has_mediapipe(python: Path) -> bool:
    if not python.is_file():
        return False
    p = subprocess.run([str(python), "-c", "import mediapipe, sys; sys.exit(mediapipe.__version__ != sys.argv[1])",
                        MEDIAPIPE_VERSION], capture_output=True, check=False)
    return p.returncode == 0


def pin_cpus(threads: int) -> int:
    """Confine this process to its first `threads` allowed CPUs (as the worker does); returns how many it has."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > threads:
        os.sched_setaffinity(0, cpus[:threads])
    return len(os.sched_getaffinity(0))


class MediaPipeWorker:
    """The worker process: `time(op, frame)` → Timing; `new_clip()` before each clip of video frames."""

    def __init__(self, threads: int = 2, max_faces: int = 1, venv: str | os.PathLike | None = None,
                 refine_landmarks: bool = False):
        python = venv_python(venv)
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([str(python), "-c", WORKER, str(threads), str(max_faces),
                                       "1" if refine_landmarks else "0"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self.info = self._read()
        self.info.pop("ready", None)

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            tail = self._log.read().decode("utf-8", "replace")[-2000:]
            raise MediaPipeUnavailable(f"the MediaPipe worker ended (exit {self._proc.poll()}):\n{tail}")
        return json.loads(line)

    def _send(self, header: dict, payload: bytes = b"") -> dict:
        self._proc.stdin.write(json.dumps(header).encode() + b"\n" + payload)
        self._proc.stdin.flush()
        return self._read()

    def time(self, op: str, frame: np.ndarray | None = None, path: str | os.PathLike | None = None) -> Timing:
        """Time `op` (one of OPS) on a BGR uint8 frame (H, W, 3) or on a photo file."""
        if op not in OPS:
            raise ValueError(f"op {op!r}: use one of {', '.join(OPS)}")
        if frame is not None:
            frame = np.ascontiguousarray(frame, np.uint8)
            doc = self._send({"op": op, "shape": frame.shape[:2]}, frame.tobytes())
        else:
            doc = self._send({"op": op, "path": os.fspath(path)})
        return Timing(doc["ms"], doc["faces"])

    def new_clip(self) -> None:
        """Start a new clip for `facemesh_video` (a fresh FaceMesh: no track carried over)."""
        self._send({"op": "new_clip"})

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write(b'{"op": "quit"}\n')
                self._proc.stdin.close()
                self._proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()

    def __enter__(self) -> "MediaPipeWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
