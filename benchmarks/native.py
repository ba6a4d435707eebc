"""Native runner vs the Python runtime: latency, peak memory and cold start, per model and for the face pipeline.

Why: phones run bundles through `mobile_bindings/c` (libfacelite, `facelite-run`), and
issue #10 promises it costs less than the Python reference runtime: the native face
pipeline at least 2x faster per photo, and a cold start (process start to first result)
under 50 ms for one bundle. This measures both sides on this machine, in one run of the
script, on the same bundles, the same variant and the same CPU thread count:

- per shipped model: the median latency of one inference (the raw LiteRT invoke on the
  bundle's first golden input, as `facelite-run` and `facelite_bench.measure` time it),
  and the peak RSS of a fresh process doing it (`facelite-run ... --json`'s
  `peak_rss_mb`; for Python a fresh `python -c` loading `facelite.engine.Engine` and
  reading `VmHWM` from /proc/self/status). Native and Python processes alternate, round
  after round, so a machine busy with other work slows both alike;
- cold start, one bundle: the parent's wall clock from starting a fresh process to
  reading its first result (`facelite-run B --runs 0 --warmup 0 --json`, and a
  `python -c` that opens the bundle, loads the engine and runs the first golden input);
  the median of `--cold-reps` alternating repetitions;
- the face pipeline (`facelite.FaceAnalyzer` vs the C `fl_analyzer`): per photo, the
  pipeline's own total (decode, detect, landmarks, align and regions, expression, skin),
  on ACNE04 and HELEN photos, after one warm-up photo; peak RSS of each process from
  `wait4` (benchmarks/measured_process.py). Both totals include the per-face skin
  report (docs/skin.md: crop, skin_metrics, acne, quality gate, scores). The native side is `facelite-run --analyze` when the runner has it,
  else the build's `tool_analyze` (the same `fl_analyzer`; the output says which).

    python benchmarks/native.py                               # finds facelite-run (FACELITE_RUN, PATH, build dirs)
    python benchmarks/native.py --runner /tmp/build/facelite-run --rounds 5 --json > native.json
    python benchmarks/native.py --build /tmp/facelite-c       # configure and build mobile_bindings/c there first

Ratios are native / Python (below 1: native is cheaper); "speed-up" is Python / native.
Exit status: 0 when both targets are met, 1 when one is not, 2 when nothing could be measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measured_process import Finished, run_measured  # benchmarks/measured_process.py

THREADS = 2
PIPELINE_SPEEDUP_TARGET = 2.0
COLD_START_TARGET_MS = 50.0
PHOTO_SETS = ("acne04/level*/*.jpg", "landmarks300w/helen_train/*.jpg")

# One model in a fresh Python process, as facelite-run does it: open, load, time the raw invoke
# on the first golden input (facelite_bench.measure's way), report VmHWM. argv: bundle variant
# threads runs warmup.
PYTHON_MODEL = r"""
import json, sys, time
t0 = time.perf_counter()
from facelite.bundle import Bundle
from facelite.engine import Engine
import numpy as np
path, variant, threads, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
bundle = Bundle.open(path)
engine = Engine(bundle, variant, "cpu", threads)
if bundle.has_golden:
    x = bundle.golden()[0][:1].astype(np.float32)
else:
    x = np.random.default_rng(0).uniform(-1, 1, (1, *bundle.input_spec.shape[1:])).astype(np.float32)
invoke = engine.bind(x)
t = time.perf_counter(); invoke(); first = (time.perf_counter() - t) * 1e3
if runs == 0:
    print(json.dumps({"first_ms": first}), flush=True)
for _ in range(warmup):
    invoke()
samples = []
for _ in range(runs):
    t = time.perf_counter(); invoke(); samples.append((time.perf_counter() - t) * 1e3)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
if runs:
    print(json.dumps({"samples_ms": samples, "first_ms": first, "init_ms": engine.info.init_ms,
                      "variant": engine.info.variant, "accelerator": engine.info.accelerator,
                      "peak_rss_mb": float(status["VmHWM"].split()[0]) / 1024,
                      "process_ms": (time.perf_counter() - t0) * 1e3}))
