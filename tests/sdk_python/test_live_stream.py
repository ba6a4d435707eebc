"""LatestFrameWorker (facelite.live_stream): results in submission order, a producer that
outruns the worker loses frames (counted) instead of queueing them, errors reach the
producer, close drains or discards and joins."""

import threading
import time
import tracemalloc

import numpy as np
import pytest

from facelite.errors import UserError
from facelite.live_stream import LatestFrameWorker


class Gate:
    """A fake `process`: returns the frame's first value, blocking while the gate is shut."""

    def __init__(self, open_: bool = True):
        self.open = threading.Event()
        self.started = threading.Semaphore(0)
        if open_:
            self.open.set()

    def __call__(self, frame, timestamp_ms):
        self.started.release()
        assert self.open.wait(10)
        return int(frame.flat[0])


def frame(value: int, size: int = 4) -> np.ndarray:
    return np.full((size, size, 3), value % 256, np.uint8)


def test_results_arrive_in_submission_order_and_every_frame_is_counted():
    seen = []
    worker = LatestFrameWorker(lambda f, t: (time.sleep(0.001), t)[1], lambda r, f, t: seen.append((r, t)))
    for t in range(300):
        worker.submit(frame(t), t)
    worker.close()
    stamps = [t for _, t in seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(r == t for r, t in seen)
    assert stamps[-1] == 299                   # close(wait=True) drained the last frame
    assert worker.delivered == len(seen) and worker.delivered + worker.dropped == 300 and worker.failed == 0


def test_a_producer_faster_than_the_worker_drops_pending_frames_and_counts_them():
    gate, seen = Gate(open_=False), []
    worker = LatestFrameWorker(gate, lambda r, f, t: seen.append(t))
    worker.submit(frame(0), 0)
    assert gate.started.acquire(timeout=10)    # frame 0 is being processed
    for t in range(1, 6):
        worker.submit(frame(t), t)             # 1..4 are replaced by the next one while pending
    assert worker.dropped == 4 and worker.pending
    gate.open.set()
    worker.close()
    assert seen == [0, 5] and worker.delivered == 2 and worker.dropped == 4


def test_no_queue_builds_up_memory_stays_at_two_frames():
    gate = Gate(open_=False)
    worker = LatestFrameWorker(gate, lambda r, f, t: None)
    big = np.zeros((512, 512, 3), np.uint8)    # 0.75 MiB
    worker.submit(big, 0)
    assert gate.started.acquire(timeout=10)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for t in range(1, 200):
            worker.submit(big, t)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    gate.open.set()
    worker.close()
    assert held < 2 * big.nbytes               # one pending copy, not 199
    assert worker.dropped == 198 and worker.delivered == 2


def test_the_frame_is_copied_on_submit():
    gate, seen = Gate(open_=False), []
    worker = LatestFrameWorker(gate, lambda r, f, t: seen.append((r, int(f.flat[0]))))
    buffer = frame(7)
    worker.submit(buffer, 0)
    buffer[:] = 99                              # the caller reuses its buffer at once
    gate.open.set()
    worker.close()
    assert seen == [(7, 7)]


def test_an_error_in_process_is_raised_by_the_next_submit_then_the_stream_goes_on():
    seen = []

    def process(f, t):
        if t == 1:
            raise ValueError("bad frame 1")
        return t

    worker = LatestFrameWorker(process, lambda r, f, t: seen.append(t))
    worker.submit(frame(0), 0)
    worker.submit(frame(1), 1)
    deadline = time.monotonic() + 10
    while worker.failed == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    with pytest.raises(ValueError, match="bad frame 1"):
        worker.submit(frame(2), 2)             # not taken
    worker.submit(frame(3), 3)                 # raised once: the stream carries on
    worker.close()
    assert 2 not in seen and seen[-1] == 3 and worker.failed == 1


def test_an_error_in_the_callback_is_raised_by_close_when_no_submit_follows():
    def callback(r, f, t):
        raise RuntimeError(f"callback failed at {t}")

    worker = LatestFrameWorker(lambda f, t: t, callback)
    worker.submit(frame(0), 0)
    with pytest.raises(RuntimeError, match="callback failed at 0"):
        worker.close()
    assert worker.failed == 1 and worker.delivered == 0
    worker.close()                              # raised once; closing again is a no-op


def test_close_without_wait_discards_the_pending_frame_and_joins():
    gate, seen = Gate(open_=False), []
    worker = LatestFrameWorker(gate, lambda r, f, t: seen.append(t))
    worker.submit(frame(0), 0)
    assert gate.started.acquire(timeout=10)
    worker.submit(frame(1), 1)
    threading.Timer(0.05, gate.open.set).start()
    worker.close(wait=False)
    assert seen == [0]                          # the frame in progress finished before close returned
    assert worker.dropped == 1 and not worker._thread.is_alive()
    with pytest.raises(UserError, match="submit after close"):
        worker.submit(frame(2), 2)


def test_close_from_the_callback_does_not_deadlock():
    done = threading.Event()
    holder = {}

    def callback(r, f, t):
        holder["worker"].close()
        done.set()

    holder["worker"] = worker = LatestFrameWorker(lambda f, t: t, callback)
    worker.submit(frame(0), 0)
    assert done.wait(10)
    worker._thread.join(10)
    assert not worker._thread.is_alive() and worker.delivered == 1
