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

import logging
import os
import threading
import time
import uuid

from facelite.engine import ACCELERATORS
from facelite.errors import UserError

from .devices import DeviceError, JobSpec, is_agent, resolve
from .store import Store

log = logging.getLogger("facelite_bench.jobs")
SERVER_OWNER_PREFIX = "server:"


class SubmitError(UserError):
    pass


def validate_submission(store: Store, body: dict) -> dict:
    """Request JSON → normalised job fields; SubmitError naming the bad field otherwise."""
    if not isinstance(body, dict):
        raise SubmitError("job: expected a JSON object")
    sha = str(body.get("bundle") or "")
    bundle = store.get_bundle(sha) or (store.find_bundle(sha) if len(sha) >= 8 else None)
    if not bundle:
        raise SubmitError(f"bundle '{sha}': not on this server; upload it first (POST /api/bundles)")
    device = str(body.get("device") or "")
    resolve(device)  # raises DeviceError for an unknown form
    variant = body.get("variant") or None
    if variant and variant not in bundle["variants"]:
        raise SubmitError(f"variant '{variant}': bundle '{bundle['name']}' has {', '.join(bundle['variants'])}")
    accelerator = body.get("accelerator") or "cpu"
    if accelerator not in ACCELERATORS:
        raise SubmitError(f"accelerator '{accelerator}' is not one of {', '.join(ACCELERATORS)}")

    def int_field(name, default, lo, hi):
        try:
            v = int(body.get(name, default))
        except (TypeError, ValueError):
            raise SubmitError(f"{name} '{body.get(name)}' is not a whole number") from None
        if not lo <= v <= hi:
            raise SubmitError(f"{name} {v} is outside {lo}..{hi}")
        return v

    return {
        "bundle_sha256": bundle["sha256"], "device": device, "variant": variant,
        "accelerator": accelerator, "threads": int_field("threads", 1, 1, 64),
        "runs": int_field("runs", 50, 1, 100_000), "warmup": int_field("warmup", 5, 0, 10_000),
        "data_dir": body.get("data_dir") or None,
    }


def spec_of(job: dict) -> JobSpec:
    return JobSpec(variant=job["variant"], accelerator=job["accelerator"], threads=job["threads"],
                   runs=job["runs"], warmup=job["warmup"], data_dir=job["data_dir"])


class Worker(threading.Thread):
    """Runs non-agent jobs in the server process and re-queues expired leases."""

    def __init__(self, store: Store, lease_s: float = 30.0, max_attempts: int = 3,
                 adb_path: str | None = None, poll_s: float = 0.25):
        super().__init__(name="facelite-bench-worker", daemon=True)
        self.store, self.lease_s, self.max_attempts = store, lease_s, max_attempts
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
            device = resolve(job["device"], adb_path=self.adb_path)
            result = device.run(bundle["path"], spec_of(job), progress)
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
