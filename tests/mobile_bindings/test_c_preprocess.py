"""The C core's decoder and preprocessing give the Python runtime's pixels and tensors.

`libfacelite` implements docs/preprocessing.md (`mobile_bindings/c/src/preprocess.c`)
and step 1, decoding (`src/image.c`: libjpeg-turbo and libpng). A phone runs a bundle
through that code, so it must feed the model the very tensor `facelite.preprocess.prepare`
computes. These tests drive two executables of the session's CMake build (`c_build`):
`test_preprocess_vectors` (every vector of tests/vectors/preprocess/, bit for bit) and
`tool_prepare` (decode a file, or prepare it for a bundle's `input` block, writing `.npy`),
and compare with the Python reference on the same files:

- generated PNGs of every kind OpenCV reads (8/16-bit, grey, alpha, palette, tRNS,
  low bit depths, interlaced, eXIf orientation): exactly Python's pixels;
- generated JPEGs (every chroma subsampling, progressive, grey, restart markers, YCCK,
  EXIF orientations 1-8 and damaged EXIF directories): exactly Python's pixels. The spec
  allows JPEG decoders 2 levels; libjpeg-turbo's defaults (integer IDCT, fancy
  upsampling) give OpenCV's pixels exactly, so any difference means the decoder's
  configuration changed;
- 50 real photos (ACNE04 and HELEN from the shared data): decoded pixels, and the input
  tensors for each shipped bundle's `input` block (HELEN's `.pts` extent boxes for the
  landmark crops, the letterbox for the detector), identical to Python's.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelite import preprocess as pp
from facelite.bundle import Bundle
from facelite.datasets import extent_box, read_pts
from facelite.errors import ImageError
from facelite.image import load_image
from facelite.paths import shipped_bundle

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "preprocess"
YCCK_JPEG = REPO / "tests" / "fixtures" / "images" / "ycck_13x9.jpg"
SHIPPED = ("expression", "acne", "face_detector", "landmarks")
PHOTOS_PER_SET = 25


# -- driving the C tools ----------------------------------------------------------------


def _tool(c_build, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c_build.tool("tool_prepare")), *args], capture_output=True, text=True,
                          timeout=timeout)


def _c_decode(c_build, path: Path, out_dir: Path) -> tuple[np.ndarray | None, str]:
    """(BGR pixels, or None and the C error message) of the C decoder on `path`."""
    out = out_dir / "decoded.npy"
    out.unlink(missing_ok=True)
    done = _tool(c_build, "decode", str(path), str(out))
    if done.returncode != 0:
        return None, done.stdout.strip()
    return np.load(out), ""


def _py_decode(data: bytes) -> np.ndarray | None:
    try:
        return load_image(data)
    except ImageError:
        return None


def _assert_same_decode(c_build, tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    c_pixels, message = _c_decode(c_build, path, tmp_path)
    py_pixels = _py_decode(data)
    assert py_pixels is not None, f"{name}: the Python runtime refuses it (test input is wrong)"
    assert c_pixels is not None, f"{name}: the C decoder refused what Python decodes: {message}"
    assert c_pixels.shape == py_pixels.shape, f"{name}: C {c_pixels.shape}, Python {py_pixels.shape}"
    diff = np.abs(c_pixels.astype(np.int16) - py_pixels.astype(np.int16))
    assert diff.max() == 0, f"{name}: {np.count_nonzero(diff)} values differ, by up to {diff.max()} levels"


# -- test images --------------------------------------------------------------------------


def photo_like(h: int, w: int, seed: int) -> np.ndarray:
    """Seeded BGR uint8 with gradients, edges and noise (every rounding case occurs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([127 + 100 * np.sin(xx / 7.0 + k) * np.cos(yy / 5.0) for k in range(3)], axis=2)
    img += rng.normal(0, 20, img.shape)
    img[h // 3 : h // 2, w // 4 : w // 2] = 250
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _pack_rows(samples: np.ndarray, depth: int) -> list[bytes]:
    """(H, W*channels) samples → PNG scanlines (big-endian 16-bit, packed sub-byte depths)."""
    rows = []
    for row in samples:
        if depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // depth
            padded = np.zeros(-(-len(row) // per_byte) * per_byte, np.uint8)
            padded[: len(row)] = row
            groups = padded.reshape(-1, per_byte)
            packed = np.zeros(len(groups), np.uint8)
            for i in range(per_byte):
                packed |= (groups[:, i] << (8 - depth * (i + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    return rows


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def make_png(samples: np.ndarray, depth: int, color_type: int, *, palette: bytes = b"", trns: bytes = b"",
             interlace: bool = False, exif: bytes = b"", exif_after_idat: bool = False) -> bytes:
    """A PNG of (H, W, C) samples (palette indices for colour type 3), written by hand so
    every colour type, bit depth and interlacing can be tried (OpenCV writes few of them)."""
    h, w = samples.shape[:2]
    flat = samples.reshape(h, w, -1)
    raw = b""
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        sub = flat[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        raw += b"".join(b"\x00" + r for r in _pack_rows(sub.reshape(sub.shape[0], -1), depth))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    chunks = [_chunk(b"IHDR", ihdr)]
    if palette:
        chunks.append(_chunk(b"PLTE", palette))
    if trns:
        chunks.append(_chunk(b"tRNS", trns))
    if exif and not exif_after_idat:
        chunks.append(_chunk(b"eXIf", exif))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw)))
    if exif and exif_after_idat:
        chunks.append(_chunk(b"eXIf", exif))
    chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def tiff_orientation(orientation: int, big_endian: bool = False) -> bytes:
    """A TIFF directory holding one Orientation entry."""
    e = ">" if big_endian else "<"
    return ((b"MM" if big_endian else b"II") + struct.pack(e + "HIH", 42, 8, 1)
            + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(e + "I", 0))


def tiff_entries(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian TIFF directory of raw (tag, type, count, 4 value bytes) entries."""
    body = b"".join(struct.pack("<HHI", tag, typ, count) + value for tag, typ, count, value in entries)
    return b"II" + struct.pack("<HIH", 42, 8, len(entries)) + body + struct.pack("<I", 0)


def with_app1(jpeg: bytes, *payloads: bytes) -> bytes:
    """`jpeg` with APP1 segments inserted right after its SOI."""
    segments = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segments + jpeg[2:]


def _png_cases() -> dict[str, bytes]:
    img = photo_like(13, 11, 1)
    rng = np.random.default_rng(2)
    grey = img[:, :, 1]
    rgb = img[:, :, ::-1]
    palette = bytes(rng.integers(0, 256, 256 * 3, dtype=np.uint8))
    idx = rng.integers(0, 256, (13, 11), dtype=np.uint8)
    cases = {
        "rgb8": make_png(rgb, 8, 2),
        "rgb16": make_png(rgb.astype(np.uint16) * 257 + rng.integers(0, 256, rgb.shape, dtype=np.uint16), 16, 2),
        "grey8": make_png(grey, 8, 0),
        "grey16": make_png(grey.astype(np.uint16) << 8 | 0x5A, 16, 0),
        "grey_alpha8": make_png(np.dstack([grey, idx]), 8, 4),
        "grey_alpha16": make_png(np.dstack([grey, idx]).astype(np.uint16) * 250, 16, 4),
        "rgba8": make_png(np.dstack([rgb, idx]), 8, 6),
        "rgba16": make_png(np.dstack([rgb, idx]).astype(np.uint16) * 257, 16, 6),
        "palette8": make_png(idx, 8, 3, palette=palette),
        "palette8_trns": make_png(idx, 8, 3, palette=palette, trns=bytes(range(0, 256, 2))),
        "rgb8_trns": make_png(rgb, 8, 2, trns=struct.pack(">HHH", *rgb[0, 0].tolist())),
        "grey8_trns": make_png(grey, 8, 0, trns=struct.pack(">H", int(grey[0, 0]))),
        "rgb8_interlaced": make_png(rgb, 8, 2, interlace=True),
        "palette4_interlaced": make_png(idx % 16, 4, 3, palette=palette[: 16 * 3], interlace=True),
        "one_pixel": make_png(rgb[:1, :1], 8, 2),
    }
    for depth in (1, 2, 4):
        cases[f"grey{depth}"] = make_png(idx % (1 << depth), depth, 0)
        cases[f"palette{depth}"] = make_png(idx % (1 << depth), depth, 3, palette=palette[: 3 << depth])
    for orientation in (3, 6, 8):
        cases[f"exif_orientation_{orientation}"] = make_png(rgb, 8, 2, exif=tiff_orientation(orientation))
    cases["exif_after_idat"] = make_png(rgb, 8, 2, exif=tiff_orientation(6, big_endian=True), exif_after_idat=True)
    return cases


PNG_CASES = _png_cases()


def _jpeg_cases() -> dict[str, bytes]:
    sampling = {"444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
                "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, "440": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
                "411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411}
    cases = {}
    for h, w in ((1, 1), (17, 33), (101, 77)):
        img = photo_like(h, w, h)
        for name, factor in sampling.items():
            for progressive in (0, 1):
                params = [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor,
                          cv2.IMWRITE_JPEG_PROGRESSIVE, progressive]
                cases[f"{h}x{w}_{name}{'_progressive' if progressive else ''}"] = cv2.imencode(".jpg", img, params)[1].tobytes()
        cases[f"{h}x{w}_grey"] = cv2.imencode(".jpg", img[:, :, 0])[1].tobytes()
        cases[f"{h}x{w}_restarts"] = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_RST_INTERVAL, 1])[1].tobytes()
    cases["ycck"] = YCCK_JPEG.read_bytes()
    plain = cv2.imencode(".jpg", photo_like(20, 31, 5))[1].tobytes()
    for orientation in range(0, 10):
        cases[f"exif_orientation_{orientation}"] = with_app1(plain, b"Exif\0\0" + tiff_orientation(orientation))
    return cases


JPEG_CASES = _jpeg_cases()


def _exif_cases() -> dict[str, bytes]:
    """Damaged or unusual EXIF directories: OpenCV walks entries in order and stops at the
    first value outside the data; an Orientation read before that still counts."""
    plain = cv2.imencode(".jpg", photo_like(6, 10, 9))[1].tobytes()
    o6 = (0x0112, 3, 1, struct.pack("<HH", 6, 0))
    far = struct.pack("<I", 5000)
    return {
        "big_endian": with_app1(plain, b"Exif\0\0" + tiff_orientation(6, big_endian=True)),
        "bad_string_before": with_app1(plain, b"Exif\0\0" + tiff_entries([(0x010F, 2, 20, far), o6])),
        "bad_string_after": with_app1(plain, b"Exif\0\0" + tiff_entries([o6, (0x010F, 2, 20, far)])),
        "bad_rational_before": with_app1(plain, b"Exif\0\0" + tiff_entries([(0x011A, 5, 1, far), o6])),
        "bad_rationals_before": with_app1(plain, b"Exif\0\0" + tiff_entries([(0x0214, 5, 6, struct.pack("<I", 30)), o6])),
        "inline_string_before": with_app1(plain, b"Exif\0\0" + tiff_entries([(0x010F, 2, 4, b"abc\0"), o6])),
        "entry_count_past_end": with_app1(plain, b"Exif\0\0" + tiff_entries([o6])[:-4].replace(b"\x01\x00", b"\x09\x00", 1)),
        "xmp_then_exif": with_app1(plain, b"http://ns.adobe.com/xap/1.0/\0<x/>", b"Exif\0\0" + tiff_orientation(6)),
        "not_exif": with_app1(plain, b"Xxxx\0\0" + tiff_orientation(6)),
        "first_orientation_wins": with_app1(plain, b"Exif\0\0" + tiff_entries([o6, (0x0112, 3, 1, struct.pack("<HH", 3, 0))])),
        "orientation_as_long": with_app1(plain, b"Exif\0\0" + tiff_entries([(0x0112, 4, 1, struct.pack("<I", 6))])),
        "directory_past_end": with_app1(plain, b"Exif\0\0II*\0" + struct.pack("<I", 999)),
    }


EXIF_CASES = _exif_cases()


# -- vectors ----------------------------------------------------------------------------------


def test_c_kernels_reproduce_every_preprocess_vector(c_build):
    count = len(json.loads((VECTORS / "index.json").read_text())["vectors"])
    done = subprocess.run([str(c_build.tool("test_preprocess_vectors")), str(REPO)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{count} vectors, 0 failed" in done.stdout


# -- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PNG_CASES))
def test_c_decoder_gives_python_pixels_for_every_png_kind(c_build, tmp_path, name):
    _assert_same_decode(c_build, tmp_path, f"{name}.png", PNG_CASES[name])


@pytest.mark.parametrize("name", sorted(JPEG_CASES))
def test_c_decoder_gives_python_pixels_for_every_jpeg_kind(c_build, tmp_path, name):
    _assert_same_decode(c_build, tmp_path, f"{name}.jpg", JPEG_CASES[name])


@pytest.mark.parametrize("name", sorted(EXIF_CASES))
def test_c_decoder_reads_damaged_exif_as_python_does(c_build, tmp_path, name):
    _assert_same_decode(c_build, tmp_path, f"{name}.jpg", EXIF_CASES[name])


def _refusals(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    jpeg = cv2.imencode(".jpg", photo_like(8, 8, 3))[1].tobytes()
    png = make_png(photo_like(8, 8, 3), 8, 2)
    huge = png[:16] + struct.pack(">II", 10000, 6000) + png[24:]
    files = {
        "truncated_jpeg": (jpeg[: len(jpeg) // 2], "truncated JPEG (no end-of-image marker)"),
        "jpeg_without_eoi": (jpeg[:-2], "truncated JPEG"),
        "png_without_iend": (png[:-12], "a truncated PNG (no IEND chunk"),
        "png_chunk_past_the_end": (png[:33] + struct.pack(">I", 1 << 31) + png[37:], "past the end of the"),
        "png_without_idat": (png[:33] + _chunk(b"IEND", b""), "a PNG without image data"),
        "png_over_50_megapixels": (huge, "over the 50 megapixel limit"),
        "empty": (b"", "is empty (0 bytes)"),
        "radiance_hdr": (b"#?RADIANCE\n-Y 10 +X 10\n", "a Radiance HDR image"),
        "unknown": (b"hello, not an image", "not an image facelite can read"),
        "jpeg_header_only": (b"\xff\xd8\xff\xe0\x00\x10JFIF", "damaged JPEG header"),
    }
    folder = tmp_path / "inputs"
    folder.mkdir()
    out = {}
    for name, (data, message) in files.items():
        path = folder / name
        path.write_bytes(data)
        out[name] = (path, message)
    out["folder"] = (folder, "is a directory")
    os.mkfifo(folder / "fifo")
    out["fifo"] = (folder / "fifo", "is a FIFO (named pipe)")
    return out


def test_c_decoder_refuses_what_python_refuses_with_a_message(c_build, tmp_path):
    for name, (path, message) in _refusals(tmp_path).items():
        pixels, error = _c_decode(c_build, path, tmp_path)
        assert pixels is None, f"{name}: the C decoder accepted it"
        assert message in error and str(path) in error, f"{name}: {error}"
        with pytest.raises(ImageError):
            load_image(path)


# -- 50 real photos ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_photos(shared_data) -> dict[str, list[tuple[Path, Path | None]]]:
    """25 ACNE04 photos (no points) and 50 HELEN photos with their .pts, spread over the sets."""
    acne = sorted((shared_data / "acne04").rglob("*.jpg"))
    helen = sorted((shared_data / "landmarks300w" / "helen_train").glob("*.jpg"))
    if len(acne) < PHOTOS_PER_SET or len(helen) < 2 * PHOTOS_PER_SET:
        pytest.skip(f"ACNE04 and HELEN photos not found under {shared_data}")
    acne = acne[:: len(acne) // PHOTOS_PER_SET][:PHOTOS_PER_SET]
    helen = helen[:: len(helen) // (2 * PHOTOS_PER_SET)][: 2 * PHOTOS_PER_SET]
    return {"acne04": [(p, None) for p in acne], "helen": [(p, p.with_suffix(".pts")) for p in helen]}


def _photos_for(spec: pp.InputSpec, photos) -> list[tuple[Path, tuple | None]]:
    """50 photos: half ACNE04, half HELEN; for face crops 50 HELEN with their extent boxes."""
    if spec.crop == "face":
        return [(p, extent_box(read_pts(pts))) for p, pts in photos["helen"]]
    return [(p, None) for p, _ in photos["acne04"]] + [(p, None) for p, _ in photos["helen"][:PHOTOS_PER_SET]]


def test_c_decoder_gives_python_pixels_on_real_photos(c_build, tmp_path, real_photos):
    photos = [p for p, _ in real_photos["acne04"]] + [p for p, _ in real_photos["helen"][:PHOTOS_PER_SET]]
    worst = 0
    for path in photos:
        c_pixels, message = _c_decode(c_build, path, tmp_path)
        assert c_pixels is not None, message
        py_pixels = load_image(path)
        assert c_pixels.shape == py_pixels.shape, path
        worst = max(worst, int(np.abs(c_pixels.astype(np.int16) - py_pixels).max()))
    assert worst == 0, f"the C decoder differs from OpenCV by up to {worst} levels on real photos"


@pytest.mark.parametrize("bundle", SHIPPED)
def test_c_input_tensors_equal_python_on_50_real_photos(c_build, tmp_path, real_photos, bundle):
    path = shipped_bundle(bundle)
    if path is None:
        pytest.skip(f"the shipped {bundle} bundle is not installed")
    with Bundle.open(path) as opened:
        block = opened.manifest["input"]
    spec = pp.InputSpec.from_manifest(block)
    photos = _photos_for(spec, real_photos)
    assert len(photos) == 2 * PHOTOS_PER_SET
    lines = []
    for i, (photo, box) in enumerate(photos):
        box_field = "-" if box is None else ",".join(repr(float(v)) for v in box)
        lines.append(f"{photo}\t{json.dumps(block)}\t{box_field}\t{tmp_path / str(i)}")
    jobs = tmp_path / "jobs.tsv"
    jobs.write_text("\n".join(lines) + "\n")
    done = _tool(c_build, "prepare", str(jobs))
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(results) == len(photos), done.stdout + done.stderr
    worst_tensor = worst_pixels = 0.0
    for i, ((photo, box), result) in enumerate(zip(photos, results)):
        pixels, placement = pp.prepare_pixels(photo, spec, box)
        tensor = pp.normalize(pixels, spec)
        c_pixels = np.load(tmp_path / f"{i}.pixels.npy")
        c_tensor = np.load(tmp_path / f"{i}.tensor.npy")
        assert c_tensor.shape == tensor.shape and c_tensor.dtype == np.float32, photo
        worst_pixels = max(worst_pixels, float(np.abs(c_pixels.astype(np.int16) - pixels).max()))
        worst_tensor = max(worst_tensor, float(np.abs(c_tensor - tensor).max()))
        assert result["placement"] == [*placement.origin, *placement.step], photo
    assert (worst_pixels, worst_tensor) == (0.0, 0.0), (
        f"{bundle}: C pixels differ by up to {worst_pixels} levels, tensors by {worst_tensor}")


# -- random inputs through the shared library -----------------------------------------------


class _Image(ctypes.Structure):
    _fields_ = [("pixels", ctypes.c_void_p), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("stride", ctypes.c_size_t), ("format", ctypes.c_int)]


_MAX_INPUT_CHANNELS = 16  # FL_MAX_INPUT_CHANNELS, facelite/facelite.h


class _Spec(ctypes.Structure):
    _fields_ = [("height", ctypes.c_int), ("width", ctypes.c_int), ("channels", ctypes.c_int),
                ("extra_channels", ctypes.c_int), ("color", ctypes.c_int), ("resize", ctypes.c_int),
                ("crop", ctypes.c_int), ("margin", ctypes.c_double), ("mean", ctypes.c_float * _MAX_INPUT_CHANNELS),
                ("std", ctypes.c_float * _MAX_INPUT_CHANNELS)]


class _Placement(ctypes.Structure):
    _fields_ = [("origin_x", ctypes.c_double), ("origin_y", ctypes.c_double),
                ("step_x", ctypes.c_double), ("step_y", ctypes.c_double)]


_FL_PIXELS_BGR = 3  # facelite/image.h


@pytest.fixture(scope="module")
def libfacelite(c_build):
    """The shared library an app links, loaded with ctypes (structs as in the public headers)."""
    return ctypes.CDLL(str(c_build.build_dir / "libfacelite.so"))


def _c_image(array: np.ndarray) -> _Image:
    h, w = array.shape[:2]
    return _Image(array.ctypes.data, w, h, w * 3, _FL_PIXELS_BGR)


def test_c_prepare_pixels_equals_python_on_random_sizes_crops_and_boxes(libfacelite):
    rng = np.random.default_rng(10)
    for case in range(400):
        h, w = (int(v) for v in rng.integers(1, 4 if case % 10 == 0 else 120, 2))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        color, resize, crop = pp.COLORS[case % 4], pp.RESIZES[case // 4 % 3], pp.CROPS[case // 12 % 3]
        channels = 1 if color == "gray" else 3
        height, width = (int(v) for v in rng.integers(1, 80, 2))
        spec = pp.InputSpec((1, height, width, channels), color, resize, (127.5,) * channels, (127.5,) * channels,
                            crop, float(rng.choice([0.0, 0.15, 0.3])))
        box = None
        if crop == "face" and case % 7:
            box = tuple(float(v) for v in (rng.uniform(-w, w), rng.uniform(-h, h),
                                           rng.uniform(0.5, 2 * w), rng.uniform(0.5, 2 * h)))
        pixels, placement = pp.prepare_pixels(image, spec, box)
        c_spec = _Spec(height, width, channels, 0, pp.COLORS.index(color), pp.RESIZES.index(resize),
                       pp.CROPS.index(crop), spec.margin, (ctypes.c_float * _MAX_INPUT_CHANNELS)(*spec.mean[:1] * 3),
                       (ctypes.c_float * _MAX_INPUT_CHANNELS)(*spec.std[:1] * 3))
        out = np.zeros((height, width, channels), np.uint8)
        where = _Placement()
        c_box = (ctypes.c_double * 4)(*box) if box else None
        status = libfacelite.fl_prepare_pixels(ctypes.byref(_c_image(image)), ctypes.byref(c_spec), c_box,
                                               out.ctypes.data_as(ctypes.c_void_p), ctypes.byref(where), None, None)
        assert status == 0, (case, spec, box)
        assert np.array_equal(out, pixels), (case, spec, box, int(np.abs(out.astype(int) - pixels).max()))
        assert (where.origin_x, where.origin_y, where.step_x, where.step_y) == (*placement.origin, *placement.step)


def test_c_prepare_pixels_from_gray_rgb_and_four_channel_images_equals_python_on_bgr(libfacelite):
    """Every source pixel format takes the same resize (the two-tap kernel picks colours by
    byte offset): RGB/RGBA/BGRA give the BGR image's pixels, GRAY those of its BGR copy."""
    rng = np.random.default_rng(13)
    layouts = {2: [2, 1, 0], 4: [2, 1, 0, 3], 5: [0, 1, 2, 3]}  # FL_PIXELS_RGB, _RGBA, _BGRA: BGR channel per byte
    for case in range(120):
        h, w = (int(v) for v in rng.integers(2, 90, 2))
        bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        gray = bgr[:, :, 0].copy()
        color, resize, crop = pp.COLORS[case % 4], pp.RESIZES[case // 4 % 3], pp.CROPS[case // 12 % 3]
        channels = 1 if color == "gray" else 3
        height, width = (int(v) for v in rng.integers(1, 70, 2))
        spec = pp.InputSpec((1, height, width, channels), color, resize, (127.5,) * channels, (127.5,) * channels,
                            crop, 0.15)
        box = (w * 0.2, h * 0.1, w * 0.5, h * 0.7) if crop == "face" else None
        c_spec = _Spec(height, width, channels, 0, pp.COLORS.index(color), pp.RESIZES.index(resize),
                       pp.CROPS.index(crop), spec.margin, (ctypes.c_float * _MAX_INPUT_CHANNELS)(*spec.mean[:1] * 3),
                       (ctypes.c_float * _MAX_INPUT_CHANNELS)(*spec.std[:1] * 3))
        c_box = (ctypes.c_double * 4)(*box) if box else None
        alpha = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
        sources = {fmt: np.ascontiguousarray(np.dstack([bgr, alpha])[:, :, order]) for fmt, order in layouts.items()}
        sources[1] = gray
        for fmt, array in sources.items():
            reference = np.dstack([gray] * 3) if fmt == 1 else bgr
            expected, _ = pp.prepare_pixels(reference, spec, box)
            image = _Image(array.ctypes.data, w, h, w * (array.shape[2] if array.ndim == 3 else 1), fmt)
            out = np.zeros((height, width, channels), np.uint8)
            status = libfacelite.fl_prepare_pixels(ctypes.byref(image), ctypes.byref(c_spec), c_box,
                                                   out.ctypes.data_as(ctypes.c_void_p), None, None, None)
            assert status == 0 and np.array_equal(out, expected), (case, fmt, spec, box)


def test_c_area_shrinks_by_thousands_wrap_as_python_does(libfacelite):
    """Past ~1000x an area tap's weight goes negative; both sum in wrapping int32."""
    rng = np.random.default_rng(11)
    for src, dst in ((6000, 1), (3000, 1), (4097, 2), (20000, 3), (2049, 1)):
        image = rng.integers(0, 256, (1, src, 3), dtype=np.uint8)
        out = np.zeros((1, dst, 3), np.uint8)
        status = libfacelite.fl_resize_pixels(ctypes.byref(_c_image(image)), dst, 1, pp.RESIZES.index("area"),
                                              out.ctypes.data_as(ctypes.c_void_p), dst * 3, None, None)
        assert status == 0 and np.array_equal(out, pp.resize(image, 1, dst, "area")), (src, dst)


def test_c_warp_affine_equals_python_on_random_matrices(libfacelite):
    rng = np.random.default_rng(12)
    for case in range(200):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        angle, scale = rng.uniform(-3, 3), rng.uniform(0.2, 3)
        matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), rng.uniform(-50, 50)],
                           [scale * np.sin(angle), scale * np.cos(angle), rng.uniform(-50, 50)]])
        matrix[0, 1] *= rng.uniform(0, 3) if case % 3 == 0 else 1.0
        width, height = (int(v) for v in rng.integers(1, 70, 2))
        out = np.zeros((height, width, 3), np.uint8)
        status = libfacelite.fl_warp_affine(ctypes.byref(_c_image(image)), matrix.ctypes.data_as(ctypes.c_void_p),
                                            width, height, out.ctypes.data_as(ctypes.c_void_p), width * 3, None)
        assert status == 0 and np.array_equal(out, pp.warp_affine(image, matrix, width, height)), case
