"""Cold start, fresh process to first result: facelite's FaceAnalyzer vs MediaPipe FaceMesh, per phase.

Why: issue #13 promises that an app's first face result comes at most 0.25x as late as
MediaPipe FaceMesh's, counted from starting a fresh process: the interpreter's start, the
import, creating the analyzer (opening bundles, building interpreters, any accelerator
probe) and the first `analyze` (its decode included). Each repetition starts one process
per side, the two sides alternating first and second, so a busy host slows both alike
(one untimed start per side first, so both read their files from the page cache, as on a
phone that ran the app before). Phases, from the wall clock (`time.time()`):

    start    parent's Popen → the child's first line of Python (the interpreter's start)
    import   `from facelite import ...` | `import mediapipe` (with cv2, which it imports)
    create   `FaceAnalyzer.create_from_options` | `FaceMesh(static_image_mode=True, refine_landmarks=False)`
    first    the first `analyze(path)` | `cv2.imread` + RGB + the first `process()`
    total    parent's Popen → reading the child's result line

The photo is the first HELEN training photo at 512 px (written once as a JPEG to a temp
folder; `--photo` to choose another). facelite runs the full pipeline (`--no-skin`:
skin=False) with the default accelerator (`auto`, what an app gets) and `--threads`
threads; both processes are confined to `--threads` CPUs. MediaPipe runs in its own venv
(benchmarks/mediapipe_side.py makes it on first use). The children print their own peak
RSS (VmHWM); benchmarks/measured_process.py is not used here because its launcher process
would sit between the parent's clock and the interpreter's start.

    python benchmarks/coldstart.py                       # 5 repetitions, under a minute
    python benchmarks/coldstart.py --reps 10 --variant int8 --json /tmp/coldstart.json

Exit status: 0 when the ratio of medians meets the target, 1 when not, 2 when something
needed is missing.
"""

from __future__ import annotations

import argparse
import json
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

from facelite.files import write_file_atomic

TARGET_RATIO = 0.25
"""facelite's fresh-process-to-first-result time over FaceMesh's (issue #13)."""
PHASES = ("start", "import", "create", "first", "total")

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


def cold_start(cmd: list[str], cwd: str, timeout_s: float = 300) -> dict:
    """Start `cmd`, read its one result line; phases in ms from the child's stamps and the parent's clock."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd)
    line = proc.stdout.readline()
    t_read = time.time()
    _, err = proc.communicate(timeout=timeout_s)
    if proc.returncode != 0 or not line.strip():
        raise RuntimeError(f"{Path(cmd[0]).name} -c ... exited {proc.returncode} without a result:\n"
                           f"{err.decode('utf-8', 'replace')[-2000:]}")
    doc = json.loads(line)
    start, imported, created, first = doc["stamps"]
    phases = {"start": start - t0, "import": imported - start, "create": created - imported,
              "first": first - created, "total": t_read - t0}
    return {"ms": {k: round(v * 1e3, 2) for k, v in phases.items()}, "faces": doc["faces"],
            "peak_rss_mb": round(doc["peak_rss_mb"], 1)}


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
    commands = {
        "facelite": [sys.executable, "-c", FACELITE, str(photo), args.variant, str(args.threads),
                     str(args.max_faces), "0" if args.no_skin else "1", args.bundles or ""],
        "mediapipe": [str(venv_python(args.mediapipe_venv)), "-c", MEDIAPIPE, str(photo), str(args.max_faces)],
    }
    for cmd in commands.values():  # page cache
        cold_start(cmd, str(folder))
    runs: dict[str, list[dict]] = {"facelite": [], "mediapipe": []}
    for rep in range(args.reps):
        for side in (("facelite", "mediapipe") if rep % 2 == 0 else ("mediapipe", "facelite")):
            runs[side].append(cold_start(commands[side], str(folder)))
    median = {side: {ph: round(statistics.median(r["ms"][ph] for r in rs), 2) for ph in PHASES}
              for side, rs in runs.items()}
    ratio = {ph: round(median["facelite"][ph] / median["mediapipe"][ph], 3) for ph in PHASES}
    return {"photo": label, "reps": args.reps, "threads": args.threads, "cpus": cpus, "variant": args.variant,
            "skin": not args.no_skin, "mediapipe_version": MEDIAPIPE_VERSION,
            "median_ms": median, "ratio": ratio,
            "peak_rss_mb": {side: statistics.median(r["peak_rss_mb"] for r in rs) for side, rs in runs.items()},
            "faces": {side: [r["faces"] for r in rs] for side, rs in runs.items()},
            "target_ratio": TARGET_RATIO, "met": ratio["total"] <= TARGET_RATIO, "runs": runs}


def print_text(doc: dict) -> None:
    print(f"cold start, fresh process to first result: median of {doc['reps']} alternating starts per side, "
          f"{doc['threads']} threads on {doc['cpus']} CPUs, facelite variant {doc['variant']}"
          f"{'' if doc['skin'] else ' (skin=False)'} vs MediaPipe {doc['mediapipe_version']} FaceMesh; {doc['photo']}")
    print(f"{'phase':8s} {'facelite ms':>12s} {'FaceMesh ms':>12s} {'ratio':>7s}")
    for ph in PHASES:
        print(f"{ph:8s} {doc['median_ms']['facelite'][ph]:12.1f} {doc['median_ms']['mediapipe'][ph]:12.1f} "
              f"{doc['ratio'][ph]:7.3f}")
    print(f"ratio total {doc['ratio']['total']:.3f} (target <= {doc['target_ratio']}: "
          f"{'met' if doc['met'] else 'NOT met'}); peak RSS facelite {doc['peak_rss_mb']['facelite']:.0f} MB, "
          f"FaceMesh {doc['peak_rss_mb']['mediapipe']:.0f} MB; faces found {doc['faces']}")


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
