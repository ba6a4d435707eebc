"""Options every facelite task shares: which bundle, which variant, where it runs.

As in MediaPipe Tasks, each task's options (`FaceDetectorOptions`,
`FaceLandmarkerOptions`, `ExpressionClassifierOptions`, `SkinAnalyzerOptions`,
`FaceAnalyzerOptions`) carry one `BaseOptions` for the bundle-running choices, plus the
task's own settings. Options are checked when they are made, so a bad value fails with
a `UserError` naming the option and the values it takes, before any bundle is opened.

Example:

    >>> from facelite.options import Accelerator, BaseOptions
    >>> base = BaseOptions(accelerator="cpu", num_threads=4)
    >>> base.accelerator is Accelerator.CPU, base.variant
    (True, 'auto')
    >>> BaseOptions(num_threads=0)
    Traceback (most recent call last):
    ...
    facelite.errors.UserError: num_threads 0: must be a whole number >= 1 (the CLI's --threads)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from .bundle import VARIANT_NAMES
from .errors import UserError
from .signing import SignaturePolicy


DEFAULT_THREADS = 1
"""CPU threads per model unless asked otherwise. One, because facelite's models are small
(0.1–7 ms an invoke): with two, each model's LiteRT thread pool sleeps while the other
models run and is woken for every invoke, which costs more than the second core gives —
measured side by side (`benchmarks/pipeline.py --threads 1` vs `--threads 2`, 120 HELEN
photos, idle 2-core host): the C core's pipeline without skin 2.0 ms at 1 thread vs 3.0 ms
at 2 (identical outputs), Python's 6.0 vs 7.3 ms, skin_metrics 10.5 vs 13.8 ms."""

DEFAULT_MAX_FACES = 10
"""Faces `FaceAnalyzer` analyses at most per image unless asked otherwise (C:
FL_DEFAULT_MAX_FACES): a group photo's faces, bounded so that a crowd does not multiply
the time per image; `--max-faces` of `facelite analyze` and `facelite-run --analyze`."""


