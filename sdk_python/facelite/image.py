"""Loading images safely: every failure is an `ImageError` that names the file.

OpenCV decodes leniently: it returns grey-filled pixels for a truncated JPEG with only
a warning, reads FIFOs and devices until they end (never, for `/dev/zero`), and will
allocate gigabytes for a hostile header. Analysis results on such input would look
valid or never come, so this module checks what OpenCV does not, before it decodes:

- files: regular files only (FIFOs, devices such as `/dev/zero` or `/dev/stdin`,
  sockets and folders are refused from `os.stat`, without opening or reading them),
  at most `MAX_FILE_BYTES`; the file is opened non-blocking and checked again;
- formats: only `ACCEPTED_FORMATS`, recognised by their signature. Every other format
  OpenCV knows (Radiance HDR, PFM, PNM, Sun raster, OpenEXR, JPEG 2000, AVIF, ...) is
  refused by name, so OpenCV never sees a format whose header facelite did not read;
- size: width and height are read from the header and refused above `MAX_PIXELS`
  *before* any decoding; the decoded pixels must then have those dimensions (swapped
  width and height allowed: EXIF orientation);
- a JPEG must reach its end-of-image marker (walked segment by segment, so an EXIF
  thumbnail's marker does not count) in at most `MAX_JPEG_SCANS` scans;
- declared lengths are held to the file: OpenCV's PNG reader allocates whatever a chunk's
  length field says (an IDAT or tEXt "of 2 GiB" in a 2 KB file costs 2 GB before it
  fails), so a PNG's chunks are walked first (IHDR first, each chunk within the file, at
  most `MAX_PNG_CHUNKS`, IDAT present, IEND reached). The other readers were probed with
  the same lies (BMP pixel offset and header size, WebP RIFF and chunk sizes, TIFF strip
  and tile offsets and byte counts, GIF frames larger than the screen) and allocate
  nothing for them, but the lengths are held to the file all the same (`_check_bmp`,
  `_check_riff`, `_check_tiff_strips`), so no decoder is trusted to get this right;
- everything is converted to 8-bit BGR (greyscale, RGBA, 16-bit), and the EXIF
  orientation is honoured (`cv2.IMREAD_COLOR` applies it).

Example:

    >>> import numpy as np
    >>> from facelite.image import load_image, decode_image
    >>> load_image(np.zeros((4, 5), np.uint16)).shape
    (4, 5, 3)
    >>> decode_image(b"#?RADIANCE\\n-Y 100000 +X 100000\\n", where="sky.hdr")
    Traceback (most recent call last):
    ...
    facelite.errors.ImageError: sky.hdr: a Radiance HDR image; facelite reads JPEG, PNG, ... only; ...
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ImageError
from .files import byte_size, read_regular_file

MAX_PIXELS = 50_000_000
"""Largest image (width × height) accepted: 50 megapixels, about 150 MB decoded. Files,
encoded bytes and video frames alike (an array the caller already holds is not limited)."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest encoded image file (or bytes) accepted: 64 MiB, several times a 50 MP camera
JPEG (a larger PNG must be re-encoded); a file is never read past it."""
MAX_JPEG_SCANS = 256
"""Most scans a JPEG may have (progressive ones use about ten): a small file with
thousands of scans takes minutes to decode."""
MAX_PNG_CHUNKS = 200_000
"""Most chunks a PNG may have (encoders write IDAT chunks of 8 KiB or more: a 64 MiB PNG
has under 10,000), so the chunk walk stays well under a second."""
ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "WebP", "TIFF", "GIF")
"""The formats whose header facelite parses, so their size is known before decoding."""

_ACCEPTED = f"{', '.join(ACCEPTED_FORMATS[:-1])} or {ACCEPTED_FORMATS[-1]}"


@dataclass(frozen=True)
class ImageHeader:
    """What an encoded image's header says: its format (one of `ACCEPTED_FORMATS`) and size."""

    format: str
    width: int
    height: int


