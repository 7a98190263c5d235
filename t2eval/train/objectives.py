"""The training objectives (``--objective``), registered by name in ``OBJECTIVES``.

* ``rl`` (the paper): answers sampled from the adapted model, scored by the task: REINFORCE
  (+ KL to the base model);
* ``sft`` (the paper's ablation): next-token NLL of the task's reference answers (+ KL);
* ``choice``: a multiple-choice lm-eval task as a policy over its choices
  (:mod:`t2eval.train.choice`), for SVF z vectors and for PEFT adapters alike (the matched
  LoRA / DoRA / IA3 baselines of a choice-trained expert).

Each class owns what it asks of the settings (``check_config``) and of the task
(``check_task``), its cpu preset (``cpu_preset``), one update's loss (``step``), its
validation metric (``validate``) and what it adds to the trained artifact's provenance
(``provenance``). The trainer (:mod:`t2eval.train.loop`) holds one objective and never asks
which one: ``step(run, docs)`` back-propagates the loss of this rank's share of one global
batch into the policy's parameters (the loop then clips and steps the optimiser);
``validate(run, docs)`` returns (accuracy, NLL) over the validation documents. ``run`` is the
trainer: its ``cfg``, ``model``, ``tokenizer``, ``policy``, ``ranks`` and ``engine``.

Micro-batch losses are normalised by the global batch's counts (documents, sequences or
tokens, summed over data-parallel ranks), so gradient accumulation and data parallelism give
the update of one big batch. The loss math is in :mod:`t2eval.train.objective` and
:mod:`t2eval.train.choice`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..registry import Registry
from .choice import choice_eval, choice_loss, choice_scores, gold_of
from .config import CPU_CHOICE_OVERRIDES, CPU_CHOICE_TASK_OVERRIDES, CPU_TASK_OVERRIDES, ConfigError
from .objective import micro_loss, reference_nll_sums, response_log_softmax, rl_advantages
from .rollout import generate, teacher_forced

OBJECTIVES: Registry[type["Objective"]] = Registry("objective")


@dataclass
class StepResult:
    """What an objective's step measured (global values: summed over data-parallel ranks)."""

    stats: dict                # the objective's numbers, first in the metrics line
    gen_sec: float = 0.0       # seconds spent generating rollouts
    work: float = 0.0          # what was processed: response tokens (rl, sft) or documents (choice)
    digits: int = 1            # rounding of work per second
    tail: dict = field(default_factory=dict)  # numbers after the timings (kl)
    skipped: bool = False      # no policy signal: no gradient, the optimiser is not stepped

    def record(self, lr: float, grad_norm: float | None, policy_stats: dict, sec: float) -> dict:
        """The update's line in metrics.jsonl (after its type and step)."""
        grad = {} if self.skipped else {"grad_norm": grad_norm}
        rate = 0.0 if self.skipped else round(self.work / sec, self.digits)
        return {**self.stats, "lr": lr, **grad, **policy_stats, "sec": round(sec, 3),
                "gen_sec": round(self.gen_sec, 3), "tok_per_s": rate, **self.tail}


class Objective:
    """Base class (see module docstring); ``Objective(cfg, task)`` refuses a task it cannot train on."""

    name: ClassVar[str]

    def __init__(self, cfg, task):
        self.cfg, self.task = cfg, task
        self.check_task(task)

    @classmethod
    def check_config(cls, cfg, method) -> None:
        """Refuse settings this objective cannot train with (``method``: the policy class of
        ``cfg.method``, see :data:`t2eval.train.policy.METHODS`)."""

    @classmethod
    def cpu_preset(cls, task: str) -> dict:
        """What the ``cpu`` preset sets for ``task`` under this objective."""
        return dict(CPU_TASK_OVERRIDES.get(task, {}))

    def check_task(self, task) -> None:
        raise NotImplementedError

    @property
    def need_base(self) -> bool:
        """Whether a step runs the base model too (the KL term, or its logged value)."""
        return self.cfg.kl > 0 or self.cfg.track_kl

    def step(self, run, docs: list[dict]) -> StepResult:
        raise NotImplementedError

    def validate(self, run, docs: list[dict]) -> tuple[float, float | None]:
        """(accuracy, NLL or None) of the current weights over ``docs`` (all ranks' documents;
        each rank evaluates its shard)."""
        raise NotImplementedError

    def provenance(self) -> dict:
        """What this objective adds to the trained artifact's provenance."""
        return {}


