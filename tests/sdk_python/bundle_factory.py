"""Tiny real bundles for runtime tests: tf-keras models converted with tf.lite.

TensorFlow is imported only inside these functions, after `facelite_build` (which sets
TF_USE_LEGACY_KERAS), so the runtime under test never pulls it in itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EXPRESSION_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _tf():
    import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
    import tensorflow as tf

    tf.random.set_seed(0)
    return tf


def _convert(tf, model, kind: str, rep: np.ndarray | None = None) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif kind == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([r[None]] for r in rep)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def _keras_model(tf, shape, head):
    k = tf.keras
    inp = k.Input(shape=shape[1:], batch_size=None, name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    return k.Model(inp, head(k, x))


def _variants(tf, model, kinds, rep):
    return {kind: _convert(tf, model, kind, rep) for kind in kinds}


def _entry(kind: str, compat_gpu: bool = True) -> dict:
    target = {"fp32": "cpu", "fp16": "gpu", "dynamic": "cpu", "int8": "npu"}[kind]
    dtype = "int8" if kind == "int8" else "float32"
    return {
        "target": target,
        "input_dtype": dtype,
        "output_dtype": dtype,
        "sparsity": 0.0,
        "compatibility": {"gpu": {"ok": kind in ("fp32", "fp16") and compat_gpu},
                          "npu": {"ok": kind == "int8"}},
    }


def fer_samples(data_root: Path, spec, n: int = 16) -> np.ndarray:
    """Preprocessed real FER2013 faces for calibration and goldens."""
    from facelite.image import load_image
    from facelite.preprocess import preprocess

    files = sorted((data_root / "fer2013" / "val").glob("*/*.jpg"))[:: 97][:n]
    return np.stack([preprocess(load_image(f), spec) for f in files]).astype(np.float32)


def build_classifier(path: Path, data_root: Path, kinds=("fp32", "int8"), size: int = 32,
                     labels=EXPRESSION_LABELS, name: str = "expression", keras_out: Path | None = None):
    """A 7-class (untrained but deterministic) classifier bundle with goldens."""
    from facelite.bundle import InputSpec, write_bundle
    from facelite.engine import Engine  # noqa: F401  (fail early if the runtime is broken)

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)

    def head(k, x):
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.layers.Dense(len(labels), activation="softmax", name="probs")(x)

    model = _keras_model(tf, spec.shape, head)
    rep = fer_samples(data_root, spec)
    variants = _variants(tf, model, kinds, rep)
    golden_in = rep[:8]
    golden_out = model.predict(golden_in, verbose=0).astype(np.float32)
    manifest = {
        "name": name, "version": "0.0.1-test", "task": "classification", "labels": list(labels),
        "input": spec.to_manifest(), "output": {"kind": "probabilities"},
        "variants": {k: _entry(k) for k in kinds},
    }
    if keras_out is not None:
        model.save(keras_out)
    return write_bundle(path, manifest, variants, golden_in, golden_out, report={"test": True})


def build_landmarks(path: Path, size: int = 32, margin: float = 0.1):
    """A 68-point landmarks bundle (sigmoid outputs in [0, 1] of the face crop)."""
    from facelite.bundle import InputSpec, write_bundle

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3,
                     crop="face", margin=margin)

    def head(k, x):
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.layers.Dense(136, activation="sigmoid", name="points")(x)

    model = _keras_model(tf, spec.shape, head)
    rep = np.random.default_rng(0).uniform(-1, 1, (8, size, size, 3)).astype(np.float32)
    variants = _variants(tf, model, ("fp32",), rep)
    manifest = {
        "name": "landmarks", "version": "0.0.1-test", "task": "landmarks",
        "input": spec.to_manifest(), "output": {"kind": "points", "num_points": 68},
        "variants": {"fp32": _entry("fp32")},
    }
    return write_bundle(path, manifest, variants, rep[:4], model.predict(rep[:4], verbose=0))


def build_detector(path: Path, size: int = 64, stride: int = 4):
    """A heatmap (CenterNet-style) detection bundle: heatmap (sigmoid) + size outputs."""
    from facelite.bundle import InputSpec, write_bundle

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    k = tf.keras
    inp = k.Input(shape=spec.shape[1:], name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    heat = k.layers.Conv2D(1, 1, activation="sigmoid", name="heatmap")(x)
    wh = k.layers.Conv2D(2, 1, activation="sigmoid", name="size")(x)
    model = k.Model(inp, [heat, wh])
    rep = np.random.default_rng(0).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
    variants = _variants(tf, model, ("fp32",), rep)
    manifest = {
        "name": "face_detector", "version": "0.0.1-test", "task": "detection",
        "input": spec.to_manifest(),
        "output": {"kind": "heatmap", "stride": stride, "outputs": ["heatmap", "size"]},
        "variants": {"fp32": _entry("fp32")},
    }
    return write_bundle(path, manifest, variants)
