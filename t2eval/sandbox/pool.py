"""Judge many solutions in parallel with a bounded pool of boxes.

Each box is a separate process, so threads are enough: the parent only waits on
pipes. The number of boxes alive at once is ``max_workers`` (default: CPU count).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, Union

from .config import Limits
from .judge import DEFAULT_TIMEOUT, Verdict, check_humaneval, check_mbpp
from .probe import require_layers


@dataclass(frozen=True)
class MbppJob:
    """Arguments of :func:`judge.check_mbpp` (test_list: list[str] or tuple)."""

    solution_code: str
    test_list: Sequence[str]
    test_setup_code: str = ""
    timeout: float = DEFAULT_TIMEOUT

    def run(self, limits: Limits | None, strict: bool | None) -> Verdict:
        return check_mbpp(self.solution_code, list(self.test_list), self.test_setup_code,
                          self.timeout, limits, strict)


@dataclass(frozen=True)
class HumanEvalJob:
    """Arguments of :func:`judge.check_humaneval`."""

    completion_program: str
    test: str
    entry_point: str
    timeout: float = DEFAULT_TIMEOUT

    def run(self, limits: Limits | None, strict: bool | None) -> Verdict:
        return check_humaneval(self.completion_program, self.test, self.entry_point,
                               self.timeout, limits, strict)


Job = Union[MbppJob, HumanEvalJob, Callable[[], Verdict]]


def default_workers() -> int:
    """Boxes to run at once: the number of usable CPUs."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _run_one(job: Job, limits: Limits | None, strict: bool | None) -> Verdict:
    try:
        return job.run(limits, strict) if hasattr(job, "run") else job()
    except Exception as exc:  # one broken job must not sink the batch
        return Verdict(False, "error", f"judging raised {type(exc).__name__}: {exc}")


def check_many(jobs: Iterable[Job], max_workers: int | None = None, progress: bool = False,
               limits: Limits | None = None, strict: bool | None = None,
               desc: str = "sandbox") -> list[Verdict]:
    """Judge ``jobs`` with at most ``max_workers`` boxes at a time; results in input order.

    Args:
        jobs: iterable of MbppJob, HumanEvalJob or zero-argument callables returning Verdict.
        max_workers: int | None, default :func:`default_workers`.
        progress: bool, show a tqdm progress bar on stderr.
        limits: Limits | None, applied to every job (each job's own timeout wins).
        strict: bool | None, refuse without OS isolation (checked once, before starting).
        desc: str, progress bar label.
    Returns:
        list[Verdict], one per job; a job that raised gives status ``error``.
    Raises:
        probe.SandboxUnavailable: strict mode and no OS isolation.
    """
    jobs = list(jobs)
    require_layers(strict)
    workers = max(1, min(max_workers or default_workers(), len(jobs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t2eval-sandbox") as pool:
        results = pool.map(lambda j: _run_one(j, limits, strict), jobs)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs), desc=desc, unit="prog")
        return list(results)