class TokenObjective(Objective):
    """rl and sft: a loss on response tokens (sampled answers, or the reference answers);
    validation is greedy accuracy, ties broken by the reference answers' NLL."""

    def __init__(self, cfg, task):
        super().__init__(cfg, task)
        self.max_new = int(cfg.max_new_tokens or task.max_gen_toks)

    def check_task(self, task) -> None:
        if task.score is None:
            raise ConfigError(f"task {task.name} is a multiple-choice lm-eval task: train it with --objective choice")

    def batches(self, run, docs: list[dict]) -> tuple[dict, list]:
        """(the step's first statistics, [(Rollout, advantages or None)] per micro-batch)."""
        raise NotImplementedError

    def step(self, run, docs: list[dict]) -> StepResult:
        cfg, start = self.cfg, time.perf_counter()
        stats, work = self.batches(run, docs)
        gen_sec = time.perf_counter() - start
        num_tokens, num_seqs, pieces = run.ranks.sum(sum(b.num_response_tokens for b, _ in work),
                                                     sum(b.input_ids.shape[0] for b, _ in work), len(work))
        if not pieces:  # every group flat (on every rank): no policy signal, so no KL-only step for Adam
            return StepResult({**stats, "skipped": True, "tokens": 0}, gen_sec, skipped=True)
        num_tokens, num_seqs = int(num_tokens), int(num_seqs)  # global counts: the loss is normalised by them
        totals = {"kl_sum": 0.0, "nll_sum": 0.0}
        for batch, adv in work:
            base = None
            if self.need_base:
                with torch.no_grad(), run.policy.base():
                    base = response_log_softmax(run.model, batch.input_ids, batch.attention_mask,
                                                batch.response_mask, cfg.temperature)[0]
            with run.policy.trainable():
                loss, st = micro_loss(run.model, batch, adv, base, kl_coef=cfg.kl, num_seqs=num_seqs,
                                      num_tokens=num_tokens, logp=cfg.logp, temperature=cfg.temperature,
                                      kl_norm=cfg.kl_norm)
                loss.backward()
            for key in totals:
                totals[key] += st.get(key, 0.0)
            del base, loss
        kl_sum, nll_sum = run.ranks.sum(*totals.values())
        return StepResult({**stats, "nll": nll_sum / max(1, num_tokens), "tokens": num_tokens}, gen_sec, num_tokens,
                          tail={"kl": kl_sum / max(1, num_tokens)} if self.need_base else {})

    def validate(self, run, docs: list[dict]) -> tuple[float, float | None]:
        return self.accuracy(run, docs), self.reference_nll(run, docs)

    def accuracy(self, run, docs: list[dict]) -> float:
        """Greedy answers scored by the task."""
        with run.policy.adapted():
            correct = greedy_correct(run.model, run.tokenizer, self.task, run.ranks.shard(docs), self.max_new,
                                     self.cfg.eval_batch, engine=run.engine)
        return run.ranks.sum(correct)[0] / len(docs)

    def reference_nll(self, run, docs: list[dict]) -> float | None:
        """Mean per-token NLL of the reference answers (None: the task has none)."""
        if self.task.reference is None:
            return None
        with run.policy.adapted():
            total, count = reference_nll_sums(run.model, run.tokenizer, self.task, run.ranks.shard(docs),
                                              self.cfg.eval_batch)
        total, count = run.ranks.sum(total, count)
        return total / max(1, count)


def greedy_correct(model, tokenizer, task, docs: list[dict], max_new: int, batch: int, engine=None) -> float:
    """How many of ``docs`` the installed weights answer correctly: greedy answers to the task's
    rendered prompts, scored by the task."""
    correct = 0.0
    for i in range(0, len(docs), batch):
        chunk = docs[i:i + batch]
        out = generate(model, tokenizer, [task.render(d, tokenizer) for d in chunk], max_new, task.stop,
                       do_sample=False, engine=engine)
        correct += sum(task.score(out.texts, chunk))
    return correct


@OBJECTIVES.register()
class RL(TokenObjective):
    """REINFORCE on ``samples`` answers per prompt sampled from the adapted model (+ KL)."""

    name = "rl"

    def batches(self, run, docs: list[dict]) -> tuple[dict, list]:
        cfg, task, tok = self.cfg, self.task, run.tokenizer
        device = run.policy.params[0].device
        prompts = [p for p in (task.render(d, tok) for d in docs) for _ in range(cfg.samples)]
        docs = [d for d in docs for _ in range(cfg.samples)]  # k samples per prompt, grouped
        chunks = [slice(i, i + cfg.micro_batch) for i in range(0, len(docs), cfg.micro_batch)]
        with run.policy.adapted():
            rollouts = [generate(run.model, tok, prompts[c], self.max_new, task.stop, do_sample=True,
                                 temperature=cfg.temperature, engine=run.engine) for c in chunks]
        scores = task.score([t for b in rollouts for t in b.texts], docs)
        rewards = torch.tensor([cfg.reward_correct if s == 1 else cfg.reward_wrong for s in scores],
                               dtype=torch.float32, device=device)
        reward_sum, correct, n = run.ranks.sum(float(rewards.sum()), float(sum(scores)), len(scores))
        advantages, keep = rl_advantages(rewards, cfg.baseline, cfg.samples, batch_mean=reward_sum / n)
        kept = run.ranks.sum(int(keep.sum()))[0]
        stats = {"batch": cfg.batch_size, "reward": reward_sum / n, "acc": correct / n, "samples": int(n),
                 "kept": int(kept)}
        return stats, [(b.select(keep[c]), advantages[c][keep[c]]) for c, b in zip(chunks, rollouts) if keep[c].any()]


