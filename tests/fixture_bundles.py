"""Tiny real bundles and bundle helpers shared by tests/sdk_python, tests/benchmark_app
and tests/toolchain (importable because tests/conftest.py puts this folder on sys.path).

The bundles the runtime and bench tests use are committed under `tests/fixtures/bundles/`
(a few tens of KB each) and opened with `fixture_bundle(name)`, so those tests run
without TensorFlow. They were written by `scripts/make_fixture_bundles.py`, which calls
`build_fixture_bundles` below: tf-keras conv nets converted with the toolchain's own
converter (`facelite_build.quantize.convert`, the code that builds the shipped bundles)
and written with `facelite.bundle.write_bundle` together with golden vectors stored as
uint8 pixels, then signed with the facelite development key as the toolchain's package
stage signs (`facelite.signing`). `tests/toolchain/test_fixture_bundles.py` rebuilds them
into a temporary folder and checks they still match the committed ones.

TensorFlow is imported only inside the builders, after `facelite_build` (which sets
TF_USE_LEGACY_KERAS), so the runtime under test never pulls it in itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

EXPRESSION_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
PATTERN_LABELS = ["blank", "horizontal", "vertical", "checker"]

FIXTURE_BUNDLES = Path(__file__).parent / "fixtures" / "bundles"
"""The committed tiny bundles: expression.flb, landmarks.flb, face_detector.flb, tiny.flb."""

DEVELOPMENT_KEY = Path(__file__).resolve().parents[1] / "toolchain" / "facelite_build" / "development_key.pem"
"""The facelite development signing key (`facelite_build.package.DEVELOPMENT_KEY`), by path:
the runtime tests sign with it without importing the toolchain."""


def fixture_bundle(name: str) -> Path:
    """The committed tiny bundle `name` (expression, landmarks, face_detector or tiny)."""
    path = FIXTURE_BUNDLES / f"{name}.flb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such fixture bundle; regenerate them with "
                                "`python scripts/make_fixture_bundles.py` (needs the toolchain and FER2013)")
    return path


def build_fixture_bundles(out: Path, data_root: Path) -> dict[str, Path]:
    """Write every fixture bundle into `out` (TensorFlow and FER2013 under `data_root` needed)."""
    out.mkdir(parents=True, exist_ok=True)
    return {name: signed_with_development_key(path) for name, path in {
        "expression": build_classifier(out / "expression.flb", data_root),
        "landmarks": build_landmarks(out / "landmarks.flb"),
        "face_detector": build_detector(out / "face_detector.flb"),
        "tiny": build_pattern_classifier(out / "tiny.flb"),
    }.items()}


# -- helpers ---------------------------------------------------------------------------


def signed_with_development_key(path: Path) -> Path:
    """`path`, signed in place with the development key (as every built bundle is)."""
    from facelite.signing import sign_bundle

    return sign_bundle(path, DEVELOPMENT_KEY)


def tamper(src: Path, dst: Path, member: str = "int8.tflite") -> Path:
    """Copy `src` to `dst` with one byte flipped in the middle of a stored member:
    the zip stays readable, the member's sha256 no longer matches."""
    from facelite.bundle import Bundle

    shutil.copy(src, dst)
    with Bundle.open(dst) as b:
        offset = b.member_offsets()[member] + b.variants[member.split(".")[0]].bytes // 2
    data = bytearray(Path(dst).read_bytes())
    data[offset] ^= 0xFF
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def with_unchecked_manifest(src: Path, dst: Path, edit) -> Path:
    """`src` at `dst` with `edit(manifest)` applied and written as it is, unsigned: a
    manifest the schema refuses (which `facelite_build.package.rewrite_manifest` will not
    write), for the tests of what a reader says about it."""
    import copy
    import json

    from facelite.bundle import MANIFEST, Bundle, write_members
    from facelite.signing import SIGNATURE_MEMBER

    with Bundle.open(src) as b:
        manifest = copy.deepcopy(b.manifest)
        members = [(n, bytes(b.member_view(n))) for n in b.member_names() if n not in (MANIFEST, SIGNATURE_MEMBER)]
    edit(manifest)
    return write_members(dst, [(MANIFEST, json.dumps(manifest, indent=2).encode()), *members])