class _Choice(str, Enum):
    """A str-valued enum that also accepts its plain string value (`"cpu"`)."""

    @classmethod
    def parse(cls, value, option: str):
        try:
            return cls(value.value if isinstance(value, Enum) else str(value).lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise UserError(f"{option} '{value}': unknown; use one of {choices}") from None

    def __str__(self) -> str:
        return self.value


class Accelerator(_Choice):
    """Where a bundle runs. `AUTO` tries the NPU, then the GPU, then the CPU; a GPU or NPU
    that is missing (or rejects the variant) falls back to the CPU, and the task's
    `info.fallback_reason` says why."""

    AUTO = "auto"
    CPU = "cpu"
    GPU = "gpu"
    NPU = "npu"


class RunningMode(_Choice):
    """How a task is fed, as in MediaPipe Tasks (docs/video.md).

    `IMAGE`: independent images, one call each (`analyze`, `detect`, `classify`).
    `VIDEO`: the frames of one clip in order with increasing timestamps
    (`FaceAnalyzer.analyze_video_frame`); faces are tracked from frame to frame and their
    points smoothed. `LIVE_STREAM`: as VIDEO, but asynchronous (`FaceAnalyzer.analyze_async`),
    results through the options' `result_callback`, frames dropped rather than queued when
    the caller outruns the analyzer. Only `FaceAnalyzer` runs VIDEO and LIVE_STREAM; each
    task's options say which modes it runs (`TaskOptions.running_modes`).
    """

    IMAGE = "image"
    VIDEO = "video"
    LIVE_STREAM = "live_stream"


IMPLEMENTED_RUNNING_MODES = (RunningMode.IMAGE,)
"""The modes a task runs unless its options class declares more (`TaskOptions.running_modes`)."""


class StandIn(_Choice):
    """When a face detector or landmarker may run its stand-in instead of a bundle.

    The stand-ins (OpenCV's Haar cascade for detection, the mean face shape for landmarks)
    let the pipeline run without a model but give far worse answers, so they never run
    unless asked for: `NEVER` (default) makes a missing bundle a `BundleError`;
    `IF_MISSING` runs the stand-in when no bundle is found; `ALWAYS` runs it without
    looking for a bundle. Results name what ran (`detector`, `landmarks_source`, `stages`).
    """

    NEVER = "never"
    IF_MISSING = "if_missing"
    ALWAYS = "always"


@dataclass(frozen=True, kw_only=True)
class BaseOptions:
    """The bundle-running choices every task shares.

    Attributes:
        bundle_path: the `.flb` file; None means the bundle shipped with facelite
            (`facelite.paths`), where the task has one.
        variant: `auto` (the accelerator's choice) or `fp32`, `fp16`, `dynamic`, `int8`.
        accelerator: an `Accelerator` or its value (`"auto"`, `"cpu"`, `"gpu"`, `"npu"`).
        num_threads: CPU threads per interpreter, at least 1.
        require_signature: must the bundle carry a trusted signature? None (default):
            yes for a bundle from outside the installed package, no for the shipped
            ones (still checked when signed); see `facelite.signing`.
        trusted_keys: PEM public key files, or folders of `*.pub` files, whose
            signatures are trusted (plus `FACELITE_TRUSTED_KEYS`).
        trust_development_key: trust bundles signed with the facelite development key
            (they load with a warning: it is not for production).
    """

    bundle_path: str | os.PathLike | None = None
    variant: str = "auto"
    accelerator: Accelerator | str = Accelerator.AUTO
    num_threads: int = DEFAULT_THREADS
    require_signature: bool | None = None
    trusted_keys: tuple[str | os.PathLike, ...] = ()
    trust_development_key: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "accelerator", Accelerator.parse(self.accelerator, "accelerator"))
        if self.variant != "auto" and self.variant not in VARIANT_NAMES:
            raise UserError(f"variant '{self.variant}': unknown; use auto or one of {', '.join(VARIANT_NAMES)}")
        threads = self.num_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise UserError(f"num_threads {threads}: must be a whole number >= 1 (the CLI's --threads)")
        object.__setattr__(self, "trusted_keys", self.signature_policy.trusted_keys)

    @property
    def signature_policy(self) -> SignaturePolicy:
        """The trust options as the `SignaturePolicy` every bundle opened with them is checked by."""
        return SignaturePolicy(require_signature=self.require_signature, trusted_keys=self.trusted_keys,
                               trust_development_key=self.trust_development_key)


@dataclass(frozen=True, kw_only=True)
class TaskOptions:
    """What every task's options hold: the shared `BaseOptions` and the running mode.

    Attributes:
        base_options: bundle, variant, accelerator and threads (`BaseOptions`).
        running_mode: a `RunningMode` or its value, one of the class's `running_modes`
            (IMAGE for every task; VIDEO and LIVE_STREAM for `FaceAnalyzerOptions`).
    """

    running_modes: ClassVar[tuple[RunningMode, ...]] = IMPLEMENTED_RUNNING_MODES
    base_options: BaseOptions = field(default_factory=BaseOptions)
    running_mode: RunningMode | str = RunningMode.IMAGE

    def __post_init__(self) -> None:
        if not isinstance(self.base_options, BaseOptions):
            raise UserError(f"{type(self).__name__}: base_options must be a facelite.BaseOptions, "
                            f"not {type(self.base_options).__name__}")
        mode = RunningMode.parse(self.running_mode, "running_mode")
        if mode not in self.running_modes:
            raise UserError(f"running_mode '{mode}': not implemented yet for {type(self).__name__}; use "
                            f"{' or '.join('RunningMode.' + m.name for m in self.running_modes)}, or FaceAnalyzer "
                            "with FaceAnalyzerOptions(running_mode='video') for tracked video frames")
        object.__setattr__(self, "running_mode", mode)


def check_range(option: str, value, low=None, high=None) -> None:
    """UserError unless `low <= value <= high` (None: unbounded); used by the task options."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{option} {value!r}: must be a number")
    if value != value:  # NaN compares false with every bound: it would pass and drop every face
        raise UserError(f"{option} {value}: must be a number, not NaN")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f">= {low}" if low is not None else f"<= {high}")
        raise UserError(f"{option} {value}: must be {bounds}")
