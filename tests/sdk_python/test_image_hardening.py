"""Issue #15, images: hostile or odd inputs end in an ImageError (exit 2) or a normal result,
never a hang, an unbounded read or decode, or an OpenCV assertion (exit 1).

- every format OpenCV decodes but facelite cannot size from its header is refused by name;
- files: regular only, checked from `os.stat` before anything opens them, under a byte cap;
- the decoded pixels must match the header's size;
- strips (1x10000, 10000x1) and 1x1 images go through every stage;
- videos: regular files under a byte cap, frames under the pixel limit.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

import cv2
import numpy as np
import pytest

from facelite import cli, sources
from facelite import files as files_module
from facelite import image as image_module
from facelite.analyzer import MAX_FACE_BOX_ASPECT, FaceAnalyzer, FaceAnalyzerOptions
from facelite.detection import Box
from facelite.errors import ImageError
from facelite.face_detector import DetectionResult
from facelite.image import (ACCEPTED_FORMATS, MAX_FILE_BYTES, MAX_JPEG_SCANS, MAX_PIXELS, decode_image,
                            header_size, load_image)
from facelite.options import BaseOptions
from facelite.sources import VideoFile, image_paths

CPU = BaseOptions(accelerator="cpu")


def _refused(source, *words) -> str:
    with pytest.raises(ImageError) as info:
        load_image(source)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    return msg


@pytest.fixture
def no_decode(monkeypatch):
    """Fail the test if OpenCV is asked to decode anything."""
    def refuse(*a, **k):
        raise AssertionError("cv2.imdecode ran on an input that should have been refused from its header")

    monkeypatch.setattr(cv2, "imdecode", refuse)


# -- formats ---------------------------------------------------------------------------


def test_a_radiance_hdr_claiming_huge_dimensions_is_refused_without_decoding(tmp_path, no_decode):
    # 25 MB of such a file decoded to 5.8 GB before the pixel limit applied (issue #15)
    p = tmp_path / "sky.hdr"
    p.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 50000 +X 30000\n" + b"\x02\x02" * 512)
    msg = _refused(p, "Radiance HDR", "JPEG, PNG", str(p))
    assert "convert it" in msg


def _encoded(ext: str) -> bytes:
    img = np.full((30, 50, 3), 90, np.uint8)
    if ext in (".hdr", ".pfm"):
        img = img.astype(np.float32) / 255
    ok, buf = cv2.imencode(ext, img)
    assert ok, ext
    return buf.tobytes()


@pytest.mark.parametrize("make, name", [
    (lambda: _encoded(".hdr"), "Radiance HDR"),
    (lambda: _encoded(".pfm"), "PFM"),
    (lambda: _encoded(".ppm"), "PNM"),
    (lambda: b"P5\n100000 100000\n255\n" + b"\0" * 64, "PNM"),
    (lambda: _encoded(".sr"), "Sun raster"),
    (lambda: _encoded(".avif"), "AVIF"),
    (lambda: b"\x76\x2f\x31\x01" + b"\0" * 64, "OpenEXR"),
    (lambda: b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 64, "JPEG 2000"),
    (lambda: b"\xff\x4f\xff\x51" + b"\0" * 64, "JPEG 2000"),
    (lambda: b"II+\x00" + b"\0" * 64, "BigTIFF"),
])
def test_formats_whose_size_is_not_read_first_are_refused_by_name(no_decode, make, name):
    msg = _refused(make(), name, "JPEG, PNG, BMP, WebP, TIFF or GIF")
    assert "image bytes" in msg


def test_unknown_bytes_name_the_accepted_formats(no_decode):
    _refused(b"just some text, no image", "not an image", ", ".join(ACCEPTED_FORMATS[:-1]))


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".gif"])
def test_every_accepted_format_is_sized_from_its_header_and_loads(tmp_path, ext):
    data = _encoded(ext)
    assert header_size(data) == (50, 30)
    p = tmp_path / f"img{ext}"
    p.write_bytes(data)
    assert load_image(p).shape == (30, 50, 3)


def test_os2_bmp_core_header_is_sized(tmp_path):
    data = b"BM" + b"\0" * 12 + struct.pack("<IHH", 12, 40000, 40000) + b"\0" * 16
    assert header_size(data) == (40000, 40000)
    _refused(data, "megapixel")


def test_zero_sized_header_is_refused(no_decode):
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    _refused(png, "0x10", "damaged")


def test_tiff_with_huge_tiles_is_refused_before_decoding(no_decode):
    entries = [(256, 4, 1, 10), (257, 4, 1, 10), (322, 4, 1, 100_000), (323, 4, 1, 100_000)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0" * 4
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    with pytest.raises(ImageError, match="100000x100000 tiles"):
        decode_image(tiff)


def test_jpeg_with_thousands_of_scans_is_refused_before_decoding(no_decode):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00" + b"\x12"
    data = b"\xff\xd8" + sof + sos * (MAX_JPEG_SCANS + 1) + b"\xff\xd9"
    _refused(data, "scans")


def _png_chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    return struct.pack(">I", len(body) if length is None else length) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body))


def _with_chunk_before_idat(png: bytes, chunk: bytes) -> bytes:
    return png[:33] + chunk + png[33:]  # signature (8) + IHDR (25), then the new chunk


@pytest.mark.parametrize("make, words", [
    # OpenCV allocated 2 GB for this 2 KB file before failing (fuzz campaign image:21)
    (lambda png: png[:33] + struct.pack(">I", 0x7FFFFFFF) + png[37:], ["'IDAT' chunk at byte 33", "2147483647 bytes"]),
    (lambda png: _with_chunk_before_idat(png, _png_chunk(b"tEXt", b"a\0b", 0x7FFFFFFF)), ["'tEXt' chunk"]),
    (lambda png: _with_chunk_before_idat(png, _png_chunk(b"zzZz", b"x" * 40, 0x10000000)), ["'zzZz' chunk"]),
    (lambda png: png[:8] + struct.pack(">I", 14) + png[12:], ["first chunk is 'IHDR' of 14 bytes, not IHDR of 13"]),
    (lambda png: png[:-12], ["truncated PNG (no IEND chunk"]),
    (lambda png: png[:33] + _png_chunk(b"IEND", b""), ["without image data"]),
])
def test_a_png_whose_chunks_do_not_fit_the_file_is_refused_before_decoding(no_decode, make, words):
    _refused(make(_encoded(".png")), "image bytes", *words)


def test_a_png_of_too_many_chunks_is_refused(no_decode, monkeypatch):
    monkeypatch.setattr(image_module, "MAX_PNG_CHUNKS", 10)
    png = _encoded(".png")
    _refused(_with_chunk_before_idat(png, _png_chunk(b"zzZz", b"") * 20), "more than 10 chunks")


def _tiff_one_strip(offset: int | None = None, byte_count: int | None = None, extra=()) -> bytes:
    """A 4x4 grey uncompressed TIFF of one strip (`offset`/`byte_count` override the truth)."""
    tags = {256: (3, 4), 257: (3, 4), 258: (3, 8), 259: (3, 1), 262: (3, 1), 273: (4, 0), 277: (3, 1),
            278: (3, 4), 279: (4, 16), **dict(extra)}
    pixels_at = 8 + 2 + 12 * len(tags) + 4
    tags[273] = (4, pixels_at if offset is None else offset)
    tags[279] = (4, 16 if byte_count is None else byte_count)
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHI", tag, typ, 1) + struct.pack("<H" if typ == 3 else "<I", value).ljust(4, b"\0")
        for tag, (typ, value) in sorted(tags.items()))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 4 + bytes(range(16))


def _u32_at(data: bytes, offset: int, value: int) -> bytes:
    """`data` with the little-endian 32-bit field at `offset` set to `value` (a lying length)."""
    return data[:offset] + struct.pack("<I", value) + data[offset + 4:]


def test_the_one_strip_tiff_of_these_tests_loads():
    assert load_image(_tiff_one_strip()).shape == (4, 4, 3)


@pytest.mark.parametrize("data, words", [
    (lambda: _tiff_one_strip(byte_count=0x7FFFFFFF), ["TIFF whose strip 0", "past the end"]),
    (lambda: _tiff_one_strip(offset=0x7FFFFFFF), ["TIFF whose strip 0", "past the end"]),
    (lambda: _tiff_one_strip(extra={325: (4, 16), 324: (4, 10**9)}), ["TIFF whose tile 0"]),
    (lambda: _u32_at(_encoded(".webp"), 4, 0xFFFFFFF0), ["WebP whose RIFF header declares", "past the end"]),
    (lambda: _u32_at(_encoded(".webp"), 16, 0x7FFFFFF0), ["WebP whose 'VP8", "past the end of its"]),
    (lambda: _u32_at(_encoded(".bmp"), 10, 0x7FFFFFFF), ["BMP whose header puts", "(at byte 2147483647)"]),
    (lambda: _u32_at(_encoded(".bmp"), 14, 0x7FFFFFFF), ["BMP whose header puts its 2147483647-byte info header"]),
])
def test_declared_lengths_past_the_end_of_the_file_are_refused_in_every_format(no_decode, data, words):
    """OpenCV's BMP, WebP and TIFF readers were probed with these lies and allocate nothing
    for them; facelite holds the lengths to the file anyway, so no decoder is trusted to."""
    _refused(data(), "image bytes", *words)


def test_pixels_that_disagree_with_the_header_are_refused(monkeypatch):
    png = _encoded(".png")  # 50x30
    monkeypatch.setattr(cv2, "imdecode", lambda *a: np.zeros((3000, 5000, 3), np.uint8))
    _refused(png, "header says 50x30", "5000x3000")


def test_encoded_bytes_over_the_byte_cap_are_refused(monkeypatch, no_decode):
    monkeypatch.setattr(image_module, "MAX_FILE_BYTES", 100)
    _refused(_encoded(".bmp"), "bytes", "limit")


# -- files -----------------------------------------------------------------------------


def test_a_file_over_the_byte_cap_is_refused_from_its_size_without_reading(tmp_path, monkeypatch):
    p = tmp_path / "huge.png"
    with open(p, "wb") as f:  # sparse: no disk used
        f.truncate(MAX_FILE_BYTES + 1)
    monkeypatch.setattr(os, "open", lambda *a, **k: pytest.fail("opened a file over the byte cap"))
    _refused(p, "64 MiB", str(p))
    with pytest.raises(ImageError, match="64 MiB"):
        image_paths(p)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    _refused(fifo, "FIFO", "regular files only")
    with pytest.raises(ImageError, match="FIFO"):
        image_paths(fifo)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_devices_are_refused_without_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    _refused(device, "character device")


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        _refused(path, "socket")


def test_directory_is_refused(tmp_path):
    _refused(tmp_path, "directory")


def test_unreadable_file_names_the_permission_problem(tmp_path, monkeypatch):
    p = tmp_path / "locked.png"
    p.write_bytes(_encoded(".png"))

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "open", denied)  # root reads any file, so chmod alone proves nothing here
    _refused(p, "Permission denied", "permissions", str(p))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read a mode-000 file")
def test_mode_000_file_is_an_image_error(tmp_path):
    p = tmp_path / "locked.png"
    p.write_bytes(_encoded(".png"))
    p.chmod(0)
    _refused(p, "Permission denied")


def test_file_swapped_for_a_fifo_after_the_stat_is_refused(tmp_path, monkeypatch):
    """Opened non-blocking and checked again with fstat: a swap between the two cannot block."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    monkeypatch.setattr(files_module, "check_regular_file", lambda *a, **k: None)
    _refused(fifo, "FIFO")


