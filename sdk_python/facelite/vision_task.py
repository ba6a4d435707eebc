"""The base class of every facelite task: made from its options, closed when done.

Every task (`ExpressionClassifier`, `SkinAnalyzer`, `FaceDetector`, `FaceLandmarker`,
`FaceAnalyzer`) is created the same way, MediaPipe-Tasks style, from an options
dataclass that holds one `BaseOptions`, and holds LiteRT engines that `close()` (or a
`with` block) releases. Every task runs in `RunningMode.IMAGE`; `FaceAnalyzer` also runs
`VIDEO` and `LIVE_STREAM` (tracked faces, docs/video.md); an options class lists its
modes in `running_modes`.

Example:

    >>> import numpy as np
    >>> from facelite import BaseOptions, FaceLandmarker, FaceLandmarkerOptions
    >>> options = FaceLandmarkerOptions(base_options=BaseOptions(accelerator="cpu"))
    >>> with FaceLandmarker.create_from_options(options) as landmarker:   # the shipped bundle
    ...     landmarker.info.accelerator, landmarker.detect(np.zeros((64, 64, 3), np.uint8), (8, 8, 48, 48)).points.shape
    ('cpu', (68, 2))
"""

from __future__ import annotations

import os
from typing import ClassVar

from .bundle import Bundle
from .engine import Engine, EngineInfo
from .errors import BundleError, UserError
from .options import BaseOptions, StandIn, TaskOptions
from .paths import shipped_bundle
from .signing import enforce_signature_policy
from .tasks import require_engine, require_task


class VisionTask:
    """Base class: `create_from_options`, `create_from_bundle`, `info`, `close`.

    Subclasses set `options_type` and open their bundle and engine in `__init__(options)`
    through `_open_bundle` and `_engine`, so that `info` and `close` know about them.
    """

    options_type: ClassVar[type[TaskOptions]] = TaskOptions

    def __init__(self, options: TaskOptions):
        self.options = options
        self._engines: list[Engine] = []
        self._bundles: list[Bundle] = []
        self._closed = False

    @classmethod
    def create_from_options(cls, options: TaskOptions | None = None):
        """The task for `options` (None: the defaults, i.e. the shipped bundle)."""
        options = cls.options_type() if options is None else options
        if not isinstance(options, cls.options_type):
            raise UserError(f"{cls.__name__}.create_from_options: takes {cls.options_type.__name__}, "
                            f"not {type(options).__name__}")
        return cls(options)

    @classmethod
    def create_from_bundle(cls, bundle_path: str | os.PathLike):
        """The task on one `.flb` file with every other option at its default."""
        return cls.create_from_options(cls.options_type(base_options=BaseOptions(bundle_path=bundle_path)))

    def _open_bundle(self, shipped: str, task: str, optional: bool = False) -> Bundle | None:
        """The bundle to run: `base_options.bundle_path`, else the shipped bundle `shipped`,
        checked against the base options' signature policy and to be a `task` bundle. When there is neither: BundleError, or None if
        `optional` (the caller then says what runs instead, or what is missing)."""
        path = self.options.base_options.bundle_path
        if path is None:
            try:
                path = shipped_bundle(shipped)
            except BundleError:  # the shipped bundles are not installed
                if optional:
                    return None
                raise
            if path is None:
                if optional:
                    return None
                raise BundleError(
                    f"no '{shipped}' bundle: none given and none shipped with facelite; pass "
                    f"{self.options_type.__name__}(base_options=BaseOptions(bundle_path=...)) "
                    "or reinstall facelite")
        bundle = Bundle.open(path)
        self._bundles.append(bundle)
        enforce_signature_policy(bundle, self.options.base_options.signature_policy)
        problems = require_task(bundle, task, type(self).__name__).check_manifest(bundle.manifest)
        if problems:
            raise BundleError(f"{bundle.path}: {'; '.join(problems)}; rebuild the bundle")
        return bundle

    def _bundle_or_stand_in(self, shipped: str, task: str, stand_in: str) -> Bundle | None:
        """`_open_bundle`, or None where the options' `stand_in` asks for the stand-in
        (`stand_in` names it in the error raised when there is no bundle and none may run)."""
        if self.options.stand_in is StandIn.ALWAYS:
            return None
        bundle = self._open_bundle(shipped, task, optional=True)
        if bundle is None and self.options.stand_in is StandIn.NEVER:
            options = self.options_type.__name__
            raise BundleError(
                f"no {shipped.replace('_', ' ')} bundle: none given and none shipped with facelite; pass "
                f"{options}(base_options=BaseOptions(bundle_path=...)), reinstall facelite, "
                f"or ask for {stand_in} with {options}(stand_in='if_missing')")
        return bundle

    def _engine(self, bundle) -> Engine:
        """An Engine for `bundle` with the base options' variant, accelerator and threads,
        refused (BundleError) when its model does not fit the bundle's task (`require_engine`)."""
        base = self.options.base_options
        engine = Engine(bundle, base.variant, base.accelerator, base.num_threads)
        require_engine(bundle, engine)
        self._engines.append(engine)
        return engine

    @property
    def engine(self) -> Engine | None:
        """The task's engine; None for a stand-in, a task of several engines, or once closed."""
        return self._engines[0] if len(self._engines) == 1 else None

    @property
    def info(self) -> EngineInfo | None:
        """What the task's engine runs (variant, accelerator, fallback reason); None for a stand-in."""
        return self.engine.info if self.engine else None

    def _check_open(self) -> None:
        if self._closed:
            raise UserError(f"{type(self).__name__} is closed; create a new one with create_from_options")

    def close(self) -> None:
        """Close the bundle files and drop the engines (their interpreters and model bytes
        are freed with them); the task then refuses new work. Calling it twice is harmless."""
        for bundle in self._bundles:
            bundle.close()
        self._bundles.clear()
        self._engines.clear()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
