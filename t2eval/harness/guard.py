"""The base-weights guard (``guard=true``): before an expert answers a task's documents, it must
not score below the base weights on held-out documents of that task.

For each (task, expert key) a plan uses, the guard scores the base weights and the planned
weights on ``guard_shots`` held-out documents of the task (the few-shot machinery's
:class:`~t2eval.harness.fewshot.FewShotSet`: the task's validation split, else its training
split — never the split lm-eval scores) with the task's own requests, filters and metric. The
expert is kept when its score is at least the base's; otherwise that task's documents planned
to it are answered by the base weights. Verdicts are computed once per (task, key) and recorded.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..adapt import BASE
from .fewshot import FewShotSet, Runner

log = logging.getLogger("lm_eval.t2")


@dataclass
class Verdict:
    """One (task, key) decision: the held-out scores and whether the expert is kept."""

    kept: bool
    base: float
    expert: float
    shots: int
    split: str

    def record(self) -> dict:
        return {"kept": self.kept, "base": round(self.base, 4), "expert": round(self.expert, 4),
                "shots": self.shots, "split": self.split}


@dataclass
class BaseGuard:
    """``guard(requests, keys)`` -> keys with each untrusted (task, key) replaced by base."""

    shots: int
    seed: int
    applied: Callable  # weights (an Expert or None) -> context manager installing them
    expert_of: Callable[[str], object]  # key -> the weights it stands for
    task_of: Callable[[str, list], tuple]  # (task, requests) -> (task object, RequestSettings)
    run_plain: Runner  # the installed weights, no dispatch, no response cache
    token_count: Callable[[str], int]
    seconds: Counter
    verdicts: dict[str, dict[str, Verdict]] = field(default_factory=dict)  # task -> key -> verdict
    _shots: dict = field(default_factory=dict)  # task -> (FewShotSet, base score)

    def __call__(self, requests: list, keys: list[str]) -> list[str]:
        for task, key in dict.fromkeys((r.task_name, k) for r, k in zip(requests, keys) if k != BASE):
            if key not in self.verdicts.get(task, {}):
                self.verdicts.setdefault(task, {})[key] = self._judge(task, key, requests)
        return [BASE if k != BASE and not self.verdicts[r.task_name][k].kept else k for r, k in zip(requests, keys)]

    def _judge(self, task: str, key: str, requests: list) -> Verdict:
        start = time.perf_counter()
        if task not in self._shots:
            task_obj, settings = self.task_of(task, [r for r in requests if r.task_name == task])
            held = FewShotSet.build(task_obj, self.shots, self.seed, settings)
            with self.applied(None):
                self._shots[task] = (held, held.score(self.run_plain, self.token_count)[0])
        held, base = self._shots[task]
        with self.applied(self.expert_of(key)):
            expert = held.score(self.run_plain, self.token_count)[0]
        verdict = Verdict(expert >= base, base, expert, len(held.docs), held.split)
        self.seconds["guard"] += time.perf_counter() - start
        log.info("t2 guard: %s %s %s (held-out %s, %d documents: expert %.3f, base %.3f)", task, key,
                 "kept" if verdict.kept else "-> base weights", verdict.split, verdict.shots, expert, base)
        return verdict

    def info(self) -> dict:
        return {task: {key: v.record() for key, v in keys.items()} for task, keys in self.verdicts.items()}
