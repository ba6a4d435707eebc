"""Where images come from: one file, a folder tree, a video's frames, or a live source.

`FaceAnalyzer.analyze_folder` and `analyze_video` (and the `facelite analyze` command,
which only prints what they return) iterate inputs through here, so API users get the
same folder walk and frame sampling as the CLI. `VideoFile` frames carry the file's
timestamps (VIDEO mode); `Camera` reads a camera, a stream URL or a file played at its
frame rate (LIVE_STREAM mode, `facelite analyze --camera`).

Inputs are bounded like images (`facelite.image`): a single target must be a regular
file (a FIFO, `/dev/zero` or a socket is refused from `os.stat`, before anything opens
it), a video at most `MAX_VIDEO_BYTES`, and a video whose frames are over
`image.MAX_PIXELS` is refused as a whole (an ImageError at open from the stream's
declared size, or at the first frame that is larger) rather than analysed frame by frame.

Example:

    >>> from facelite.sources import is_video, image_paths
    >>> is_video("clip.MP4"), is_video("photo.jpg")
    (True, False)
    >>> image_paths("no/such/folder")
    Traceback (most recent call last):
    ...
    facelite.errors.ImageError: no/such/folder: no such file or folder; check the path
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .datasets import IMAGE_EXTENSIONS, list_images
from .errors import ImageError, UserError
from .files import check_regular_file
from .image import MAX_FILE_BYTES, MAX_PIXELS

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
MAX_VIDEO_BYTES = 4 * 1024**3
"""Largest video file accepted: 4 GiB (about an hour of 1080p phone video)."""


def is_video(path: str | os.PathLike) -> bool:
    """True for a file whose extension is one of `VIDEO_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def image_paths(target: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """The image files to analyse: `target` itself if it is a file, else every image under
    the folder (in its sub-folders too unless `recursive=False`), sorted.

    Raises ImageError when the path does not exist, is not a regular file or folder (a
    FIFO, a device, a socket), is a file over `image.MAX_FILE_BYTES`, or is a folder tree
    holding no image. Files are not opened here: a bad image fails when it is analysed,
    on its own.
    """
    path = Path(target)
    if not path.exists():
        raise ImageError(f"{path}: no such file or folder; check the path")
    if not path.is_dir():
        check_regular_file(path, MAX_FILE_BYTES, "image", ImageError)
        return [path]
    files = list_images(path, recursive=recursive)
    if not files:
        where = "or its sub-folders " if recursive else ""
        raise ImageError(f"{path}: no image in the folder {where}"
                         f"({', '.join(IMAGE_EXTENSIONS)}); check the path")
    return files


@dataclass(frozen=True)
class VideoFrame:
    """One frame: its index in the source, its time (None when a file's fps is unknown),
    the BGR pixels, and its timestamp in milliseconds (strictly increasing within a
    source: what `FaceAnalyzer.analyze_video_frame` and `analyze_async` take)."""

    index: int
    time_s: float | None
    image: np.ndarray
    timestamp_ms: int


class _Capture:
    """An opened `cv2.VideoCapture`: its frame rate, declared size and the frame pixel cap.

    Use a subclass in a `with` block (or call `close`) so the decoder is released."""

    def __init__(self, cap, name: str, cannot_open: str):
        import cv2

        self.name = name
        self._cap = cap
        if not cap.isOpened():
            cap.release()
            raise ImageError(f"{name}: {cannot_open}")
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
        """(width, height) the stream declares; (0, 0) when unknown."""
        try:
            self._check_frame_size(*self.size, "its frames")
        except ImageError:
            cap.release()
            raise

    def _check_frame_size(self, width: int, height: int, what: str) -> None:
        if width * height > MAX_PIXELS:
            raise ImageError(f"{self.name}: {what} are {width}x{height} ({width * height / 1e6:.1f} megapixels), "
                             f"over the {MAX_PIXELS / 1e6:.0f} megapixel limit; downscale the video first")

    def _file_timestamp_ms(self, index: int, previous: int | None) -> int:
        """The grabbed frame's presentation time in the file (`CAP_PROP_POS_MSEC`), rounded
        to ms; where the container gives none that increases, `index / fps`; never less
        than `previous + 1`, so timestamps strictly increase whatever the container says."""
        import cv2

        t = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        t = round(t) if np.isfinite(t) else -1
        if previous is not None and t <= previous and self.fps:
            t = round(index * 1000.0 / self.fps)
        return t if previous is None or t > previous else previous + 1

    def close(self) -> None:
        self._cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFile(_Capture):
    """An opened video file: its frame rate, and its frames sampled every Nth.

    Use it in a `with` block (or call `close`) so the decoder is released. A path that
    is not a regular file of at most `MAX_VIDEO_BYTES`, a video OpenCV cannot open, and
    one whose frames are over `image.MAX_PIXELS` are ImageErrors (exit 2 on the CLI).
    Frames carry the file's timestamps (`VideoFrame.timestamp_ms`).
    """

    def __init__(self, path: str | os.PathLike):
        import cv2

        self.path = Path(path)
        check_regular_file(self.path, MAX_VIDEO_BYTES, "video", ImageError)
        # an absolute path: FFmpeg would read "concat:..." or "subfile,..." as a protocol
        super().__init__(cv2.VideoCapture(os.path.abspath(self.path)), str(self.path),
                         "cannot open the video; use a format OpenCV reads (mp4, avi, mkv)")

    def frames(self, every: int = 1, max_frames: int = 0) -> Iterator[VideoFrame]:
        """Frames 0, every, 2·every, … (at most `max_frames` of them; 0: all).

        Raises ImageError if not a single frame can be read (an empty video or a codec
        OpenCV lacks).
        """
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UserError(f"every {every}: must be a whole number >= 1 (1 = every frame; the CLI's --every)")
        _check_max_frames(max_frames)
        return self._sample(every, max_frames)

    def _sample(self, every: int, max_frames: int) -> Iterator[VideoFrame]:
        index = sampled = 0
        previous = None
        while self._cap.grab():
            if index % every == 0:
                previous = self._file_timestamp_ms(index, previous)
                ok, image = self._cap.retrieve()
                if not ok:
                    break
                self._check_frame_size(image.shape[1], image.shape[0], f"frame {index}'s pixels")
                yield VideoFrame(index, round(index / self.fps, 3) if self.fps else None, image, previous)
                sampled += 1
                if max_frames and sampled >= max_frames:
                    return
            index += 1
        if index == 0:
            raise ImageError(f"{self.path}: no frames could be read; the video is empty or its codec is unsupported")


class Camera(_Capture):
    """A live source (LIVE_STREAM mode, `facelite analyze --camera SOURCE`): a camera
    index (`0` is the first camera), a stream URL (`rtsp://...`, `http://...`), or a video
    file played **as a camera would deliver it**, at its own frame rate.

    Timestamps: a camera or URL's frames are stamped with the time they were read
    (milliseconds since the source opened, monotonic clock); a file's frames with the
    file's own timestamps, and `frames()` waits until each frame's time has come (so a
    slow consumer drops frames as it would with a camera). A source OpenCV cannot open
    (no such camera, an unreachable URL) and a file that is not a regular video file of
    at most `MAX_VIDEO_BYTES` are ImageErrors (exit 2 on the CLI).

    Example:

        >>> Camera("no/such/clip.mp4")
        Traceback (most recent call last):
        ...
        facelite.errors.ImageError: no/such/clip.mp4: no such file; give a camera index (0 is the first camera), a stream URL or a video file
    """

    def __init__(self, source: str | int):
        import cv2

        text = str(source).strip()
        self.is_file = not (text.isdigit() or "://" in text)
        if text.isdigit():
            cap, hint = cv2.VideoCapture(int(text)), ("cannot open camera " + text + "; check that it is "
                                                       "connected and free (0 is the first camera)")
            name = f"camera {text}"
        elif "://" in text:
            cap, hint, name = cv2.VideoCapture(text), "cannot open the stream; check the URL and the network", text
        else:
            if not Path(text).exists():
                raise ImageError(f"{text}: no such file; give a camera index (0 is the first camera), a stream URL "
                                 "or a video file")
            check_regular_file(text, MAX_VIDEO_BYTES, "video", ImageError)
            cap = cv2.VideoCapture(os.path.abspath(text))
            hint, name = "cannot open the video; use a format OpenCV reads (mp4, avi, mkv)", text
        super().__init__(cap, name, hint)

    def frames(self, max_frames: int = 0) -> Iterator[VideoFrame]:
        """Every frame until the source ends (at most `max_frames`; 0: no limit).

        Raises ImageError if not a single frame can be read.
        """
        _check_max_frames(max_frames)
        return self._read(max_frames)

    def _read(self, max_frames: int) -> Iterator[VideoFrame]:
        import time

        start = time.monotonic()
        index, previous = 0, None
        while not max_frames or index < max_frames:
            if not self._cap.grab():
                break
            if self.is_file:
                previous = self._file_timestamp_ms(index, previous)
                time.sleep(max(0.0, start + previous / 1000.0 - time.monotonic()))
            else:
                now = round((time.monotonic() - start) * 1000.0)
                previous = now if previous is None or now > previous else previous + 1
            ok, image = self._cap.retrieve()
            if not ok:
                break
            self._check_frame_size(image.shape[1], image.shape[0], f"frame {index}'s pixels")
            yield VideoFrame(index, previous / 1000.0, image, previous)
            index += 1
        if index == 0:
            raise ImageError(f"{self.name}: no frames could be read; the source is empty or its codec is unsupported")


def _check_max_frames(max_frames: int) -> None:
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 0:
        raise UserError(f"max_frames {max_frames}: must be a whole number >= 0 (0 = no limit)")


def iter_video_frames(path: str | os.PathLike, every: int = 1, max_frames: int = 0) -> Iterator[VideoFrame]:
    """`VideoFile(path).frames(every, max_frames)`, closing the file when done."""
    with VideoFile(path) as video:
        yield from video.frames(every, max_frames)
