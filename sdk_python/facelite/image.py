"""Loading images safely: every failure is an `ImageError` that names the file.

OpenCV decodes leniently: it returns grey-filled pixels for a truncated JPEG with only
a warning, and will happily allocate gigabytes for a hostile header. Analysis results
on such pixels would look valid, so this module checks what OpenCV does not:

- the pixel count is read from the file header and refused above `MAX_PIXELS`
  *before* any decoding (JPEG, PNG, BMP, WebP, TIFF, GIF headers are parsed here);
- a JPEG must reach its end-of-image marker (walked segment by segment, so an EXIF
  thumbnail's marker does not count);
- everything is converted to 8-bit BGR (greyscale, RGBA, 16-bit), and the EXIF
  orientation is honoured (`cv2.IMREAD_COLOR` applies it).

Example:

    >>> import numpy as np
    >>> from facelite.image import load_image
    >>> load_image(np.zeros((4, 5), np.uint16)).shape
    (4, 5, 3)
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

MAX_PIXELS = 50_000_000
"""Largest image (width × height) accepted: 50 megapixels, about 150 MB decoded."""


def load_image(source: str | os.PathLike | bytes | np.ndarray) -> np.ndarray:
    """Path, encoded bytes or array → BGR uint8 (H, W, 3), or `ImageError` saying what is wrong.

    The one image decoder of facelite: the runtime, the toolchain's training data, the
    evaluator and the bench all decode through it (spec step 1 of docs/preprocessing.md).
    """
    if isinstance(source, np.ndarray):
        return to_bgr8(source, where="array")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), where="image bytes")
    path = Path(source)
    if not path.exists():
        raise ImageError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, expected an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot be read ({exc.strerror})") from None
    return decode_image(data, where=str(path))


def decode_image(data: bytes, where: str = "image") -> np.ndarray:
    """Encoded bytes → BGR uint8, with the size and truncation checks described above."""
    if not data:
        raise ImageError(f"{where}: is empty (0 bytes), not an image")
    size = header_size(data)
    if size is not None:
        w, h = size
        if w * h > MAX_PIXELS:
            raise ImageError(
                f"{where}: is {w}x{h} ({w * h / 1e6:.0f} megapixels), over the "
                f"{MAX_PIXELS / 1e6:.0f} megapixel limit; downscale it first"
            )
    if data[:2] == b"\xff\xd8" and not jpeg_complete(data):
        raise ImageError(f"{where}: truncated JPEG (no end-of-image marker); re-export or re-download it")
    buf = np.frombuffer(data, np.uint8)
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        kind = "an unsupported image format" if size is not None else "not an image OpenCV can decode"
        raise ImageError(f"{where}: {kind}; use JPEG, PNG, BMP, WebP or TIFF")
    if size is None and image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageError(f"{where}: over the {MAX_PIXELS / 1e6:.0f} megapixel limit; downscale it first")
    return to_bgr8(image, where=where)


def to_bgr8(image: np.ndarray, where: str = "array") -> np.ndarray:
    """Any greyscale / BGR / BGRA array of uint8, uint16 or float in [0, 1] → BGR uint8."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise ImageError(f"{where}: shape {image.shape} is not an image (H, W[, C])")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.clip(np.nan_to_num(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"{where}: dtype {image.dtype} is not supported (uint8, uint16 or float)")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ImageError(f"{where}: {image.shape[2]} channels; expected 1, 3 or 4")


# -- header parsing (no decoding) ------------------------------------------------


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG/PNG/BMP/WebP/TIFF/GIF header; None if unrecognised."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", data[16:24])
        if data[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        if data[:2] == b"BM":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
    except (struct.error, IndexError):
        return None
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF:
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return w, h
        pos += 2 + length
    return None


def jpeg_complete(data: bytes) -> bool:
    """True when the JPEG's segment walk reaches the EOI marker (FFD9) of the main image."""
    pos, n = 2, len(data)
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > n:
            return False
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    return False
                nxt = data[pos + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    pos += 1 if nxt == 0xFF else 2
                    continue
                break
    return False


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        b = int.from_bytes(data[21:25], "little")
        return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", data[4:8])[0]
    count = struct.unpack(e + "H", data[ifd : ifd + 2])[0]
    dims: dict[int, int] = {}
    for i in range(count):
        tag, typ, _, value = struct.unpack(e + "HHI4s", data[ifd + 2 + 12 * i : ifd + 14 + 12 * i])
        if tag in (256, 257):
            dims[tag] = struct.unpack(e + ("H" if typ == 3 else "I"), value[: 2 if typ == 3 else 4])[0]
    if 256 in dims and 257 in dims:
        return dims[256], dims[257]
    return None
