"""The build: recipe → train → prune → convert → package, each stage resumable.

Stage outputs live under one work folder (`--out`, default `build/<name>`):

    train/weights.h5  train/state.json  train/ckpt/   (resume point)
    prune/weights.h5  prune/summary.json
    convert/<variant>.tflite  convert/summary.json
    <name>.flb                                         (the bundle, written last, atomically)

Each stage reads the previous stage's files, so `facelite-build convert` after an
edited quantization table re-uses the trained weights.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from facelite.errors import DataError, UserError
from facelite.tasks import get_task as runtime_task

from .data import Splits
from .recipe import Recipe
from .tasks import get_task

GOLDEN_COUNT = 8


@dataclass
class BuildOptions:
    out: Path
    data: Path | None = None
    epochs: int | None = None
    limit: int | None = None
    strict: bool | None = None
    verbose: int = 1
    signing_key: Path | None = None  # PEM Ed25519 private key; None: the development key
    strategy: str | None = None  # distribute.STRATEGIES; None: the recipe's training.strategy


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_splits(recipe: Recipe, opts: BuildOptions) -> Splits:
    """Train and validation examples as the recipe's task reads them (seeded, deterministic);
    `info["duplicate_rule"]` records the recipe's `data.duplicates` (build log, bundle report)."""
    root = recipe.data_dir(opts.data)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found; pass --data DIR or set FACELITE_DATA")
    t0 = time.perf_counter()
    splits = get_task(recipe.task).load_splits(recipe, root, opts.limit)
    splits.info = {"duplicate_rule": recipe.data.duplicates, **splits.info}
    log(f"  data: {len(splits.train)} train / {len(splits.val)} val examples from {root} "
        f"({time.perf_counter() - t0:.1f}s)")
    if splits.info:
        log(f"  data: {json.dumps(splits.info)}")
    return splits


def n_outputs(recipe: Recipe, splits: Splits) -> int:
    return get_task(recipe.task).n_outputs(splits.labels)


def datasets(recipe: Recipe, splits: Splits):
    """(training, validation) tf.data pipelines of the recipe's task."""
    return get_task(recipe.task).datasets(recipe, splits)


def _distribution(recipe: Recipe, opts: BuildOptions):
    from .distribute import distribution

    return distribution(opts.strategy or recipe.training.strategy)


def stage_train(recipe: Recipe, opts: BuildOptions, splits: Splits | None = None) -> dict:
    import tf_keras as keras

    from .model import build_model
    from .train import train

    dist = _distribution(recipe, opts)
    splits = splits or load_splits(recipe, opts)
    keras.utils.set_random_seed(recipe.data.seed)  # the same initial weights on every run and worker
    with dist.scope():
        model = build_model(recipe, n_outputs(recipe, splits))
    if not get_task(recipe.task).trained:  # a fixed graph: nothing to learn
        out = opts.out / "train"
        out.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(out / "weights.h5"))
        state = {"trained": False, "reason": f"'{recipe.task}' is a fixed graph with no weights to learn"}
        (out / "state.json").write_text(json.dumps(state, indent=1))
        log(f"[train] skipped: {state['reason']}")
        return state
    train_ds, val_ds = datasets(recipe, splits)
    weights = get_task(recipe.task).class_weights(recipe, splits)
    epochs = recipe.training.epochs if opts.epochs is None else opts.epochs
    model_name = f"{recipe.backbone.arch} α{recipe.backbone.alpha}" if get_task(recipe.task).backbone else recipe.head.type
    log(f"[train] {model_name} {recipe.input.size}px, {epochs} epochs")
    if dist.name != "default":
        log(f"[train] {dist.name}: {dist.task} of {dist.workers} worker(s), {dist.replicas} replica(s) in sync, "
            f"global batch {recipe.training.batch} ({recipe.training.batch / dist.replicas:g} per replica)")
    t0 = time.perf_counter()
    history = train(model, recipe, train_ds, val_ds, opts.out / "train", epochs, weights, opts.verbose, dist)
    history["seconds"] = round(time.perf_counter() - t0, 1)
    return history


def _load_model(recipe: Recipe, splits: Splits, weights: Path):
    from .model import build_model

    if not weights.exists():
        raise UserError(f"{weights}: not found; run the previous stage first (facelite-build build runs all)")
    model = build_model(recipe, n_outputs(recipe, splits))
    model.load_weights(str(weights))
    return model


