"""A sandbox for model-generated code: run it isolated, judge it outside.

Public API (all thread-safe; each call starts a fresh box):

- ``check_mbpp(solution_code: str, test_list: list[str], test_setup_code: str = "",
  timeout: float = 10.0, limits: Limits | None = None, strict: bool | None = None) -> Verdict``
- ``check_humaneval(completion_program: str, test: str, entry_point: str,
  timeout: float = 10.0, limits: Limits | None = None, strict: bool | None = None) -> Verdict``
- ``judge_program(solution: str, test_source: str, limits: Limits | None = None,
  strict: bool | None = None) -> Verdict``: any assert-style test module.
- ``check_many(jobs: Iterable[MbppJob | HumanEvalJob | Callable[[], Verdict]],
  max_workers: int | None = None, progress: bool = False, limits: Limits | None = None,
  strict: bool | None = None) -> list[Verdict]``: bounded parallel pool, input order.
- ``run_program(code: str, *, args=None, work_dir=None, limits=None, strict=None)
  -> SandboxResult`` and ``run_file(path: str, ...) -> SandboxResult``: run like
  ``python FILE`` (no judging; ``status == "ok"`` only means exit status 0);
  ``work_dir`` is copied into the box as its working directory.
- ``probe_layers(refresh: bool = False) -> Layers``: which isolation layers work here
  (cached per process; warns loudly when only rlimits are left).
- ``Verdict``: ``passed: bool``, ``status: str`` (passed | failed | timeout | crashed |
  killed | error), ``reason: str``, ``asserts_checked: int``, ``run: SandboxResult``.
  ``error`` means the sandbox could not run (not the solution's fault): a reward
  function may want to skip such samples rather than score them 0.
- ``SandboxResult``: ``status`` (ok | crashed | timeout | killed | error),
  ``exit_code`` (128+N for signal N), ``reason``, capped ``stdout``/``stderr``,
  ``events``, ``duration``, ``backend``.
- ``Limits``: timeout, memory_mb, cpu_seconds, max_procs, max_file_mb, max_open_files,
  scratch_mb, output_bytes, output_kill_bytes, result_bytes.
- ``SandboxUnavailable``: raised in strict mode (``strict=True`` or
  ``T2EVAL_SANDBOX_STRICT=1``) when bubblewrap does not work.

How isolation works: see :mod:`t2eval.sandbox.probe` (layers) and
:mod:`t2eval.sandbox.command` (what the box sees). How judging works: see
:mod:`t2eval.sandbox.judge` and :mod:`t2eval.sandbox.transform`.
"""

from .config import Limits
from .judge import Verdict, check_humaneval, check_mbpp, judge_program
from .pool import HumanEvalJob, MbppJob, check_many, default_workers
from .probe import Layers, SandboxUnavailable, probe_layers, require_layers
from .program import run_file, run_program
from .runner import SandboxResult

__all__ = [
    "HumanEvalJob", "Layers", "Limits", "MbppJob", "SandboxResult", "SandboxUnavailable", "Verdict",
    "check_humaneval", "check_many", "check_mbpp", "default_workers", "judge_program", "probe_layers",
    "require_layers", "run_file", "run_program",
]
