"""Fixtures for the benchmark_app tests: a tiny real bundle, a labelled image folder,
and helpers to start a real server / agent on loopback.

The tiny bundle is a real tf-keras conv net (4 pattern classes on 32x32 grey images),
converted to fp32 and full-int8 .tflite with golden vectors; it is committed as
tests/fixtures/bundles/tiny.flb (written by `fixture_bundles.build_pattern_classifier`
through scripts/make_fixture_bundles.py), so these tests need no TensorFlow. They never
use a shipped bundle; set FACELITE_BENCH_TEST_BUNDLE to force another path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fixture_bundles import fixture_bundle, write_labelled_folder


@pytest.fixture(scope="session")
def tiny_bundle() -> Path:
    forced = os.environ.get("FACELITE_BENCH_TEST_BUNDLE")
    return Path(forced) if forced else fixture_bundle("tiny")


@pytest.fixture(scope="session")
def labelled_dir(tmp_path_factory) -> Path:
    return write_labelled_folder(tmp_path_factory.mktemp("data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Poll until `url` answers 200; the deadline only bounds a hung start (slow CI is fine)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up in {timeout}s: {last}")


class ServerProcess:
    """`facelite-bench serve` as a real subprocess on 127.0.0.1."""

    def __init__(self, db: Path, token: str = "test-token", extra: list[str] | None = None,
                 env: dict | None = None):
        self.db, self.token, self.extra, self.env = db, token, extra or [], env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        # adb discovery goes to the host-emulated adb, so no real adb daemon is left behind
        env = dict(os.environ, FACELITE_BENCH_TOKEN=self.token,
                   FACELITE_BENCH_ADB=str(Path(__file__).parent / "host_emulated_adb" / "adb"),
                   HOST_EMULATED_ADB_ROOT=str(self.db.parent / "adb-device"), **self.env)
        self.log = open(self.db.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facelite_bench.cli", "serve", "--port", str(self.port),
             "--db", str(self.db), *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_http(self.url + "/api/health")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def server_factory(tmp_path):
    started: list[ServerProcess] = []

    def make(db: Path | None = None, **kw) -> ServerProcess:
        srv = ServerProcess(db or tmp_path / "bench.db", **kw).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
