"""What every device offers: describe itself, and run one job spec on one bundle."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable

from facelite.errors import UserError

Progress = Callable[[float, str], None]


class DeviceError(UserError):
    """A device is missing, not built, offline or its runner failed (message says which)."""


@dataclass
class JobSpec:
    variant: str | None = None
    accelerator: str = "cpu"
    threads: int = 1
    runs: int = 50
    warmup: int = 5
    data_dir: str | None = None

    def runner_args(self) -> list[str]:
        a = ["--runs", str(self.runs), "--warmup", str(self.warmup), "--threads", str(self.threads),
             "--accelerator", self.accelerator]
        if self.variant:
            a = ["--variant", self.variant] + a
        return a

    def to_dict(self) -> dict:
        return asdict(self)


class Device:
    kind = "?"

    def __init__(self, device_id: str):
        self.id = device_id

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": "ready", "info": {}}

    def run(self, bundle_path: str, spec: JobSpec, progress: Progress | None = None) -> dict:
        raise NotImplementedError


def run_streaming(cmd: list[str], progress: Progress | None, timeout: float, what: str,
                  env: dict | None = None) -> dict:
    """Run a runner command; relay its `progress D T STAGE` stderr lines; parse stdout JSON."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    err_tail: list[str] = []

    def pump():
        for line in proc.stderr:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "progress":
                try:
                    done, total = float(parts[1]), float(parts[2])
                except ValueError:
                    continue
                stage = parts[3] if len(parts) > 3 else ""
                if progress and total:
                    # timing is 90 % of a job, parity the rest
                    frac = done / total
                    progress(0.9 * frac if stage == "timing" else 0.9 + 0.1 * frac, stage)
            else:
                err_tail.append(line.rstrip())
                del err_tail[:-40]

    # stderr belongs to `pump` alone: `communicate()` would read it too and race the pump
    # for the progress lines (a fast run then showed no progress at all)
    stdout: list[str] = []

    def read_stdout():
        for line in proc.stdout:  # line by line: what arrived counts even if a daemon child keeps the pipe
            stdout.append(line)

    readers = [threading.Thread(target=pump, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise DeviceError(f"{what}: runner timed out after {timeout:.0f}s; lower --runs or check the device")
    finally:
        for r in readers:
            r.join(5)
    out = "".join(stdout)
    doc = None
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                doc = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    if doc is None:
        tail = "\n".join(err_tail[-10:])
        raise RuntimeError(f"{what}: runner exited {proc.returncode} without a JSON result\n{tail}")
    if "error" in doc and proc.returncode != 0:
        if proc.returncode == 2 or doc.get("kind") == "user":
            raise DeviceError(f"{what}: {doc['error']}")
        raise RuntimeError(f"{what}: {doc['error']}")
    return doc
