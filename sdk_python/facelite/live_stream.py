"""A live stream's worker: one thread, one pending frame, the newest frame wins.

`FaceAnalyzer.analyze_async` (LIVE_STREAM mode, `docs/video.md`) feeds a camera through
this. A camera produces frames whether or not the pipeline keeps up, so a queue would
grow without bound (memory, and results later and later behind the scene); instead the
worker holds at most one pending frame. `submit` copies the frame (the caller may reuse
its buffer at once) and puts it in the one-slot mailbox; a frame still waiting there
when the next one arrives is replaced and counted in `dropped`. The single worker thread
takes the pending frame, runs `process(frame, timestamp_ms)` and hands the result to
`callback(result, frame, timestamp_ms)`, so results arrive in submission order, on the
worker thread, and at most two frames (the one being processed and the pending one)
are held at any time.

Every submitted frame ends in exactly one of three counts: `delivered` (its callback
returned), `dropped` (replaced while pending, or discarded by `close(wait=False)` or
after an error) or `failed` (its `process` or `callback` raised).

Errors are never lost: when `process` or `callback` raises, the worker keeps the
exception, discards the pending frame (counted as dropped: it would have been analysed
out of context) and waits; the **next `submit` raises it** (that frame is not taken),
or `close` does when no submit comes. Each error is raised once; after it is raised the
stream carries on with the following submits. An error raised by `process` or
`callback` propagates as itself (its traceback shows where it happened).

`close(wait=True)` processes the pending frame first; `close(wait=False)` discards it
(counted as dropped). Either way the frame being processed finishes and the thread is
joined, so no callback runs after `close` returns (unless `close` is called from the
callback itself, which cannot join its own thread). `close` is idempotent; a `submit`
after it is a UserError.

Example:

    >>> import numpy as np
    >>> from facelite.live_stream import LatestFrameWorker
    >>> seen = []
    >>> with LatestFrameWorker(lambda frame, t: int(frame.sum()),
    ...                        lambda result, frame, t: seen.append((t, result))) as worker:
    ...     worker.submit(np.ones((2, 2), np.uint8), 0)
    >>> seen, worker.delivered + worker.dropped
    ([(0, 4)], 1)
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

import numpy as np

from .errors import UserError

R = TypeVar("R")


class LatestFrameWorker(Generic[R]):
    """Runs `process` on the newest submitted frame on one worker thread, never queueing
    more than one frame; results go to `callback(result, frame, timestamp_ms)` in order.

    Attributes (read them any time; they only grow):
        dropped: frames replaced while pending, or discarded by `close(wait=False)` or
            after an error.
        delivered: frames whose callback returned.
        failed: frames whose `process` or `callback` raised.
    """

    def __init__(self, process: Callable[[np.ndarray, int], R], callback: Callable[[R, np.ndarray, int], None],
                 name: str = "facelite-live-stream"):
        self._process, self._callback = process, callback
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, int] | None = None
        self._error: BaseException | None = None
        self._closing = False
        self._drain = True
        self.dropped = self.delivered = self.failed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, frame: np.ndarray, timestamp_ms: int) -> None:
        """Hand a frame to the worker (copied here); a frame still pending is replaced
        and counted as dropped.

        Raises the error of an earlier frame's `process` or `callback`, if one is waiting
        (this frame is then not taken), and UserError after `close`.
        """
        copy = np.array(frame, copy=True)
        with self._cond:
            self._raise_error()
            if self._closing:
                raise UserError("LatestFrameWorker: submit after close; create a new worker (or analyzer) "
                                "for a new stream")
            if self._pending is not None:
                self.dropped += 1
            self._pending = (copy, timestamp_ms)
            self._cond.notify()

    @property
    def pending(self) -> bool:
        """True while a frame waits for the worker."""
        with self._cond:
            return self._pending is not None

    def close(self, wait: bool = True) -> None:
        """Stop the worker: the pending frame is processed (`wait=True`) or discarded and
        counted as dropped (`wait=False`); the frame in progress finishes and the thread
        is joined. Raises the error of a frame that failed since the last `submit`."""
        with self._cond:
            if not self._closing:
                self._closing, self._drain = True, wait
                if not wait and self._pending is not None:
                    self._pending = None
                    self.dropped += 1
                self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        with self._cond:
            self._raise_error()

    def __enter__(self) -> "LatestFrameWorker[R]":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.close(wait=exc_type is None)

    def _raise_error(self) -> None:
        """Raise (once) the error a frame left; call with the lock held."""
        error, self._error = self._error, None
        if error is not None:
            self._cond.notify()  # the worker waits for the error to be collected
            raise error

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._error is not None and not self._closing or \
                        self._pending is None and not self._closing:
                    self._cond.wait()
                if self._pending is None or self._error is not None:
                    return  # closing, nothing to drain (or an error to report from close)
                (frame, timestamp_ms), self._pending = self._pending, None
            try:
                self._callback(self._process(frame, timestamp_ms), frame, timestamp_ms)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer's thread, not swallowed
                with self._cond:
                    self.failed += 1
                    self._error = exc
                    if self._pending is not None:
                        self._pending = None
                        self.dropped += 1
                continue
            with self._cond:
                self.delivered += 1
