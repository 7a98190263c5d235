"""Few-shot adaptation (strategy C): score a candidate mix on k held-out documents of a
task with the task's own requests, filters and metric; fit the mix by CEM once per task,
save it, and reuse it while the task, shots and settings are the same.

Held-out documents come from the task's validation split, else its training split; they
are never test documents, so nothing has to be excluded from the reported score.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lm_eval.api.instance import Instance

from ..adapt import CEMConfig, cem_search
from ..svf import load_expert, mix_experts, save_expert
from . import run_tasks
from .run_tasks import RequestSettings
from .tasks import load_task

log = logging.getLogger("lm_eval.t2")

# run(request_type, instances) -> one raw response per instance
Runner = Callable[[str, list[Instance]], list]


def scored_split(task) -> str:
    """The split lm-eval scores: test when the task has one, else validation."""
    return "test" if task.has_test_docs() else "validation"


def held_out_docs(task, k: int, seed: int) -> tuple[str, list[dict]]:
    """``k`` documents (seeded sample) from the validation split, else the training split;
    never from the split lm-eval scores (a task without a test split is scored on validation)."""
    scored = scored_split(task)
    for split, has, docs in (("validation", task.has_validation_docs, task.validation_docs),
                             ("train", task.has_training_docs, task.training_docs)):
        if split != scored and has():
            rows = list(docs())
            picked = random.Random(seed).sample(range(len(rows)), min(k, len(rows)))
            return split, [rows[i] for i in picked]
    name = task.config.task
    hint = (" Use humaneval_t2_holdout, which holds 20 problems out of the score for this."
            if name.startswith("humaneval") else "")
    raise ValueError(f"strategy=fewshot needs a split that lm-eval does not score in task '{name}' "
                     f"(it scores {scored}; a validation or training split besides it); few-shot "
                     f"examples taken from the scored split would leak into the score.{hint}")


def run_task(task: str, chat: bool, chat_settings: Callable[[bool], RequestSettings]):
    """The task object of this run and the settings of its scored requests (recorded by
    t2eval's lm-eval hook); outside an lm-eval run, a freshly loaded task with zero shots."""
    found = run_tasks.lookup(task)
    if found is not None:
        return found
    log.warning("t2: no record of how lm-eval built %s's requests (called outside lm-eval's evaluator?); "
                "held-out documents use zero-shot prompts%s", task, " in the chat template" if chat else "")
    return load_task(task), chat_settings(chat)


def _prefix(task, doc):
    return task.doc_to_prefix(doc) if hasattr(task, "doc_to_prefix") else None


@dataclass
class FewShotSet:
    """The held-out documents of one task and their lm-eval requests."""

    task: object
    split: str
    docs: list[dict]
    requests: list[list[Instance]]  # per document

    @classmethod
    def build(cls, task, k: int, seed: int, settings: RequestSettings | None = None) -> "FewShotSet":
        """The held-out documents' requests, built as lm-eval's ``build_all_requests`` builds the
        scored ones: the task's own ``num_fewshot``, ``gen_prefix`` and generation settings (the
        run's task object carries ``--num_fewshot`` / ``--gen_kwargs``) and the run's system
        instruction and chat settings (``settings``)."""
        settings = settings or RequestSettings()
        split, docs = held_out_docs(task, k, seed)
        chat = settings.chat_template if settings.apply_chat_template else None
        requests = []
        for i, doc in enumerate(docs):
            ctx = task.fewshot_context(doc, num_fewshot=task.config.num_fewshot or 0,
                                       system_instruction=settings.system_instruction,
                                       apply_chat_template=settings.apply_chat_template,
                                       fewshot_as_multiturn=settings.fewshot_as_multiturn,
                                       chat_template=chat, gen_prefix=_prefix(task, doc))
            reqs = task.construct_requests(doc=doc, ctx=ctx, metadata=(task.config.task, i, task.config.repeats),
                                           apply_chat_template=settings.apply_chat_template, chat_template=chat)
            requests.append(reqs if isinstance(reqs, list) else [reqs])
        return cls(task, split, docs, requests)

    def fingerprint(self) -> str:
        """sha256 of the task's configuration, the held-out documents and their requests (which
        carry the few-shot examples, system instruction and chat rendering): a saved mix is
        reused only for the same task definition, shots and prompts."""
        config = self.task.dump_config() if hasattr(self.task, "dump_config") else {}
        prompts = [[list(inst.args) for inst in reqs] for reqs in self.requests]
        blob = json.dumps([config, self.split, self.docs, prompts], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def score(self, run: Runner, token_count: Callable[[str], int]) -> tuple[float, float]:
        """(mean task metric, mean per-token log-likelihood of the correct answers)."""
        flat = [inst for reqs in self.requests for inst in reqs]
        for inst in flat:
            inst.resps, inst.filtered_resps = [], {}
        for kind in dict.fromkeys(inst.request_type for inst in flat):
            group = [inst for inst in flat if inst.request_type == kind]
            for inst, resp in zip(group, run(kind, group)):
                inst.resps.append(resp)
        for ensemble in self.task._filters:
            ensemble.apply(flat)
        key = self.task._filters[0].name
        metrics = [self.task.process_results(doc, [inst.filtered_resps[key] for inst in reqs])
                   for doc, reqs in zip(self.docs, self.requests)]
        name = self._metric_name(metrics[0])
        correct = [i for i, m in enumerate(metrics) if float(m[name]) > 0]
        score = sum(float(m[name]) for m in metrics) / len(metrics)
        return score, self._tiebreak(correct, run, token_count)

    def _metric_name(self, example: dict) -> str:
        listed = [m["metric"] for m in (self.task.config.metric_list or []) if m.get("metric") in example]
        return listed[0] if listed else next(iter(example))

    def _tiebreak(self, correct: list[int], run: Runner, token_count) -> float:
        """Mean per-token log-likelihood of the candidate's own correct answers."""
        if not correct:
            return float("-inf")
        probes, lengths = [], []
        for i in correct:
            first = self.requests[i][0]
            if first.request_type == "generate_until":
                answer = first.resps[0]
            else:  # multiple choice: the gold continuation
                gold = self.task.doc_to_target(self.docs[i])
                first = self.requests[i][gold if isinstance(gold, int) else 0]
                answer = first.args[1]
            probes.append(Instance("loglikelihood", self.docs[i], (first.args[0], answer), 0))
            lengths.append(max(1, token_count(answer)))
        lls = [ll for ll, _ in run("loglikelihood", probes)]
        return sum(ll / n for ll, n in zip(lls, lengths)) / len(lls)


@dataclass
class FewShotFitter:
    """``fit(task, requests)`` for strategy=fewshot: the saved mix for ``task`` when its settings
    match, else a CEM-fitted (and saved) one. Everything it needs comes in as arguments."""

    adapter: object  # the SVFAdapter (apply_mix / merged_bank / remove)
    experts: list  # the labelled experts to mix
    shots: int
    seed: int
    alpha_mode: str  # expert | layer | matrix
    num_layers: int
    cem: CEMConfig
    folder: Path  # where mixes are saved
    run_plain: Runner  # the installed weights, no dispatch, no response cache
    token_count: Callable[[str], int]
    chat_settings: Callable[[bool], RequestSettings]  # settings of a zero-shot task outside lm-eval
    is_chat: Callable[[list], bool]  # were these requests rendered with the chat template?
    config_fingerprint: Callable[[], str]
    seconds: Counter

    def __call__(self, task: str, requests: list[Instance]):
        chat = self.is_chat(requests)
        task_obj, settings = self._run_task(task, chat)
        shots = FewShotSet.build(task_obj, self.shots, self.seed, settings)
        path = self._path(task, chat, shots.fingerprint())
        if path.exists():
            log.info("fewshot: reusing the mix for %s from %s", task, path)
            return load_expert(path)
        mix = self._fit(task, chat, shots)
        save_expert(mix, path)
        log.info("fewshot: saved the mix for %s to %s", task, path)
        return mix

    def _run_task(self, task: str, chat: bool):
        return run_task(task, chat, self.chat_settings)

    def _path(self, task: str, chat: bool, shots_fingerprint: str) -> Path:
        settings = json.dumps([self.config_fingerprint(), task, self.shots, self.alpha_mode, chat,
                               vars(self.cem), shots_fingerprint], sort_keys=True)
        return self.folder / f"{task}-{hashlib.sha256(settings.encode()).hexdigest()[:16]}.safetensors"

    def _fit(self, task: str, chat: bool, shots: FewShotSet):
        bank = self.adapter.merged_bank(self.experts)
        names = list(self.adapter.decomposition.names) if self.alpha_mode == "matrix" else None
        columns = {"expert": (), "layer": (self.num_layers,), "matrix": (len(names or ()),)}
        shape = (len(self.experts), *columns[self.alpha_mode])

        def evaluate(alpha):
            start = time.perf_counter()
            self.adapter.apply_mix(bank, alpha, per_matrix=names is not None)
            mixed = time.perf_counter()
            result = shots.score(self.run_plain, self.token_count)
            self.seconds["cem_mix"] += mixed - start
            self.seconds["cem_eval"] += time.perf_counter() - mixed
            return result

        try:
            found = cem_search(evaluate, shape, self.cem, progress=f"few-shot CEM for {task} ({len(shots.docs)} shots)")
        finally:
            self.adapter.remove()
        mix = mix_experts(self.experts, found.alpha, name=f"fewshot-{task}", names=names)
        mix.provenance.update(task=task, experts=[e.name for e in self.experts], shots=len(shots.docs),
                              split=shots.split, seed=self.seed, score=found.score, tiebreak=found.tiebreak,
                              cem=vars(self.cem), chat_template=chat, history=found.history,
                              alpha_granularity=self.alpha_mode, **({"alpha_columns": names} if names else {}))
        return mix