def stage_prune(recipe: Recipe, opts: BuildOptions, splits: Splits | None = None) -> dict:
    from .prune import prune_model, sparsity_of
    from .train import compile_model

    splits = splits or load_splits(recipe, opts)
    model = _load_model(recipe, splits, opts.out / "train" / "weights.h5")
    out = opts.out / "prune"
    out.mkdir(parents=True, exist_ok=True)
    p = recipe.pruning
    if p.target_sparsity <= 0:
        model.save_weights(str(out / "weights.h5"))
        summary = {"target_sparsity": 0.0, "sparsity": round(sparsity_of(model), 4), "skipped": True}
    else:
        train_ds, val_ds = datasets(recipe, splits)
        steps = int(train_ds.cardinality().numpy())
        base_lr = p.learning_rate or recipe.training.learning_rate / 10
        compile_model(model, recipe, steps, p.epochs, base_lr)
        log(f"[prune] to {p.target_sparsity:.0%} ({p.schedule}{', 2:4' if p.two_four else ''}) over {p.epochs} epochs")
        pruned = prune_model(
            model, train_ds, val_ds, target_sparsity=p.target_sparsity, epochs=p.epochs,
            schedule=p.schedule, two_four=p.two_four, verbose=opts.verbose,
        )
        pruned.save_weights(str(out / "weights.h5"))
        summary = {"target_sparsity": p.target_sparsity, "sparsity": round(sparsity_of(pruned), 4)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=128, verbose=0), np.float32).reshape(len(x), -1)


def stage_convert(recipe: Recipe, opts: BuildOptions, splits: Splits | None = None) -> dict:
    from .dataset import normalized
    from .gates import check_variant
    from .quantize import convert, input_rounding

    splits = splits or load_splits(recipe, opts)
    model = _load_model(recipe, splits, opts.out / "prune" / "weights.h5")
    out = opts.out / "convert"
    out.mkdir(parents=True, exist_ok=True)
    calib = normalized(splits.train, recipe.input_spec, recipe.quantization.calibration_samples, recipe.data.seed)
    summary = {}
    int8_source = model
    if recipe.quantization.qat and "int8" in recipe.quantization.variants:
        int8_source, summary["qat"] = _quantization_aware(recipe, splits, model, opts)
    for variant in recipe.quantization.variants:
        t0 = time.perf_counter()
        source = int8_source if variant == "int8" else model
        blob = convert(source, variant, calib if variant == "int8" else None)
        (out / f"{variant}.tflite").write_bytes(blob)
        summary[variant] = {
            "bytes": len(blob),
            "seconds": round(time.perf_counter() - t0, 1),
            "compatibility": check_variant(blob, variant),
        }
        log(f"[convert] {variant}: {len(blob) / 1024:.0f} KiB in {summary[variant]['seconds']}s")
        rounding = input_rounding(blob, recipe.input_spec)
        if rounding is not None:
            summary[variant]["input_rounding"] = rounding
            if not rounding["exact"]:
                log(f"[convert] warning: {variant}: pixel values land {rounding['max_step_error']:.2f} of a step "
                    f"off the model's input levels (input.mean {list(recipe.input.mean)}), so every pixel is "
                    "rounded; an integer mean such as 128 maps pixels onto levels exactly")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _quantization_aware(recipe: Recipe, splits: Splits, model, opts: BuildOptions):
    """Fine-tune a fake-quantized copy so the int8 variant learns its own ranges.

    Only the int8 variant comes from it; fp32/fp16/dynamic stay the pruned float model,
    the reference the int8 variant is judged against.
    """
    from .quantize import quantize_aware
    from .train import compile_model

    q = recipe.quantization
    train_ds, val_ds = datasets(recipe, splits)
    qat = quantize_aware(model, preserve_sparsity=recipe.pruning.target_sparsity > 0)
    compile_model(qat, recipe, int(train_ds.cardinality().numpy()), q.qat_epochs, q.qat_learning_rate)
    log(f"[convert] quantization-aware fine-tuning: {q.qat_epochs} epoch(s) at {q.qat_learning_rate:g}")
    t0 = time.perf_counter()
    history = qat.fit(train_ds, validation_data=val_ds, epochs=q.qat_epochs, verbose=opts.verbose)
    logs = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    return qat, {"epochs": q.qat_epochs, "seconds": round(time.perf_counter() - t0, 1), **logs}


def variant_runner(variants: Mapping[str, bytes], spec):
    """`examples` → every variant's flat outputs on them, as the package stage runs variants
    (`verify.run_tflite`): what `BuildTask.operating_points` chooses from."""
    from .dataset import normalized
    from .verify import run_tflite

    def run(examples) -> dict[str, np.ndarray]:
        x = normalized(examples, spec)
        return {v: run_tflite(blob, x).reshape(len(x), -1) for v, blob in variants.items()}

    return run


