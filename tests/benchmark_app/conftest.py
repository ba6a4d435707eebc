"""Fixtures for the benchmark_app tests: a tiny real bundle, a labelled image folder,
and helpers to start a real server / agent on loopback.

The tiny bundle is a real tf-keras conv net (4 pattern classes on 32x32 grey images),
trained for a few seconds, converted to fp32 and full-int8 .tflite and written with
`facelite.bundle.write_bundle` together with golden vectors. If the shipped
`models/expression/expression.flb` exists it is used as well by the tests that
only need *a* bundle (set FACELITE_BENCH_TEST_BUNDLE to force a path).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
LABELS = ["blank", "horizontal", "vertical", "checker"]
SIZE = 32


def pattern_image(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A BGR uint8 image of one of the four pattern classes, with noise and phase jitter."""
    yy, xx = np.mgrid[0:size, 0:size]
    period = rng.integers(6, 12)
    phase = rng.integers(0, period)
    if label == 0:
        base = np.full((size, size), rng.uniform(60, 190))
    elif label == 1:
        base = 200.0 * (((yy + phase) // (period // 2)) % 2)
    elif label == 2:
        base = 200.0 * (((xx + phase) // (period // 2)) % 2)
    else:
        base = 200.0 * ((((yy + phase) // (period // 2)) + ((xx + phase) // (period // 2))) % 2)
    img = np.clip(base + 25 + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def write_labelled_folder(root: Path, per_class: int = 6, seed: int = 7) -> Path:
    """DIR/<label>/<n>.png, the layout `--data` takes."""
    rng = np.random.default_rng(seed)
    for i, label in enumerate(LABELS):
        (root / label).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            cv2.imwrite(str(root / label / f"{n}.png"), pattern_image(i, rng))
    return root


def build_tiny_bundle(out_dir: Path) -> Path:
    """Train + convert a tiny classifier and write `tiny.flb` (fp32 + int8) into out_dir."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf_keras as keras
    from ai_edge_litert.interpreter import Interpreter

    from facelite.bundle import InputSpec, write_bundle
    from facelite.preprocess import preprocess

    tf.random.set_seed(0)
    spec = InputSpec((1, SIZE, SIZE, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(LABELS), 320)
    x = np.stack([preprocess(pattern_image(int(l), rng), spec) for l in labels])
    model = keras.Sequential([
        keras.layers.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(len(LABELS), activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=10, batch_size=32, verbose=0)

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    fp32 = conv.convert()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(100))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    int8 = conv.convert()

    golden_in = x[:16].astype(np.float32)
    interp = Interpreter(model_content=fp32)
    interp.allocate_tensors()
    golden_out = []
    for row in golden_in:
        interp.set_tensor(interp.get_input_details()[0]["index"], row[None])
        interp.invoke()
        golden_out.append(interp.get_tensor(interp.get_output_details()[0]["index"])[0])
    manifest = {
        "name": "tiny", "version": "0.0.1", "task": "classification", "labels": LABELS,
        "input": spec.to_manifest(), "output": {"kind": "probabilities"},
        "variants": {
            "fp32": {"target": "cpu", "input_dtype": "float32", "output_dtype": "float32",
                     "compatibility": {"gpu": {"ok": True}, "npu": {"ok": False}}},
            "int8": {"target": "npu", "input_dtype": "int8", "output_dtype": "int8",
                     "compatibility": {"gpu": {"ok": False}, "npu": {"ok": True}}},
        },
    }
    return write_bundle(out_dir / "tiny.flb", manifest, {"fp32": fp32, "int8": int8},
                        golden_in, np.stack(golden_out).astype(np.float32))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    forced = os.environ.get("FACELITE_BENCH_TEST_BUNDLE")
    if forced:
        return Path(forced)
    cache = os.environ.get("FACELITE_BENCH_TEST_CACHE")  # reuse between local runs
    if cache and (Path(cache) / "tiny.flb").exists():
        return Path(cache) / "tiny.flb"
    out = Path(cache) if cache else tmp_path_factory.mktemp("bundle")
    return build_tiny_bundle(out)


@pytest.fixture(scope="session")
def labelled_dir(tmp_path_factory) -> Path:
    return write_labelled_folder(tmp_path_factory.mktemp("data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
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
