"""Cold start, fresh process to first result: facelite (C core and Python) vs MediaPipe FaceMesh, per phase.

Why: issue #13 promises that an app's first face result comes at most 0.25x as late as
MediaPipe FaceMesh's, counted from starting a fresh process: the interpreter's start, the
import, creating the analyzer (opening bundles, building interpreters, any accelerator
probe) and the first `analyze` (its decode included). Three sides: facelite's C core (what
a phone app links: `facelite-run BUNDLES --analyze --input PHOTO --json`, built as
benchmarks/native_side.py says; `--no-native` leaves it out), facelite's Python reference
and MediaPipe. Each repetition starts one process per side, in an order that rotates from
repetition to repetition, so a busy host slows every side alike (one untimed start per side
first, so all read their files from the page cache, as on a phone that ran the app before).
Phases, from the wall clock (`time.time()`), C core | Python | MediaPipe:

    start    parent's Popen → the child's first line of Python (the interpreter's start); for
             the C core: total less the runner's own `cold_start_ms` (from main() to the first
             result): exec and dynamic linking, plus the short tail after the result (printing
             the document, freeing the analyzer)
    import   — | `from facelite import ...` | `import mediapipe` (with cv2, which it imports)
    create   `fl_analyzer_create` | `FaceAnalyzer.create_from_options` |
             `FaceMesh(static_image_mode=True, refine_landmarks=False)`
    first    the first `fl_analyze_file` | `analyze(path)` | `cv2.imread` + RGB + the first `process()`
    total    parent's Popen → reading the child's result line

Both Python sides start as an installed app does, from compiled bytecode: this environment
sets PYTHONDONTWRITEBYTECODE=1, and facelite, installed from source (editable), has no .pyc
of its own, so every fresh process would compile it again — a cost no installed app pays.
So both Python sides' children run with PYTHONPYCACHEPREFIX in the temp folder (and
bytecode writing on): facelite's package is compiled there first (`compileall`), and as
Python then reads bytecode only from there, the untimed first start of each side writes
there whatever else it imports (numpy, cv2, mediapipe, ...); the timed starts read it all
from there. (Measured here: the Python side's total is ~60 ms shorter than when compiling.)
The C core has no such step: `import` is 0, its libraries are linked when it starts.

The photo is the first HELEN training photo at 512 px (written once as a JPEG to a temp
folder; `--photo` to choose another). facelite runs the full pipeline (`--no-skin`:
skin=False) with the default accelerator (`auto`, what an app gets) and `--threads`
threads; all processes are confined to `--threads` CPUs. MediaPipe runs in its own venv
(benchmarks/mediapipe_side.py makes it on first use). The children print their own peak
RSS (VmHWM); benchmarks/measured_process.py is not used here because its launcher process
would sit between the parent's clock and the interpreter's start.

    python benchmarks/coldstart.py                       # 5 repetitions, under a minute
    python benchmarks/coldstart.py --reps 10 --variant int8 --json /tmp/coldstart.json

Exit status: 0 when the ratio of medians meets the target — the C core's when it was
measured (it is what ships on a phone), else Python's — 1 when not, 2 when something
needed is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2

from helen_photos import helen_photos  # benchmarks/helen_photos.py
from comparison_cli import add_comparison_arguments, run_comparison  # benchmarks/comparison_cli.py
from mediapipe_side import MEDIAPIPE_VERSION, pin_cpus, venv_python
from native_side import open_native

import facelite
from facelite.files import write_file_atomic

TARGET_RATIO = 0.25
"""facelite's fresh-process-to-first-result time over FaceMesh's (issue #13)."""
PHASES = ("start", "import", "create", "first", "total")
SIDES = ("native", "facelite", "mediapipe")
LABELS = {"native": "C core", "facelite": "Python", "mediapipe": "FaceMesh"}

_PEAK = "float(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"

# argv: photo variant threads max_faces skin bundles_dir ('' for the shipped bundles)
FACELITE = r"""
import time
t_start = time.time()
import json, sys
from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
t_import = time.time()
photo, variant, threads, max_faces, skin, bundles = sys.argv[1:7]
analyzer = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
    base_options=BaseOptions(variant=variant, num_threads=int(threads)), max_faces=int(max_faces),
    skin=skin == "1", bundles_dir=bundles or None))
t_create = time.time()
result = analyzer.analyze(photo)
t_first = time.time()
print(json.dumps({"stamps": [t_start, t_import, t_create, t_first], "faces": len(result.faces),
                  "peak_rss_mb": PEAK}), flush=True)
""".replace("PEAK", _PEAK)

# argv: photo max_faces
MEDIAPIPE = r"""
import time
t_start = time.time()
import json, sys
import cv2
import mediapipe as mp
t_import = time.time()
photo, max_faces = sys.argv[1], int(sys.argv[2])
mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=False, max_num_faces=max_faces)
t_create = time.time()
result = mesh.process(cv2.cvtColor(cv2.imread(photo, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
t_first = time.time()
print(json.dumps({"stamps": [t_start, t_import, t_create, t_first], "faces": len(result.multi_face_landmarks or []),
                  "peak_rss_mb": PEAK}), flush=True)
""".replace("PEAK", _PEAK)


def launch(cmd: list[str], cwd: str, env: dict | None = None, timeout_s: float = 300) -> tuple[float, float, dict]:
    """Start `cmd`; (the parent's clock at Popen, at reading the child's first stdout line,
    that line as JSON)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd,
                            env=env)
    line = proc.stdout.readline()
    t_read = time.time()
    _, err = proc.communicate(timeout=timeout_s)
    if proc.returncode != 0 or not line.strip():
        raise RuntimeError(f"{Path(cmd[0]).name} {cmd[1][:20]} ... exited {proc.returncode} without a result:\n"
                           f"{err.decode('utf-8', 'replace')[-2000:]}")
    return t0, t_read, json.loads(line)


def _result(phases: dict[str, float], faces: int, peak_rss_mb: float) -> dict:
    return {"ms": {k: round(v, 2) for k, v in phases.items()}, "faces": faces, "peak_rss_mb": round(peak_rss_mb, 1)}


def python_cold_start(cmd: list[str], cwd: str, env: dict) -> dict:
    """A Python side's phases in ms from the child's stamps and the parent's clock."""
    t0, t_read, doc = launch(cmd, cwd, env)
    start, imported, created, first = doc["stamps"]
    phases = {"start": start - t0, "import": imported - start, "create": created - imported,
              "first": first - created, "total": t_read - t0}
    return _result({k: v * 1e3 for k, v in phases.items()}, doc["faces"], doc["peak_rss_mb"])


def native_cold_start(cmd: list[str], cwd: str) -> dict:
    """The C core's phases in ms: the runner's own init, first and cold_start (from main())
    and the parent's clock."""
    t0, t_read, doc = launch(cmd, cwd)
    p = doc["pipeline"]
    total = (t_read - t0) * 1e3
    phases = {"start": total - p["cold_start_ms"], "import": 0.0, "create": p["init_ms"], "first": p["first_ms"],
              "total": total}
    return _result(phases, len(doc["faces"]), p["peak_rss_mb"])


def bytecode_env(folder: Path) -> dict:
    """The Python children's environment: bytecode written to and read from `folder`, with
    facelite's package compiled there first (`compileall`, as an installed app ships it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(facelite.__file__).parent)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return env


def default_photo(data: str, folder: Path) -> tuple[Path, str]:
    """(the first HELEN training photo at 512 px as a JPEG in `folder`, what it is)."""
    photo = helen_photos(data, 1)[0]
    path = folder / "helen_512.jpg"
    _, encoded = cv2.imencode(".jpg", photo.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_file_atomic(path, encoded.tobytes())
    return path, f"HELEN {photo.path.name} at 512 px"


def measure(args, folder: Path) -> dict:
    photo, label = (Path(args.photo), args.photo) if args.photo else default_photo(args.data, folder)
    cpus = pin_cpus(args.threads)  # the children inherit it
    native = open_native(args, args.bundles)
    skin = not args.no_skin
    commands = {
        "facelite": [sys.executable, "-c", FACELITE, str(photo), args.variant, str(args.threads),
                     str(args.max_faces), "1" if skin else "0", args.bundles or ""],
        "mediapipe": [str(venv_python(args.mediapipe_venv)), "-c", MEDIAPIPE, str(photo), str(args.max_faces)],
    }
    env = bytecode_env(folder / "pycache")
    starts = {"facelite": lambda: python_cold_start(commands["facelite"], str(folder), env),
              "mediapipe": lambda: python_cold_start(commands["mediapipe"], str(folder), env)}
    if native:
        command = native.cold_start_command(photo, skin)
        starts["native"] = lambda: native_cold_start(command, str(folder))
    sides = [s for s in SIDES if s in starts]
    for side in sides:  # page cache, and the Python sides' bytecode
        starts[side]()
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for rep in range(args.reps):
        for side in sides[rep % len(sides):] + sides[:rep % len(sides)]:
            runs[side].append(starts[side]())
    median = {side: {ph: round(statistics.median(r["ms"][ph] for r in rs), 2) for ph in PHASES}
              for side, rs in runs.items()}
    ratio = {side: {ph: (round(median[side][ph] / median["mediapipe"][ph], 3) if median["mediapipe"][ph] else None)
                    for ph in PHASES} for side in sides if side != "mediapipe"}
    met = {side: r["total"] <= TARGET_RATIO for side, r in ratio.items()}
    return {"photo": label, "reps": args.reps, "threads": args.threads, "cpus": cpus, "variant": args.variant,
            "skin": skin, "mediapipe_version": MEDIAPIPE_VERSION,
            "python_bytecode": "precompiled (PYTHONPYCACHEPREFIX in the temp folder)",
            "native_runner": None if native is None else str(native.runner),
            "median_ms": median, "ratio_vs_facemesh": ratio,
            "peak_rss_mb": {side: statistics.median(r["peak_rss_mb"] for r in rs) for side, rs in runs.items()},
            "faces": {side: [r["faces"] for r in rs] for side, rs in runs.items()},
            "target_ratio": TARGET_RATIO, "met_by": met, "met": met["native"] if "native" in met else met["facelite"],
            "runs": runs}


def print_text(doc: dict) -> None:
    sides = list(doc["median_ms"])
    print(f"cold start, fresh process to first result: median of {doc['reps']} rotating starts per side, "
          f"{doc['threads']} threads on {doc['cpus']} CPUs, facelite variant {doc['variant']}"
          f"{'' if doc['skin'] else ' (skin=False)'} vs MediaPipe {doc['mediapipe_version']} FaceMesh; {doc['photo']}; "
          f"Python bytecode {doc['python_bytecode']}"
          + ("" if doc["native_runner"] is None else f"; C core {doc['native_runner']}"))
    ratios = [s for s in sides if s != "mediapipe"]
    print(f"{'phase':8s} " + " ".join(f"{LABELS[s] + ' ms':>12s}" for s in sides)
          + " " + " ".join(f"{LABELS[s] + '/FaceMesh':>16s}" for s in ratios))
    for ph in PHASES:
        print(f"{ph:8s} " + " ".join(f"{doc['median_ms'][s][ph]:12.1f}" for s in sides) + " "
              + " ".join(f"{'-' if doc['ratio_vs_facemesh'][s][ph] is None else doc['ratio_vs_facemesh'][s][ph]:>16}"
                         for s in ratios))
    print("ratio total " + "; ".join(
        f"{LABELS[s]} {doc['ratio_vs_facemesh'][s]['total']:.3f} (target <= {doc['target_ratio']}: "
        f"{'met' if doc['met_by'][s] else 'NOT met'})" for s in ratios)
          + "; peak RSS " + ", ".join(f"{LABELS[s]} {doc['peak_rss_mb'][s]:.0f} MB" for s in sides)
          + f"; faces found {doc['faces']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5, help="timed fresh processes per side (default 5)")
    add_comparison_arguments(p, faces_help="faces")
    p.add_argument("--no-skin", action="store_true", help="facelite without the skin analysis")
    p.add_argument("--photo", help="the photo (default: the first HELEN training photo at 512 px)")
    args = p.parse_args(argv)

    def measure_in_temp_folder() -> dict:
        with tempfile.TemporaryDirectory(prefix="facelite-coldstart-") as folder:
            return measure(args, Path(folder))

    return run_comparison(args, measure_in_temp_folder, print_text, lambda doc: doc["met"], missing=(RuntimeError,))


if __name__ == "__main__":
    sys.exit(main())