def measured_record(latency_ms: float, agreement: float | None, accelerator: str = "cpu") -> dict:
    """A hand-made `variants.<name>.measured` entry (`facelite_build.measure` writes real ones)."""
    return {"accelerator": accelerator, "threads": 2, "latency_ms": latency_ms, "repeats": 50,
            "agreement": agreement, "host": {"cpu": "test", "cores": 2, "os": "test", "litert": None}}


def with_measured(dst: Path, records: dict, src: Path | None = None) -> Path:
    """A bundle at `dst` holding the variants named in `records` ({name: measured entry or
    None}), each with that record. Built from the tiny fixture (`src`): a variant it lacks
    (fp16, dynamic) is a copy of its fp32 model, described as fp32 is; no goldens."""
    import copy

    from facelite.bundle import Bundle, write_bundle

    with Bundle.open(src or fixture_bundle("tiny")) as b:
        manifest = copy.deepcopy(b.manifest)
        manifest.pop("golden", None)
        entries, models = {}, {}
        for name, record in records.items():
            source = name if name in b.variants else "fp32"
            entries[name] = copy.deepcopy(b.manifest["variants"][source])
            if record is not None:
                entries[name]["measured"] = record
            models[name] = bytes(b.variant_bytes(source))
    manifest["variants"] = entries
    return write_bundle(dst, manifest, models)


def _tf():
    """TensorFlow, with Python, NumPy and TF seeded: a fixture is the same bytes whatever ran before it."""
    import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf


def _variants(model, kinds, rep: np.ndarray | None) -> dict[str, bytes]:
    from facelite_build.quantize import convert

    return {kind: convert(model, kind, rep if kind == "int8" else None) for kind in kinds}


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


def _keras_model(tf, shape, head):
    k = tf.keras
    inp = k.Input(shape=shape[1:], batch_size=None, name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    return k.Model(inp, head(k, x))


def _classification_manifest(name: str, version: str, labels, spec, kinds) -> dict:
    return {
        "name": name, "version": version, "task": "classification", "labels": list(labels),
        "input": spec.to_manifest(), "output": {"kind": "probabilities"},
        "variants": {k: _entry(k) for k in kinds},
    }


# -- runtime bundles (expression / landmarks / detector shapes) --------------------------


def fer_samples(data_root: Path, spec, n: int = 16, labels=EXPRESSION_LABELS) -> tuple[np.ndarray, np.ndarray]:
    """Real FER2013 val faces as uint8 model-input pixels (calibration and goldens) and their label indices."""
    from facelite.preprocess import prepare_pixels

    files = sorted((data_root / "fer2013" / "val").glob("*/*.jpg"))[:: 97][:n]
    pixels = np.stack([prepare_pixels(f, spec)[0] for f in files])
    return pixels, np.array([labels.index(f.parent.name) for f in files])


def build_classifier(path: Path, data_root: Path, kinds=("fp32", "int8"), size: int = 32,
                     labels=EXPRESSION_LABELS, name: str = "expression", keras_out: Path | None = None):
    """A 7-class classifier bundle with goldens on real FER faces.

    The net is fitted to its 16 calibration faces (a few seconds) so its outputs are
    decisive: an untrained net's near-uniform softmax makes int8-vs-fp32 top-1 agreement
    a coin toss that depends on the random init.
    """
    from facelite.bundle import write_bundle
    from facelite.preprocess import InputSpec, normalize

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)

    def head(k, x):
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.layers.Dense(len(labels), activation="softmax", name="probs")(x)

    model = _keras_model(tf, spec.shape, head)
    pixels, y = fer_samples(data_root, spec, labels=list(labels))
    rep = normalize(pixels, spec)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(rep, y, epochs=300, batch_size=16, verbose=0)
    variants = _variants(model, kinds, rep)
    golden_in = pixels[:8]
    golden_out = model.predict(rep[:8], verbose=0).astype(np.float32)
    if keras_out is not None:
        model.save(keras_out)
    return write_bundle(path, _classification_manifest(name, "0.0.1-test", labels, spec, kinds), variants,
                        golden_in, golden_out, report={"test": True})


