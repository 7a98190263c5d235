"""Run several ``--model t2`` configurations on the same tasks and documents, one lm-eval run
each, and keep every run's results and per-document samples (``t2eval compare``).

A configuration is a strategy as ``--model_args strategy=`` takes it: ``none`` (the base
weights), ``prompt``, ``cls``, ``fewshot``, ``uniform``, or a fixed expert ``expert:<name>``,
optionally followed by ``+<flag>`` for boolean ``--model t2`` arguments set true in that
configuration only (``prompt+guard``: ``strategy=prompt`` with the base-weights guard).
Each run lands in ``<out>/<configuration>/`` (lm-eval's ``results_<date>.json`` and gzipped
``samples_<task>_<date>.jsonl.gz``, which :mod:`t2eval.report.runs` reads) with a ``done.json``
marker written last: a rerun skips configurations already done with the same tasks, limit and
model arguments, so an interrupted comparison resumes where it stopped. Within a configuration,
every answer is also written as it comes to lm-eval's response cache (``<folder>/cache_rank0.db``,
``--use_cache``): a run killed halfway reruns only the requests it had not answered yet (its
pass-1 routing and seconds then cover those documents only). ``--split validation`` scores each
task's validation split instead of its test split (held-out documents, for choosing defaults):
the results files say so, and the report keys those runs ``<method>@validation``, never a test cell.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_write_text
from .harness.tasks import evaluate, validation_tasks
from .jsonl import write_text

log = logging.getLogger(__name__)
MARKER = "done.json"
SPLITS = ("test", "validation")


class CompareError(ValueError):
    """Bad input to a comparison (reported before anything runs)."""


@dataclass
class Comparison:
    """What is compared: the tasks, the configurations and the settings every run shares."""

    tasks: list[str]
    strategies: list[str]
    out: Path
    limit: int | None = None
    model_args: dict = field(default_factory=dict)  # shared t2 / HFLM arguments (experts=, pretrained=, ...)
    batch_size: int = 8
    apply_chat_template: bool = False
    device: str = "cpu"
    split: str = "test"  # "validation": score each task's validation split (choosing defaults on held-out data)

    def __post_init__(self):
        self.out = Path(self.out)
        if not self.tasks or not self.strategies:
            raise CompareError("give at least one task (--tasks) and one configuration (--strategies)")
        if "strategy" in self.model_args:
            raise CompareError("strategy goes in --strategies, not in --model-args")
        if self.split not in SPLITS:
            raise CompareError(f"--split {self.split!r}: use one of {', '.join(SPLITS)}")
        if len(set(self.strategies)) != len(self.strategies):
            raise CompareError(f"a configuration is listed twice: {', '.join(self.strategies)}")

    def folder(self, strategy: str) -> Path:
        return self.out / strategy.replace(":", "-").replace("/", "_")

    def settings(self, strategy: str) -> dict:
        """What must match for a finished run to be reused."""
        settings = {"strategy": strategy, "tasks": self.tasks, "limit": self.limit, "model_args": self.model_args,
                    "batch_size": self.batch_size, "apply_chat_template": self.apply_chat_template}
        return settings if self.split == "test" else {**settings, "split": self.split}

    def is_done(self, strategy: str) -> bool:
        marker = self.folder(strategy) / MARKER
        if not marker.is_file():
            return False
        if json.loads(marker.read_text()) != self.settings(strategy):
            raise CompareError(f"{marker.parent} holds a run with other settings; use another --out "
                               "or delete that folder to rerun it")
        return True


def configuration_args(config: str) -> dict:
    """The ``--model t2`` arguments of a configuration: ``prompt+guard`` -> strategy=prompt, guard=true."""
    strategy, *flags = config.split("+")
    return {"strategy": strategy, **{flag: True for flag in flags}}


def check_strategies(comparison: Comparison) -> None:
    """Every configuration names a strategy or a fixed expert, and its flags boolean ``--model t2``
    arguments (before anything loads)."""
    from dataclasses import fields

    from .adapt import STRATEGIES
    from .harness.args import T2Args
    from .names import did_you_mean

    flags = [f.name for f in fields(T2Args) if f.type == "bool"]
    for config in comparison.strategies:
        strategy, *given = config.split("+")
        if strategy not in STRATEGIES and not strategy.startswith("expert:"):
            raise CompareError(f"unknown configuration {config!r}: use one of {', '.join(STRATEGIES)} "
                               "or expert:<name>, optionally with +<flag>")
        for flag in given:
            if flag not in flags:
                raise CompareError(f"configuration {config!r}: +{flag} is not a boolean --model t2 argument "
                                   f"({', '.join(flags)}).{did_you_mean(flag, flags)}")


def run_one(comparison: Comparison, strategy: str) -> Path:
    """One lm-eval run of ``strategy``; its files written, then the marker."""
    folder = comparison.folder(strategy)
    folder.mkdir(parents=True, exist_ok=True)
    tasks, where = comparison.tasks, {}
    if comparison.split == "validation":
        manager, tasks = validation_tasks(comparison.tasks)
        where = {"task_manager": manager}
    out = evaluate(model="t2", model_args={**comparison.model_args, **configuration_args(strategy)},
                   tasks=tasks, limit=comparison.limit, log_samples=True, **where,
                   batch_size=comparison.batch_size, device=comparison.device,
                   use_cache=str(folder / "cache"), apply_chat_template=comparison.apply_chat_template)
    if comparison.split != "test":  # the report keys these runs apart: never a test cell
        out["config"] = {**out.get("config", {}), "split": comparison.split}
    stamp = str(out.get("date", "run")).replace(":", "-").replace(" ", "T")
    for task, samples in (out.pop("samples", None) or {}).items():
        write_text(folder / f"samples_{task}_{stamp}.jsonl.gz",
                   "".join(json.dumps(s, default=str) + "\n" for s in samples))
    atomic_write_text(folder / f"results_{stamp}.json", json.dumps(out, indent=1, default=str))
    atomic_write_text(folder / MARKER, json.dumps(comparison.settings(strategy)))
    return folder


def run_all(comparison: Comparison, say=log.info) -> list[Path]:
    """Every configuration not done yet, in order; the folders of all of them."""
    check_strategies(comparison)
    folders = []
    for i, strategy in enumerate(comparison.strategies, 1):
        if comparison.is_done(strategy):
            say(f"[{i}/{len(comparison.strategies)}] {strategy}: done already ({comparison.folder(strategy)})")
        else:
            say(f"[{i}/{len(comparison.strategies)}] {strategy}: running {len(comparison.tasks)} task(s)")
            run_one(comparison, strategy)
        folders.append(comparison.folder(strategy))
    return folders
