"""One LiteRT model running: variant choice, accelerator fallback, batching, timing hook.

Why a class of its own: every task (classify, detect, landmarks, evaluate, verify), the
toolchain (running freshly converted variants) and the bench need the same things done
the same way — pick the variant that suits the accelerator, load its sha256-checked bytes,
convert float inputs to the tensor's quantized dtype and back, and reuse one interpreter
across calls. This module is the only code in the project that imports or calls LiteRT
(`ai_edge_litert`, or the legacy `tflite_runtime`); everything else goes through `Engine`.

Accelerators: `gpu`/`npu` are tried through LiteRT's `CompiledModel`; when that fails
(no GPU/NPU runtime on this host, unsupported ops) the engine falls back to the CPU
interpreter and says why in `engine.info.fallback_reason`. `auto` tries NPU, then GPU,
then CPU, only with variants the build's compatibility gate marked as supported, and
only where the platform shows such a device (`accelerator_present`: a probe of a missing
GPU/NPU cost about 90 ms of a 148 ms create); a failed probe is remembered for the rest
of the process. Which variant each accelerator gets is `choose_variant` (the one rule:
the bench and the CLI ask it too): the fastest variant the build measured on that
accelerator whose agreement with fp32 clears `AGREEMENT_FLOOR`, else `PREFERENCE`.

Native logs: LiteRT's C++ side prints INFO lines straight to file descriptor 2 ("INFO:
Created TensorFlow Lite XNNPACK delegate for CPU.", dozens of lines when probing a
GPU/NPU, more when a compiled model is released). They are kept off the terminal: fd 2
is pointed at /dev/null (`quiet_native_stderr`) while interpreters and compiled models
are created, resized or released — and, once a GPU/NPU compiled model has existed, for
interpreter shutdown, where LiteRT tears down its environment — unless the environment
variable `FACELITE_VERBOSE` (set by every CLI's `--verbose`) or `FACELITE_DEBUG` is
non-empty. Python's own `sys.stderr` is flushed before each redirect.

Hostile model bytes: LiteRT's parser is not hardened against them. It verifies the
flatbuffer's bounds, but a model whose bounds are fine and whose indices are not (an
operator input of -1 where a kernel needs a tensor, a tensor index past the end, an
opcode or buffer that does not exist) makes it read out of bounds: a segfault, a double
free, `std::bad_alloc`, not a Python exception. That is why a bundle from outside the
installed package must carry a trusted signature (`facelite.signing`, enforced before
any variant is loaded) — the signature is the first line. `check_model_structure` is the
second, for bytes a trusted key signed by mistake and for `Engine.from_bytes`: every
model is walked with the TFLite schema (`ai_edge_litert.schema_py_generated`) before
LiteRT sees it, and refused (BundleError, exit 2) unless every table and vector it reads
lies within the file, every tensor, operator-code and buffer index is in range (an
operator input may be -1, "optional", only from its third input on), external buffers
lie within the file and every shape has non-negative dimensions and at most
`MAX_TENSOR_ELEMENTS` elements. A bundle variant's input must also have exactly the
manifest's `input.shape` (which the schema bounds), since LiteRT sizes every activation
from it. It checks structure, not meaning: a kernel may still refuse the model (a
BundleError too), and a model built to attack a kernel's arithmetic (a constant that
asks a resize for a huge output) is the signature's to stop.

Pixels in (`run_pixels`): the tasks hand the engine uint8 pixels after preprocessing
steps 1–4 and it writes steps 5–6 straight into LiteRT's own input tensor, with no float
tensor in between: an int8/uint8 input through a 256-entry table per channel
(`preprocess.quantize_table`, built once per spec and input quantization, bit-identical
to normalise + quantize for any mean and std), a float input by one vectorised
normalise. int8/uint8 outputs are dequantized through a 256-entry table
(`preprocess.dequantize_table`) in one gather. What `run`/`run_pixels` return is always
freshly allocated (LiteRT's output tensors are read once, never handed out), so a caller
may keep results across calls; the reused buffers are LiteRT's input tensor, the tables
and, for a GPU/NPU compiled model, one staging array.

Timing: `bind(x)` sets one input and returns the raw invoke as a zero-argument callable
(the interpreter's `invoke`, or the CompiledModel's run on pre-made buffers), so a timer
around it measures LiteRT alone; `outputs()` reads what the last bound invoke produced.

Example:

    >>> from facelite.bundle import Bundle
    >>> from facelite.engine import Engine
    >>> eng = Engine(Bundle.open("models/expression/expression.flb"), accelerator="cpu")  # doctest: +SKIP
    >>> eng.info.variant, eng.info.accelerator                                  # doctest: +SKIP
    ('fp32', 'cpu')
    >>> probs = eng.run(x)[0]        # x: float32 (N, H, W, C) from facelite.preprocess  # doctest: +SKIP
    >>> probs = eng.run_pixels(pixels)[0]   # pixels: uint8 (N, H, W, C) from prepare_pixels  # doctest: +SKIP
    >>> invoke = eng.bind(x[:1]); invoke(); probs1 = eng.outputs()[0]            # doctest: +SKIP
    >>> Engine.from_bytes(tflite_bytes).input_details[0].dtype                   # doctest: +SKIP
    dtype('int8')
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import math
import os
import struct
import sys
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from .bundle import VARIANT_NAMES, Bundle
from .errors import BundleError, UserError
from .options import Accelerator
from .preprocess import (PIXEL_LEVELS, InputSpec, dequantize, dequantize_table, normalize, quantize,
                         quantize_table)

try:  # LiteRT (ai-edge-litert) is the runtime; tflite_runtime is the legacy fallback.
    from ai_edge_litert import schema_py_generated as tfl
    from ai_edge_litert.interpreter import Interpreter

    RUNTIME = "ai_edge_litert"
except ImportError:  # pragma: no cover - exercised only where ai-edge-litert is absent
    from tflite_runtime.interpreter import Interpreter

    tfl = None  # tflite_runtime ships no schema reader: check_model_structure cannot run

    RUNTIME = "tflite_runtime"

ACCELERATORS = tuple(a.value for a in Accelerator)

# Variant preference per accelerator when the bundle records no measurement for it
# (first present and compatible wins). `dynamic` comes last on the CPU: bundles built
# before its depthwise fix (`facelite_build.quantize.float_depthwise_weights`) run it
# 3-8x slower than fp32.
PREFERENCE = {
    "npu": ("int8",),
    "gpu": ("fp16", "fp32"),
    "cpu": ("fp32", "fp16", "int8", "dynamic"),
}

# The order `auto` tries accelerators in.
AUTO_ORDER = ("npu", "gpu", "cpu")

AGREEMENT_FLOOR = 0.98
"""Least recorded agreement with fp32 (`Measured.agreement`: the fraction of validation
samples on which the variant gives the fp32 model's answer) a variant needs before `auto`
may pick it for speed. Why 0.98: a variant that changes at most 2 answers in 100 cannot
move accuracy by more than a validation split can tell (the shipped classifiers' 95%
intervals are ±1.5 points on expression's 3,589 samples, ±3.5 on acne's 775). fp16 clears
it (0.99+); dynamic and int8 did not in the first shipped builds (0.77-0.96)."""

SPEEDUP_MARGIN = 0.10
"""A lower-fidelity variant replaces a higher-fidelity pick only when its recorded latency
is at least this fraction lower: build-host medians move by about that between runs, and
fp16 (expanded to fp32 at load on a CPU) would otherwise win or lose on noise."""

PROBE_ENV = "FACELITE_PROBE_ACCELERATORS"
"""Set to a non-empty value, `auto` probes GPU and NPU even where `accelerator_present`
sees no device node (a device this rule does not know)."""

# Device nodes through which LiteRT's accelerators reach hardware on Linux and Android:
# GPU delegates (OpenCL/OpenGL/Vulkan) need a DRM render node, Adreno's kgsl, Mali's or
# NVIDIA's driver node; NPU dispatch libraries (Qualcomm QNN/Hexagon FastRPC, MediaTek
# APU, Google Edge TPU, and the kernel's accel class: Intel NPU, AMD XDNA) theirs.
DEVICE_NODES = {
    "gpu": ("/dev/dri/renderD*", "/dev/kgsl-3d0", "/dev/mali*", "/dev/nvidia*"),
    "npu": ("/dev/accel/accel*", "/dev/fastrpc-*", "/dev/adsprpc-smd", "/dev/apusys", "/dev/edgetpu*",
            "/dev/apex_*"),
}

VERBOSE_ENV = ("FACELITE_VERBOSE", "FACELITE_DEBUG")
"""Environment variables that, when non-empty, let LiteRT's native logs through."""

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


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as LiteRT sees it.

    `quantization` is None for float tensors (LiteRT reports scale 0 for them).
    """

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: Quantization | None

    def to_json(self) -> dict[str, Any]:
        """The `inspect` form: name, shape, dtype name and quantization (no index)."""
        q = self.quantization
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name,
                "quantization": None if q is None else {"scale": q.scale, "zero_point": q.zero_point}}


def _tensor_info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(detail["name"]),
        index=int(detail["index"]),
        shape=tuple(int(v) for v in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        quantization=Quantization(float(scale), int(zero_point)) if scale else None,
    )


def _accelerator_name(accelerator: Accelerator | str) -> str:
    """'cpu' from 'cpu' or Accelerator.CPU; a UserError naming the choices otherwise."""
    return Accelerator.parse(accelerator, "accelerator").value


def choose_variant(bundle: Bundle, accelerator: Accelerator | str) -> str | None:
    """The bundle variant to run on `accelerator`, or None if none is compatible.

    The one variant rule: `measured_choice` when the build recorded a measurement of
    every variant on `accelerator`, else the first of `PREFERENCE` present and compatible
    (the CPU runs any variant). `auto` takes the first accelerator of `AUTO_ORDER` with a
    compatible variant. The C core's `fl_bundle_choose_variant` is the same rule.

        >>> from facelite.bundle import Bundle
        >>> choose_variant(Bundle.open("models/expression/expression.flb"), "cpu")  # doctest: +SKIP
        'fp32'
    """
    accelerator = _accelerator_name(accelerator)
    if accelerator == "auto":
        for acc in AUTO_ORDER:
            name = choose_variant(bundle, acc)
            if name is not None:
                return name
        return None
    measured = measured_choice(bundle, accelerator)
    if measured is not None:
        return measured
    for name in PREFERENCE[accelerator]:
        v = bundle.variants.get(name)
        if v is not None and v.compatible_with(accelerator):
            return name
    if accelerator == "cpu" and bundle.variants:  # any variant runs on the CPU
        return sorted(bundle.variants)[0]
    return None


def measured_choice(bundle: Bundle, accelerator: str) -> str | None:
    """The fastest variant the build measured on `accelerator` whose agreement with fp32
    clears `AGREEMENT_FLOOR`; None when some variant has no record for `accelerator` (the
    records of one bundle come from one interleaved run, so only a full set compares) or
    none qualifies (a null agreement never does: unknown fidelity is not traded for speed).

    Variants are walked in fidelity order (fp32, fp16, dynamic, int8); a later one
    replaces the pick only when its latency is at most (1 - `SPEEDUP_MARGIN`) × the
    pick's, so ties and noise go to fidelity.
    """
    if not bundle.variants or any(v.measured is None or v.measured.accelerator != accelerator
                                  for v in bundle.variants.values()):
        return None
    best, best_ms = None, 0.0
    for name in VARIANT_NAMES:
        v = bundle.variants.get(name)
        if v is None or not v.compatible_with(accelerator):
            continue
        m = v.measured
        if m.agreement is None or m.agreement < AGREEMENT_FLOOR:
            continue
        if best is None or m.latency_ms <= best_ms * (1.0 - SPEEDUP_MARGIN):
            best, best_ms = name, m.latency_ms
    return best


def accelerator_present(accelerator: str) -> tuple[bool, str]:
    """(whether `auto` should probe `accelerator` here, why).

    On Linux and Android a GPU or NPU is reachable only through a device node
    (`DEVICE_NODES`, looked for once per process): with none of them, probing LiteRT
    would only spend time failing. Elsewhere (macOS's Metal, Windows) the platform has no
    such tell and the probe runs. `FACELITE_PROBE_ACCELERATORS` forces the probe. The C
    core's `fl_accelerator_present` is the same rule.

        >>> accelerator_present("cpu")
        (True, 'the CPU is always present')
    """
    if accelerator == "cpu":
        return True, "the CPU is always present"
    if os.environ.get(PROBE_ENV):
        return True, f"{PROBE_ENV} is set"
    if not sys.platform.startswith("linux"):
        return True, f"{sys.platform} has no device nodes to look for"
    patterns = DEVICE_NODES[accelerator]
    if _device_node_found(patterns):
        return True, f"a {accelerator.upper()} device node is present"
    return False, f"no {accelerator.upper()} device on this host (none of {', '.join(patterns)})"


@functools.lru_cache(maxsize=None)
def _device_node_found(patterns: tuple[str, ...]) -> bool:
    return any(glob.glob(p) for p in patterns)


# -- model structure (before LiteRT sees the bytes) ---------------------------------------

MAX_TENSOR_ELEMENTS = 2**28
"""Most elements one tensor of a model may declare (1 GiB of float32); the shipped models'
largest holds under a million."""

OPTIONAL_INPUTS_FROM = 2
"""An operator input may be -1 ("no tensor": a convolution's missing bias) only from this
position on; kernels dereference their first inputs unchecked."""


_BUILTIN_NAMES = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")} if tfl else {}


class _Malformed(Exception):
    """The first structural problem `check_model_structure` found."""


def check_model_structure(model: bytes | memoryview, where: str,
                          fix: str = "rebuild the bundle") -> list[tuple[int, ...]]:
    """Raise BundleError("{where} is not a well-formed TFLite model: {problem}; {fix}")
    unless `model`'s structure is sound (the module's doc, "Hostile model bytes"); return
    the shapes of its inputs (subgraph 0's, in order), which `Engine` holds to the manifest.

    Checked before LiteRT parses the bytes, with the TFLite schema: every table this check
    reads (its vtable included) and every vector lies within the file, the file is a
    `TFL3` flatbuffer with at least one subgraph; every subgraph input and output, tensor
    and operator output index is in [0, tensors); an operator input is too, or -1 from
    position `OPTIONAL_INPUTS_FROM` on; every `opcode_index` names an operator code and
    every tensor `buffer` (and metadata buffer) a buffer; every signature names a subgraph
    and its tensors; a buffer stored outside the flatbuffer (`offset`/`size`) lies within
    the file; every shape has dimensions >= 0 and at most `MAX_TENSOR_ELEMENTS` elements.
    Any exception while reading is a problem too, named with its type.

        >>> check_model_structure(b"not a model", "model 'x'")
        Traceback (most recent call last):
        ...
        facelite.errors.BundleError: model 'x' is not a well-formed TFLite model: not a TFLite flatbuffer ...
    """
    if tfl is None:  # pragma: no cover - the legacy runtime
        return []
    data = bytes(model)
    try:
        return _ModelStructure(data).check()
    except _Malformed as exc:
        problem = str(exc)
    except struct.error as exc:
        problem = f"a table or vector runs past the end of the {len(data)}-byte file ({exc})"
    except Exception as exc:  # noqa: BLE001 - hostile bytes: whatever reading them raises is a refusal
        problem = f"unreadable flatbuffer ({type(exc).__name__}: {exc})"
    raise BundleError(f"{where} is not a well-formed TFLite model: {problem}; {fix}")


class _ModelStructure:
    """One walk of a model through `ai_edge_litert.schema_py_generated`, each table and
    vector bounds-checked before the generated accessors read it (they trust the bytes:
    a vtable offset can point before the file, where Python indexing wraps around)."""

    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def check(self) -> list[tuple[int, ...]]:
        """Walk the whole model; return subgraph 0's input shapes."""
        if self.size < 8 or not tfl.Model.ModelBufferHasIdentifier(self.data, 0):
            raise _Malformed(f"not a TFLite flatbuffer (8+ bytes with the identifier TFL3 at 4; got {self.size} "
                             f"bytes, identifier {self.data[4:8]!r})")
        model = self._table(tfl.Model.GetRootAs(self.data, 0), "the model table")
        codes = [self._op_name(self._table(model.OperatorCodes(i), f"operator code {i}"))
                 for i in range(self._count(model, "OperatorCodes", "operator codes"))]
        buffers = self._count(model, "Buffers", "buffers")
        for i in range(buffers):
            buf = self._table(model.Buffers(i), f"buffer {i}")
            self._ints(buf, "Data", f"buffer {i}'s data", np.uint8)
            offset, size = int(buf.Offset()), int(buf.Size())
            if offset > 1 and offset + size > self.size:
                raise _Malformed(f"buffer {i} lies at bytes {offset}..{offset + size}, past the end of the "
                                 f"{self.size}-byte file")
        subgraphs = self._count(model, "Subgraphs", "subgraphs")
        if not subgraphs:
            raise _Malformed("the model has no subgraph")
        walked = [self._subgraph(self._table(model.Subgraphs(g), f"subgraph {g}"), g, codes, buffers)
                  for g in range(subgraphs)]
        tensors = [len(shapes) for shapes, _ in walked]
        for i in range(self._count(model, "Metadata", "metadata")):
            index = self._table(model.Metadata(i), f"metadata {i}").Buffer()
            if index >= buffers:
                raise _Malformed(f"metadata {i} names buffer {index} of {buffers}")
        self._ints(model, "MetadataBuffer", "metadata_buffer", np.int32)
        for i in range(self._count(model, "SignatureDefs", "signatures")):
            sig = self._table(model.SignatureDefs(i), f"signature {i}")
            g = sig.SubgraphIndex()
            if g >= subgraphs:
                raise _Malformed(f"signature {i} names subgraph {g} of {subgraphs}")
            for side in ("Inputs", "Outputs"):
                for j in range(self._count(sig, side, f"signature {i}'s {side.lower()}")):
                    index = self._table(getattr(sig, side)(j), f"signature {i}'s {side.lower()[:-1]} {j}").TensorIndex()
                    if index >= tensors[g]:
                        raise _Malformed(f"signature {i}: {side.lower()[:-1]} {j} names tensor {index} of "
                                         f"subgraph {g}'s {tensors[g]}")
        shapes, inputs = walked[0]
        return [shapes[i] for i in inputs]

    @staticmethod
    def _op_name(code) -> str:
        """An operator code's name for messages: `CONV_2D`, or the custom op's name."""
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        if builtin == tfl.BuiltinOperator.CUSTOM:
            return f"custom {code.CustomCode()!r}"
        return _BUILTIN_NAMES.get(builtin, f"builtin {builtin}")

    def _subgraph(self, sub, g: int, codes: list[str], buffers: int) -> tuple[list[tuple[int, ...]], list[int]]:
        """Check subgraph `g`; return (every tensor's shape, its input tensor indices)."""
        n = self._count(sub, "Tensors", f"subgraph {g}'s tensors")
        shapes = []
        for t in range(n):
            tensor = self._table(sub.Tensors(t), f"subgraph {g}: tensor {t}")
            shape = self._ints(tensor, "Shape", f"subgraph {g}: tensor {t}'s shape", np.int32)
            dims = [int(d) for d in shape]
            if any(d < 0 for d in dims) or math.prod(dims) > MAX_TENSOR_ELEMENTS:
                raise _Malformed(f"subgraph {g}: tensor {t} has shape {dims} (dimensions >= 0, at most "
                                 f"{MAX_TENSOR_ELEMENTS} elements)")
            shapes.append(tuple(dims))
            signature = self._ints(tensor, "ShapeSignature", f"subgraph {g}: tensor {t}'s shape_signature", np.int32)
            if any(int(d) < -1 for d in signature):
                raise _Malformed(f"subgraph {g}: tensor {t} has shape_signature {signature.tolist()} "
                                 "(dimensions >= -1)")
            if tensor.Buffer() >= buffers:
                raise _Malformed(f"subgraph {g}: tensor {t} names buffer {tensor.Buffer()} of {buffers}")
        inputs = [int(i) for i in self._ints(sub, "Inputs", f"subgraph {g}'s inputs", np.int32)]
        self._indices(inputs, n, f"subgraph {g}: input")
        self._indices(self._ints(sub, "Outputs", f"subgraph {g}'s outputs", np.int32), n, f"subgraph {g}: output")
        for k in range(self._count(sub, "Operators", f"subgraph {g}'s operators")):
            op = self._table(sub.Operators(k), f"subgraph {g}: operator {k}")
            if op.OpcodeIndex() >= len(codes):
                raise _Malformed(f"subgraph {g}: operator {k} has opcode_index {op.OpcodeIndex()} of "
                                 f"{len(codes)} operator codes")
            where = f"subgraph {g}: operator {k} ({codes[op.OpcodeIndex()]})"
            self._indices(self._ints(op, "Inputs", f"{where}'s inputs", np.int32), n, f"{where}: input",
                          optional_from=OPTIONAL_INPUTS_FROM)
            self._indices(self._ints(op, "Outputs", f"{where}'s outputs", np.int32), n, f"{where}: output")
            self._indices(self._ints(op, "Intermediates", f"{where}'s intermediates", np.int32), n,
                          f"{where}: intermediate")
            offset, size = int(op.LargeCustomOptionsOffset()), int(op.LargeCustomOptionsSize())
            if offset > 1 and offset + size > self.size:
                raise _Malformed(f"{where}'s custom options lie at bytes {offset}..{offset + size}, past the end "
                                 f"of the {self.size}-byte file")
        return shapes, inputs

    @staticmethod
    def _indices(values, n: int, what: str, optional_from: int | None = None) -> None:
        for position, index in enumerate(int(v) for v in values):
            if 0 <= index < n or (index == -1 and optional_from is not None and position >= optional_from):
                continue
            optional = "" if optional_from is None else f"; -1 (no tensor) only from input {optional_from} on"
            raise _Malformed(f"{what} {position} is tensor {index}, not in [0, {n}){optional}")

    def _table(self, table, what: str):
        """`table` (a generated accessor) once its start, vtable and size lie within the file."""
        if table is None:
            raise _Malformed(f"{what} is missing")
        pos = table._tab.Pos
        if not 0 <= pos <= self.size - 4:
            raise _Malformed(f"{what} starts at byte {pos}, outside the {self.size}-byte file")
        vtable = pos - struct.unpack_from("<i", self.data, pos)[0]
        if not 0 <= vtable <= self.size - 4:
            raise _Malformed(f"{what}'s vtable is at byte {vtable}, outside the {self.size}-byte file")
        vsize, tsize = struct.unpack_from("<HH", self.data, vtable)
        if vsize < 4 or vsize % 2 or vtable + vsize > self.size or pos + tsize > self.size:
            raise _Malformed(f"{what}'s vtable ({vsize} bytes, table {tsize} bytes) runs outside the file")
        fields = struct.unpack_from(f"<{(vsize - 4) // 2}H", self.data, vtable + 4)
        if any(off >= tsize for off in fields if off):
            raise _Malformed(f"{what} has a field outside its {tsize} bytes")
        return table

    def _count(self, table, field: str, what: str) -> int:
        """The length of vector-of-tables `field`, once its last element lies within the file."""
        n = int(getattr(table, f"{field}Length")())
        if 4 * n > self.size:
            raise _Malformed(f"{what}: {n} declared, more than the {self.size}-byte file can hold")
        if n:
            try:
                getattr(table, field)(n - 1)  # reads the last element's offset
            except (struct.error, TypeError):
                raise _Malformed(f"{what}: the vector of {n} runs past the end of the file") from None
        return n

    @staticmethod
    def _ints(table, field: str, what: str, dtype) -> np.ndarray:
        """Scalar vector `field` as an array (empty when absent); numpy refuses one past the end."""
        if getattr(table, f"{field}IsNone")():
            return np.zeros(0, dtype)
        try:
            return getattr(table, f"{field}AsNumpy")()
        except ValueError as exc:
            raise _Malformed(f"{what} runs past the end of the file ({exc})") from None


class Engine:
    """A loaded model; `run` takes float32 NHWC and returns float32 outputs.

    Args:
        bundle: an open `Bundle` (or a path to one).
        variant: `auto` or a variant name (`fp32`, `fp16`, `dynamic`, `int8`).
        accelerator: an `Accelerator` or its value, `auto`, `cpu`, `gpu` or `npu` (see the
            module docstring).
        num_threads: CPU interpreter threads.

    `Engine.from_bytes` loads a bare `.tflite` on the CPU instead (no bundle).
    """

    def __init__(self, bundle: Bundle | str | os.PathLike, variant: str = "auto",
                 accelerator: Accelerator | str = "auto", num_threads: int = 2):
        t0 = time.perf_counter()
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.open(bundle)
        self.name = self.bundle.name
        accelerator = _accelerator_name(accelerator)
        if variant != "auto":
            self.bundle.variant(variant)  # BundleError naming the variants it has
        self.num_threads = int(num_threads)
        reasons: list[str] = []
        candidates = list(AUTO_ORDER) if accelerator == "auto" else [accelerator]
        compiled = None
        ran, chosen = "cpu", None
        for acc in candidates:
            if acc == "cpu":
                break
            present, why = accelerator_present(acc)
            if accelerator == "auto" and not present:
                reasons.append(f"{acc}: {why}")
                continue
            name = variant if variant != "auto" else choose_variant(self.bundle, acc)
            if name is None:
                reasons.append(f"{acc}: no variant in the bundle is marked compatible")
                continue
            if not self.bundle.variant(name).compatible_with(acc):
                reasons.append(f"{acc}: variant '{name}' is not marked compatible by the build")
                continue
            compiled, why = _try_compiled(self._model_bytes(name), acc, name)
            if compiled is not None:
                ran, chosen = acc, name
                break
            reasons.append(f"{acc}: {why}")
        if chosen is None:
            chosen = variant if variant != "auto" else choose_variant(self.bundle, "cpu")
        self.variant = chosen
        self._load(self._model_bytes(chosen), compiled, f"{self.bundle.path}: variant '{chosen}'",
                   "rebuild the bundle")
        fallback = "; ".join(reasons) if reasons and ran == "cpu" and accelerator != "cpu" else None
        self.info = EngineInfo(
            variant=chosen,
            accelerator_requested=accelerator,
            accelerator=ran,
            fallback_reason=fallback,
            num_threads=self.num_threads,
            init_ms=(time.perf_counter() - t0) * 1000.0,
        )

    @classmethod
    def from_bytes(cls, tflite_bytes: bytes | memoryview, num_threads: int = 2,
                   name: str = "model") -> Engine:
        """A CPU engine for a bare `.tflite` (no bundle, no checksum, no signature, but the
        same `check_model_structure`): the toolchain's way to run and inspect a freshly
        converted variant exactly as the runtime will.

        `name` labels the model in errors, `repr` and `info.variant`.
        """
        t0 = time.perf_counter()
        self = cls.__new__(cls)
        self.bundle = None
        self.name = self.variant = name
        self.num_threads = int(num_threads)
        model = bytes(tflite_bytes)
        check_model_structure(model, f"model '{name}'", "re-export the .tflite")
        self._load(model, None, f"model '{name}'", "re-export the .tflite")
        self.info = EngineInfo(
            variant=name,
            accelerator_requested="cpu",
            accelerator="cpu",
            fallback_reason=None,
            num_threads=self.num_threads,
            init_ms=(time.perf_counter() - t0) * 1000.0,
        )
        return self

    def _model_bytes(self, variant: str) -> bytes:
        """Variant `variant`'s bytes, sha256-checked (`Bundle.variant_bytes`), then
        structure-checked (`check_model_structure`) and its input held to the manifest's
        `input.shape`, before LiteRT may parse them: LiteRT sizes its tensors from the
        model's input, and the manifest's schema bounds that one (sides 8-2048, batch 1)."""
        model = bytes(self.bundle.variant_bytes(variant))
        where = f"{self.bundle.path}: variant '{variant}'"
        inputs = check_model_structure(model, where)
        expected = tuple(int(d) for d in self.bundle.manifest["input"]["shape"])
        if tfl is not None and (not inputs or inputs[0] != expected):
            got = f"its first input has shape {list(inputs[0])}" if inputs else "it has no input"
            raise BundleError(f"{where}: {got}, the manifest's input.shape is {list(expected)}; rebuild the bundle")
        return model

    def _load(self, model: bytes, compiled: Any, where: str, fix: str) -> None:
        """Create the CPU interpreter (kept even beside a CompiledModel: it answers the
        tensor-detail and signature questions) and remember the compiled model, if any."""
        self._compiled = None if compiled is None else _CompiledHandle(compiled)
        self._tables: dict[tuple, np.ndarray] = {}  # (role, spec or tensor index) -> 256-entry table
        self._staging: np.ndarray | None = None  # a compiled model's input, reused
        self._spec = None if self.bundle is None else self.bundle.input_spec
        try:
            with quiet_native_stderr():
                self._interp = Interpreter(model_content=model, num_threads=self.num_threads)
                self._interp.allocate_tensors()
            # Malformed flatbuffers load but fail here (a tensor index of -1, no input at all).
            self._input = self._interp.get_input_details()[0]
            self._outputs = self._interp.get_output_details()
            self._batch = int(self._input["shape"][0])
        except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as exc:
            raise BundleError(f"{where} does not load in LiteRT ({exc}); {fix}") from None

    # -- tensor facts ------------------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self._input["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    @property
    def input_details(self) -> list[TensorInfo]:
        """Every model input (name, index, shape, dtype, quantization)."""
        return [_tensor_info(d) for d in self._interp.get_input_details()]

    @property
    def output_details(self) -> list[TensorInfo]:
        """Every model output, in `run` order (match roles with `output_names`)."""
        return [_tensor_info(d) for d in self._outputs]

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
        """Input/output names, shapes, dtypes and quantization as JSON (for `inspect`)."""
        return {"inputs": [t.to_json() for t in self.input_details],
                "outputs": [t.to_json() for t in self.output_details]}

    @property
    def delegate_partitions(self) -> int:
        """How many delegate kernels (XNNPack partitions) LiteRT's CPU interpreter made of
        the graph: 1 when XNNPack takes every op; each op it leaves out runs in LiteRT's own
        kernels between partitions (benchmarks/variants.py prints this per variant)."""
        return sum(op["op_name"] == "DELEGATE" for op in self._interp._get_ops_details())

    # -- running -----------------------------------------------------------------

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """float32 (N, H, W, C) → one float32 array (N, ...) per model output.

        The interpreter is resized to the batch once per new batch size (and reused);
        a model that refuses resizing is looped sample by sample instead.
        """
        x = self._check_input(x)
        if self._compiled is not None:
            return _stack([self._compiled_run(x[i : i + 1]) for i in range(len(x))])
        n = len(x)
        if n != self._batch and not self._resize(n):
            return _stack([self._invoke(x[i : i + 1]) for i in range(n)])
        return self._invoke(x)

    __call__ = run

    def run_pixels(self, pixels: np.ndarray, spec: InputSpec | None = None) -> list[np.ndarray]:
        """uint8 pixels (N, H, W, C) after preprocessing steps 1–4 → one float32 array
        (N, ...) per model output: the same numbers as `run(normalize(pixels, spec))`, bit
        for bit, without the float tensor (the module's doc, "Pixels in").

        `spec` is the bundle's `input_spec` by default (a `from_bytes` engine must pass one).
        The returned arrays are the caller's: later calls never overwrite them.
        """
        pixels, spec = self._check_pixels(pixels, spec)
        if self._compiled is not None:
            return _stack([self._compiled_run(self._pixels_in(pixels[i : i + 1], spec)) for i in range(len(pixels))])
        n = len(pixels)
        if n != self._batch and not self._resize(n):
            return _stack([self._invoke_pixels(pixels[i : i + 1], spec) for i in range(n)])
        return self._invoke_pixels(pixels, spec)

    def bind(self, x: np.ndarray) -> Callable[[], None]:
        """Set one sample (float32 (1, H, W, C) or (H, W, C)) as the input and return the
        raw invoke: a zero-argument callable that runs LiteRT and nothing else (no
        quantization, copies or Python glue), for timing. Read its results with `outputs()`.

        The binding holds until the next `bind` or `run` (which may overwrite the input).
        """
        x = self._check_input(x)
        if len(x) != 1:
            raise UserError(f"bind takes one sample; got a batch of {len(x)}")
        if self._compiled is not None:
            cm = self._compiled.model
            inputs, outputs = self._compiled.buffers(self._quantize_input(x))
            self._compiled.bound = (inputs, outputs)
            return functools.partial(cm.run_by_index, 0, inputs, outputs)
        if self._batch != 1 and not self._resize(1):  # pragma: no cover - batch-1 always resizes
            raise UserError(f"{self.name}: the model does not accept a batch of 1")
        self._interp.set_tensor(self._input["index"], self._quantize_input(x))
        return self._interp.invoke

    def outputs(self) -> list[np.ndarray]:
        """The float32 outputs of the last invoke returned by `bind` (one per model output)."""
        if self._compiled is not None:
            if self._compiled.bound is None:
                raise UserError("outputs() reads a bound invoke's results; call bind(x) first")
            return self._read_compiled(self._compiled.bound[1])
        return [self._dequantize(self._interp.get_tensor(d["index"]), d) for d in self._outputs]

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim == len(self.input_shape) - 1:
            x = x[None]
        expected = self.input_shape[1:]
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"input shape {tuple(x.shape[1:])} does not match the model's {expected}")
        return x

    def _check_pixels(self, pixels: np.ndarray, spec: InputSpec | None) -> tuple[np.ndarray, InputSpec]:
        if spec is None:
            if self.bundle is None:
                raise UserError(f"{self.name}: run_pixels needs the InputSpec of a model loaded without a bundle")
            spec = self._spec
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8:
            raise UserError(f"run_pixels takes uint8 pixels (preprocess.prepare_pixels), not {pixels.dtype}; "
                            "pass float tensors to run()")
        if pixels.ndim == len(self.input_shape) - 1:
            pixels = pixels[None]
        expected = self.input_shape[1:]
        if tuple(pixels.shape[1:]) != expected or spec.channels != expected[-1]:
            raise UserError(f"pixels of shape {tuple(pixels.shape[1:])} (spec: {spec.channels} channels) do not "
                            f"match the model's input {expected}")
        return pixels, spec

    def _input_table(self, spec: InputSpec) -> np.ndarray:
        """`quantize_table` of `spec` for this model's integer input, cached: (256,) when
        every channel has the same table, else (1, 256, C) (cv2.LUT's per-channel form)."""
        key = ("in", spec.mean, spec.std, spec.channels)
        table = self._tables.get(key)
        if table is None:
            scale, zp = self._input["quantization"]
            if scale:
                table = quantize_table(spec, scale, zp, self.input_dtype)
            else:  # an unquantized integer input takes the normalised values cast, as `run` does
                table = normalize(np.repeat(PIXEL_LEVELS[:, None], spec.channels, axis=1), spec).astype(self.input_dtype)
            same = bool((table == table[:, :1]).all())
            table = self._tables[key] = np.ascontiguousarray(table[:, 0] if same else table[None])
        return table

    def _write_pixels(self, out: np.ndarray, pixels: np.ndarray, spec: InputSpec) -> None:
        """Steps 5–6 of `pixels` into `out` (this model's input dtype and shape)."""
        if out.dtype == np.float32:
            np.subtract(pixels, np.asarray(spec.mean, np.float32), out=out)
            np.divide(out, np.asarray(spec.std, np.float32), out=out)
            return
        table = self._input_table(spec)
        c = pixels.shape[-1]
        if out.dtype.itemsize == 1 and c <= 4:
            import cv2  # noqa: PLC0415 - decoding loaded it already; kept off `import facelite.engine`

            src = pixels.reshape(-1, pixels.shape[-2], c) if c > 1 else pixels.reshape(-1, pixels.shape[-2])
            dst = out.reshape(src.shape)
            got = cv2.LUT(src, table, dst=dst)
            if got is not dst and not np.shares_memory(got, dst):  # cv2 made its own array
                np.copyto(dst, got)
            return
        out[...] = table[pixels] if table.ndim == 1 else table[0][pixels, np.arange(c)]

    def _pixels_in(self, pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
        """The model input of `pixels` in a staging array reused across calls (compiled models)."""
        shape = pixels.shape
        if self._staging is None or self._staging.shape != shape:
            self._staging = np.empty(shape, self.input_dtype)
        self._write_pixels(self._staging, pixels, spec)
        return self._staging

    def _invoke_pixels(self, pixels: np.ndarray, spec: InputSpec) -> list[np.ndarray]:
        # Written into LiteRT's own input buffer through a view that is dropped before the
        # invoke (LiteRT refuses to run while a view of its tensors is alive).
        self._write_pixels(self._interp.tensor(self._input["index"])(), pixels, spec)
        self._interp.invoke()
        return [self._read_output(d) for d in self._outputs]

    def _read_output(self, detail: dict) -> np.ndarray:
        """Output `detail` of the last invoke as a fresh float32 array (one pass)."""
        view = self._interp.tensor(detail["index"])()
        scale, zp = detail["quantization"]
        if view.dtype.itemsize != 1 or not scale:
            return self._dequantize(view.copy(), detail)
        key = ("out", detail["index"])
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = dequantize_table(view.dtype, scale, zp)
        return table[view.view(np.uint8)]

    def _resize(self, n: int) -> bool:
        try:
            with quiet_native_stderr():
                self._interp.resize_tensor_input(self._input["index"], [n, *self.input_shape[1:]], strict=False)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError):
            with quiet_native_stderr():
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
        inputs, outputs = self._compiled.buffers(self._quantize_input(x))
        self._compiled.model.run_by_index(0, inputs, outputs)
        return self._read_compiled(outputs)

    def _read_compiled(self, outputs: Any) -> list[np.ndarray]:
        result = []
        for buf, d in zip(outputs, self._outputs):
            shape = [1, *[int(v) for v in d["shape"][1:]]]
            raw = np.asarray(buf.read(int(np.prod(shape)), np.dtype(d["dtype"]))).reshape(shape)
            result.append(self._dequantize(raw, d))
        return result

    def __repr__(self) -> str:
        i = self.info
        return f"Engine({self.name!r}, variant={i.variant!r}, accelerator={i.accelerator!r})"


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
    # Everything LiteRT creates here, including what a failed attempt leaves for the
    # exception to release, is created and destroyed inside the quiet block.
    with quiet_native_stderr():
        try:
            cm = CompiledModel.from_buffer(bytes(model), hardware_accel=flag)
            if cm.is_fully_accelerated():
                global _COMPILED_USED
                _COMPILED_USED = True
                return cm, None
            del cm
            return None, f"variant '{variant}' is only partly accelerated on the {accelerator.upper()}"
        except Exception as exc:  # LiteRT raises RuntimeError/ValueError with backend text
            msg = " ".join(str(exc).split())[:200] or type(exc).__name__
            _UNAVAILABLE[accelerator] = f"{accelerator.upper()} not available on this host ({msg})"
    return None, _UNAVAILABLE[accelerator]


class _CompiledHandle:
    """Owns an Engine's CompiledModel so that its buffers are made, and the model is
    released, inside `quiet_native_stderr`: LiteRT logs INFO lines ("Creating LiteRT
    environment", "DestroyAccelerator") at both. A callable from `Engine.bind` keeps the
    model alive (and its release unquiet) for as long as it lives itself."""

    def __init__(self, model: Any):
        self.model = model
        self.bound: tuple[Any, Any] | None = None  # (inputs, outputs) of the last `bind`
        _LIVE_HANDLES.add(self)

    def buffers(self, x: np.ndarray) -> tuple[Any, Any]:
        """Fresh (input buffers, output buffers) of signature 0, `x` written to the first
        input (the first write creates LiteRT's buffer environment, which logs too)."""
        with quiet_native_stderr():
            inputs, outputs = self.model.create_input_buffers(0), self.model.create_output_buffers(0)
            inputs[0].write(x)
        return inputs, outputs

    def release(self) -> None:
        model, bound, self.model, self.bound = self.model, self.bound, None, None
        if model is not None:
            with quiet_native_stderr():
                del model, bound

    def __del__(self):
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to report to
            pass


_LIVE_HANDLES: weakref.WeakSet[_CompiledHandle] = weakref.WeakSet()
_COMPILED_USED = False  # a GPU/NPU CompiledModel was created in this process


@atexit.register
def _quiet_exit() -> None:
    """Release live compiled models quietly; then, once a CompiledModel has existed in
    this process, keep fd 2 on /dev/null for the rest of interpreter shutdown, where
    LiteRT destroys its global environment with more INFO lines. (Python has printed any
    uncaught traceback before atexit handlers run.)"""
    for handle in list(_LIVE_HANDLES):
        handle.release()
    if _COMPILED_USED and not native_logs_wanted():
        try:
            sys.stderr.flush()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def native_logs_wanted() -> bool:
    """True when `FACELITE_VERBOSE` or `FACELITE_DEBUG` is set to a non-empty value."""
    return any(os.environ.get(name) for name in VERBOSE_ENV)


# fd 2 is process-wide: one lock and a depth count so that concurrent or nested quiet
# blocks never save the /dev/null descriptor as "the real stderr".
_QUIET_LOCK = threading.RLock()
_quiet_depth = 0


@contextlib.contextmanager
def quiet_native_stderr():
    """Point file descriptor 2 at /dev/null for the block (LiteRT's native INFO lines),
    unless `native_logs_wanted()`. Python-level writes to sys.stderr are flushed first."""
    global _quiet_depth
    if native_logs_wanted():
        yield
        return
    with _QUIET_LOCK:
        if _quiet_depth:
            _quiet_depth += 1
            try:
                yield
            finally:
                _quiet_depth -= 1
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no fd 2 (embedded, closed stderr)
            saved = None
        if saved is None:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        _quiet_depth = 1
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
            _quiet_depth = 0
