"""Write the preprocessing test vectors (`tests/vectors/preprocess/`) from the reference kernels.

Every binding replays these files: each entry of `index.json` names a kernel of
`docs/preprocessing.md`, its parameters, an input and the expected output (`.npy`, NumPy
format 1.0: a short text header then little-endian C-order data, easy to read from C).
`tests/sdk_python/test_preprocess_vectors.py` checks that the Python runtime reproduces
them bit for bit; rerun this script only when the spec itself changes, and say so in
the commit.

    python scripts/make_preprocess_vectors.py            # rewrites tests/vectors/preprocess/
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import cv2
import numpy as np

from facelite import preprocess as pp
from facelite.image import load_image

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "preprocess"

SHIPPED_SPECS = {
    "expression": pp.InputSpec((1, 96, 96, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3),
    "face_detector": pp.InputSpec((1, 160, 160, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "letterbox"),
    "landmarks": pp.InputSpec((1, 112, 112, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "face", 0.15),
    "acne": pp.InputSpec((1, 160, 160, 3), "rgb", "area", (127.5,) * 3, (127.5,) * 3),
}


def photo_like(h: int, w: int, seed: int, channels: int = 3) -> np.ndarray:
    """Seeded uint8 image with smooth gradients, hard edges and noise, so every rounding case occurs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 127 + 100 * np.sin(xx / max(w, 1) * 5.0 + seed) * np.cos(yy / max(h, 1) * 3.0)
    img = np.stack([base + 20 * k for k in range(channels)], axis=2)
    img[h // 3 : h // 2, w // 4 : w // 2] = 250
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def exif_orientation_jpeg(image: np.ndarray, orientation: int) -> bytes:
    """A JPEG of `image` carrying an EXIF APP1 segment with the given Orientation tag."""
    ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = enc.tobytes()
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        old.unlink()
    entries: list[dict] = []

    def save(name: str, array: np.ndarray) -> str:
        np.save(OUT / name, np.ascontiguousarray(array), allow_pickle=False)
        return name

    def add(name: str, kernel: str, params: dict, inp: np.ndarray, expected: dict[str, np.ndarray], note: str = "") -> None:
        entry = {"name": name, "kernel": kernel, "params": params, "input": save(f"{name}.input.npy", inp)}
        entry["expected"] = {k: save(f"{name}.{k}.npy", v) for k, v in expected.items()}
        if note:
            entry["note"] = note
        entries.append(entry)

    colour = photo_like(23, 31, 1)
    for color in pp.COLORS:
        add(f"color_{color}", "to_color", {"color": color}, colour, {"output": pp.to_color(colour, color)})

    cases = [("down", 37, 29, 16, 12), ("up", 7, 5, 19, 23), ("mixed", 20, 50, 33, 14), ("even2x", 32, 48, 16, 24)]
    for label, h, w, oh, ow in cases:
        img = photo_like(h, w, 2 + len(label))
        for method in pp.RESIZES:
            add(f"resize_{method}_{label}", "resize", {"height": oh, "width": ow, "method": method},
                img, {"output": pp.resize(img, oh, ow, method)})
    gray = photo_like(41, 53, 9, channels=1)[:, :, 0]
    add("resize_area_gray", "resize", {"height": 16, "width": 20, "method": "area"}, gray,
        {"output": pp.resize(gray, 16, 20, "area")})

    for label, (h, w) in {"wide": (30, 50), "tall": (61, 22)}.items():
        img = photo_like(h, w, 11)
        canvas, (scale, pad_x, pad_y) = pp.letterbox(img, 32, 32, "bilinear")
        add(f"letterbox_{label}", "letterbox", {"height": 32, "width": 32, "method": "bilinear",
                                                "scale": scale, "pad_x": pad_x, "pad_y": pad_y},
            img, {"output": canvas})

    img = photo_like(40, 60, 13)
    for label, box in {"inside": (10.4, 8.5, 20.0, 18.0), "outside": (-6.5, 25.2, 30.0, 24.0)}.items():
        crop, origin = pp.crop_square(img, box, 0.15)
        add(f"crop_square_{label}", "crop_square", {"box": list(box), "margin": 0.15,
                                                    "origin": [float(v) for v in origin]},
            img, {"output": crop})

    img = photo_like(48, 40, 17)
    angle, scale = np.deg2rad(12.0), 0.8
    m = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 3.25],
                  [scale * np.sin(angle), scale * np.cos(angle), -4.5]])
    add("warp_affine_rotate", "warp_affine", {"matrix": m.tolist(), "width": 28, "height": 30},
        img, {"output": pp.warp_affine(img, m, 28, 30)})

    pixels = photo_like(6, 7, 19)
    spec = pp.InputSpec((1, 6, 7, 3), "rgb", "bilinear", (127.5, 120.0, 100.0), (127.5, 60.0, 58.0))
    x = pp.normalize(pixels, spec)
    add("normalize", "normalize", {"mean": list(spec.mean), "std": list(spec.std)}, pixels, {"output": x})
    add("quantize_int8", "quantize", {"scale": 0.007843137718737125, "zero_point": -1, "dtype": "int8"}, x,
        {"output": pp.quantize(x, 0.007843137718737125, -1, np.int8)})

    # Whole pipeline per shipped spec, from lossless PNG bytes (every decoder must agree).
    photo = photo_like(90, 120, 23)
    png = cv2.imencode(".png", photo)[1].tobytes()
    (OUT / "photo.png").write_bytes(png)
    box = (30.5, 20.25, 44.0, 50.0)
    for name, spec in SHIPPED_SPECS.items():
        use_box = box if spec.crop == "face" else None
        pix, placement = pp.prepare_pixels(png, spec, use_box)
        entries.append({
            "name": f"prepare_{name}", "kernel": "prepare",
            "params": {"input_spec": spec.to_manifest(), "box": list(use_box) if use_box else None,
                       "placement": {"origin": list(placement.origin), "step": list(placement.step)}},
            "input": "photo.png",
            "expected": {"pixels": save(f"prepare_{name}.pixels.npy", pix),
                         "tensor": save(f"prepare_{name}.tensor.npy", pp.normalize(pix, spec))},
        })

    # Decoding with EXIF orientation 6 (rotate 90° clockwise): a JPEG, so a binding's
    # decoder may differ by a level or two; the shape and orientation must match.
    src = photo_like(24, 40, 29)
    jpeg = exif_orientation_jpeg(src, 6)
    (OUT / "exif_orientation_6.jpg").write_bytes(jpeg)
    decoded = load_image(jpeg)
    entries.append({"name": "decode_exif_orientation_6", "kernel": "decode", "params": {"orientation": 6},
                    "input": "exif_orientation_6.jpg",
                    "expected": {"output": save("decode_exif_orientation_6.output.npy", decoded)},
                    "note": "JPEG: lossy; compare shape exactly, values within 2 levels across decoders"})

    index = {"spec": "docs/preprocessing.md", "format": "npy 1.0, little-endian, C order", "vectors": entries}
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(entries)} vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
