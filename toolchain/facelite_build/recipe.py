"""Recipe files: one TOML document that fully describes how a bundle is built.

Every key is validated against the dataclasses below, so a typo fails fast with the
file, the table, the unknown key, a suggestion and the valid keys, instead of being
silently ignored after an hour of training.

Example:

    >>> from facelite_build.recipe import load_recipe
    >>> r = load_recipe("models/expression/recipe.toml")     # doctest: +SKIP
    >>> r.backbone.arch, r.input.size, r.training.epochs    # doctest: +SKIP
    ('mobilenet_v1', 96, 30)
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from facelite.bundle import GRADE_DECISIONS, VARIANT_NAMES
from facelite.preprocess import COLORS, CROPS, RESIZES, InputSpec
from .distribute import STRATEGIES
from .errors import RecipeError
from .paths import data_root, resolve, weights_root
from .splits import DUPLICATE_RULES
from .tasks import TASKS, get_task
from .vote_targets import TARGET_MODES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ARCHS = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
LAYOUTS = tuple(dict.fromkeys(layout for t in TASKS.values() for layout in t.layouts))
HEADS = tuple(t.head for t in TASKS.values())
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant", "step")
PRUNING_SCHEDULES = ("polynomial", "constant")


@dataclass
class DataConfig:
    """Where examples come from. `path` is relative to the data root (FACELITE_DATA).

    pts300w layout: `train` lists subset folders; subsets also named in `val` are split
    by a seeded file list, `val_fraction` of them held out (all of them when it is 0).
    `box_margin` grows the points' extent into a detection box; `jitter` adds that many
    shifted/scaled extra face crops per training face (landmarks). `duplicates` is the rule
    that keeps copies of one picture on one side of the split (`splits.DUPLICATE_RULES`):
    "near" (exact and near copies, docs/dedup.md), "exact" (identical files) or "none".
    """

    layout: str = "image_folder"
    path: str = ""
    train: list[str] = field(default_factory=lambda: ["train"])
    val: list[str] = field(default_factory=list)
    val_fraction: float = 0.0
    seed: int = 1234
    box_margin: float = 0.1
    jitter: int = 0
    labels: list[str] = field(default_factory=list)
    duplicates: str = "near"
    # classification: a FER+ vote file under `path` whose crowd votes are the targets, made
    # as `targets` says (facelite_build.vote_targets: majority, probability, cross_entropy);
    # without votes, targets = "label_distribution" trains on a Gaussian over the ordered
    # labels with SD `target_sigma` grades (ACNE04's label-distribution learning)
    votes: str = ""
    targets: str = "majority"
    target_sigma: float = 0.0
    # face_patches: training copies of each photo's whole skin crop (its patches once)
    whole_view_repeat: int = 1


@dataclass
class InputConfig:
    size: int = 96
    channels: int = 3
    color: str = "rgb"
    resize: str = "bilinear"
    mean: list[float] = field(default_factory=lambda: [127.5, 127.5, 127.5])
    std: list[float] = field(default_factory=lambda: [127.5, 127.5, 127.5])
    crop: str = "none"
    margin: float = 0.0
    extra_channels: list[str] = field(default_factory=list)  # named channels after the colour ones (skin_metrics)


@dataclass
class BackboneConfig:
    """Keras Applications MobileNet; `weights` (relative to FACELITE_WEIGHTS) seeds it."""

    arch: str = "mobilenet_v1"
    alpha: float = 0.25
    weights: str = ""
    minimalistic: bool = False
    output_layer: str = ""  # cut the backbone here (e.g. "conv_pw_11_relu") to trade accuracy for bytes


@dataclass
class HeadConfig:
    type: str = "classifier"
    dropout: float = 0.2
    hidden: int = 0
    stride: int = 8
    channels: int = 32
    pool: str = "avg"
    # classification: the bundle's scores are the mean over the crop and its mirror
    # (manifest output.test_time_flip; every reader runs the model twice per crop)
    test_time_flip: bool = False
    # classification over ordered labels (grades): the label a face is given, "argmax" or
    # "median" (manifest output.grade_decision, written when not argmax; facelite.acne.grade_index)
    grade_decision: str = "argmax"
    # detection: NMS also drops a box when this share of the smaller of it and a better box
    # lies inside the other (manifest output.containment_threshold); 0: by IoU only
    containment_threshold: float = 0.0


@dataclass
class AugmentationConfig:
    flip: bool = True
    rotation: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    erasing: float = 0.0
    mosaic: float = 0.0
    # detection only (detection_augment): probability of a close-up view (face box 1 to
    # close_up_max frames, overflowing the frame) and of a face pushed half out of a side
    close_up: float = 0.0
    close_up_max: float = 2.5
    half_face: float = 0.0
    background: float = 0.0  # detection: probability of a face-free view (negatives for close-ups)


@dataclass
class LossConfig:
    """`[training.loss]`: the loss, for tasks that offer more than one (`BuildTask.losses`).

    `kind` "" is the task's default. landmarks: "huber" (default) or "wing" (Feng et al.
    2018, "Wing Loss for Robust Facial Landmark Localisation with CNNs"): a log curve for
    errors below `width` that keeps pulling on small and medium errors where Huber/L1 has
    a constant or vanishing gradient; `width` (w) and `curvature` (epsilon) are in
    fractions of the model input, so they hold for any `input.size`.
    """

    kind: str = ""
    width: float = 0.08
    curvature: float = 0.016


@dataclass
class TrainingConfig:
    epochs: int = 10
    batch: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    class_weights: str = "none"
    # where training runs (facelite_build.distribute): "default" (one device), "mirrored"
    # (this machine's GPUs), "multiworker" (machines listed in TF_CONFIG); `batch` is global
    strategy: str = "default"
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    loss: LossConfig = field(default_factory=LossConfig)


@dataclass
class PruningConfig:
    target_sparsity: float = 0.0
    epochs: int = 1
    schedule: str = "polynomial"
    two_four: bool = False
    learning_rate: float = 0.0


@dataclass
class QuantizationConfig:
    variants: list[str] = field(default_factory=lambda: list(VARIANT_NAMES))
    calibration_samples: int = 300
    qat: bool = False
    qat_epochs: int = 1
    qat_learning_rate: float = 1e-4


@dataclass
class GatesConfig:
    strict: bool = False
    gpu: list[str] = field(default_factory=lambda: ["fp16"])
    npu: list[str] = field(default_factory=lambda: ["int8"])
    # > 0: written to the manifest as verify.tolerance.fp16.max_abs_err (the runtime's
    # per-bundle override of its default 1e-2), for models whose fp16 weight rounding
    # moves outputs by slightly more; justify it in the model card.
    fp16_max_abs_err: float = 0.0


@dataclass
class MeasuresConfig:
    """skin_metrics only (docs/skin.md): `normalise = false` builds the graph without the
    lighting normalisation (the "before" of its relighting benchmark; never shipped);
    `calibration` is the folder (under FACELITE_DATA) of the healthy photos the score
    anchors are read from at build time, `calibration_limit` > 0 takes only that many."""

    normalise: bool = True
    calibration: str = "acne04/level0"
    calibration_limit: int = 0


@dataclass
class Recipe:
    name: str
    version: str
    task: str
    data: DataConfig = field(default_factory=DataConfig)
    input: InputConfig = field(default_factory=InputConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    gates: GatesConfig = field(default_factory=GatesConfig)
    measures: MeasuresConfig = field(default_factory=MeasuresConfig)
    description: str = ""
    source: Path | None = None
    sha256: str = ""

    @property
    def input_spec(self) -> InputSpec:
        s = self.input.size
        return InputSpec(
            shape=(1, s, s, self.input.channels),
            color=self.input.color,
            resize=self.input.resize,
            mean=tuple(self.input.mean),
            std=tuple(self.input.std),
            crop=self.input.crop,
            margin=self.input.margin,
            extra_channels=tuple(self.input.extra_channels),
        )

    def data_dir(self, override: str | Path | None = None) -> Path:
        if override:
            return Path(override).expanduser()
        return resolve(self.data.path, data_root())

    def weights_path(self) -> Path | None:
        return resolve(self.backbone.weights, weights_root()) if self.backbone.weights else None


_INTERNAL = {"source", "sha256"}


def _build(cls, table: dict[str, Any], where: str, file: str):
    hints = get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if f.name not in _INTERNAL]
    kwargs = {}
    for key, value in table.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            place = f"under [{where}]" if where else "at the top level"
            raise RecipeError(f"{file}: unknown key '{key}' {place}{hint} (valid keys: {', '.join(fields)})")
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise RecipeError(f"{file}: [{where}.{key}] must be a table")
            kwargs[key] = _build(kind, value, f"{where}.{key}" if where else key, file)
        else:
            kwargs[key] = _coerce(value, kind, f"{where}.{key}" if where else key, file)
    return cls(**kwargs)


def _coerce(value: Any, kind: Any, where: str, file: str) -> Any:
    origin = getattr(kind, "__origin__", None)
    if origin is list:
        if not isinstance(value, list):
            raise RecipeError(f"{file}: '{where}' must be a list, got {value!r}")
        inner = kind.__args__[0]
        return [_coerce(v, inner, where, file) for v in value]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float, str, bool) and not (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    ):
        raise RecipeError(f"{file}: '{where}' must be {kind.__name__}, got {value!r}")
    return value


def _check_choice(value: str, choices, where: str, file: str) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise RecipeError(f"{file}: '{where}' is '{value}'{hint} (one of: {', '.join(choices)})")


def _validate(r: Recipe, file: str) -> None:
    _check_choice(r.task, tuple(TASKS), "task", file)
    _check_choice(r.data.layout, LAYOUTS, "data.layout", file)
    _check_choice(r.data.duplicates, tuple(DUPLICATE_RULES), "data.duplicates", file)
    _check_choice(r.data.targets, TARGET_MODES, "data.targets", file)
    _check_choice(r.input.color, COLORS, "input.color", file)
    _check_choice(r.input.resize, RESIZES, "input.resize", file)
    _check_choice(r.input.crop, CROPS, "input.crop", file)
    _check_choice(r.backbone.arch, ARCHS, "backbone.arch", file)
    _check_choice(r.head.type, HEADS, "head.type", file)
    _check_choice(r.head.pool, ("avg", "flatten"), "head.pool", file)
    _check_choice(r.head.grade_decision, GRADE_DECISIONS, "head.grade_decision", file)
    _check_choice(r.training.optimizer, OPTIMIZERS, "training.optimizer", file)
    _check_choice(r.training.schedule, SCHEDULES, "training.schedule", file)
    _check_choice(r.training.class_weights, ("none", "balanced", "sqrt"), "training.class_weights", file)
    _check_choice(r.training.strategy, STRATEGIES, "training.strategy", file)
    _check_choice(r.pruning.schedule, PRUNING_SCHEDULES, "pruning.schedule", file)
    for v in r.quantization.variants:
        _check_choice(v, VARIANT_NAMES, "quantization.variants", file)
    expected_channels = (1 if r.input.color == "gray" else 3) + len(r.input.extra_channels)
    if r.input.channels != expected_channels:
        extra = f" with {len(r.input.extra_channels)} extra_channels" if r.input.extra_channels else ""
        raise RecipeError(
            f"{file}: input.channels is {r.input.channels} but color '{r.input.color}'{extra} "
            f"gives {expected_channels}"
        )
    if len(r.input.mean) != r.input.channels or len(r.input.std) != r.input.channels:
        raise RecipeError(f"{file}: input.mean and input.std need {r.input.channels} values each")
    if r.input.size < 32:
        raise RecipeError(f"{file}: input.size {r.input.size} is below 32, the smallest MobileNet input")
    if not 0.0 <= r.pruning.target_sparsity < 1.0:
        raise RecipeError(f"{file}: pruning.target_sparsity must be in [0, 1), got {r.pruning.target_sparsity}")
    if not 0.0 <= r.data.val_fraction < 1.0:
        raise RecipeError(f"{file}: data.val_fraction must be in [0, 1)")
    if not r.data.val and r.data.val_fraction == 0.0:
        raise RecipeError(f"{file}: give data.val (split folders) or data.val_fraction (> 0) for validation")
    if r.training.epochs < 0 or r.training.batch < 1:
        raise RecipeError(f"{file}: training.epochs must be >= 0 and training.batch >= 1")
    get_task(r.task).check_recipe(r, file)


def _apply_override(table: dict, item: str, file: str) -> None:
    """`a.b=value` sets table[a][b]; the value is read as a TOML literal, else a string."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"{file}: override '{item}' must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    *parents, leaf = key.strip().split(".")
    node = table
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise RecipeError(f"{file}: override '{item}': '{part}' is not a table")
    node[leaf] = value


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Parse and validate a recipe; raise RecipeError naming file, key and fix.

    `overrides` (`["training.epochs=5", "backbone.arch='mobilenet_v2'"]`) are applied
    before validation and folded into the recipe hash, so ablations stay traceable.
    """
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    raw = path.read_bytes()
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: not valid TOML ({exc})") from None
    for item in overrides:
        _apply_override(table, item, str(path))
    if overrides:
        raw += ("\n# overrides\n" + "\n".join(overrides)).encode()
    for key in ("name", "version", "task"):
        if key not in table:
            raise RecipeError(f"{path}: missing required key '{key}' at the top level")
    recipe = _build(Recipe, table, "", str(path))
    _validate(recipe, str(path))
    recipe.source = path
    recipe.sha256 = hashlib.sha256(raw).hexdigest()
    return recipe