"""

# The face pipeline in a fresh Python process: one warm-up photo, then each photo's own total.
# argv: bundles_dir variant threads photo...
PYTHON_PIPELINE = r"""
import json, sys
from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
bundles, variant, threads, photos = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=threads),
                              bundles_dir=bundles)
with FaceAnalyzer.create_from_options(options) as analyzer:
    analyzer.analyze(photos[0])
    out = []
    for p in photos:
        r = analyzer.analyze(p)
        out.append({"total_ms": r.timings_ms["total"], "faces": len(r.faces)})
print(json.dumps(out))
"""


class Unavailable(Exception):
    """Something the benchmark needs is absent (the runner, the photos): the message says what."""


# -- the native build ----------------------------------------------------------------------------


def find_runner(explicit: str | None, build: str | None) -> Path:
    """`--runner`, else `--build` (configured and built there), else facelite-bench's lookup."""
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise Unavailable(f"--runner {explicit}: not an executable file")
        return path
    if build:
        return build_runner(Path(build))
    sys.path.insert(0, str(REPO / "benchmark_app"))
    from facelite_bench.devices.native import find_runner as lookup

    found = lookup()
    if found is None:
        raise Unavailable("facelite-run not found: pass --runner PATH, set FACELITE_RUN, or --build DIR to build "
                          "mobile_bindings/c (see mobile_bindings/README.md)")
    return Path(found)


