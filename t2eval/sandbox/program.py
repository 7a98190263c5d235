"""Run a whole program in the box like ``python FILE`` (no judging)."""

from __future__ import annotations

import os

from .config import Limits
from .probe import require_layers
from .runner import BoxJob, SandboxResult, run_job


def run_program(code: str, *, args: list[str] | None = None, work_dir: str | None = None,
                limits: Limits | None = None, strict: bool | None = None,
                filename: str = "main.py") -> SandboxResult:
    """Run Python source ``code`` as ``__main__`` in a fresh box.

    Args:
        code: str, the program.
        args: list[str] | None, its ``sys.argv[1:]``.
        work_dir: str | None, host folder copied into the box at /sandbox/work, which
            becomes the working directory and ``sys.path[0]`` (read-only in the box).
        limits: Limits | None (default ``Limits()``: 10 s, 1 GiB).
        strict: bool | None, refuse without OS isolation (None: T2EVAL_SANDBOX_STRICT).
        filename: str, the program's file name (``sys.argv[0]``, ``__file__``).
    Returns:
        SandboxResult; ``status == "ok"`` only means it exited with status 0.
    Raises:
        probe.SandboxUnavailable: strict mode and no OS isolation.
        ValueError: ``work_dir`` is too big to copy.
    """
    layers = require_layers(strict)
    name = os.path.basename(filename) or "main.py"
    spec = {"mode": "script", "script": "main.py", "args": list(args or []),
            "argv0": f"work/{name}" if work_dir else name, "cwd": "work" if work_dir else None}
    job = BoxJob(files={"main.py": code}, spec=spec, work_dir=work_dir)
    return run_job(job, limits or Limits(), layers.backend)


def run_file(path: str, *, args: list[str] | None = None, limits: Limits | None = None,
             strict: bool | None = None) -> SandboxResult:
    """Run the script at ``path`` with a copy of its folder as the working directory.

    Args:
        path: str, a Python file on the host.
        args, limits, strict: as for :func:`run_program`.
    Raises:
        OSError: the file cannot be read.
        ValueError: its folder is too big to copy into the box.
    """
    with open(path, encoding="utf-8") as fh:
        code = fh.read()
    folder = os.path.dirname(os.path.abspath(path))
    return run_program(code, args=args, work_dir=folder, limits=limits, strict=strict,
                       filename=os.path.basename(path))
