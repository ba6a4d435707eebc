"""The agent: `facelite-bench agent --server URL --token T [--name NAME]`.

Runs on another machine. Polls the server for jobs addressed to `agent:NAME`, downloads
the bundle (cached by sha256), runs the job with the reference runtime in a subprocess
(`local` device), heart-beats its lease while the job runs, and posts the result. If it
dies mid-job the lease lapses and the server re-queues the job. Connection errors (a
restarting server) are retried with back-off; a 401 stops it with a user error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import platform
import socket
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Iterable

from facelite.errors import UserError

from .client import ApiError, Client
from .devices.local import LocalDevice
from .jobs import check_data_dir, data_roots_from, spec_of

log = logging.getLogger("facelite_bench.agent")


class Agent:
    def __init__(self, server: str, token: str, name: str | None = None, cache: str | None = None,
                 poll_s: float = 1.0, data_roots: Iterable[str] | None = None):
        self.client = Client(server, token)
        self.name = name or socket.gethostname().split(".")[0]
        self.instance = uuid.uuid4().hex[:8]
        self.cache = Path(cache or Path.home() / ".cache" / "facelite-bench" / "agent")
        self.cache.mkdir(parents=True, exist_ok=True)
        self.poll_s = poll_s
        self.data_roots = data_roots_from(data_roots)
        self.device = LocalDevice(f"agent:{self.name}")
        self.info = dict(self.device.describe()["info"], host=platform.node(), pid=os.getpid())

    def _body(self, **kw) -> dict:
        return {"name": self.name, "instance": self.instance, **kw}

    def bundle_path(self, sha: str) -> Path:
        path = self.cache / f"{sha}.flb"
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
            return path
        data = self.client.request("GET", f"/api/agent/bundles/{sha}", raw=True)
        if hashlib.sha256(data).hexdigest() != sha:
            raise RuntimeError(f"bundle {sha[:12]}: download does not match its sha256")
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def poll_once(self) -> bool:
        """Take and run one job; False when there was none."""
        status, doc = self.client.request("POST", "/api/agent/poll", self._body(info=self.info))
        if status == 204 or not doc:
            return False
        job, lease_s = doc["job"], float(doc.get("lease_s", 30))
        log.info("job %s: %s %s runs=%s", job["id"], job["bundle_sha256"][:12], job["variant"], job["runs"])
        lost = threading.Event()
        stop = threading.Event()
        state = {"progress": 0.0, "stage": "starting"}

        def beat():
            while not stop.wait(max(0.2, lease_s / 3)):
                try:
                    self.client.request("POST", f"/api/agent/jobs/{job['id']}/progress", self._body(**state))
                except ApiError as exc:
                    if exc.status == 409:
                        lost.set()
                        return
                except OSError:
                    pass  # server briefly unreachable: keep trying until the lease would lapse

        def progress(frac: float, stage: str) -> None:
            state.update(progress=round(frac, 4), stage=stage)

        t = threading.Thread(target=beat, daemon=True)
        t.start()
        try:
            spec = spec_of(job)
            if spec.data_dir:
                spec = dataclasses.replace(spec, data_dir=check_data_dir(spec.data_dir, self.data_roots, "agent"))
            path = self.bundle_path(job["bundle_sha256"])
            result = self.device.run(str(path), spec, progress)
            result["bundle_sha256"] = job["bundle_sha256"]
            result["agent"] = {"name": self.name, "instance": self.instance, **self.info}
            body = self._body(result=result)
        except UserError as exc:
            body = self._body(error=str(exc), kind="user")
        except Exception as exc:  # noqa: BLE001 - reported to the server
            body = self._body(error=f"{type(exc).__name__}: {exc}", kind="error")
        finally:
            stop.set()
        if lost.is_set():
            log.warning("job %s was re-queued while running; dropping its result", job["id"])
            return True
        for attempt in range(10):
            try:
                self.client.request("POST", f"/api/agent/jobs/{job['id']}/result", body)
                break
            except ApiError as exc:
                log.warning("job %s: server refused the result: %s", job["id"], exc)
                if exc.status != 400 or "result" not in body:
                    break
                # end the job as failed rather than leave it to lapse and be re-run
                body = self._body(error=f"the server refused this agent's result: {exc.message}", kind="error")
            except OSError:
                time.sleep(min(5, 0.5 * 2 ** attempt))
        return True

    def serve_forever(self, max_jobs: int | None = None, idle_exit_s: float | None = None) -> int:
        done = 0
        backoff = self.poll_s
        idle_since = time.monotonic()
        while max_jobs is None or done < max_jobs:
            try:
                if self.poll_once():
                    done += 1
                    backoff = self.poll_s
                    idle_since = time.monotonic()
                    continue
                backoff = self.poll_s
            except ApiError as exc:
                if exc.status == 401:
                    raise UserError(f"{self.client.server}: {exc.message}") from None
                log.warning("poll: %s", exc)
                backoff = min(10.0, backoff * 2)
            except OSError as exc:
                log.warning("server unreachable (%s); retrying in %.1fs", exc, backoff)
                backoff = min(10.0, backoff * 2)
            if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                break
            time.sleep(backoff)
        return done
