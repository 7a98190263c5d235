"""Find out, once per process, which isolation layers work on this machine.

Layers, strongest first:

1. ``bwrap``: bubblewrap namespaces (PID, network, IPC, UTS, mount; user namespace
   when not root), read-only system, size-limited tmpfs scratch, dies with its parent.
2. ``uid-drop``: as root, the program runs as a pooled unprivileged uid with no
   capabilities and ``no_new_privs`` (``setpriv`` from util-linux).
3. ``rlimits`` (always): CPU, address space, processes, file size, open files; plus a
   scrubbed environment, no stdin, capped output and a wall-clock timeout that kills
   the whole process group.

With only layer 3 (no bwrap: macOS, or Linux without bubblewrap or user namespaces)
the program can read every file its uid can read, use the network, and leave
processes that escaped the process group; :func:`probe_layers` warns loudly and
strict mode (``T2EVAL_SANDBOX_STRICT=1`` or ``strict=True``) refuses to run.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import warnings
from dataclasses import dataclass

from .command import python_info
from .config import Limits, backend_from_env, strict_from_env
from .runner import Backend, BoxJob, backend_label, run_job

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_CACHE: dict[str, "Layers"] = {}
_PROBE_LIMITS = Limits(timeout=20.0, memory_mb=512)
WEAK_WARNING = ("t2eval sandbox: WARNING: no OS-level isolation is available here ({why}); "
                "untrusted code runs with resource limits only and can read your files and "
                "use the network. Install bubblewrap (Debian: apt-get install bubblewrap) or set "
                "T2EVAL_SANDBOX_STRICT=1 to refuse to run.")


class SandboxUnavailable(RuntimeError):
    """Strict mode was asked for but no OS-level isolation works here."""


@dataclass(frozen=True)
class Layers:
    """Result of the probe.

    Attributes:
        backend: Backend, what :func:`runner.run_job` will use.
        notes: tuple[str, ...], why a stronger layer is missing (empty when all work).
    """

    backend: Backend
    notes: tuple[str, ...] = ()

    @property
    def os_isolation(self) -> bool:
        """True when bubblewrap works."""
        return self.backend.kind == "bwrap"

    @property
    def label(self) -> str:
        """``bwrap+uid-drop+rlimits``-style summary."""
        return backend_label(self.backend)

    def describe(self) -> list[str]:
        """Human-readable lines, one per layer, for ``t2eval sandbox selftest``."""
        b = self.backend
        lines = [f"bubblewrap (namespaces, read-only fs, no network): {'ON' if b.kind == 'bwrap' else 'OFF'}",
                 f"unprivileged uid (root only): {'ON' if b.drop_uid else 'OFF' if os.geteuid() == 0 else 'n/a (not root)'}",
                 "rlimits + timeout + scrubbed env + capped output: ON",
                 f"python in the box: {b.python.executable} (stdlib only)"]
        return lines + [f"note: {n}" for n in self.notes]


def _trial(backend: Backend) -> str | None:
    """Run a tiny program with ``backend``; None when it worked, else why not."""
    job = BoxJob(files={"probe.py": "import os\nassert os.getuid() >= 0\n"},
                 spec={"mode": "script", "script": "probe.py"})
    res = run_job(job, _PROBE_LIMITS, backend)
    if res.status == "ok":
        start = next(e for e in res.events if e.get("ev") == "start")
        if backend.drop_uid and start.get("uid") == 0:
            return "the program still ran as root"
        return None
    return f"{res.status}: {res.reason} {res.stderr.strip()[-300:]}".strip()


def _setpriv_ok() -> bool:
    return os.path.exists("/usr/bin/setpriv")


def _bwrap_backend(notes: list[str], root: bool) -> Backend | None:
    path = shutil.which("bwrap")
    if path is None:
        notes.append("bwrap not found (Debian package: bubblewrap)")
        return None
    if root and not _setpriv_ok():
        notes.append("running as root but /usr/bin/setpriv is missing (Debian package: util-linux)")
        return None
    backend = Backend("bwrap", python_info(), bwrap=path, drop_uid=root)
    why = _trial(backend)
    if why:
        notes.append(f"bwrap does not work here: {why}")
        return None
    return backend


def _fallback_backend(notes: list[str], root: bool) -> Backend:
    py = python_info()
    if root and _setpriv_ok():
        backend = Backend("rlimits", py, drop_uid=True)
        why = _trial(backend)
        if not why:
            return backend
        notes.append(f"uid drop does not work: {why}")
    return Backend("rlimits", py)


def _probe() -> Layers:
    notes: list[str] = []
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    choice = backend_from_env()
    backend = None
    if not sys.platform.startswith("linux"):
        notes.append(f"{sys.platform}: no bubblewrap; only rlimits (RLIMIT_AS is not enforced on macOS)")
    elif choice == "rlimits":
        notes.append("T2EVAL_SANDBOX_BACKEND=rlimits: bubblewrap disabled on request")
    else:
        backend = _bwrap_backend(notes, root)
    if backend is None and choice == "bwrap":
        raise SandboxUnavailable("T2EVAL_SANDBOX_BACKEND=bwrap but bubblewrap does not work: " + "; ".join(notes))
    return Layers(backend or _fallback_backend(notes, root and sys.platform.startswith("linux")), tuple(notes))


def probe_layers(refresh: bool = False) -> Layers:
    """Probe (once per process and backend setting) which layers work here.

    Args:
        refresh: bool, probe again instead of using the cached answer.
    Returns:
        Layers. Warns (``warnings`` and the log) when there is no OS isolation.
    """
    key = backend_from_env()
    with _LOCK:
        if refresh or key not in _CACHE:
            layers = _probe()
            if not layers.os_isolation:
                message = WEAK_WARNING.format(why="; ".join(layers.notes) or "unknown")
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                log.warning(message)
            _CACHE[key] = layers
        return _CACHE[key]


def require_layers(strict: bool | None = None) -> Layers:
    """The probed layers; raises SandboxUnavailable in strict mode without bwrap.

    Args:
        strict: bool | None, None means ``T2EVAL_SANDBOX_STRICT`` from the environment.
    """
    layers = probe_layers()
    if (strict_from_env() if strict is None else strict) and not layers.os_isolation:
        raise SandboxUnavailable("strict sandbox mode: no OS-level isolation here ("
                                 + ("; ".join(layers.notes) or "unknown") + ")")
    return layers