def build_runner(folder: Path) -> Path:
    import ai_edge_litert

    litert = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    for cmd in (["cmake", "-S", str(REPO / "mobile_bindings" / "c"), "-B", str(folder), f"-DLITERT_LIB={litert}",
                 "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                ["cmake", "--build", str(folder), "--parallel", str(min(4, os.cpu_count() or 1))]):
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed:\n{(p.stdout + p.stderr)[-3000:]}")
    return folder / "facelite-run"


def runner_has_analyze(runner: Path) -> bool:
    """Whether this facelite-run has the face pipeline (`--analyze --input IMAGE`)."""
    p = subprocess.run([str(runner), "--help"], capture_output=True, text=True, timeout=30, check=False)
    return "--analyze" in p.stdout


# -- measuring ------------------------------------------------------------------------------------


def _json_line(text: str, what: str) -> dict | list:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError(f"{what} printed nothing")
    return json.loads(lines[-1])


def _checked(cmd: list[str], what: str, timeout_s: float = 600) -> Finished:
    r = run_measured(cmd, timeout_s, cwd=REPO)
    if r.outcome != "0":
        raise RuntimeError(f"{what} ended with {r.outcome}: {r.stderr.strip()[-1500:]}")
    return r


def native_model(args, runner: Path, bundle: Path, variant: str) -> dict:
    r = _checked([str(runner), str(bundle), "--variant", variant, "--threads", str(args.threads), "--runs",
                  str(args.runs), "--warmup", str(args.warmup), "--json"], f"facelite-run {bundle.name}")
    doc = _json_line(r.stdout, "facelite-run")
    return {"samples_ms": doc["samples_ms"], "peak_rss_mb": doc["peak_rss_mb"], "init_ms": doc["init_ms"],
            "variant": doc["variant"], "accelerator": doc["accelerator"]}


def python_model(args, bundle: Path, variant: str) -> dict:
    r = _checked([sys.executable, "-c", PYTHON_MODEL, str(bundle), variant, str(args.threads), str(args.runs),
                  str(args.warmup)], f"python Engine {bundle.name}")
    return _json_line(r.stdout, "python Engine")


def cold_start_commands(args, runner: Path, bundle: Path, variant: str) -> dict[str, list[str]]:
    threads = str(args.threads)
    return {"native": [str(runner), str(bundle), "--variant", variant, "--threads", threads, "--runs", "0",
                       "--warmup", "0", "--json"],
            "python": [sys.executable, "-c", PYTHON_MODEL, str(bundle), variant, threads, "0", "0"]}


def first_result_ms(cmd: list[str], timeout_s: float = 120) -> float:
    """Milliseconds from starting `cmd` to reading the first line it prints (its first result)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            cwd=REPO)
    line = proc.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1e3
    proc.stdout.read()
    proc.wait(timeout_s)
    if proc.returncode != 0 or not line.strip():
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited {proc.returncode} without a result")
    json.loads(line)
    return elapsed


def photos(data: Path, count: int) -> list[Path]:
    """`count` photos, half ACNE04 and half HELEN: every k-th of each set sorted by path (as the
    pipeline parity test picks them)."""
    chosen = []
    for i, pattern in enumerate(PHOTO_SETS):
        files = sorted(data.glob(pattern))
        want = count // len(PHOTO_SETS) + (i < count % len(PHOTO_SETS))
        if len(files) < want:
            raise Unavailable(f"fewer than {want} photos match {data / pattern}: set FACELITE_DATA or --data")
        chosen += files[:: max(1, len(files) // max(1, want))][:want]
    return chosen


class NativePipeline:
    """The C face pipeline over photos: `facelite-run --analyze` when the runner has it, else the
    build's `tool_analyze` (the same fl_analyzer, one process over many files)."""

    def __init__(self, runner: Path):
        self.has_analyze = runner_has_analyze(runner)
        self.tool = runner.parent / "tool_analyze"
        if self.has_analyze:
            self.how = "facelite-run --analyze"
        elif self.tool.is_file():
            self.how = "tool_analyze (facelite-run has no --analyze yet)"
        else:
            self.how = None
        self.runner = runner

    def command(self, bundles: Path, variant: str, threads: int, files: list[Path]) -> list[str]:
        if self.has_analyze:
            return [str(self.runner), str(bundles), "--analyze", "--skin", "--variant", variant, "--threads",
                    str(threads), "--accelerator", "cpu", "--json",
                    *[a for f in [files[0], *files] for a in ("--input", str(f))]]
        return [str(self.tool), str(bundles), variant, "cpu", str(threads), str(files[0]), *map(str, files)]

    def per_photo(self, stdout: str) -> list[dict]:
        """{total_ms, faces} per photo, the warm-up photo dropped."""
        if self.has_analyze:
            doc = _json_line(stdout, "facelite-run --analyze")
            entries = doc.get("images", [doc])
        else:
            entries = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        out = []
        for entry in entries:
            if "error" in entry:
                raise RuntimeError(f"{self.how}: {entry.get('image') or entry.get('path')}: {entry['error']}")
            result = entry.get("result", entry)
            out.append({"total_ms": result["timings_ms"]["total"], "faces": len(result["faces"])})
        return out[1:]


# -- the benchmark --------------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float | None:
    """a / b rounded, or None when either is missing (0 or NaN)."""
    return round(a / b, 3) if a and b and not math.isnan(a) and not math.isnan(b) else None


def measure_models(args, runner: Path, bundles: list[Path]) -> list[dict]:
    from facelite.bundle import Bundle
    from facelite.engine import choose_variant

    plan = []
    for path in bundles:
        with Bundle.open(path) as b:
            variant = args.variant if args.variant != "auto" else choose_variant(b, "cpu")
        plan.append((path, variant, {"native": [], "python": []}))
    for round_ in range(args.rounds):
        for path, variant, seen in plan:
            sides = ("native", "python") if round_ % 2 == 0 else ("python", "native")
            for side in sides:
                seen[side].append(native_model(args, runner, path, variant) if side == "native"
                                  else python_model(args, path, variant))
        print(f"native: round {round_ + 1}/{args.rounds} of the per-model runs done", file=sys.stderr, flush=True)
    rows = []
    for path, variant, seen in plan:
        row = {"bundle": path.stem, "variant": variant, "threads": args.threads}
        for side in ("native", "python"):
            runs = seen[side]
            row[side] = {"median_ms": round(median([s for r in runs for s in r["samples_ms"]]), 4),
                         "peak_rss_mb": round(median([r["peak_rss_mb"] for r in runs]), 1),
                         "init_ms": round(median([r["init_ms"] for r in runs]), 2),
                         "processes": len(runs)}
        row["latency_ratio"] = ratio(row["native"]["median_ms"], row["python"]["median_ms"])
        row["peak_rss_ratio"] = ratio(row["native"]["peak_rss_mb"], row["python"]["peak_rss_mb"])
        rows.append(row)
    return rows


def measure_cold_start(args, runner: Path, bundle: Path) -> dict:
    from facelite.bundle import Bundle
    from facelite.engine import choose_variant

    with Bundle.open(bundle) as b:
        variant = args.variant if args.variant != "auto" else choose_variant(b, "cpu")
    commands = cold_start_commands(args, runner, bundle, variant)
    for cmd in commands.values():  # files in the page cache, as on a phone that just ran the app
        first_result_ms(cmd)
    samples = {"native": [], "python": []}
    for rep in range(args.cold_reps):
        for side in (("native", "python") if rep % 2 == 0 else ("python", "native")):
            samples[side].append(round(first_result_ms(commands[side]), 2))
    native, python = median(samples["native"]), median(samples["python"])
    return {"bundle": bundle.stem, "variant": variant, "threads": args.threads, "reps": args.cold_reps,
            "native_ms": round(native, 2), "python_ms": round(python, 2), "ratio": ratio(native, python),
            "samples_ms": samples, "target_ms": COLD_START_TARGET_MS, "met": native < COLD_START_TARGET_MS}


def measure_pipeline(args, runner: Path) -> dict:
    pipeline = NativePipeline(runner)
    doc = {"native_via": pipeline.how, "facelite_run_analyze": pipeline.has_analyze,
           "target_speedup": PIPELINE_SPEEDUP_TARGET}
    if not pipeline.has_analyze:
        doc["note"] = "facelite-run has no --analyze (yet)"
    if pipeline.how is None:
        doc.update(available=False, met=None, note="facelite-run has no --analyze and the build has no tool_analyze: "
                                                   "the pipeline was not measured")
        return doc
    files = photos(Path(args.data), args.photos)
    bundles = Path(args.bundles)
    seen = {"native": [], "python": []}
    peaks = {"native": [], "python": []}
    for round_ in range(args.pipeline_rounds):
        for side in (("native", "python") if round_ % 2 == 0 else ("python", "native")):
            if side == "native":
                r = _checked(pipeline.command(bundles, args.variant, args.threads, files), pipeline.how)
                seen[side] += pipeline.per_photo(r.stdout)
            else:
                r = _checked([sys.executable, "-c", PYTHON_PIPELINE, str(bundles), args.variant, str(args.threads),
                              *map(str, files)], "python FaceAnalyzer")
                seen[side] += _json_line(r.stdout, "python FaceAnalyzer")
            peaks[side].append(r.peak_mb)
    native = median([p["total_ms"] for p in seen["native"]])
    python = median([p["total_ms"] for p in seen["python"]])
    same_faces = [n["faces"] for n in seen["native"]] == [p["faces"] for p in seen["python"]]
    speedup = python / native if native else float("nan")
    doc.update(available=True, photos=len(files), rounds=args.pipeline_rounds, variant=args.variant,
               threads=args.threads, native_ms_per_photo=round(native, 2), python_ms_per_photo=round(python, 2),
               latency_ratio=ratio(native, python), speedup=round(speedup, 2),
               native_peak_rss_mb=round(median(peaks["native"]), 1),
               python_peak_rss_mb=round(median(peaks["python"]), 1),
               peak_rss_ratio=ratio(median(peaks["native"]), median(peaks["python"])),
               same_face_counts=same_faces, met=speedup >= PIPELINE_SPEEDUP_TARGET,
               faces=sum(p["faces"] for p in seen["native"]) // max(1, args.pipeline_rounds))
    return doc


def print_text(doc: dict) -> None:
    print(f"facelite-run {doc['runner']} vs Python {doc['python']}; {doc['threads']} threads, CPU, "
          f"{doc['rounds']} alternating rounds of {doc['runs']} timed invokes (+{doc['warmup']} warm-up) per side")
    head = f"{'model':14s} {'variant':8s} {'native ms':>10s} {'python ms':>10s} {'ratio':>6s}  " \
           f"{'native MB':>9s} {'python MB':>9s} {'ratio':>6s}"
    print(head)
    for r in doc["models"]:
        print(f"{r['bundle']:14s} {r['variant']:8s} {r['native']['median_ms']:10.4f} {r['python']['median_ms']:10.4f} "
              f"{r['latency_ratio'] or float('nan'):6.3f}  {r['native']['peak_rss_mb']:9.1f} "
              f"{r['python']['peak_rss_mb']:9.1f} {r['peak_rss_ratio'] or float('nan'):6.3f}")
    c = doc["cold_start"]
    print(f"cold start ({c['bundle']} {c['variant']}, median of {c['reps']}, process start to first result): "
          f"native {c['native_ms']:.1f} ms, python {c['python_ms']:.1f} ms (ratio {c['ratio']}); "
          f"target < {c['target_ms']:.0f} ms: {'met' if c['met'] else 'NOT met'}")
    p = doc["pipeline"]
    if not p.get("available"):
        print(f"pipeline: not measured: {p['note']}")
    else:
        note = f" [{p['note']}]" if p.get("note") else ""
        print(f"pipeline ({p['photos']} photos x {p['rounds']} rounds, variant {p['variant']}, native via "
              f"{p['native_via']}){note}: native {p['native_ms_per_photo']:.2f} ms/photo, python "
              f"{p['python_ms_per_photo']:.2f} ms/photo, speed-up {p['speedup']:.2f}x (target >= "
              f"{p['target_speedup']:.0f}x: {'met' if p['met'] else 'NOT met'}); peak RSS native "
              f"{p['native_peak_rss_mb']:.0f} MB, python {p['python_peak_rss_mb']:.0f} MB (ratio "
              f"{p['peak_rss_ratio']}); same face counts: {p['same_face_counts']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runner", help="facelite-run to measure (default: FACELITE_RUN, PATH, the build folders)")
    p.add_argument("--build", metavar="DIR", help="configure and build mobile_bindings/c in DIR and use it")
    p.add_argument("--bundles", default=str(REPO / "models"), help="folder of <name>/<name>.flb (default: models)")
    p.add_argument("--variant", default="auto", help="variant for every model (default: the CPU choice)")
    p.add_argument("--threads", type=int, default=THREADS, help=f"CPU threads on both sides (default {THREADS})")
    p.add_argument("--rounds", type=int, default=5, help="alternating processes per side and model (default 5)")
    p.add_argument("--runs", type=int, default=50, help="timed invokes per process (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed invokes per process first (default 5)")
    p.add_argument("--cold-bundle", default="expression", help="the bundle of the cold start (default expression)")
    p.add_argument("--cold-reps", type=int, default=10, help="cold starts per side (default 10)")
    p.add_argument("--photos", type=int, default=20, help="pipeline photos, half ACNE04, half HELEN (default 20)")
    p.add_argument("--pipeline-rounds", type=int, default=3, help="alternating pipeline processes per side")
    p.add_argument("--data", default=os.environ.get("FACELITE_DATA") or str(REPO.parent / "shared" / "data"),
                   help="the shared data folder (FACELITE_DATA)")
    p.add_argument("--skip-pipeline", action="store_true", help="models and cold start only")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    args = p.parse_args(argv)
    try:
        runner = find_runner(args.runner, args.build)
        bundles = sorted(Path(args.bundles).glob("*/*.flb"))
        if not bundles:
            raise Unavailable(f"no <name>/<name>.flb bundles under {args.bundles}")
        cold = Path(args.bundles) / args.cold_bundle / f"{args.cold_bundle}.flb"
        if not cold.is_file():
            raise Unavailable(f"--cold-bundle {args.cold_bundle}: no {cold}")
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.monotonic()
    doc = {"runner": str(runner), "python": sys.executable, "threads": args.threads, "rounds": args.rounds,
           "runs": args.runs, "warmup": args.warmup, "accelerator": "cpu",
           "models": measure_models(args, runner, bundles),
           "cold_start": measure_cold_start(args, runner, cold)}
    if args.skip_pipeline:
        doc["pipeline"] = {"available": False, "met": None, "note": "skipped (--skip-pipeline)"}
    else:
        try:
            doc["pipeline"] = measure_pipeline(args, runner)
        except Unavailable as exc:
            doc["pipeline"] = {"available": False, "met": None, "note": str(exc)}
    doc["targets"] = {"pipeline_speedup_at_least_2x": doc["pipeline"].get("met"),
                      "cold_start_under_50_ms": doc["cold_start"]["met"]}
    doc["wall_s"] = round(time.monotonic() - start, 1)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print_text(doc)
    return 0 if all(v is not False for v in doc["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
