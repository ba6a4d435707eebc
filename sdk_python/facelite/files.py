"""Opening a file a user handed facelite (an image, a video, a bundle): regular files only, size-capped.

Why one module: a path can name a FIFO (the `open` blocks forever), `/dev/zero` (the read
never ends), a directory or a socket, and it can be swapped for one of those between a
check and the open. Every input path of facelite goes through the same three steps here:
`os.stat` before opening (nothing is opened unless it is a regular file within the cap),
a non-blocking open, and `os.fstat` of the open descriptor (the file actually opened is
checked again). Errors are the caller's `UserError` kind (`ImageError`, `BundleError`),
so a bad path always exits 2 with a message saying what the path is and what to pass.

Example:

    >>> from facelite.files import check_regular_file
    >>> from facelite.errors import ImageError
    >>> check_regular_file("/dev/null", 1 << 20, "image", ImageError)
    Traceback (most recent call last):
    ...
    facelite.errors.ImageError: /dev/null: is a character device, not an image file; facelite reads regular files only (save the stream to a file first)
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import BinaryIO, Iterator

from .errors import UserError

_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def byte_size(n: int) -> str:
    """A byte count for messages: "64 MiB", "4 GiB", or "100 bytes"."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _check(path: str, st: os.stat_result, max_bytes: int, kind: str, error: type[UserError],
           allow_empty: bool) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a directory, expected {_a(kind)} file")
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), "not a regular file")
        raise error(f"{path}: is {what}, not {_a(kind)} file; "
                    "facelite reads regular files only (save the stream to a file first)")
    if st.st_size == 0 and not allow_empty:
        raise error(f"{path}: is empty (0 bytes), not {_a(kind)}")
    if st.st_size > max_bytes:
        raise error(f"{path}: is {st.st_size} bytes, over the {byte_size(max_bytes)} limit for {_a(kind)} file")


def check_regular_file(path: str | os.PathLike, max_bytes: int, kind: str, error: type[UserError] = UserError,
                       allow_empty: bool = True) -> os.stat_result:
    """`os.stat` of `path` (nothing is opened), or `error` unless it is a regular file of at most `max_bytes`."""
    p = os.fspath(path)
    if "\0" in p:
        raise error(f"{p!r}: a path with a NUL character; check the path")
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{p}: no such {kind} file; check the path") from None
    except (OSError, ValueError) as exc:
        raise error(f"{p}: cannot be read ({getattr(exc, 'strerror', None) or exc}); "
                    "check the path and its permissions") from None
    _check(p, st, max_bytes, kind, error, allow_empty)
    return st


def open_regular_file(path: str | os.PathLike, max_bytes: int, kind: str, error: type[UserError] = UserError,
                      allow_empty: bool = True) -> BinaryIO:
    """`path` opened for binary reading once `check_regular_file` passed, non-blocking, and
    checked again on the open descriptor (the path may have been swapped in between)."""
    p = os.fspath(path)
    check_regular_file(p, max_bytes, kind, error, allow_empty)
    try:
        fd = os.open(p, _OPEN_FLAGS)
    except OSError as exc:
        raise error(f"{p}: cannot be read ({exc.strerror}); check the path and its permissions") from None
    file = os.fdopen(fd, "rb")
    try:
        _check(p, os.fstat(fd), max_bytes, kind, error, allow_empty)
    except BaseException:
        file.close()
        raise
    return file


def read_regular_file(path: str | os.PathLike, max_bytes: int, kind: str, error: type[UserError] = UserError) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (`open_regular_file`), never reading past the cap."""
    p = os.fspath(path)
    with open_regular_file(p, max_bytes, kind, error) as file:
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"{p}: cannot be read ({exc.strerror}); check the file") from None
    if len(data) > max_bytes:
        raise error(f"{p}: over the {byte_size(max_bytes)} limit for {_a(kind)} file")
    return data


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644, error: type[UserError] = UserError,
                suffix: str = ".tmp") -> Iterator[str]:
    """A temp file name beside `path` for a writer that opens files by name (OpenCV's
    `VideoWriter`), renamed over `path` when the block ends and removed when it raises,
    so an interrupted write never leaves a half-written file under the final name;
    `suffix` ends the temp name (a writer that picks its format by extension needs
    `.mp4` there); `mode` sets the permissions.

    Example:

        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "clip.mp4"
        >>> with atomic_path(target, suffix=".tmp.mp4") as tmp:
        ...     _ = pathlib.Path(tmp).write_bytes(b"frames")
        >>> target.read_bytes()
        b'frames'
    """
    import tempfile

    p = os.fspath(path)
    folder = os.path.dirname(p) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(p)}.", suffix=suffix, dir=folder)
        os.close(fd)
    except OSError as exc:
        raise error(f"{p}: cannot write there ({exc.strerror}); use a writable folder") from None
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: int = 0o644,
                  error: type[UserError] = UserError) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a temp file beside it, fsynced and renamed
    over `path` when the block ends, removed when it raises, so an interrupted write never
    leaves a half-written file under the final name (bundles, pictures, exports); `mode`
    sets the permissions (mkstemp makes 0o600; 0o644 to share, 0o600 for personal data).

    Example:

        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.bin"
        >>> with atomic_writer(target) as f:
        ...     _ = f.write(b"done")
        >>> target.read_bytes()
        b'done'
    """
    with atomic_path(path, mode, error) as tmp, open(tmp, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_file_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644,
                      error: type[UserError] = UserError) -> None:
    """Write `data` to `path` all at once or not at all (`atomic_writer`)."""
    with atomic_writer(path, mode, error) as f:
        f.write(data)
