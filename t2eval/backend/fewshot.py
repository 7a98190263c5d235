"""Few-shot adaptation (strategy C): score a candidate mix on k held-out documents of a
task with the task's own requests, filters and metric.

Held-out documents come from the task's validation split, else its training split; they
are never test documents, so nothing has to be excluded from the reported score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from lm_eval.api.instance import Instance

from .run_tasks import RequestSettings

# run(request_type, instances) -> one raw response per instance
Runner = Callable[[str, list[Instance]], list]


def load_task(task_name: str):
    """The lm-eval Task object for ``task_name`` (t2eval's folder first, then all tasks)."""
    from lm_eval.tasks import TaskManager

    from ..lm_eval_plugin import task_dir

    for manager in (lambda: TaskManager(include_path=str(task_dir()), include_defaults=False), TaskManager):
        tasks = manager()
        if task_name in tasks.all_tasks:
            return tasks.load_task_or_group([task_name])[task_name]
    raise ValueError(f"strategy=fewshot: lm-eval has no task named '{task_name}'")


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
        import hashlib
        import json

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
