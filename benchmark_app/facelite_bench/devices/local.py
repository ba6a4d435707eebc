"""`local`: the reference Python runtime on this machine, in a fresh subprocess per job
(so peak RSS is the job's own, and a crash cannot take the server down)."""

from __future__ import annotations

import os
import platform
import sys

from .base import Device, JobSpec, Progress, run_streaming


class LocalDevice(Device):
    kind = "local"

    def __init__(self, device_id: str = "local", timeout: float = 1800):
        super().__init__(device_id)
        self.timeout = timeout

    def describe(self):
        info = {"machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
                "python": platform.python_version(), "cpus": os.cpu_count(),
                "processor": _cpu_model()}
        return {"id": self.id, "kind": self.kind, "status": "ready", "info": info,
                "name": f"this host ({platform.node()})"}

    def command(self, bundle_path: str, spec: JobSpec) -> list[str]:
        cmd = [sys.executable, "-m", "facelite_bench.device_runner", bundle_path, *spec.runner_args(), "--json"]
        if spec.data_dir:
            cmd += ["--data", spec.data_dir]
        return cmd

    def run(self, bundle_path, spec, progress: Progress | None = None):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        res = run_streaming(self.command(bundle_path, spec), progress, self.timeout, self.id, env)
        res["device"] = self.id
        return res


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
