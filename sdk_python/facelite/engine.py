"""One bundle variant running on LiteRT: variant choice, accelerator fallback, batching.

Why a class of its own: every task (classify, detect, landmarks, evaluate, verify)
needs the same four things done the same way — pick the variant that suits the
accelerator, load its sha256-checked bytes, convert float inputs to the tensor's
quantized dtype and back, and reuse one interpreter across calls.

Accelerators: `gpu`/`npu` are tried through LiteRT's `CompiledModel`; when that fails
(no GPU/NPU runtime on this host, unsupported ops) the engine falls back to the CPU
interpreter and says why in `engine.info.fallback_reason`. `auto` tries NPU, then GPU,
then CPU, only with variants the build's compatibility gate marked as supported.

Example:

    >>> from facelite.bundle import Bundle
    >>> from facelite.engine import Engine
    >>> eng = Engine(Bundle.open("models/expression/expression.flb"), accelerator="cpu")  # doctest: +SKIP
    >>> eng.info.variant, eng.info.accelerator                                  # doctest: +SKIP
    ('fp32', 'cpu')
    >>> probs = eng.run(x)[0]        # x: float32 (N, H, W, C) from facelite.preprocess  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .bundle import Bundle
from .errors import BundleError, UserError
from .preprocess import dequantize, quantize

try:  # LiteRT (ai-edge-litert) is the runtime; tflite_runtime is the legacy fallback.
    from ai_edge_litert.interpreter import Interpreter

    RUNTIME = "ai_edge_litert"
except ImportError:  # pragma: no cover - exercised only where ai-edge-litert is absent
    from tflite_runtime.interpreter import Interpreter

    RUNTIME = "tflite_runtime"

ACCELERATORS = ("auto", "cpu", "gpu", "npu")

# Variant preference per accelerator (first present and compatible wins).
PREFERENCE = {
    "npu": ("int8",),
    "gpu": ("fp16", "fp32"),
    "cpu": ("fp32", "dynamic", "fp16", "int8"),
}

# Accelerators whose CompiledModel creation failed in this process: name -> reason.
# Probing a missing GPU/NPU runtime costs time, so it is done once per process.
_UNAVAILABLE: dict[str, str] = {}


@dataclass(frozen=True)
class EngineInfo:
    """What an Engine is running and why (for logs, the CLI and the bench)."""

    variant: str
    accelerator_requested: str
    accelerator: str
    fallback_reason: str | None
    num_threads: int
    init_ms: float
    runtime: str = RUNTIME

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def choose_variant(bundle: Bundle, accelerator: str) -> str | None:
    """The bundle variant to run on `accelerator`, or None if none is compatible."""
    for name in PREFERENCE[accelerator]:
        v = bundle.variants.get(name)
        if v is not None and v.compatible_with(accelerator):
            return name
    if accelerator == "cpu":  # any variant runs on the CPU
        return sorted(bundle.variants)[0]
    return None


class Engine:
    """A loaded bundle variant; `run` takes float32 NHWC and returns float32 outputs.

    Args:
        bundle: an open `Bundle` (or a path to one).
        variant: `auto` or a variant name (`fp32`, `fp16`, `dynamic`, `int8`).
        accelerator: `auto`, `cpu`, `gpu` or `npu` (see the module docstring).
        num_threads: CPU interpreter threads.
    """

    def __init__(self, bundle: Bundle | str | os.PathLike, variant: str = "auto",
                 accelerator: str = "auto", num_threads: int = 2):
        t0 = time.perf_counter()
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.open(bundle)
        if accelerator not in ACCELERATORS:
            raise UserError(
                f"accelerator '{accelerator}': unknown; use one of {', '.join(ACCELERATORS)}"
            )
        if variant != "auto":
            self.bundle.variant(variant)  # BundleError naming the variants it has
        self.num_threads = int(num_threads)
        reasons: list[str] = []
        candidates = ["npu", "gpu"] if accelerator == "auto" else [accelerator]
        self._compiled = None
        ran, chosen = "cpu", None
        for acc in candidates:
            if acc == "cpu":
                break
            name = variant if variant != "auto" else choose_variant(self.bundle, acc)
            if name is None:
                reasons.append(f"{acc}: no variant in the bundle is marked compatible")
                continue
            if not self.bundle.variant(name).compatible_with(acc):
                reasons.append(f"{acc}: variant '{name}' is not marked compatible by the build")
                continue
            compiled, why = _try_compiled(self.bundle.variant_bytes(name), acc, name)
            if compiled is not None:
                self._compiled, ran, chosen = compiled, acc, name
                break
            reasons.append(f"{acc}: {why}")
        if chosen is None:
            chosen = variant if variant != "auto" else choose_variant(self.bundle, "cpu")
        self.variant = chosen
        self._model_bytes = bytes(self.bundle.variant_bytes(chosen))  # sha256-checked
        try:
            self._interp = Interpreter(model_content=self._model_bytes, num_threads=self.num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BundleError(
                f"{self.bundle.path}: variant '{chosen}' does not load in LiteRT ({exc}); rebuild the bundle"
            ) from None
        self._input = self._interp.get_input_details()[0]
        self._outputs = self._interp.get_output_details()
        self._batch = int(self._input["shape"][0])
        fallback = "; ".join(reasons) if reasons and ran == "cpu" and accelerator != "cpu" else None
        self.info = EngineInfo(
            variant=chosen,
            accelerator_requested=accelerator,
            accelerator=ran,
            fallback_reason=fallback,
            num_threads=self.num_threads,
            init_ms=(time.perf_counter() - t0) * 1000.0,
        )

    # -- tensor facts ------------------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self._input["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    @property
    def output_names(self) -> list[str]:
        """Per output (in `run` order): its signature name (the Keras output layer's name)
        when the model has a signature, else the tensor name. TFLite may reorder outputs
        relative to Keras, so roles must be matched by these names, never by position."""
        by_index = {}
        try:
            for sig in self._interp._get_full_signature_list().values():
                by_index.update({idx: name for name, idx in sig["outputs"].items()})
        except (AttributeError, KeyError, TypeError):
            pass
        return [by_index.get(d["index"], d["name"]) for d in self._outputs]

    def tensor_details(self) -> dict[str, Any]:
        """Input/output names, shapes, dtypes and quantization (for `inspect`)."""

        def desc(d):
            scale, zp = d["quantization"]
            return {"name": d["name"], "shape": [int(v) for v in d["shape"]],
                    "dtype": np.dtype(d["dtype"]).name,
                    "quantization": {"scale": float(scale), "zero_point": int(zp)} if scale else None}

        return {"inputs": [desc(d) for d in self._interp.get_input_details()],
                "outputs": [desc(d) for d in self._outputs]}

    # -- running -----------------------------------------------------------------

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """float32 (N, H, W, C) → one float32 array (N, ...) per model output.

        The interpreter is resized to the batch once per new batch size (and reused);
        a model that refuses resizing is looped sample by sample instead.
        """
        x = np.asarray(x, np.float32)
        if x.ndim == len(self.input_shape) - 1:
            x = x[None]
        expected = self.input_shape[1:]
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"input shape {tuple(x.shape[1:])} does not match the model's {expected}")
        if self._compiled is not None:
            return _stack([self._compiled_run(x[i : i + 1]) for i in range(len(x))])
        n = len(x)
        if n != self._batch and not self._resize(n):
            return _stack([self._invoke(x[i : i + 1]) for i in range(n)])
        return self._invoke(x)

    __call__ = run

    def _resize(self, n: int) -> bool:
        try:
            self._interp.resize_tensor_input(self._input["index"], [n, *self.input_shape[1:]], strict=False)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError):
            self._interp.resize_tensor_input(self._input["index"], [self._batch, *self.input_shape[1:]])
            self._interp.allocate_tensors()
            return False
        self._batch = n
        self._outputs = self._interp.get_output_details()
        return True

    def _quantize_input(self, x: np.ndarray) -> np.ndarray:
        dtype = self.input_dtype
        if dtype == np.float32:
            return x
        scale, zp = self._input["quantization"]
        if not scale:
            return x.astype(dtype)
        return quantize(x, scale, zp, dtype)

    def _dequantize(self, y: np.ndarray, detail: dict) -> np.ndarray:
        scale, zp = detail["quantization"]
        if y.dtype != np.float32 and scale:
            return dequantize(y, scale, zp)
        return y.astype(np.float32, copy=False)

    def _invoke(self, x: np.ndarray) -> list[np.ndarray]:
        self._interp.set_tensor(self._input["index"], self._quantize_input(x))
        self._interp.invoke()
        return [self._dequantize(self._interp.get_tensor(d["index"]), d) for d in self._outputs]

    def _compiled_run(self, x: np.ndarray) -> list[np.ndarray]:
        cm = self._compiled
        inputs = cm.create_input_buffers(0)
        outputs = cm.create_output_buffers(0)
        inputs[0].write(self._quantize_input(x))
        cm.run_by_index(0, inputs, outputs)
        result = []
        for buf, d in zip(outputs, self._outputs):
            shape = [1, *[int(v) for v in d["shape"][1:]]]
            raw = np.asarray(buf.read(int(np.prod(shape)), np.dtype(d["dtype"]))).reshape(shape)
            result.append(self._dequantize(raw, d))
        return result

    def __repr__(self) -> str:
        i = self.info
        return f"Engine({self.bundle.name!r}, variant={i.variant!r}, accelerator={i.accelerator!r})"


def _stack(per_sample: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.concatenate(parts, axis=0) for parts in zip(*per_sample)]


def _try_compiled(model: memoryview, accelerator: str, variant: str):
    """(CompiledModel, None) on success, else (None, reason)."""
    if accelerator in _UNAVAILABLE:
        return None, _UNAVAILABLE[accelerator]
    try:
        from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator
    except ImportError as exc:
        _UNAVAILABLE[accelerator] = f"LiteRT CompiledModel API unavailable ({exc})"
        return None, _UNAVAILABLE[accelerator]
    flag = HardwareAccelerator.GPU if accelerator == "gpu" else HardwareAccelerator.NPU
    try:
        with _quiet_native_stderr():
            cm = CompiledModel.from_buffer(bytes(model), hardware_accel=flag)
            full = cm.is_fully_accelerated()
        if not full:
            return None, f"variant '{variant}' is only partly accelerated on the {accelerator.upper()}"
        return cm, None
    except Exception as exc:  # LiteRT raises RuntimeError/ValueError with backend text
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        _UNAVAILABLE[accelerator] = f"{accelerator.upper()} not available on this host ({msg})"
        return None, _UNAVAILABLE[accelerator]


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence LiteRT's native probe logs (dozens of lines) unless FACELITE_DEBUG is set."""
    if os.environ.get("FACELITE_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
