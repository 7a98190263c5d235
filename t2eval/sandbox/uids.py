"""A pool of unprivileged uids for root-mode runs, one uid per concurrent box.

RLIMIT_NPROC counts every process of a uid on the whole machine, so boxes that
shared one uid would share one process budget (a fork bomb in one box would stop
the others from starting). Each run therefore holds its own uid, reserved with an
``flock`` on a per-uid lock file: safe across threads and processes, and released
by the kernel if the holder dies.
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

POOL_SIZE = 256
_LOCK_DIR = os.path.join(tempfile.gettempdir(), "t2eval-sandbox-uids")


def _lock_dir() -> str:
    os.makedirs(_LOCK_DIR, mode=0o700, exist_ok=True)
    return _LOCK_DIR


def _try_lock(path: str) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def reserved_uid(base: int, wait: float = 30.0) -> Iterator[int]:
    """Reserve one uid in ``[base, base + POOL_SIZE)`` for the duration of the block.

    Args:
        base: int, first uid of the pool.
        wait: float, seconds to keep trying when every uid is taken.
    Yields:
        int, the reserved uid.
    Raises:
        RuntimeError: no uid became free within ``wait`` seconds.
    """
    directory = _lock_dir()
    deadline = time.monotonic() + wait
    while True:
        start = random.randrange(POOL_SIZE)
        for i in range(POOL_SIZE):
            uid = base + (start + i) % POOL_SIZE
            fd = _try_lock(os.path.join(directory, f"{uid}.lock"))
            if fd is not None:
                try:
                    yield uid
                finally:
                    os.close(fd)
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"all {POOL_SIZE} sandbox uids from {base} are in use")
        time.sleep(0.01)
