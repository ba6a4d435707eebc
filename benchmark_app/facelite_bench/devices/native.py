"""`native`: the C runner `facelite-run` from mobile_bindings, when it has been built.

Looked for on PATH, then at `mobile_bindings/build/facelite-run` (repo checkout) or
$FACELITE_RUN. It prints the same latency keys plus `golden: {max_abs_err, mismatches}`;
the golden block becomes the result's parity figures.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .base import Device, DeviceError, JobSpec, Progress, run_streaming

REPO = Path(__file__).resolve().parents[3]


def find_runner() -> str | None:
    env = os.environ.get("FACELITE_RUN")
    if env and os.access(env, os.X_OK):
        return env
    on_path = shutil.which("facelite-run")
    if on_path:
        return on_path
    built = REPO / "mobile_bindings" / "build" / "facelite-run"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    return None


def golden_to_parity(res: dict) -> dict:
    g = res.get("golden") or {}
    n = g.get("count") or g.get("n")
    mism = g.get("mismatches")
    agree = None
    if n and mism is not None:
        agree = round(1 - mism / n, 4)
    return {"top1_agreement": agree, "psnr_db": g.get("psnr_db"), "max_abs_err": g.get("max_abs_err"),
            "accuracy": None, "golden_mismatches": mism}


class NativeDevice(Device):
    kind = "native"

    def __init__(self, device_id: str = "native", timeout: float = 1800):
        super().__init__(device_id)
        self.timeout = timeout
        self.path = find_runner()

    def describe(self):
        if not self.path:
            return {"id": self.id, "kind": self.kind, "status": "not built", "info": {
                "hint": "build mobile_bindings (facelite-run) or put it on PATH; looked on PATH "
                        "and at mobile_bindings/build/facelite-run"}}
        return {"id": self.id, "kind": self.kind, "status": "ready", "info": {"runner": self.path}}

    def run(self, bundle_path, spec: JobSpec, progress: Progress | None = None):
        if not self.path:
            raise DeviceError("native: facelite-run is not built; build mobile_bindings first "
                              "(or use --device local)")
        cmd = [self.path, bundle_path, *spec.runner_args(), "--golden", "--json"]
        res = run_streaming(cmd, progress, self.timeout, self.id)
        if "parity" not in res:
            res["parity"] = golden_to_parity(res)
        res.setdefault("runner", "facelite-run")
        res["device"] = self.id
        return res