def load_image(source: str | os.PathLike | bytes | np.ndarray) -> np.ndarray:
    """Path, encoded bytes or array → BGR uint8 (H, W, 3), or `ImageError` saying what is wrong.

    The one image decoder of facelite: the runtime, the toolchain's training data, the
    evaluator and the bench all decode through it (spec step 1 of docs/preprocessing.md).
    """
    if isinstance(source, np.ndarray):
        return to_bgr8(source, where="array")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), where="image bytes")
    path = os.fspath(source)
    return decode_image(read_regular_file(path, MAX_FILE_BYTES, "image", ImageError), where=path)


def decode_image(data: bytes, where: str = "image") -> np.ndarray:
    """Encoded bytes → BGR uint8, with the format, size and truncation checks described above."""
    if not data:
        raise ImageError(f"{where}: is empty (0 bytes), not an image")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{where}: {len(data)} bytes of encoded image, over the "
                         f"{byte_size(MAX_FILE_BYTES)} limit; re-encode or downscale it")
    header = read_header(data, where)
    w, h = header.width, header.height
    if w < 1 or h < 1:
        raise ImageError(f"{where}: its {header.format} header says {w}x{h}; an image needs at least 1x1 "
                         "pixels, the file is damaged")
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"{where}: is {w}x{h} ({w * h / 1e6:.1f} megapixels), over the "
            f"{MAX_PIXELS / 1e6:.0f} megapixel limit; downscale it first"
        )
    check = _STRUCTURE_CHECKS.get(header.format)
    if check is not None:
        try:
            check(data)
        except _HeaderProblem as exc:
            raise ImageError(f"{where}: {exc}; re-export or re-download the image") from None
        except (struct.error, IndexError, ValueError):
            raise ImageError(f"{where}: a truncated or damaged {header.format} file; re-export or "
                             "re-download the image") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{where}: a damaged {header.format} image (OpenCV cannot decode it); "
                         "re-export or re-download it")
    if image.shape[1::-1] not in ((w, h), (h, w)):
        raise ImageError(f"{where}: its {header.format} header says {w}x{h} but the pixels decode to "
                         f"{image.shape[1]}x{image.shape[0]}; the file is damaged or crafted, re-export it")
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


# -- input files (images and videos) -------------------------------------------------


# -- header parsing (no decoding) ------------------------------------------------

_OTHER_FORMATS = (
    (b"#?RADIANCE", "Radiance HDR"), (b"#?RGBE", "Radiance HDR"),
    (b"PF", "PFM"), (b"Pf", "PFM"),
    *((b"P%d" % i, "PNM (PBM/PGM/PPM/PAM)") for i in range(1, 8)),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"), (b"\xff\x0a", "JPEG XL"),
    (b"II+\x00", "BigTIFF"), (b"MM\x00+", "BigTIFF"),
)


class _HeaderProblem(Exception):
    """A header that parses but describes something facelite refuses (said in the message)."""


def read_header(data: bytes, where: str = "image") -> ImageHeader:
    """The format and size an accepted image's header declares, or an ImageError naming
    the format when it is not one of `ACCEPTED_FORMATS` (or its header is damaged)."""
    fmt = _format(data)
    if fmt is None:
        other = next((name for sig, name in _OTHER_FORMATS if data.startswith(sig)), None)
        if other is None and data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
            other = "AVIF/HEIF"
        if other is not None:
            raise ImageError(f"{where}: a{'n' if other[0] in 'AEIOU' else ''} {other} image; facelite reads "
                             f"{_ACCEPTED} only; convert it to PNG or JPEG")
        raise ImageError(f"{where}: not an image facelite can read (accepted formats: {_ACCEPTED})")
    try:
        size = _SIZE_READERS[fmt](data)
    except _HeaderProblem as exc:
        raise ImageError(f"{where}: {exc}; re-export the image") from None
    except (struct.error, IndexError, ValueError):
        size = None
    if size is None:
        raise ImageError(f"{where}: a truncated or damaged {fmt} header (no width and height found); "
                         "re-export or re-download the image")
    return ImageHeader(fmt, int(size[0]), int(size[1]))


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG/PNG/BMP/WebP/TIFF/GIF header; None if unrecognised."""
    try:
        header = read_header(data)
    except ImageError:
        return None
    return header.width, header.height


def _format(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    dib = struct.unpack("<I", data[14:18])[0]
    if dib == 12:  # BITMAPCOREHEADER (OS/2): 16-bit sides
        return struct.unpack("<HH", data[18:22])
    if dib < 36:  # OpenCV reads 36 bytes or more as a BITMAPINFOHEADER (or later)
        return None
    w, h = struct.unpack("<ii", data[18:26])
    return (w, abs(h)) if w > 0 else None


def _gif_size(data: bytes) -> tuple[int, int]:
    return struct.unpack("<HH", data[6:10])


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
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF:
            h, w = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return w, h
        pos += 2 + length
    return None


def jpeg_complete(data: bytes) -> bool:
    """True when the JPEG's segment walk reaches the EOI marker (FFD9) of the main image."""
    return _jpeg_scans(data) is not None


