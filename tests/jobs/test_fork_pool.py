"""ForkPool: tasks that fit their worker's pipe are written at once (no second thread); larger
ones go through the feeder thread; either way every result comes back in order, and a worker
that dies ends the run with WorkerFailed, never a hang."""

import os
import signal
import sys

import pytest
from bounded import bounded

from jacs_desktop.jobs.workers import ForkPool, WorkerFailed

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ForkPool is for Linux")]


def _init() -> None:
    pass


def _echo(data: bytes, tag: int) -> tuple[int, int, bytes]:
    return tag, len(data), data[:16]


def _run(pool: ForkPool, sizes: list[int]) -> list[tuple[int, int, bytes]]:
    out = []
    ahead = 6
    sent = 0
    for sent in range(min(ahead, len(sizes))):
        pool.submit(sent, (bytes([sent % 251]) * sizes[sent], sent))
    sent = min(ahead, len(sizes))
    for done in range(len(sizes)):
        out.append(pool.result(done))
        if sent < len(sizes):
            pool.submit(sent, (bytes([sent % 251]) * sizes[sent], sent))
            sent += 1
    return out


def test_small_tasks_need_no_feeder_thread():
    pool = ForkPool(2, _init, (), _echo)
    try:
        sizes = [100 + i for i in range(200)]
        got = bounded(lambda: _run(pool, sizes), 30)
        assert got == [(i, sizes[i], bytes([i % 251]) * min(16, sizes[i])) for i in range(200)]
        assert pool._feeder is None
    finally:
        pool.close()


def test_large_and_small_tasks_stay_in_order():
    pool = ForkPool(2, _init, (), _echo)
    try:
        # (2 MiB is far more than a pipe holds; small ones after a large one must wait their turn)
        sizes = [10, 2 << 20, 20, 30, 300_000, 40, 2 << 20, 2 << 20, 50, 60, 70] * 3
        got = bounded(lambda: _run(pool, sizes), 30)
        assert got == [(i, sizes[i], bytes([i % 251]) * min(16, sizes[i])) for i in range(len(sizes))]
        assert pool._feeder is not None
        assert all(n == 0 for n in pool._backlog.values())
    finally:
        pool.close()


def test_a_worker_killed_with_a_task_in_the_feeder_ends_in_worker_failed():
    pool = ForkPool(1, _init, (), _echo)
    try:
        os.kill(pool._pids[0], signal.SIGKILL)
        os.waitpid(pool._pids[0], 0)
        pool.submit(0, (b"x" * (4 << 20), 0))  # (does not fit: the feeder gets it and finds the pipe closed)
        with pytest.raises(WorkerFailed):
            bounded(lambda: pool.result(0), 20)
    finally:
        bounded(pool.close, 20)
