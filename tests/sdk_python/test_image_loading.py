"""load_image: every bad input is an ImageError naming the file; odd formats become 8-bit BGR."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from facelite.errors import ImageError
from facelite.image import MAX_PIXELS, header_size, load_image


@pytest.fixture
def face_jpg(tmp_path, acne_photo):
    path = tmp_path / "face.jpg"
    path.write_bytes(acne_photo.read_bytes())
    return path


def _expect_error(path, *words):
    with pytest.raises(ImageError) as info:
        load_image(path)
    msg = str(info.value)
    assert str(path) in msg
    for w in words:
        assert w in msg
    return msg


def test_missing_path_names_the_file(tmp_path):
    _expect_error(tmp_path / "nope.jpg", "no such image file")


def test_directory_is_refused(tmp_path):
    _expect_error(tmp_path, "directory")


def test_zero_byte_file_is_refused(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    _expect_error(p, "0 bytes")


def test_text_file_is_not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello, not a jpeg")
    _expect_error(p, "not an image")


def test_truncated_jpeg_is_refused_not_grey_filled(face_jpg):
    data = face_jpg.read_bytes()
    face_jpg.write_bytes(data[: len(data) * 2 // 3])
    # Depending on where the cut falls, OpenCV returns None or a grey-filled image with
    # only a warning; facelite refuses both, naming the problem.
    _expect_error(face_jpg, "truncated")


def test_jpeg_missing_only_its_end_marker_is_refused(face_jpg):
    face_jpg.write_bytes(face_jpg.read_bytes()[:-2])
    _expect_error(face_jpg, "truncated")


def test_complete_jpeg_with_exif_thumbnail_marker_loads(face_jpg):
    assert load_image(face_jpg).shape == (512, 512, 3)


@pytest.mark.parametrize("make, shape_in", [
    (lambda: np.full((10, 12), 200, np.uint8), "grey"),
    (lambda: np.dstack([np.full((10, 12, 3), 50, np.uint8), np.full((10, 12), 128, np.uint8)]), "rgba"),
    (lambda: np.full((10, 12, 3), 40000, np.uint16), "16-bit"),
])
def test_grey_rgba_and_16bit_pngs_become_8bit_bgr(tmp_path, make, shape_in):
    p = tmp_path / f"{shape_in}.png"
    assert cv2.imwrite(str(p), make())
    img = load_image(p)
    assert img.shape == (10, 12, 3) and img.dtype == np.uint8
    if shape_in == "16-bit":
        assert int(img[0, 0, 0]) == 40000 >> 8


def test_arrays_are_converted_too():
    assert load_image(np.zeros((5, 6, 4), np.uint8)).shape == (5, 6, 3)
    assert load_image(np.ones((5, 6), np.float32))[0, 0, 0] == 255
    with pytest.raises(ImageError):
        load_image(np.zeros((5, 6, 2), np.uint8))


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 EXIF segment holding only the Orientation tag (0x0112)."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


def test_exif_orientation_is_honoured(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255  # white on the left half
    ok, buf = cv2.imencode(".jpg", img)
    p = tmp_path / "rotated.jpg"
    p.write_bytes(_with_exif_orientation(buf.tobytes(), 6))  # 6 = rotate 90° clockwise to display
    out = load_image(p)
    assert out.shape == (40, 20, 3)
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # the white half is now on top


def _png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _jpeg_header(w: int, h: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


@pytest.mark.parametrize("name, header", [
    ("huge.png", _png_header(10_000, 6_000)),
    ("huge.jpg", _jpeg_header(9_000, 9_000)),
    ("huge.bmp", b"BM" + b"\0" * 12 + struct.pack("<Iii", 40, 8_000, -8_000) + b"\0" * 30),
])
def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch, name, header):
    p = tmp_path / name
    p.write_bytes(header + b"\0" * 64)
    w, h = header_size(p.read_bytes())
    assert w * h > MAX_PIXELS

    def no_decode(*a, **k):
        raise AssertionError("decoded an image that should have been refused from its header")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    _expect_error(p, "megapixel")


def test_header_sizes_match_real_encodings():
    img = np.zeros((30, 50, 3), np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff"):
        ok, buf = cv2.imencode(ext, img)
        assert header_size(buf.tobytes()) == (50, 30), ext
