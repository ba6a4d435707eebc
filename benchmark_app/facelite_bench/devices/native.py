"""`native`: the C runner `facelite-run` from mobile_bindings, on this machine.

Found through `$FACELITE_RUN`, then `facelite-run` on PATH, then the build folders of a
checkout (`mobile_bindings/build/`, `mobile_bindings/c/build/`; build with
`cmake -S mobile_bindings/c -B mobile_bindings/build && cmake --build mobile_bindings/build`,
see mobile_bindings/README.md). It prints the Python reference runner's latency keys and,
with `--golden`, `golden: {n, max_abs_err, mismatches, top1_agreement, psnr_db, ok, ...}`:
the chosen variant against its own golden outputs, which become the result's parity
figures. The native runner does not score a labelled folder: a job's `--data` gives no
accuracy here (use `--device local` for that).

Example:

    >>> from facelite_bench.devices.native import golden_to_parity
    >>> golden_to_parity({"golden": {"n": 8, "max_abs_err": 1e-6, "mismatches": 0, "top1_agreement": 1.0,
    ...                              "psnr_db": 120.5, "ok": True}})["top1_agreement"]
    1.0
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .base import Device, DeviceError, JobSpec, Progress, run_streaming

REPO = Path(__file__).resolve().parents[3]
BUILD_DIRS = (REPO / "mobile_bindings" / "build", REPO / "mobile_bindings" / "c" / "build")
RUNNER = "facelite-run"


def find_runner() -> str | None:
    """The facelite-run to use: $FACELITE_RUN, PATH, then a checkout's build folders (None if none)."""
    env = os.environ.get("FACELITE_RUN")
    if env and os.path.isfile(env) and os.access(env, os.X_OK):
        return env
    on_path = shutil.which(RUNNER)
    if on_path:
        return on_path
    for folder in BUILD_DIRS:
        built = folder / RUNNER
        if built.is_file() and os.access(built, os.X_OK):
            return str(built)
    return None


def golden_to_parity(res: dict) -> dict:
    """The bench's `parity` block from the runner's `golden` block (golden replay, no labelled data)."""
    g = res.get("golden") or {}
    return {"top1_agreement": g.get("top1_agreement"), "psnr_db": g.get("psnr_db"),
            "max_abs_err": g.get("max_abs_err"), "accuracy": None, "n_golden": g.get("n"),
            "golden_mismatches": g.get("mismatches"), "golden_ok": g.get("ok"), "golden_against": g.get("against")}


class NativeDevice(Device):
    kind = "native"

    def __init__(self, device_id: str = "native", timeout: float = 1800):
        super().__init__(device_id)
        self.timeout = timeout
        self.path = find_runner()

    def describe(self):
        if not self.path:
            return {"id": self.id, "kind": self.kind, "status": "not built", "info": {
                "hint": "build mobile_bindings/c (facelite-run, see mobile_bindings/README.md), put it on PATH "
                        "or set FACELITE_RUN; looked in " + ", ".join(str(d) for d in BUILD_DIRS)}}
        return {"id": self.id, "kind": self.kind, "status": "ready", "info": {"runner": self.path}}

    def command(self, bundle_path: str, spec: JobSpec) -> list[str]:
        return [self.path, bundle_path, *spec.runner_args(), "--golden", "--progress", "--json"]

    def run(self, bundle_path, spec: JobSpec, progress: Progress | None = None):
        if not self.path:
            raise DeviceError("native: facelite-run is not built; build mobile_bindings/c first "
                              "(see mobile_bindings/README.md) or use --device local")
        res = run_streaming(self.command(bundle_path, spec), progress, self.timeout, self.id)
        res["parity"] = golden_to_parity(res)
        res.setdefault("runner", RUNNER)
        res["device"] = self.id
        return res
