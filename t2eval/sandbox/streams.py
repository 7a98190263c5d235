"""Read a child's stdout, stderr and result pipe together, with caps and a deadline."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass, field

_CHUNK = 65536
_POLL = 0.1  # seconds between checks that the child is still alive
_GRACE = 0.2  # seconds to wait for pipes to close after the child has exited


@dataclass
class Capture:
    """Bytes kept from one pipe.

    Attributes:
        keep: int, bytes to keep (the rest is counted and dropped).
        data: bytearray, the kept bytes.
        total: int, bytes seen in all.
    """

    keep: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def feed(self, chunk: bytes) -> None:
        """Count ``chunk`` and keep what still fits."""
        self.total += len(chunk)
        room = self.keep - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    @property
    def truncated(self) -> bool:
        """True when some bytes were dropped."""
        return self.total > len(self.data)


@dataclass
class Drained:
    """What :func:`drain` saw.

    Attributes:
        captures: dict[str, Capture], by stream name.
        timed_out: bool, the deadline passed before the child finished.
        flooded: str | None, name of the stream that went over its kill limit.
    """

    captures: dict[str, Capture]
    timed_out: bool = False
    flooded: str | None = None


def _open_selector(fds: dict[str, int]) -> selectors.BaseSelector:
    sel = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    return sel


def _read_ready(sel, caps, limits) -> str | None:
    for key, _ in sel.select(timeout=_POLL):
        try:
            chunk = os.read(key.fd, _CHUNK)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fd)
            continue
        caps[key.data].feed(chunk)
        if caps[key.data].total > limits[key.data]:
            return key.data
    return None


def drain(proc: subprocess.Popen, fds: dict[str, int], keep: dict[str, int],
          kill_at: dict[str, int], deadline: float) -> Drained:
    """Read all ``fds`` until they close, the deadline passes, or a stream floods.

    Args:
        proc: the child (polled so that pipes held open by strays do not hang us).
        fds: dict[str, int], stream name -> read end (non-blocking is set here).
        keep: dict[str, int], bytes to keep per stream.
        kill_at: dict[str, int], total bytes per stream after which we stop (flood).
        deadline: float, ``time.monotonic()`` value at which we give up.
    Returns:
        Drained; the caller kills the child when ``timed_out`` or ``flooded`` is set.
    """
    caps = {name: Capture(keep[name]) for name in fds}
    result = Drained(caps)
    sel = _open_selector(fds)
    exited_at = None
    try:
        while sel.get_map():
            if time.monotonic() >= deadline:
                result.timed_out = proc.poll() is None
                break
            result.flooded = _read_ready(sel, caps, kill_at)
            if result.flooded:
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > _GRACE:
                break
    finally:
        sel.close()
    return result