def stage_package(recipe: Recipe, opts: BuildOptions, splits: Splits | None = None) -> dict:
    from .dataset import normalized
    from .gates import enforce
    from .measure import measure_variants
    from .package import package
    from .quantize import VARIANT_TARGET
    from .verify import run_tflite

    splits = splits or load_splits(recipe, opts)
    model = _load_model(recipe, splits, opts.out / "prune" / "weights.h5")
    conv = json.loads((opts.out / "convert" / "summary.json").read_text())
    prune_summary = json.loads((opts.out / "prune" / "summary.json").read_text())
    missing = [v for v in recipe.quantization.variants if v not in conv]
    if missing:
        raise UserError(f"{opts.out / 'convert'}: no converted {missing}; run the convert stage again")
    variants = {v: (opts.out / "convert" / f"{v}.tflite").read_bytes() for v in recipe.quantization.variants}
    compat = {v: conv[v]["compatibility"] for v in variants}
    strict = recipe.gates.strict if opts.strict is None else opts.strict
    gate_problems = enforce(compat, {"gpu": recipe.gates.gpu, "npu": recipe.gates.npu}, strict)

    task = get_task(recipe.task)
    spec = recipe.input_spec
    x_val = normalized(splits.val, spec)
    keras_val = keras_outputs(model, x_val)
    output, chosen = task.operating_points(recipe, splits.train, variant_runner(variants, spec))
    output = {**task.output(recipe), **output}
    if chosen:
        log(f"[package] operating points on the training split: {output}")

    def as_read(raw: np.ndarray, run) -> np.ndarray:
        """Val outputs as the runtime scores them: with test-time flip, the mean of the
        scores of the inputs and their mirrors (`ClassificationTask.run_scores`)."""
        if not output.get("test_time_flip"):
            return raw
        return runtime_task("classification").run_scores(run, x_val, output)

    metrics: dict = {"split": "val", "duplicate_rule": recipe.data.duplicates, "n": int(len(x_val))}
    t0 = time.perf_counter()
    keras_read = as_read(keras_val, lambda x: keras_outputs(model, x))
    metrics["fp32_keras"] = task.variant_metrics(keras_read, splits.val, recipe, None, output, "fp32")
    fp32_tflite = run_tflite(variants["fp32"], x_val) if "fp32" in variants else keras_val
    fp32_read = as_read(fp32_tflite, lambda x: run_tflite(variants["fp32"], x)) if "fp32" in variants else keras_read
    val_out = {}
    for v, blob in variants.items():
        out = val_out[v] = fp32_tflite if v == "fp32" else run_tflite(blob, x_val)
        read = fp32_read if v == "fp32" else as_read(out, lambda x, blob=blob: run_tflite(blob, x))
        metrics[v] = task.variant_metrics(read, splits.val, recipe, fp32_read, output, v)
        log(f"[package] {v}: {metrics[v]}")
    metrics["seconds"] = round(time.perf_counter() - t0, 1)
    if chosen:
        metrics["operating_points"] = chosen
    measured = measure_variants(variants, x_val[:1], metrics)
    log("[package] median invoke on this host: " + ", ".join(
        f"{v} {m['latency_ms']:.3g} ms (agreement {m['agreement']})" for v, m in measured.items()))

    count = task.golden_count or GOLDEN_COUNT
    gidx = np.sort(np.random.default_rng(recipe.data.seed).permutation(len(x_val))[:count])
    golden_pixels = splits.val.x[gidx]  # uint8 pixels: the bundle replays the normalisation
    golden_out = task.reference_outputs(keras_val, fp32_tflite)[gidx]
    golden_variant_out = {v: out[gidx].reshape(golden_out.shape) for v, out in val_out.items() if v != "fp32"}
    meta = {
        v: {"target": VARIANT_TARGET[v], "sparsity": prune_summary["sparsity"], "compatibility": compat[v],
            "measured": measured[v]}
        for v in variants
    }
    report = {
        "recipe": str(recipe.source),
        "data": splits.info,
        "train": _read_json(opts.out / "train" / "state.json"),
        "prune": prune_summary,
        "convert": conv,
        "gates": {"strict": strict, "problems": gate_problems},
        "metrics": metrics,
    }
    path = package(
        opts.out / f"{recipe.name}.flb",
        name=recipe.name,
        version=recipe.version,
        task=recipe.task,
        labels=splits.labels,
        input_spec=spec,
        output=output,
        verify_tolerance=(
            {"fp16": {"max_abs_err": recipe.gates.fp16_max_abs_err}} if recipe.gates.fp16_max_abs_err > 0 else None
        ),
        variants=variants,
        variant_meta=meta,
        golden_inputs=golden_pixels,
        golden_outputs=golden_out,
        golden_variant_outputs=golden_variant_out,
        metrics=metrics,
        recipe_sha256=recipe.sha256,
        report=report,
        signing_key=opts.signing_key,
    )
    log(f"[package] wrote {path}")
    return {"bundle": str(path), "metrics": metrics, "gates": gate_problems}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


STAGES = {"train": stage_train, "prune": stage_prune, "convert": stage_convert, "package": stage_package}


def run(stage: str, recipe: Recipe, opts: BuildOptions) -> dict:
    """Run one stage, or all of them with `build` (data loaded once).

    The training strategy is set up first, before TensorFlow runs any op (multi-worker
    training needs that). In a multi-worker `build` only the chief goes on after
    training: the other workers have helped train and stop there.
    """
    dist = _distribution(recipe, opts) if stage in ("train", "build") else None
    if stage != "build":
        return {stage: STAGES[stage](recipe, opts)}
    splits = load_splits(recipe, opts)
    result = {}
    t0 = time.perf_counter()
    for name, fn in STAGES.items():
        result[name] = fn(recipe, opts, splits)
        if name == "train" and not dist.is_chief:
            result["worker"] = f"{dist.task}: training done; the chief prunes, converts and packages"
            log(f"[build] {result['worker']}")
            break
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result
