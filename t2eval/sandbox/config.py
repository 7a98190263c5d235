"""Limits and switches for one sandboxed run (:class:`Limits`) and environment knobs.

Environment variables (read at call time):

- ``T2EVAL_SANDBOX_STRICT=1``: refuse to run when no OS-level isolation works.
- ``T2EVAL_SANDBOX_BACKEND``: ``auto`` (default), ``bwrap`` (require bubblewrap) or
  ``rlimits`` (never use bubblewrap; for testing the weak layer).
- ``T2EVAL_SANDBOX_UID_BASE``: first uid of the pool used when running as root
  (default 61000; 256 uids are used, one per concurrent run).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run.

    Attributes:
        timeout: float, wall-clock seconds before the whole box is killed (status timeout).
        memory_mb: int, address-space limit (RLIMIT_AS) in MiB.
        cpu_seconds: int | None, RLIMIT_CPU; None means ``ceil(timeout) + 1``.
        max_procs: int, processes/threads the box may have (RLIMIT_NPROC, per uid).
        max_file_mb: int, largest file the box may write (RLIMIT_FSIZE) in MiB.
        max_open_files: int, RLIMIT_NOFILE.
        scratch_mb: int, size of the writable tmpfs at /tmp (and /dev/shm, a quarter).
        output_bytes: int, bytes of stdout and of stderr kept for the result.
        output_kill_bytes: int, total output after which the box is killed (flood).
        result_bytes: int, most bytes the result channel may carry.
    """

    timeout: float = 10.0
    memory_mb: int = 1024
    cpu_seconds: int | None = None
    max_procs: int = 64
    max_file_mb: int = 16
    max_open_files: int = 256
    scratch_mb: int = 64
    output_bytes: int = 64 * 1024
    output_kill_bytes: int = 8 * MIB
    result_bytes: int = 32 * MIB

    def cpu_limit(self) -> int:
        """RLIMIT_CPU seconds: explicit, else one more than the wall timeout."""
        if self.cpu_seconds is not None:
            return int(self.cpu_seconds)
        return int(math.ceil(self.timeout)) + 1

    def with_(self, **changes) -> "Limits":
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def strict_from_env() -> bool:
    """True when ``T2EVAL_SANDBOX_STRICT`` is set to a true value."""
    return os.environ.get("T2EVAL_SANDBOX_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


def backend_from_env() -> str:
    """``auto``, ``bwrap`` or ``rlimits`` from ``T2EVAL_SANDBOX_BACKEND``."""
    value = os.environ.get("T2EVAL_SANDBOX_BACKEND", "auto").strip().lower() or "auto"
    if value not in ("auto", "bwrap", "rlimits"):
        raise ValueError(f"T2EVAL_SANDBOX_BACKEND must be auto, bwrap or rlimits, not {value!r}")
    return value


def uid_base_from_env() -> int:
    """First uid of the root-mode uid pool."""
    return int(os.environ.get("T2EVAL_SANDBOX_UID_BASE", "61000"))
