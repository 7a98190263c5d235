"""Run one program in a box and describe what happened (:class:`SandboxResult`).

This is the only module that starts processes. It is thread-safe (no
``preexec_fn``; resource limits are set by the in-box bootstrap before any
untrusted code runs) and may be called from many threads or processes at once.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .command import BOX_DIR, PythonInfo, box_env, bwrap_command, drop_privileges, python_command
from .config import MIB, Limits, uid_base_from_env
from .uids import reserved_uid

BOOT_SOURCE = (Path(__file__).with_name("_boot.py")).read_text(encoding="utf-8")
_PATH_KEYS = ("solution", "tests", "script", "argv0", "cwd")
MAX_WORK_BYTES = 256 * MIB
MAX_WORK_FILES = 10_000


@dataclass(frozen=True)
class Backend:
    """How boxes are started on this machine (chosen by :func:`probe.probe_layers`).

    Attributes:
        kind: str, ``"bwrap"`` (OS isolation) or ``"rlimits"`` (limits only).
        python: PythonInfo, interpreter used inside.
        bwrap: str | None, path of bwrap when kind is ``"bwrap"``.
        drop_uid: bool, switch to a pooled unprivileged uid (we are root).
    """

    kind: str
    python: PythonInfo
    bwrap: str | None = None
    drop_uid: bool = False


@dataclass(frozen=True)
class BoxJob:
    """One program to run.

    Attributes:
        files: dict[str, str], file name -> text, written to the job folder (/sandbox).
        spec: dict[str, Any], the bootstrap spec (``mode``, and paths relative to the
            job folder under the keys ``solution``, ``tests``, ``script``, ``argv0``, ``cwd``).
        work_dir: str | None, host folder copied to /sandbox/work (read-only there);
            at most MAX_WORK_FILES files and MAX_WORK_BYTES bytes.
    """

    files: dict[str, str]
    spec: dict[str, Any]
    work_dir: str | None = None


@dataclass
class SandboxResult:
    """What one run did. Exit status alone never means a test passed.

    Attributes:
        status: str, ``"ok"`` (exit 0), ``"crashed"`` (non-zero exit or signal),
            ``"timeout"``, ``"killed"`` (resource limit) or ``"error"`` (the box
            itself could not run; not the program's fault).
        exit_code: int | None, the program's status; 128+N when killed by signal N.
        reason: str, one human-readable line.
        stdout: str, first ``Limits.output_bytes`` of stdout (utf-8, replaced errors).
        stderr: str, same for stderr.
        stdout_truncated: bool; stderr_truncated: bool.
        events: list[dict], records from the result pipe (untrusted content).
        channel_error: str | None, why the result pipe could not be parsed.
        duration: float, wall seconds.
        backend: str, e.g. ``"bwrap+uid-drop+rlimits"``.
    """

    status: str
    exit_code: int | None = None
    reason: str = ""
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    events: list[dict] = field(default_factory=list)
    channel_error: str | None = None
    duration: float = 0.0
    backend: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def backend_label(backend: Backend) -> str:
    """A short name of the active layers, e.g. ``bwrap+uid-drop+rlimits``."""
    parts = ["bwrap"] if backend.kind == "bwrap" else []
    if backend.drop_uid:
        parts.append("uid-drop")
    return "+".join(parts + ["rlimits"])


def _nproc_limit(limits: Limits, dropped: bool) -> int:
    if dropped:
        return limits.max_procs
    try:  # a shared uid: allow what exists now (threads included) plus our budget
        total = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    except (OSError, IndexError, ValueError):
        return 0  # unknown: leave RLIMIT_NPROC alone
    return total + limits.max_procs


def _limits_spec(limits: Limits, dropped: bool) -> dict[str, int]:
    spec = {"cpu": limits.cpu_limit(), "as": limits.memory_mb * MIB, "fsize": limits.max_file_mb * MIB,
            "nofile": limits.max_open_files, "core": 0}
    nproc = _nproc_limit(limits, dropped)
    if nproc:
        spec["nproc"] = nproc
    return spec


def _check_work_size(folder: str) -> None:
    files = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files, size = files + 1, size + os.path.getsize(path)
        if files > MAX_WORK_FILES or size > MAX_WORK_BYTES:
            raise ValueError(f"{folder} is too big to copy into the sandbox "
                             f"(limits: {MAX_WORK_FILES} files, {MAX_WORK_BYTES // MIB} MiB)")


def _copy_work(folder: str, target: str) -> None:
    """Copy ``folder`` (symlinks kept as links) and make the copy world-readable."""
    _check_work_size(folder)
    shutil.copytree(folder, target, symlinks=True)
    for root, dirs, names in os.walk(target):
        os.chmod(root, 0o755)
        for name in names:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


@contextmanager
def _job_dir(job: BoxJob) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="t2eval-box-")
    try:
        os.chmod(path, 0o755)
        if job.work_dir is not None:
            _copy_work(job.work_dir, os.path.join(path, "work"))
        for name, text in job.files.items():
            target = os.path.join(path, name)
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(target, 0o644)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _scratch_dir(job_dir: str, uid: int | None) -> str:
    """Writable scratch for the rlimits-only fallback (inside the job folder)."""
    path = os.path.join(job_dir, "tmp")
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def _build(backend: Backend, job: BoxJob, job_dir: str, limits: Limits, uid: int | None,
           result_fd: int) -> tuple[list[str], dict[str, str], str]:
    box = BOX_DIR if backend.kind == "bwrap" else job_dir
    spec = dict(job.spec, result_fd=result_fd, limits=_limits_spec(limits, uid is not None))
    for key in _PATH_KEYS:
        if spec.get(key):
            spec[key] = os.path.join(box, spec[key])
    inner = python_command(backend.python, BOOT_SOURCE, marshal.dumps(spec).hex())
    if backend.kind == "bwrap":
        argv = bwrap_command(backend.bwrap, backend.python, job_dir, limits, uid, inner)
        return argv, {}, "/"
    scratch = _scratch_dir(job_dir, uid)
    env = dict(box_env(), HOME=scratch, TMPDIR=scratch)
    return drop_privileges(uid) + inner, env, scratch


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _events(data: bytes) -> tuple[list[dict], str | None]:
    events, error = [], None
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8", "surrogatepass"))
        except ValueError:
            error = "result pipe carried a line that is not JSON"
            continue
        if isinstance(record, dict):
            events.append(record)
        else:
            error = "result pipe carried a non-object record"
    return events, error


def _exit_code(proc: subprocess.Popen) -> int | None:
    code = proc.returncode
    if code is None:
        return None
    return 128 - code if code < 0 else code


def _classify(res: SandboxResult, timed_out: bool, flooded: str | None) -> None:
    started = any(e.get("ev") == "start" for e in res.events)
    resource = [e for e in res.events if e.get("ev") == "resource"]
    code = res.exit_code
    if timed_out:
        res.status, res.reason = "timeout", "wall-clock timeout: the whole box was killed"
    elif flooded:
        res.status, res.reason = "killed", f"{flooded} went over its size limit: the box was killed"
    elif not started:
        res.status = "error"
        res.reason = "the sandbox did not start: " + (res.stderr.strip().splitlines() or ["no message"])[-1]
    elif code == 128 + signal.SIGXCPU:
        res.status, res.reason = "killed", "CPU time limit (SIGXCPU)"
    elif code == 128 + signal.SIGKILL:
        res.status, res.reason = "killed", "killed by SIGKILL (CPU hard limit or out of memory)"
    elif resource:
        res.status, res.reason = "killed", "resource limit: " + str(resource[-1].get("err", ""))[:200]
    elif code == 0:
        res.status, res.reason = "ok", "exited with status 0"
    else:
        res.status, res.reason = "crashed", f"exited with status {code}"


def _spawn(argv, env, cwd, result_w) -> subprocess.Popen:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, pass_fds=(result_w,), start_new_session=True)


def _collect(proc, result_r, limits: Limits, deadline: float):
    from .streams import drain

    fds = {"stdout": proc.stdout.fileno(), "stderr": proc.stderr.fileno(), "result": result_r}
    keep = {"stdout": limits.output_bytes, "stderr": limits.output_bytes, "result": limits.result_bytes}
    kill_at = {"stdout": limits.output_kill_bytes, "stderr": limits.output_kill_bytes,
               "result": limits.result_bytes}
    drained = drain(proc, fds, keep, kill_at, deadline)
    _kill_group(proc)  # always: nothing of this box may outlive it
    proc.wait()
    return drained


def _fill(res: SandboxResult, drained) -> None:
    out, err, channel = (drained.captures[k] for k in ("stdout", "stderr", "result"))
    res.stdout = out.data.decode("utf-8", "replace")
    res.stderr = err.data.decode("utf-8", "replace")
    res.stdout_truncated, res.stderr_truncated = out.truncated, err.truncated
    res.events, res.channel_error = _events(bytes(channel.data))


def run_job(job: BoxJob, limits: Limits, backend: Backend) -> SandboxResult:
    """Run ``job`` in a fresh box and wait for it (at most ``limits.timeout`` s).

    Args:
        job: BoxJob, files and bootstrap spec.
        limits: Limits.
        backend: Backend from the probe.
    Returns:
        SandboxResult (status ``error`` when the box could not be started).
    """
    start = time.monotonic()
    uid_ctx = reserved_uid(uid_base_from_env()) if backend.drop_uid else nullcontext(None)
    res = SandboxResult(status="error", backend=backend_label(backend))
    with uid_ctx as uid, _job_dir(job) as job_dir:
        result_r, result_w = os.pipe()
        try:
            argv, env, cwd = _build(backend, job, job_dir, limits, uid, result_w)
            proc = _spawn(argv, env, cwd, result_w)
        except OSError as exc:
            os.close(result_r)
            os.close(result_w)
            res.reason = f"could not start the sandbox: {exc}"
            return res
        os.close(result_w)
        try:
            with proc:
                drained = _collect(proc, result_r, limits, start + limits.timeout)
        finally:
            os.close(result_r)
    res.exit_code = _exit_code(proc)
    _fill(res, drained)
    _classify(res, drained.timed_out, drained.flooded)
    res.duration = time.monotonic() - start
    return res