def _check_jpeg(data: bytes) -> None:
    scans = _jpeg_scans(data)
    if scans is None:
        raise _HeaderProblem("truncated JPEG (no end-of-image marker)")
    if scans > MAX_JPEG_SCANS:
        raise _HeaderProblem(f"a JPEG of {scans} scans, over the {MAX_JPEG_SCANS} a real encoder writes")


def _jpeg_scans(data: bytes) -> int | None:
    """The number of scans (SOS segments) before the main image's EOI; None without an EOI."""
    pos, n, scans = 2, len(data), 0
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            return scans
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > n:
            return None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data to the next real marker
            scans += 1
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    return None
                nxt = data[pos + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    pos += 1 if nxt == 0xFF else 2
                    continue
                break
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        b = int.from_bytes(data[21:25], "little")
        return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_TILE_WIDTH, _TIFF_TILE_HEIGHT = 256, 257, 322, 323


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """The first page's size (the one OpenCV decodes). Its tiles are held to the pixel
    limit too: OpenCV allocates a whole tile before decoding it."""
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", data[4:8])[0]
    count = struct.unpack(e + "H", data[ifd : ifd + 2])[0]
    dims: dict[int, int] = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, typ, _, value = struct.unpack(e + "HHI4s", entry)
        if tag in (_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_TILE_WIDTH, _TIFF_TILE_HEIGHT):
            if typ not in (3, 4):
                return None
            if tag in dims:  # which one would libtiff use? refuse rather than guess
                raise _HeaderProblem(f"a TIFF whose first page repeats tag {tag}")
            dims[tag] = struct.unpack(e + ("H" if typ == 3 else "I"), value[: 2 if typ == 3 else 4])[0]
    if _TIFF_WIDTH not in dims or _TIFF_HEIGHT not in dims:
        return None
    tile = dims.get(_TIFF_TILE_WIDTH, 0), dims.get(_TIFF_TILE_HEIGHT, 0)
    if tile[0] * tile[1] > MAX_PIXELS:
        raise _HeaderProblem(f"a TIFF with {tile[0]}x{tile[1]} tiles, over the "
                             f"{MAX_PIXELS / 1e6:.0f} megapixel limit")
    return dims[_TIFF_WIDTH], dims[_TIFF_HEIGHT]


# -- structure: declared lengths held to the file (before decoding) ----------------------


def _check_png(data: bytes) -> None:
    """Walk the chunks: IHDR first (13 bytes), each length within the file, IDAT present, IEND reached."""
    pos, n, chunks, idat = 8, len(data), 0, 0
    while True:
        if pos + 12 > n:
            raise _HeaderProblem(f"a truncated PNG (no IEND chunk; the file ends after {n} bytes)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        name = kind.decode("latin-1")
        if chunks == 0 and (kind != b"IHDR" or length != 13):
            raise _HeaderProblem(f"a PNG whose first chunk is {name!r} of {length} bytes, not IHDR of 13")
        if length > n - pos - 12:
            raise _HeaderProblem(f"a PNG whose {name!r} chunk at byte {pos} declares {length} bytes, "
                                 f"past the end of the {n}-byte file")
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise _HeaderProblem(f"a PNG of more than {MAX_PNG_CHUNKS} chunks")
        idat += length if kind == b"IDAT" else 0
        if kind == b"IEND":
            break
        pos += 12 + length
    if not idat:
        raise _HeaderProblem("a PNG without image data (no IDAT bytes before IEND)")


def _check_riff(data: bytes) -> None:
    """WebP: the RIFF size within the file, and every chunk within the RIFF size."""
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise _HeaderProblem(f"a WebP whose RIFF header declares {end} bytes, past the end of the "
                             f"{len(data)}-byte file")
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise _HeaderProblem(f"a WebP with a partial chunk header at byte {pos}")
        kind, size = struct.unpack("<4sI", data[pos : pos + 8])
        if size > end - pos - 8:
            raise _HeaderProblem(f"a WebP whose {kind.decode('latin-1')!r} chunk at byte {pos} declares {size} "
                                 f"bytes, past the end of its {end}-byte RIFF")
        pos += 8 + size + (size & 1)


def _check_bmp(data: bytes) -> None:
    """The pixel data offset and the info header within the file."""
    offset, dib = struct.unpack("<II", data[10:18])
    if offset > len(data) or 14 + dib > len(data):
        raise _HeaderProblem(f"a BMP whose header puts its {dib}-byte info header or its pixels (at byte "
                             f"{offset}) past the end of the {len(data)}-byte file")


_TIFF_STRIPS = ((273, 279, "strip"), (324, 325, "tile"))  # (offsets tag, byte counts tag, name)
_TIFF_TYPE_SIZES = {3: ("H", 2), 4: ("I", 4)}  # SHORT, LONG


def _check_tiff_strips(data: bytes) -> None:
    """The first page's strips (or tiles): as many byte counts as offsets, each within the file."""
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", data[4:8])[0]
    count = struct.unpack(e + "H", data[ifd : ifd + 2])[0]
    values: dict[int, list[int]] = {}
    for i in range(count):
        tag, typ, n, field = struct.unpack(e + "HHI4s", data[ifd + 2 + 12 * i : ifd + 14 + 12 * i])
        if tag not in (273, 279, 324, 325):
            continue
        if typ not in _TIFF_TYPE_SIZES:
            raise _HeaderProblem(f"a TIFF whose tag {tag} has type {typ} (SHORT or LONG expected)")
        code, size = _TIFF_TYPE_SIZES[typ]
        start = ifd + 2 + 12 * i + 8 if n * size <= 4 else struct.unpack(e + "I", field)[0]
        if start + n * size > len(data):
            raise _HeaderProblem(f"a TIFF whose tag {tag} holds {n} values past the end of the {len(data)}-byte file")
        values[tag] = list(struct.unpack(f"{e}{n}{code}", data[start : start + n * size]))
    for offsets_tag, counts_tag, what in _TIFF_STRIPS:
        offsets, counts = values.get(offsets_tag), values.get(counts_tag)
        if offsets is None or counts is None:
            continue
        if len(offsets) != len(counts):
            raise _HeaderProblem(f"a TIFF with {len(offsets)} {what} offsets and {len(counts)} byte counts")
        for k, (offset, size) in enumerate(zip(offsets, counts)):
            if offset + size > len(data):
                raise _HeaderProblem(f"a TIFF whose {what} {k} lies at bytes {offset}..{offset + size}, past the "
                                     f"end of the {len(data)}-byte file")


_STRUCTURE_CHECKS = {"JPEG": _check_jpeg, "PNG": _check_png, "WebP": _check_riff, "BMP": _check_bmp,
                     "TIFF": _check_tiff_strips}
"""Per format, the structure checked before decoding (each raises `_HeaderProblem`)."""

_SIZE_READERS = {"PNG": _png_size, "JPEG": _jpeg_size, "BMP": _bmp_size, "WebP": _webp_size,
                 "TIFF": _tiff_size, "GIF": _gif_size}
