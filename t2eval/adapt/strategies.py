"""Adaptation strategies of ``--model t2``: small classes registered by name.

A strategy plans the documents of a request batch into expert keys (``"base"``, a pass-1
label, an expert name, ...), says which weights a key stands for, and fingerprints what
decides those weights. It receives what it needs as arguments (a pass-1 ``classify``
function, a few-shot ``fit`` function); it never calls back into the model class, and it
imports nothing of lm-eval: a document is any object with a ``task_name``.

Names: ``none``, ``prompt``, ``cls``, ``uniform``, ``fewshot``, an expert's name, or
``expert:<name>`` (a fixed expert, also one without a label such as ``cls``).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, ClassVar

from ..names import did_you_mean
from ..registry import Registry
from ..svf import mix_experts
from .library import ExpertLibrary

# classify(docs, expert or None) -> one pass-1 label per document
Classify = Callable[[list, object], list[str]]
# fit(task, docs of that task) -> the fitted mix (an Expert)
Fit = Callable[[str, list], object]

BASE = "base"


class Strategy:
    name: ClassVar[str]
    uses_experts: ClassVar[bool] = True  # False: base weights only (no SVF adapter)
    needs_labels: ClassVar[bool] = True  # needs experts with pass-1 labels
    uses_pass1: ClassVar[bool] = False  # classifies each document (pass 1) to plan
    fits_per_task: ClassVar[bool] = False  # fits one mix per task before planning (few-shot)

    def __init__(self, library: ExpertLibrary, adapt: str = "sample", **settings):
        self.library, self.adapt = library, adapt

    def check(self) -> None:
        """Fail before the model loads when the experts folder cannot serve this strategy."""
        if self.needs_labels and not self.library.by_label:
            raise ValueError(f"strategy '{self.name}' needs labelled experts, but "
                             f"{self.library.folder or 'no experts folder'} has none; pass "
                             "experts=<folder> or strategy=none")

    def prepare(self, requests: list, fit: Fit) -> None:
        """Work done once before a request batch is planned (few-shot: fit the mixes)."""

    def plan(self, docs: list, classify: Classify) -> list[str]:
        """One key per document (first request of each document)."""
        raise NotImplementedError

    def expert(self, key: str):
        """The expert (or mix) a key installs; None for base weights."""
        if key == BASE:
            return None
        return self.library.by_label.get(key) or self.library.get(key)

    def fingerprint(self) -> dict:
        return {"strategy": self.name}


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
register = STRATEGIES.register()


def default_strategy(library: ExpertLibrary) -> str:
    """``cls`` when labelled experts and a classification expert ship, ``prompt`` when only
    labelled experts do, else ``none``. Chosen on held-out documents (reports/defaults.md:
    cls ties prompt on BBH validation and leads by +0.5 points on ARC validation, and routes
    the validation pool 1.000 against 0.593)."""
    if not library.by_label:
        return NoAdaptation.name
    cls = ExpertClassification
    return cls.name if cls.pass1_expert in library.experts else PromptClassification.name


def make_strategy(name: str | None, library: ExpertLibrary, adapt: str = "sample", **options) -> Strategy:
    """The strategy called ``name`` (None: the default, :func:`default_strategy`), checked
    against the experts folder; unknown names get a "did you mean"."""
    if name is None:
        name = default_strategy(library)
    if name in STRATEGIES:
        strategy = STRATEGIES.get(name)(library, adapt, **options)
    elif name.startswith("expert:") or name in library.experts:
        strategy = FixedExpert(library, adapt, name)
    else:
        experts = f"; experts in {library.folder}: {', '.join(library.experts)}" if library.experts else ""
        raise ValueError(f"unknown strategy {name!r}{did_you_mean(name, [*STRATEGIES, *library.experts])} "
                         f"valid: {', '.join(STRATEGIES)}, an expert's name or expert:<name>{experts}")
    strategy.check()
    return strategy


@register
class NoAdaptation(Strategy):
    """Base weights for every document."""

    name = "none"
    uses_experts = needs_labels = False

    def check(self):
        pass

    def plan(self, docs, classify):
        return [BASE] * len(docs)


class FixedExpert(Strategy):
    """One expert for every document (``<name>`` or ``expert:<name>``)."""

    needs_labels = False

    def __init__(self, library, adapt, name: str):
        super().__init__(library, adapt)
        self.name, self.expert_name = name, name.removeprefix("expert:")  # the name as given

    def check(self):
        self.library.get(self.expert_name)  # "unknown expert ... did you mean"

    def plan(self, docs, classify):
        return [self.expert_name] * len(docs)

    def expert(self, key):
        return None if key == BASE else self.library.get(key)

    def fingerprint(self):
        return {"strategy": "expert", "expert": self.expert_name}


@register
class PromptClassification(Strategy):
    """Pass 1 on base weights labels each document; its label's expert answers."""

    name = "prompt"
    uses_pass1 = True
    pass1_expert: ClassVar[str | None] = None

    def plan(self, docs, classify):
        expert = self.library.get(self.pass1_expert) if self.pass1_expert else None
        labels = classify(docs, expert)
        keys = [label if label in self.library.by_label else BASE for label in labels]
        if self.adapt == "task":
            keys = majority_per_task([d.task_name for d in docs], keys)
        return keys

    def fingerprint(self):
        return {"strategy": self.name, "adapt": self.adapt}


@register
class ExpertClassification(PromptClassification):
    """Pass 1 with the classification expert ``cls`` installed."""

    name = "cls"
    pass1_expert = "cls"

    def check(self):
        super().check()
        if "cls" not in self.library.experts:
            raise ValueError(f"strategy 'cls' needs an expert named 'cls' in {self.library.folder}")


@register
class UniformMix(Strategy):
    """The equal-weight mix of all labelled experts for every document."""

    name = "uniform"

    def plan(self, docs, classify):
        return ["uniform"] * len(docs)

    def expert(self, key):
        if key == BASE:
            return None
        experts = list(self.library.by_label.values())
        return mix_experts(experts, [1 / len(experts)] * len(experts), name="uniform")


@register
class FewShotMix(Strategy):
    """A CEM-fitted mix per task (fitted on held-out documents, saved and reused)."""

    name = "fewshot"
    fits_per_task = True

    def __init__(self, library, adapt="sample", **settings):
        super().__init__(library, adapt)
        self.settings = settings  # shots, alpha, cem: what decides the mix
        self.mixes: dict[str, object] = {}  # task -> fitted mix

    def prepare(self, requests, fit):
        for task in dict.fromkeys(r.task_name for r in requests):
            if task not in self.mixes:
                self.mixes[task] = fit(task, [r for r in requests if r.task_name == task])

    def plan(self, docs, classify):
        return [f"fewshot:{d.task_name}" for d in docs]

    def expert(self, key):
        return None if key == BASE else self.mixes[key.split(":", 1)[1]]

    def fingerprint(self):
        return {"strategy": self.name, **self.settings}


def majority_per_task(tasks: list[str], keys: list[str]) -> list[str]:
    """Replace each document's key by the most common key of its task."""
    counts: dict[str, Counter] = {}
    for task, key in zip(tasks, keys):
        counts.setdefault(task, Counter())[key] += 1
    return [counts[task].most_common(1)[0][0] for task in tasks]