def build_landmarks(path: Path, size: int = 32, margin: float = 0.1):
    """A 68-point landmarks bundle (sigmoid outputs in [0, 1] of the face crop)."""
    from facelite.bundle import write_bundle
    from facelite.preprocess import InputSpec, normalize

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3,
                     crop="face", margin=margin)

    def head(k, x):
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.layers.Dense(136, activation="sigmoid", name="points")(x)

    model = _keras_model(tf, spec.shape, head)
    pixels = np.random.default_rng(0).integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    rep = normalize(pixels, spec)
    variants = _variants(model, ("fp32",), rep)
    manifest = {
        "name": "landmarks", "version": "0.0.1-test", "task": "landmarks",
        "input": spec.to_manifest(), "output": {"kind": "points", "num_points": 68},
        "variants": {"fp32": _entry("fp32")},
    }
    return write_bundle(path, manifest, variants, pixels[:4], model.predict(rep[:4], verbose=0))


def build_detector(path: Path, size: int = 64, stride: int = 4):
    """A heatmap (CenterNet-style) detection bundle: heatmap (sigmoid) + size outputs.

    Its goldens (two random pixel images) hold both outputs flattened and concatenated
    in LiteRT's output order, the layout `facelite.verify` compares a multi-output model in.
    """
    from facelite.bundle import write_bundle
    from facelite.engine import Engine
    from facelite.preprocess import InputSpec, normalize

    tf = _tf()
    spec = InputSpec((1, size, size, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    k = tf.keras
    inp = k.Input(shape=spec.shape[1:], name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    heat = k.layers.Conv2D(1, 1, activation="sigmoid", name="heatmap")(x)
    wh = k.layers.Conv2D(2, 1, activation="sigmoid", name="size")(x)
    model = k.Model(inp, [heat, wh])
    variants = _variants(model, ("fp32",), None)
    pixels = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    keras_out = {o.shape[1:]: o for o in model.predict(normalize(pixels, spec), verbose=0)}
    litert_order = [o.shape[1:] for o in Engine.from_bytes(variants["fp32"], num_threads=1).run(normalize(pixels[:1], spec))]
    golden_out = np.concatenate([keras_out[shape].reshape(len(pixels), -1) for shape in litert_order], axis=1)
    manifest = {
        "name": "face_detector", "version": "0.0.1-test", "task": "detection",
        "input": spec.to_manifest(),
        "output": {"kind": "heatmap", "stride": stride, "outputs": ["heatmap", "size"]},
        "variants": {"fp32": _entry("fp32")},
    }
    return write_bundle(path, manifest, variants, pixels, golden_out.astype(np.float32))


# -- a trained pattern classifier (benchmark parity/accuracy needs a model that has learnt) --


def pattern_image(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A BGR uint8 image of one of the four pattern classes, with noise and phase jitter."""
    import cv2

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
    """DIR/<label>/<n>.png of pattern images, the layout `--data` takes."""
    import cv2

    rng = np.random.default_rng(seed)
    for i, label in enumerate(PATTERN_LABELS):
        (root / label).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            cv2.imwrite(str(root / label / f"{n}.png"), pattern_image(i, rng))
    return root


def build_pattern_classifier(path: Path, size: int = 32):
    """Train (a few seconds) a 4-class pattern classifier and write it (fp32 + int8) to `path`."""
    from facelite.bundle import write_bundle
    from facelite.preprocess import InputSpec, normalize, prepare_pixels

    tf = _tf()
    keras = tf.keras
    spec = InputSpec((1, size, size, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(PATTERN_LABELS), 320)
    pixels = np.stack([prepare_pixels(pattern_image(int(label), rng), spec)[0] for label in labels])
    x = normalize(pixels, spec)
    model = keras.Sequential([
        keras.layers.Input((size, size, 3)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(len(PATTERN_LABELS), activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=10, batch_size=32, verbose=0)
    kinds = ("fp32", "int8")
    variants = _variants(model, kinds, x[:100])
    golden_out = model.predict(x[:16], verbose=0).astype(np.float32)
    manifest = _classification_manifest("tiny", "0.0.1", PATTERN_LABELS, spec, kinds)
    return write_bundle(path, manifest, variants, pixels[:16], golden_out)
