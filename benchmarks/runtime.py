"""Batch-1 latency of one model in three runtimes: facelite (LiteRT, every variant), Keras/TF, ONNX Runtime.

Why: the SDK claims LiteRT variants are the fast path on device; this measures it on
the host against the training framework (Keras eager and a compiled tf.function) and a
common serving runtime (ONNX Runtime, via tf2onnx), on the same input, same thread
count, and prints median latencies, ratios and output parity in one run.

    python benchmarks/runtime.py models/expression/expression.flb --keras build/expression/train/model.keras
    python benchmarks/runtime.py build/expression/expression.flb \
        --recipe models/expression/recipe.toml --weights build/expression/prune/weights.h5
    python benchmarks/runtime.py --demo            # builds a tiny bundle + Keras model first

A script, not a test: it imports TensorFlow (the runtime under test never does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def timeit(fn, x, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
            "min_ms": times[0]}


def first_output(y) -> np.ndarray:
    if isinstance(y, dict):
        y = list(y.values())[0]
    if isinstance(y, (list, tuple)):
        y = y[0]
    return np.asarray(y, np.float32)


def build_demo(out: Path) -> tuple[Path, Path]:
    """A tiny classifier bundle + its Keras model, built like the test fixture bundles
    (`tests/fixture_bundles.build_classifier`, on FER2013 faces from FACELITE_DATA)."""
    sys.path.insert(0, str(REPO / "tests"))
    import fixture_bundles
    from facelite_build.paths import data_root

    keras_path = out / "model.h5"
    bundle = fixture_bundles.build_classifier(out / "demo.flb", data_root(), kinds=("fp32", "fp16", "dynamic", "int8"),
                                              size=96, keras_out=keras_path)
    return bundle, keras_path


def rebuild(recipe_path: str, weights: str, bundle):
    """Keras model from a recipe + saved weights, through the toolchain's own builder."""
    from facelite_build.model import build_model
    from facelite_build.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    shape = bundle.manifest["output"].get("shape")
    if shape is None:
        raise SystemExit(f"{bundle.path}: manifest has no output.shape; rebuild the bundle with facelite-build")
    model = build_model(recipe, int(np.prod(shape[1:])))
    model.load_weights(weights)
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", nargs="?", help=".flb bundle (omit with --demo)")
    p.add_argument("--keras", help="the trained Keras model (.keras or .h5), e.g. <out>/train/model.keras")
    p.add_argument("--recipe", help="with --weights: rebuild the Keras model from the recipe (the toolchain saves weights only)")
    p.add_argument("--weights", help="<out>/prune/weights.h5 or <out>/train/weights.h5, with --recipe")
    p.add_argument("--demo", action="store_true", help="build a tiny bundle + Keras model and benchmark those")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    tmp = None
    if args.demo:
        tmp = tempfile.TemporaryDirectory(prefix="facelite-bench-")
        bundle_path, keras_path = build_demo(Path(tmp.name))
    elif args.bundle:
        bundle_path, keras_path = Path(args.bundle), Path(args.keras) if args.keras else None
        if args.recipe and args.weights:
            keras_path = ("recipe", args.recipe, args.weights)
    else:
        p.error("give a BUNDLE or --demo")

    from facelite.bundle import Bundle
    from facelite.engine import Engine

    bundle = Bundle.open(bundle_path)
    shape = bundle.input_spec.shape
    x = bundle.golden()[0][:1] if bundle.has_golden else np.random.default_rng(0).normal(size=shape).astype(np.float32)
    rows: dict[str, dict] = {}
    outputs: dict[str, np.ndarray] = {}
    for v in [n for n in ("fp32", "fp16", "dynamic", "int8") if n in bundle.variants]:
        eng = Engine(bundle, v, "cpu", args.threads)
        rows[f"facelite {v}"] = timeit(eng.run, x, args.runs, args.warmup)
        outputs[f"facelite {v}"] = first_output(eng.run(x))
        print(f"facelite {v}: {rows[f'facelite {v}']['median_ms']:.3f} ms", file=sys.stderr)

    if keras_path:
        import facelite_build  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # already initialised (--demo built the model in-process)
            print("keras: TF thread pools already initialised; using its defaults", file=sys.stderr)
        if isinstance(keras_path, tuple):
            model = rebuild(keras_path[1], keras_path[2], bundle)
        else:
            model = tf.keras.models.load_model(keras_path, compile=False)
        xt = tf.constant(x)
        rows["keras eager"] = timeit(lambda a: model(a, training=False), xt, args.runs, args.warmup)
        graph = tf.function(lambda a: model(a, training=False), jit_compile=False)
        rows["keras tf.function"] = timeit(graph, xt, args.runs, args.warmup)
        outputs["keras tf.function"] = first_output(graph(xt))
        print(f"keras: {rows['keras tf.function']['median_ms']:.3f} ms (tf.function)", file=sys.stderr)
        try:
            import onnxruntime as ort
            import tf2onnx

            spec = (tf.TensorSpec((1, *shape[1:]), tf.float32, name="input"),)
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=13)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            rows["onnxruntime"] = timeit(lambda a: sess.run(None, {name: a}), x, args.runs, args.warmup)
            outputs["onnxruntime"] = first_output(sess.run(None, {name: x}))
        except Exception as exc:  # conversion can fail on exotic layers; report, don't hide
            print(f"onnxruntime: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)

    base = rows.get("facelite fp32") or next(iter(rows.values()))
    ref = outputs.get("keras tf.function", outputs.get("facelite fp32"))
    for name, r in rows.items():
        r["ratio_vs_facelite_fp32"] = r["median_ms"] / base["median_ms"]
        if name in outputs and ref is not None and outputs[name].shape == ref.shape:
            r["max_abs_diff_vs_reference"] = float(np.abs(outputs[name] - ref).max())
    doc = {"bundle": str(bundle_path), "input_shape": list(shape), "threads": args.threads, "runs": args.runs,
           "batch": 1, "reference": "keras tf.function" if "keras tf.function" in outputs else "facelite fp32",
           "results": rows}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"{bundle_path}  input {shape}  batch 1  threads {args.threads}  runs {args.runs}")
        print(f"{'runtime':22s} {'median ms':>10s} {'p90 ms':>9s} {'× fp32':>8s} {'max|diff|':>10s}")
        for name, r in rows.items():
            diff = r.get("max_abs_diff_vs_reference")
            print(f"{name:22s} {r['median_ms']:10.3f} {r['p90_ms']:9.3f} {r['ratio_vs_facelite_fp32']:8.2f} "
                  f"{'' if diff is None else f'{diff:10.2e}'}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