@OBJECTIVES.register()
class SFT(TokenObjective):
    """Next-token NLL of the task's reference answers, teacher-forced (+ KL)."""

    name = "sft"

    def check_task(self, task) -> None:
        if task.reference is None:
            raise ConfigError(f"task {task.name} has no reference answers for --objective sft")
        super().check_task(task)

    def batches(self, run, docs: list[dict]) -> tuple[dict, list]:
        cfg, task, tok = self.cfg, self.task, run.tokenizer
        device = run.policy.params[0].device
        prompts = [task.render(d, tok) for d in docs]
        chunks = [slice(i, i + cfg.micro_batch) for i in range(0, len(docs), cfg.micro_batch)]
        return {"batch": cfg.batch_size}, [
            (teacher_forced(tok, prompts[c], [task.reference(d) for d in docs[c]], device), None) for c in chunks]


@OBJECTIVES.register()
class Choice(Objective):
    """A policy over a multiple-choice task's choices (see :mod:`t2eval.train.choice`);
    validation: lm-eval's ``acc`` / ``acc_norm``, ties broken by the gold choice's NLL."""

    name = "choice"

    @classmethod
    def cpu_preset(cls, task: str) -> dict:
        return {**CPU_CHOICE_OVERRIDES, **CPU_CHOICE_TASK_OVERRIDES.get(task, {})}

    def check_task(self, task) -> None:
        if task.choice is None:
            raise ConfigError(f"--objective choice needs a multiple-choice task (a stock lm-eval one such as "
                              f"arc_easy, or cls); {task.name} is generative: use --objective rl or sft")

    def step(self, run, docs: list[dict]) -> StepResult:
        cfg, tok = self.cfg, run.tokenizer
        totals = {"reward_sum": 0.0, "correct": 0, "nll_sum": 0.0, "kl_sum": 0.0}
        n = cfg.batch_size  # the global batch (this rank scores its shard `docs`)
        for i in range(0, len(docs), cfg.micro_batch):
            items = [self.task.choice(d, tok) for d in docs[i:i + cfg.micro_batch]]
            base = None
            if self.need_base:
                with torch.no_grad(), run.policy.base():
                    base = choice_scores(run.model, tok, items, cfg.choice_norm)
            with run.policy.trainable():
                scores = choice_scores(run.model, tok, items, cfg.choice_norm)
                loss, st = choice_loss(scores, gold_of(items, scores.device), base, estimator=cfg.choice_estimator,
                                       kl_coef=cfg.kl, num_docs=n, baseline=cfg.baseline,
                                       temperature=cfg.temperature,
                                       reward_correct=cfg.reward_correct, reward_wrong=cfg.reward_wrong)
                loss.backward()
            for key in totals:
                totals[key] += st.get(key, 0.0)
        reward_sum, correct, nll_sum, kl_sum = run.ranks.sum(*totals.values())
        stats = {"batch": n, "reward": reward_sum / n, "acc": correct / n, "nll": nll_sum / n, "tokens": 0}
        return StepResult(stats, work=n, digits=2, tail={"kl": kl_sum / n} if self.need_base else {})

    def validate(self, run, docs: list[dict]) -> tuple[float, float]:
        """(accuracy, gold-choice NLL under pi)."""
        shard = run.ranks.shard(docs)
        with run.policy.adapted():
            acc, nll = choice_eval(run.model, run.tokenizer, [self.task.choice(d, run.tokenizer) for d in shard],
                                   self.cfg.choice_norm, self.cfg.eval_batch)
        correct, nll_sum = run.ranks.sum(acc * len(shard), nll * len(shard))
        return correct / len(docs), nll_sum / len(docs)

    def provenance(self) -> dict:
        return {"choice_estimator": self.cfg.choice_estimator, "choice_norm": self.cfg.choice_norm,
                "temperature": self.cfg.temperature}