# -- facelite analyze on non-files: exit 2, fast ------------------------------------------


def _facelite(*argv, timeout=60):
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "facelite.cli", "analyze", *map(str, argv), "--json"],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p, time.perf_counter() - t0


def test_cli_analyze_fifo_exits_2_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    p, seconds = _facelite(fifo)  # used to block forever on open()
    assert p.returncode == 2 and "FIFO" in json.loads(p.stdout)["error"] and "Traceback" not in p.stderr
    assert seconds < 30


def test_cli_analyze_dev_zero_exits_2_without_reading(tmp_path):
    p, seconds = _facelite("/dev/zero")  # used to read until memory ran out
    assert p.returncode == 2 and "character device" in json.loads(p.stdout)["error"]
    assert seconds < 30


def test_cli_analyze_dev_stdin_pipe_exits_2():
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "facelite.cli", "analyze", "/dev/stdin"], input="x" * 10,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "regular files only" in p.stderr and time.perf_counter() - t0 < 30


def test_cli_analyze_socket_and_folder_of_non_images_exit_2(capsys, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("no image here")
    assert cli.main(["analyze", str(tmp_path / "notes")]) == 2
    assert "no image in the folder" in capsys.readouterr().err
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.jpg"))
        assert cli.main(["analyze", str(tmp_path / "s.jpg")]) == 2
    assert "socket" in capsys.readouterr().err


# -- extreme aspect ratios and tiny images ------------------------------------------------


STRIPS = [(1, 10000), (10000, 1), (1, 1), (2, 3000), (3000, 2)]


@pytest.fixture(scope="module")
def strip_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("strips")
    paths = {}
    rng = np.random.default_rng(0)
    for w, h in STRIPS:
        paths[(w, h)] = root / f"{w}x{h}.png"
        assert cv2.imwrite(str(paths[(w, h)]), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return paths


@pytest.fixture(scope="module", params=["shipped", "stand-ins"])
def any_analyzer(request, shipped_bundles_dir, stand_in_bundles_dir):
    if request.param == "shipped":
        options = FaceAnalyzerOptions(base_options=CPU, bundles_dir=shipped_bundles_dir)
    else:
        options = FaceAnalyzerOptions(base_options=CPU, bundles_dir=stand_in_bundles_dir, stand_in="if_missing")
    with FaceAnalyzer.create_from_options(options) as analyzer:
        yield analyzer


@pytest.mark.parametrize("size", STRIPS, ids=[f"{w}x{h}" for w, h in STRIPS])
def test_strips_and_single_pixels_analyse_to_no_face(any_analyzer, strip_files, size):
    result = any_analyzer.analyze(strip_files[size])
    assert result.image_size == size and result.faces == []


@pytest.mark.parametrize("size", [(1, 10000), (10000, 1), (1, 1)], ids=["1x10000", "10000x1", "1x1"])
@pytest.mark.parametrize("stand_ins", [False, True], ids=["shipped", "stand-ins"])
def test_cli_analyze_strips_exit_0(capsys, strip_files, shipped_bundles_dir, stand_in_bundles_dir, size, stand_ins):
    # the Haar stand-in hit an OpenCV assertion on 1x10000 (exit 1, issue #15)
    extra = ["--bundles", stand_in_bundles_dir, "--stand-ins"] if stand_ins else ["--bundles", shipped_bundles_dir]
    code = cli.main(["analyze", str(strip_files[size]), "--json", "--accelerator", "cpu", *map(str, extra)])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["faces"] == [] and doc["image_size"] == list(size)
    assert doc["detector"] == ("haar-stand-in" if stand_ins else "bundle:face_detector")


@pytest.mark.parametrize("size, box", [
    ((1, 1), Box(0, 0, 1, 1, 0.9)),
    ((3000, 3), Box(100, 0, 10, 3, 0.9)),
    ((3, 3000), Box(0, 1000, 3, 9, 0.9)),
    ((40, 40), Box(-30, -30, 50, 50, 0.9)),
], ids=["1x1", "3000x3", "3x3000", "off-corner"])
def test_every_stage_after_detection_handles_degenerate_faces(any_analyzer, monkeypatch, size, box):
    """Landmark crop, alignment, regions, expression and skin on a face box in a tiny or
    strip image (a detector would rarely fire there; the stages must not fail if it does)."""
    w, h = size
    monkeypatch.setattr(any_analyzer.detector, "detect", lambda pixels: DetectionResult([box], "test", (w, h)))
    result = any_analyzer.analyze(np.full((h, w, 3), 120, np.uint8))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.landmarks.shape == (68, 2) and np.isfinite(face.landmarks).all()
    json.dumps(result.to_json())


def test_a_sliver_detection_is_not_cropped_as_a_face(any_analyzer, monkeypatch):
    """A 1000000x2 box would make a terabyte square landmark crop: it is dropped instead."""
    w, h = 20000, 2
    sliver = Box(0, 0, w, h, 0.9)
    assert sliver.w / sliver.h > MAX_FACE_BOX_ASPECT
    monkeypatch.setattr(any_analyzer.detector, "detect", lambda pixels: DetectionResult([sliver], "test", (w, h)))
    assert any_analyzer.analyze(np.full((h, w, 3), 120, np.uint8)).faces == []


# -- videos ----------------------------------------------------------------------------


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def test_video_frames_over_the_pixel_limit_refuse_the_video_at_open(clip, monkeypatch):
    monkeypatch.setattr(sources, "MAX_PIXELS", 1000)  # the clip's frames are 64x48 = 3072 pixels
    with pytest.raises(ImageError, match="64x48.*megapixel limit"):
        VideoFile(clip)


def test_a_frame_larger_than_declared_stops_the_video_with_an_error(clip, monkeypatch):
    with VideoFile(clip) as video:
        assert video.size == (64, 48)
        monkeypatch.setattr(sources, "MAX_PIXELS", 1000)
        with pytest.raises(ImageError, match="frame 0"):
            list(video.frames())


def test_video_over_the_byte_cap_is_refused(clip, monkeypatch):
    monkeypatch.setattr(sources, "MAX_VIDEO_BYTES", 100)
    with pytest.raises(ImageError, match="100 bytes limit for a video file"):
        VideoFile(clip)


def test_video_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "live.mp4"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="FIFO"):
        VideoFile(fifo)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(ImageError, match="directory"):
        VideoFile(tmp_path / "folder.mp4")


def test_cli_video_that_cannot_be_opened_exits_2(capsys, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    assert cli.main(["analyze", str(bad), "--json"]) == 2
    assert "cannot open the video" in json.loads(capsys.readouterr().out)["error"]


def test_max_pixels_is_the_documented_50_megapixels():
    assert MAX_PIXELS == 50_000_000 and MAX_FILE_BYTES == 64 * 2**20
