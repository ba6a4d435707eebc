"""The job queue: validation of a submission, the server-side worker, leases and requeue.

A job is bundle × variant × device × accelerator × threads × runs (× warm-up, data).
`local`, `native` and `adb:*` jobs are run by the server's own worker thread, one at a
time (a device measured by two jobs at once measures neither). `agent:*` jobs wait for
that agent to poll. Every running job holds a lease its runner renews by heart-beating;
when a lease expires (agent died, network gone) the job is re-queued, and after
`max_attempts` expiries it fails. Jobs the previous server process was running when it
stopped are re-queued at start.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Iterable

from facelite.engine import ACCELERATORS
from facelite.errors import UserError

from .devices import DeviceError, JobSpec, is_agent, resolve
from .store import Store

log = logging.getLogger("facelite_bench.jobs")
SERVER_OWNER_PREFIX = "server:"


class SubmitError(UserError):
    """A job submission (or a job's data folder) this server refuses; `field` names the culprit."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


SUBMISSION_FIELDS = ("bundle", "device", "variant", "accelerator", "threads", "runs", "warmup", "data_dir")
_DEVICE_ID = re.compile(r"[A-Za-z0-9:._-]{1,128}")
_MAX_PATH = 4096


def data_roots_from(configured: Iterable[str] | None) -> tuple[Path, ...]:
    """The folders job data may come from: `configured` (`--data-root`), else $FACELITE_DATA
    if set, else none (every data folder refused). Symlinks resolved."""
    if configured is None:
        env = os.environ.get("FACELITE_DATA")
        configured = [env] if env else []
    return tuple(Path(os.path.realpath(r)) for r in configured)


def check_data_dir(path: str, roots: Iterable[Path], who: str = "server") -> str:
    """`path` with symlinks resolved, if that lies under one of `roots`; SubmitError otherwise.

    The answer depends only on the path and the roots, never on what the folder holds, so
    it leaks nothing about folders outside the roots (not even whether they exist)."""
    roots = tuple(roots)
    option = f"facelite-bench {'serve' if who == 'server' else who} --data-root DIR"
    if not roots:
        raise SubmitError(f"data_dir: this {who} has no data root, so jobs cannot read data folders; "
                          f"start it with {option}", "data_dir")
    if not os.path.isabs(path):
        raise SubmitError(f"data_dir '{path}': give an absolute path to a folder under a data root", "data_dir")
    real = Path(os.path.realpath(path))
    if not any(real.is_relative_to(root) for root in roots):
        raise SubmitError(f"data_dir '{path}' is not under a data root of this {who} "
                          f"({', '.join(map(str, roots))}; set with {option})", "data_dir")
    if not real.is_dir():
        raise SubmitError(f"data_dir '{path}': no such folder (expected DIR/<label>/<image>)", "data_dir")
    return str(real)


def _text(body: dict, name: str, max_len: int) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SubmitError(f"{name}: expected a string, got {type(value).__name__}", name)
    if len(value) > max_len:
        raise SubmitError(f"{name}: longer than {max_len} characters", name)
    if "\0" in value:
        raise SubmitError(f"{name}: contains a NUL character", name)
    return value


def _whole(body: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = body.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SubmitError(f"{name} {json.dumps(value)[:40]} is not a whole number", name)
    if not lo <= value <= hi:
        raise SubmitError(f"{name} {str(value)[:40]} is outside {lo}..{hi}", name)
    return value


def validate_submission(store: Store, body: dict, roots: Iterable[Path] = ()) -> dict:
    """Request JSON (or the UI's form) → normalised job fields; SubmitError naming the bad field.

    A data folder must lie under one of `roots` (see `check_data_dir`) for jobs this
    server runs; an agent checks a folder on its own machine against its own roots."""
    if not isinstance(body, dict):
        raise SubmitError("job: expected a JSON object", "body")
    for name in body:
        if name not in SUBMISSION_FIELDS:
            raise SubmitError(f"{str(name)[:40]}: not a job field; a job takes {', '.join(SUBMISSION_FIELDS)}",
                              str(name)[:40])
    sha = _text(body, "bundle", 64) or ""
    bundle = store.get_bundle(sha) or (store.find_bundle(sha) if len(sha) >= 8 else None)
    if not bundle:
        raise SubmitError(f"bundle '{sha}': not on this server; upload it first (POST /api/bundles)", "bundle")
    device = _text(body, "device", 128) or ""
    if not _DEVICE_ID.fullmatch(device):
        raise SubmitError(f"device '{device}': unknown device; use local, native, adb:SERIAL or agent:NAME",
                          "device")
    try:
        resolve(device)  # an unknown form is a DeviceError
    except DeviceError as exc:
        raise SubmitError(str(exc), "device") from None
    variant = _text(body, "variant", 32)
    if variant and variant not in bundle["variants"]:
        raise SubmitError(f"variant '{variant}': bundle '{bundle['name']}' has {', '.join(bundle['variants'])}",
                          "variant")
    accelerator = _text(body, "accelerator", 16) or "cpu"
    if accelerator not in ACCELERATORS:
        raise SubmitError(f"accelerator '{accelerator}' is not one of {', '.join(ACCELERATORS)}", "accelerator")
    data_dir = _text(body, "data_dir", _MAX_PATH)
    if data_dir and not is_agent(device):
        data_dir = check_data_dir(data_dir, roots)
    elif data_dir and not os.path.isabs(data_dir):
        raise SubmitError(f"data_dir '{data_dir}': give an absolute path on the agent's machine", "data_dir")
    return {
        "bundle_sha256": bundle["sha256"], "device": device, "variant": variant,
        "accelerator": accelerator, "threads": _whole(body, "threads", 1, 1, 64),
        "runs": _whole(body, "runs", 50, 1, 100_000), "warmup": _whole(body, "warmup", 5, 0, 10_000),
        "data_dir": data_dir,
    }


def spec_of(job: dict) -> JobSpec:
    return JobSpec(variant=job["variant"], accelerator=job["accelerator"], threads=job["threads"],
                   runs=job["runs"], warmup=job["warmup"], data_dir=job["data_dir"])


class Worker(threading.Thread):
    """Runs non-agent jobs in the server process and re-queues expired leases."""

    def __init__(self, store: Store, lease_s: float = 30.0, max_attempts: int = 3,
                 adb_path: str | None = None, poll_s: float = 0.25, data_roots: Iterable[str] = ()):
        super().__init__(name="facelite-bench-worker", daemon=True)
        self.store, self.lease_s, self.max_attempts = store, lease_s, max_attempts
        self.data_roots = data_roots_from(data_roots)
        self.adb_path, self.poll_s = adb_path, poll_s
        self.owner = f"{SERVER_OWNER_PREFIX}{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.wake = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                n = self.store.requeue_expired(self.max_attempts)
                if n:
                    log.warning("re-queued %d job(s) whose lease expired", n)
                job = self.store.claim_job(self.owner, self.lease_s, exclude_agents=True)
            except Exception:  # noqa: BLE001 - keep the worker alive; log and retry
                log.exception("worker loop")
                job = None
            if job is None:
                self.wake.wait(self.poll_s)
                self.wake.clear()
                continue
            self.execute(job)

    def execute(self, job: dict) -> None:
        bundle = self.store.get_bundle(job["bundle_sha256"])
        last = [0.0]

        def progress(frac: float, stage: str) -> None:
            if time.monotonic() - last[0] > 0.3 or frac >= 1.0:
                last[0] = time.monotonic()
                self.store.heartbeat(job["id"], self.owner, self.lease_s, round(frac, 4), stage)

        stop_beat = threading.Event()

        def beat():  # keeps the lease while a runner is silent (e.g. a long init)
            while not stop_beat.wait(self.lease_s / 3):
                self.store.heartbeat(job["id"], self.owner, self.lease_s)

        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        try:
            spec = spec_of(job)
            if spec.data_dir:  # checked again: the roots or a symlink may have changed since submission
                spec = dataclasses.replace(spec, data_dir=check_data_dir(spec.data_dir, self.data_roots))
            device = resolve(job["device"], adb_path=self.adb_path)
            result = device.run(bundle["path"], spec, progress)
            result["bundle_sha256"] = bundle["sha256"]
            self.store.finish_job(job["id"], self.owner, result)
        except (UserError, DeviceError) as exc:
            self.store.fail_job(job["id"], self.owner, str(exc), "user")
        except Exception as exc:  # noqa: BLE001 - recorded on the job
            log.exception("job %s", job["id"])
            self.store.fail_job(job["id"], self.owner, f"{type(exc).__name__}: {exc}", "error")
        finally:
            stop_beat.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()


def is_agent_job(job: dict) -> bool:
    return is_agent(job["device"])
