"""The reference runner: one bundle × variant measured in its own process, JSON on stdout.

    python -m facelite_bench.device_runner BUNDLE --variant int8 --runs 100 --json

It is what the `local` device starts, what an agent runs, and what a host-emulated adb
device gets pushed (wrapped in a shell script). A real phone gets the native C runner
`facelite-run` instead, which prints the same keys. Progress goes to stderr as lines
`progress DONE TOTAL STAGE` so a parent can show it; the result JSON is the only stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _progress(done: int, total: int, stage: str) -> None:
    print(f"progress {done} {total} {stage}", file=sys.stderr, flush=True)


def run(bundle_path: str, variant: str | None, runs: int, warmup: int, threads: int,
        accelerator: str, data_dir: str | None, progress=_progress) -> dict:
    from facelite.bundle import Bundle

    from . import measure, parity

    t_start = time.perf_counter()
    bundle = Bundle.open(bundle_path)
    result, loaded = measure.benchmark(bundle, variant, accelerator, threads, runs, warmup, progress)
    progress(0, 1, "parity")
    fp32_predict = None
    if data_dir and "fp32" in bundle.variants:
        fp32_predict = (loaded.predict if loaded.variant == "fp32"
                        else measure.load(bundle, "fp32", "cpu", threads).predict)
    result["parity"] = parity.parity(bundle, loaded.predict, fp32_predict, data_dir)
    progress(1, 1, "parity")
    result.update({
        "bundle": bundle.name,
        "runner": "python-reference",
        "wall_s": round(time.perf_counter() - t_start, 3),
    })
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="facelite_bench.device_runner")
    p.add_argument("bundle")
    p.add_argument("--variant")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--data")
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from facelite.errors import UserError

    try:
        result = run(a.bundle, a.variant, a.runs, a.warmup, a.threads, a.accelerator, a.data)
    except UserError as exc:
        print(json.dumps({"error": str(exc), "kind": "user"}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
