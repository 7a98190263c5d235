"""The training loop: rollouts, REINFORCE (+KL) or SFT updates of z, validation, early
stopping, atomic checkpoints, resume, Ctrl-C, and the lambda sweep.

Data parallel: under ``torchrun --nproc_per_node N -m t2eval.cli train …`` every rank draws the
same global batch, keeps its shard (documents ``rank::N``), normalises its loss by the global
counts, and the gradients are summed across ranks before the one AdamW step, so every rank
holds the same z, and for deterministic objectives (``sft``, ``choice`` in expectation) the z of
one process with the same global batch. Validation is sharded the same way. Rank 0 alone writes
the run folder; the checkpoint keeps every rank's random-number state (sampled rollouts resume
exactly).

Run folder layout::

    config.json        the resolved TrainConfig
    metrics.jsonl      one {"type": "step", ...} line per update, {"type": "eval", ...} per validation
    checkpoint.pt      latest checkpoint (atomic; resumable with --resume)
    expert.safetensors the best expert by validation accuracy (the last z without validation)
                       (PEFT methods: adapter/, a PEFT adapter folder)
    summary.json       base / best validation accuracy, best step, status
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from .. import distributed
from ..svf import Expert, decompose
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state
from .choice import choice_eval, choice_loss, choice_scores, gold_of
from .config import ConfigError, TrainConfig
from .data import TrainTask, build_task
from .objective import micro_loss, reference_nll_sums, response_log_softmax
from .policy import PeftAdapter, make_policy, save_artifact
from .rollout import generate, teacher_forced

TIMING_KEYS = ("sec", "tok_per_s", "gen_sec")
log = logging.getLogger(__name__)


def rl_advantages(rewards: torch.Tensor, baseline: str, samples: int = 1,
                  batch_mean: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantage, kept) per sample. ``none``: the reward; ``mean``: minus the batch mean
    (``batch_mean``: the global batch's, when ``rewards`` is one data-parallel rank's shard);
    ``loo``: minus the mean of the other samples of the same prompt (groups of ``samples``
    consecutive rows), and a group whose rewards are all equal is not kept (zero advantage:
    no policy signal)."""
    keep = torch.ones_like(rewards, dtype=torch.bool)
    if baseline == "mean":
        return rewards - (rewards.mean() if batch_mean is None else batch_mean), keep
    if baseline != "loo":
        return rewards, keep
    groups = rewards.view(-1, samples)
    others = (groups.sum(1, keepdim=True) - groups) / (samples - 1)
    flat = (groups == groups[:, :1]).all(1, keepdim=True).expand_as(groups)
    return (groups - others).flatten(), ~flat.flatten()


class ResumeError(RuntimeError):
    """A run folder cannot be resumed (or would be overwritten)."""


@dataclass
class TrainResult:
    expert: Expert | PeftAdapter
    run_dir: Path
    status: str                  # finished | early_stopped | interrupted
    steps_done: int
    base_val: float | None
    best_val: float | None
    best_step: int
    history: list = field(default_factory=list)  # eval records


class DataOrder:
    """Seeded epoch-wise shuffles of the training documents; its state is checkpointed."""

    def __init__(self, n: int, seed: int):
        if n == 0:
            raise ConfigError("the task has no training documents")
        self.n, self.rng = n, random.Random(f"t2eval-order:{seed}")
        self.epoch, self.pos, self.perm = 0, 0, self._shuffle()

    def _shuffle(self) -> list[int]:
        perm = list(range(self.n))
        self.rng.shuffle(perm)
        return perm

    def take(self, k: int) -> list[int]:
        out = []
        while len(out) < k:
            if self.pos >= self.n:
                self.epoch, self.pos, self.perm = self.epoch + 1, 0, self._shuffle()
            out.append(self.perm[self.pos])
            self.pos += 1
        return out

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "epoch": self.epoch, "pos": self.pos, "perm": list(self.perm)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(state["rng"])
        self.epoch, self.pos, self.perm = state["epoch"], state["pos"], list(state["perm"])


def resolve_device(spec: str) -> str:
    if spec == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{distributed.local_rank()}" if distributed.launched_world_size() > 1 else "cuda"
    return spec


class Ranks:
    """This process's place in a data-parallel run (rank 0 of 1 without a launcher)."""

    def __init__(self):
        self.rank, self.world = distributed.join_process_group() if distributed.launched_world_size() > 1 else (0, 1)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list) -> list:
        return items[self.rank::self.world] if self.world > 1 else items

    def sum(self, *values: float) -> list[float]:
        return distributed.all_reduce_sum(list(values)) if self.world > 1 else list(values)

    def gather(self, obj) -> list:
        return distributed.all_gather_object(obj) if self.world > 1 else [obj]


def cosine_factor(step: int, cfg: TrainConfig) -> float:
    """lr multiplier for update number ``step`` (0-based): linear warmup, then cosine."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Trainer:
    """One training run of one expert (see module docstring)."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, model=None, tokenizer=None,
                 task: TrainTask | None = None, decomposition=None, resume: bool = False,
                 progress: bool = True, on_step: Callable[[int, dict], None] | None = None):
        self.cfg, self.run_dir, self.on_step = cfg, Path(run_dir), on_step
        self.ranks = Ranks()
        self.progress = progress and self.ranks.main
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        seed_everything(cfg.seed)  # the same on every rank: the same initial weights
        if model is None:
            from ..models import load_model

            model, tokenizer = load_model(cfg.model, device=resolve_device(cfg.device))
        self.model, self.tokenizer = model, tokenizer
        self.task = task or build_task(cfg.task, cfg.seed, cfg.data_dir, cfg.val_split)
        self.train_docs = self.task.train_docs[:cfg.train_size] if cfg.train_size else self.task.train_docs
        self.val_docs = self.task.val_docs[:cfg.val_size] if cfg.val_size else self.task.val_docs
        self.max_new = int(cfg.max_new_tokens or self.task.max_gen_toks)
        if cfg.objective == "sft" and self.task.reference is None:
            raise ConfigError(f"task {self.task.name} has no reference answers for --objective sft")
        if cfg.objective == "choice" and self.task.choice is None:
            raise ConfigError(f"--objective choice needs a multiple-choice task (a stock lm-eval one such as "
                              f"arc_easy, or cls); {self.task.name} is generative: use --objective rl or sft")
        if cfg.objective != "choice" and self.task.score is None:
            raise ConfigError(f"task {self.task.name} is a multiple-choice lm-eval task: train it with --objective choice")
        self.policy = make_policy(model, cfg, decomposition, self.progress)
        if self.ranks.rank:  # rank 0 keeps the single-process stream; the others sample their own
            seed_everything(cfg.seed + 7919 * self.ranks.rank)
        self.engine = self._make_engine()
        self.params = self.policy.params
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, betas=tuple(cfg.betas),
                                     weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: cosine_factor(s, cfg))
        self.order = DataOrder(len(self.train_docs), cfg.seed)
        self.step, self.metric_lines = 0, 0
        self.base_val = self.best_val = None
        self.best_step, self.best_z, self.history, self.since_best = 0, None, [], 0
        self.best_nll = None
        self.status = "running"
        self._prepare_run_dir(resume)

    def _make_engine(self):
        """engine=vllm: a vLLM engine that mirrors every z the policy installs for generation."""
        if self.cfg.engine != "vllm":
            return None
        from ..engine import VLLMEngine
        from ..models import resolve_model_path

        path = getattr(self.model, "name_or_path", None) or resolve_model_path(self.cfg.model)
        engine = VLLMEngine(path, dtype=self.model.dtype, tensor_parallel_size=self.cfg.tensor_parallel_size,
                            world_size=self.ranks.world)
        engine.follow(self.policy.adapter)
        return engine

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return copy.deepcopy({
            "step": self.step, "params": self.policy.raw_state(),
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
            "rng": rng_state(), "rank_rng": self.ranks.gather(rng_state()) if self.ranks.world > 1 else None,
            "order": self.order.state_dict(), "metric_lines": self.metric_lines,
            "base_val": self.base_val, "best_val": self.best_val, "best_step": self.best_step,
            "best_z": self.best_z, "best_nll": self.best_nll, "history": self.history,
            "since_best": self.since_best,
            "status": self.status, "config": self.cfg.digest_fields()})

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_raw_state(state["params"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.order.load_state_dict(state["order"])
        for key in ("step", "metric_lines", "base_val", "best_val", "best_step", "best_z", "history",
                    "since_best", "status"):
            setattr(self, key, state[key])
        self.best_nll = state.get("best_nll")
        ranks = state.get("rank_rng")
        set_rng_state(ranks[self.ranks.rank] if ranks and len(ranks) == self.ranks.world else state["rng"])

    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def _prepare_run_dir(self, resume: bool) -> None:
        exists = self.ranks.gather(self.ckpt_path.exists())[0]  # rank 0's folder decides for all
        if self.ranks.world > 1 and exists != self.ckpt_path.exists():
            raise ResumeError(f"rank {self.ranks.rank} does not see {self.ckpt_path} as rank 0 does: a "
                              "data-parallel run needs its run folder on a file system every rank shares")
        if exists:
            if not resume:
                raise ResumeError(f"{self.run_dir} already holds a run (checkpoint.pt); pass --resume "
                                  "to continue it, or choose another --run-dir")
            state = load_checkpoint(self.ckpt_path)
            # a setting added since the checkpoint was written counts at its default
            saved = {**type(self.cfg)().digest_fields(), **state["config"]}
            mine = self.cfg.digest_fields()
            diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
            if diff:
                raise ResumeError(f"cannot resume {self.run_dir}: settings changed since the checkpoint "
                                  f"({', '.join(f'{k}: {saved.get(k)!r} -> {mine.get(k)!r}' for k in diff)})")
            self.load_state_dict(state)
            if self.ranks.main:
                lines = self.metrics_path.read_text().splitlines(keepends=True) if self.metrics_path.exists() else []
                self.metrics_path.write_text("".join(lines[:self.metric_lines]))  # drop lines after the checkpoint
            self._log(f"resuming {self.run_dir} after step {self.step}")
        elif self.ranks.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.metrics_path.write_text("")
        if self.ranks.main:
            config = {**self.cfg.to_dict(), **({"data_parallel": self.ranks.world} if self.ranks.world > 1 else {})}
            (self.run_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
        if self.ranks.world > 1:
            self._log(f"data parallel: {self.ranks.world} processes, each takes 1/{self.ranks.world} of every "
                      f"batch of {self.cfg.batch_size} (gradients summed across ranks)")
        self._snapshot = self.state_dict()

    def _write_metrics(self, record: dict) -> None:
        self.metric_lines += 1
        if not self.ranks.main:
            return
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def _log(self, msg: str) -> None:
        if self.progress:
            log.info(msg)

    # ------------------------------------------------------------------ validation
    def validate(self) -> float:
        """Greedy accuracy on the validation documents with the current weights (multiple-choice
        tasks: lm-eval's ``acc`` / ``acc_norm``)."""
        docs, correct = self.ranks.shard(self.val_docs), 0.0
        if not self.val_docs:
            return float("nan")
        if self.cfg.objective == "choice":
            return self._choice_validation()[0]
        with self.policy.adapted():
            for i in range(0, len(docs), self.cfg.eval_batch):
                chunk = docs[i:i + self.cfg.eval_batch]
                out = generate(self.model, self.tokenizer, [self.task.render(d, self.tokenizer) for d in chunk],
                               self.max_new, self.task.stop, do_sample=False, engine=self.engine)
                correct += sum(self.task.score(out.texts, chunk))
        return self.ranks.sum(correct)[0] / len(self.val_docs)

    def validation_nll(self) -> float | None:
        """Mean per-token NLL of the validation documents' reference answers (None: no references)."""
        if self.cfg.objective == "choice" and self.val_docs:
            return self._choice_validation()[1]
        if self.task.reference is None or not self.val_docs:
            return None
        with self.policy.adapted():
            total, count = reference_nll_sums(self.model, self.tokenizer, self.task, self.ranks.shard(self.val_docs),
                                              self.cfg.eval_batch)
        total, count = self.ranks.sum(total, count)
        return total / max(1, count)

    def _evaluate(self, step: int) -> None:
        """Validation accuracy; ties are broken by the lower reference-answer NLL (a 135M model
        scores 0 on GSM8K / MBPP validation, where accuracy alone would always keep z = 1)."""
        if self.cfg.objective == "choice":
            acc, nll = self._choice_validation() if self.val_docs else (float("nan"), None)
        else:
            acc, nll = self.validate(), self.validation_nll()
        if step == 0:
            self.base_val = acc
        best_nll = self.best_nll
        improved = (self.best_val is None or acc > self.best_val
                    or (acc == self.best_val and nll is not None and best_nll is not None and nll < best_nll))
        if improved:
            self.best_val, self.best_step, self.best_z, self.since_best = acc, step, self.policy.snapshot(), 0
            self.best_nll = nll
        else:
            self.since_best += 1
        record = {"type": "eval", "step": step, "val_acc": acc, "val_nll": nll, "best_val": self.best_val,
                  "best_step": self.best_step}
        self.history.append(record)
        self._write_metrics(record)

    def _choice_validation(self) -> tuple[float, float]:
        """(accuracy, gold-choice NLL under pi) of the current weights on the validation half."""
        docs = self.ranks.shard(self.val_docs)
        with self.policy.adapted():
            acc, nll = choice_eval(self.model, self.tokenizer, [self.task.choice(d, self.tokenizer) for d in docs],
                                   self.cfg.choice_norm, self.cfg.eval_batch)
        correct, nll_sum = self.ranks.sum(acc * len(docs), nll * len(docs))
        return correct / len(self.val_docs), nll_sum / len(self.val_docs)

    # ------------------------------------------------------------------ one update
    def train_step(self, step: int) -> dict:
        cfg, task, tok = self.cfg, self.task, self.tokenizer
        start = time.perf_counter()
        docs = [self.train_docs[i] for i in self.order.take(cfg.batch_size)]  # the global batch
        docs = self.ranks.shard(docs)  # this rank's part of it (all of it in one process)
        if cfg.objective == "choice":
            return self._choice_step(docs, start)
        prompts = [task.render(d, tok) for d in docs]
        device = self.params[0].device
        stats = {"batch": cfg.batch_size}
        if cfg.objective == "rl":
            docs = [d for d in docs for _ in range(cfg.samples)]  # k samples per prompt, grouped
            prompts = [p for p in prompts for _ in range(cfg.samples)]
        chunks = [slice(i, i + cfg.micro_batch) for i in range(0, len(docs), cfg.micro_batch)]
        if cfg.objective == "rl":
            with self.policy.adapted():
                batches = [generate(self.model, tok, prompts[c], self.max_new, task.stop, do_sample=True,
                                    temperature=cfg.temperature, engine=self.engine) for c in chunks]
            texts = [t for b in batches for t in b.texts]
            scores = task.score(texts, docs)
            rewards = torch.tensor([cfg.reward_correct if s == 1 else cfg.reward_wrong for s in scores],
                                   dtype=torch.float32, device=device)
            reward_sum, correct, n = self.ranks.sum(float(rewards.sum()), float(sum(scores)), len(scores))
            advantages, keep = rl_advantages(rewards, cfg.baseline, cfg.samples, batch_mean=reward_sum / n)
            kept = self.ranks.sum(int(keep.sum()))[0]
            stats.update(reward=reward_sum / n, acc=correct / n, samples=int(n), kept=int(kept))
            work = [(b.select(keep[c]), advantages[c][keep[c]]) for c, b in zip(chunks, batches) if keep[c].any()]
        else:
            work = [(teacher_forced(tok, prompts[c], [task.reference(d) for d in docs[c]], device), None)
                    for c in chunks]
        gen_sec = time.perf_counter() - start
        num_tokens, num_seqs, pieces = self.ranks.sum(sum(b.num_response_tokens for b, _ in work),
                                                      sum(b.input_ids.shape[0] for b, _ in work), len(work))
        if not pieces:  # every group flat (on every rank): no policy signal, so no KL-only step for Adam
            with warnings.catch_warnings():  # the schedule follows the update count, skipped or not
                warnings.filterwarnings("ignore", message="Detected call of")
                self.sched.step()
            sec = time.perf_counter() - start
            return {**stats, "skipped": True, "tokens": 0, "lr": self.opt.param_groups[0]["lr"], **self.policy.stats(),
                    "sec": round(sec, 3), "gen_sec": round(gen_sec, 3), "tok_per_s": 0.0}
        num_tokens, num_seqs = int(num_tokens), int(num_seqs)  # global counts: the loss is normalised by them
        need_base = cfg.kl > 0 or cfg.track_kl
        totals = {"kl_sum": 0.0, "nll_sum": 0.0}
        for batch, adv in work:
            base = None
            if need_base:
                with torch.no_grad(), self.policy.base():
                    base = response_log_softmax(self.model, batch.input_ids, batch.attention_mask,
                                                batch.response_mask, cfg.temperature)[0]
            with self.policy.trainable():
                loss, st = micro_loss(self.model, batch, adv, base,
                                      kl_coef=cfg.kl, num_seqs=num_seqs, num_tokens=num_tokens,
                                      logp=cfg.logp, temperature=cfg.temperature, objective=cfg.objective,
                                      kl_norm=cfg.kl_norm)
                loss.backward()
            for key in totals:
                totals[key] += st.get(key, 0.0)
            del base, loss
        totals = dict(zip(totals, self.ranks.sum(*totals.values())))
        lr, grad_norm = self._update()
        sec = time.perf_counter() - start
        stats.update(nll=totals["nll_sum"] / max(1, num_tokens), tokens=num_tokens, lr=lr, grad_norm=grad_norm,
                     **self.policy.stats(), sec=round(sec, 3), gen_sec=round(gen_sec, 3), tok_per_s=round(num_tokens / sec, 1))
        if need_base:
            stats["kl"] = totals["kl_sum"] / max(1, num_tokens)
        return stats

    def _update(self) -> tuple[float, float]:
        """Clip the accumulated gradient, step AdamW and the schedule; (lr used, grad norm)."""
        lr = self.opt.param_groups[0]["lr"]
        if self.ranks.world > 1:
            distributed.all_reduce_grads(self.params)  # each rank's loss used global counts: sum = one process
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip))
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return lr, grad_norm

    def _choice_step(self, docs: list[dict], start: float) -> dict:
        """One update of the choice policy (see :mod:`t2eval.train.choice`)."""
        cfg = self.cfg
        totals = {"reward_sum": 0.0, "correct": 0, "nll_sum": 0.0, "kl_sum": 0.0}
        n = cfg.batch_size  # the global batch (this rank scores its shard `docs`)
        need_base = cfg.kl > 0 or cfg.track_kl
        for i in range(0, len(docs), cfg.micro_batch):
            items = [self.task.choice(d, self.tokenizer) for d in docs[i:i + cfg.micro_batch]]
            base = None
            if need_base:
                with torch.no_grad(), self.policy.base():
                    base = choice_scores(self.model, self.tokenizer, items, cfg.choice_norm)
            with self.policy.trainable():
                scores = choice_scores(self.model, self.tokenizer, items, cfg.choice_norm)
                loss, st = choice_loss(scores, gold_of(items, scores.device), base, estimator=cfg.choice_estimator,
                                       kl_coef=cfg.kl, num_docs=n, baseline=cfg.baseline,
                                       temperature=cfg.temperature,
                                       reward_correct=cfg.reward_correct, reward_wrong=cfg.reward_wrong)
                loss.backward()
            for key in totals:
                totals[key] += st.get(key, 0.0)
        totals = dict(zip(totals, self.ranks.sum(*totals.values())))
        lr, grad_norm = self._update()
        sec = time.perf_counter() - start
        stats = {"batch": n, "reward": totals["reward_sum"] / n, "acc": totals["correct"] / n,
                 "nll": totals["nll_sum"] / n, "tokens": 0, "lr": lr, "grad_norm": grad_norm,
                 **self.policy.stats(), "sec": round(sec, 3), "gen_sec": 0.0, "tok_per_s": round(n / sec, 2)}
        if need_base:
            stats["kl"] = totals["kl_sum"] / n
        return stats

    # ------------------------------------------------------------------ the run
    def run(self) -> TrainResult:
        """Train to the end (or early stop / Ctrl-C); the model is left as it was given."""
        try:
            return self._run()
        finally:
            self.policy.close()

    def _run(self) -> TrainResult:
        from tqdm.auto import tqdm

        cfg = self.cfg
        if self.status != "running":
            self._log(f"{self.run_dir} is already complete ({self.status})")
            return self._finish(save=False)
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train {self.task.name}", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        try:
            if self.step == 0 and cfg.eval_every and not self.history:
                self._evaluate(0)
                self._snapshot = self.state_dict()
            while self.step < cfg.steps:
                step = self.step + 1
                stats = self.train_step(step)
                self.step = step
                self._write_metrics({"type": "step", "step": step, **stats})
                stop = False
                if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                    self._evaluate(step)
                    stop = cfg.patience is not None and self.since_best >= cfg.patience
                if step == cfg.steps or stop:
                    self.status = "early_stopped" if stop and step < cfg.steps else "finished"
                self._snapshot = self.state_dict()
                if (step % cfg.ckpt_every == 0 or self.status != "running") and self.ranks.main:
                    save_checkpoint(self._snapshot, self.ckpt_path)
                bar.update(1)
                post = {k: f"{stats[k]:.3g}" for k in ("reward", "acc", "kl") if k in stats}
                post["tok/s"] = f"{stats['tok_per_s']:.0f}"
                if self.best_val is not None:
                    post["val"] = f"{self.history[-1]['val_acc']:.3f}"
                bar.set_postfix(post, refresh=False)
                if self.on_step:
                    self.on_step(step, stats)
                if self.status != "running":
                    break
        except KeyboardInterrupt:
            bar.close()
            if self.ranks.main:
                save_checkpoint(self._snapshot, self.ckpt_path)
            self._log(f"interrupted: saved the state after step {self._snapshot['step']} to {self.ckpt_path}; "
                      "continue with --resume")
            self.load_state_dict(self._snapshot)
            self.status = "interrupted"
            return self._finish(save=False)
        finally:
            bar.close()
        return self._finish(save=True)

    @property
    def artifact_path(self) -> Path:
        return self.run_dir / ("expert.safetensors" if self.cfg.method == "svf" else "adapter")

    def expert(self) -> Expert | PeftAdapter:
        """The best weights by validation (the last ones without validation), as an artifact."""
        snapshot = self.best_z if self.best_z is not None else self.policy.snapshot()
        label = self.cfg.label or self.task.label
        provenance = {"kind": "trained", "task": self.task.name, "method": self.cfg.method,
                      "objective": self.cfg.objective, "kl": self.cfg.kl, "seed": self.cfg.seed,
                      "steps_done": self.step, "best_step": self.best_step, "base_val": self.base_val,
                      "best_val": self.best_val, "val_docs": len(self.val_docs),
                      "lr": self.cfg.lr, "batch_size": self.cfg.batch_size, **self.policy.settings()}
        if self.cfg.objective == "choice":
            provenance.update(choice_estimator=self.cfg.choice_estimator, choice_norm=self.cfg.choice_norm,
                              temperature=self.cfg.temperature)
        start = self.policy.start  # the expert z started from (init_expert), or None
        if start is not None:  # a second stage: "sft+rl" says both objectives (report rows, results files)
            first = (start.provenance or {}).get("objective") or "?"
            provenance.update(objective=f"{first}+{self.cfg.objective}", init_expert={
                "file": str(self.cfg.init_expert), "fingerprint": start.fingerprint, "objective": first})
        return self.policy.export(snapshot, self.cfg.name or label, label, provenance)

    def _finish(self, save: bool) -> TrainResult:
        expert = self.expert()
        if save and self.ranks.main:
            save_artifact(expert, self.artifact_path)
            summary = {"task": self.task.name, "status": self.status, "steps_done": self.step,
                       "base_val": self.base_val, "best_val": self.best_val, "best_step": self.best_step,
                       "val_docs": len(self.val_docs), "train_docs": len(self.train_docs),
                       "kl": self.cfg.kl, "method": self.cfg.method, "expert": str(self.artifact_path)}
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        return TrainResult(expert, self.run_dir, self.status, self.step, self.base_val, self.best_val,
                           self.best_step, list(self.history))


def train(cfg: TrainConfig, run_dir: str | Path, **kwargs) -> TrainResult:
    """Train one expert (see :class:`Trainer` for the keyword arguments)."""
    return Trainer(cfg, run_dir, **kwargs).run()


def train_sweep(cfg: TrainConfig, values: list[float], run_dir: str | Path, output: str | Path | None = None,
                resume: bool = False, progress: bool = True, model=None, tokenizer=None,
                task: TrainTask | None = None, key: str = "kl") -> tuple[TrainResult, list[TrainResult]]:
    """Train one expert per value of setting ``key`` (``kl`` by default; ``lr`` for the PEFT
    baselines' learning-rate sweep), in sub-folders ``<key><value>``, and keep the best by
    validation accuracy (ties: the earlier value). Writes ``sweep.json`` and copies the chosen
    artifact to ``output`` (and to ``run_dir/expert.safetensors``, or ``run_dir/adapter``)."""
    run_dir = Path(run_dir)
    task = task or build_task(cfg.task, cfg.seed, cfg.data_dir, cfg.val_split)  # fails fast, before loading the model
    if model is None:
        from ..models import load_model

        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        model, tokenizer = load_model(cfg.model, device=resolve_device(cfg.device))
    dec = decompose(model, cfg.targets, progress=progress) if cfg.method == "svf" else None
    results = []
    for value in values:
        sub = run_dir / (f"{key}{value:g}" if len(values) > 1 else "")
        result = Trainer(replace(cfg, **{key: float(value)}), sub, model=model, tokenizer=tokenizer, task=task,
                         decomposition=dec, resume=resume, progress=progress).run()
        results.append(result)
        if result.status == "interrupted":
            return result, results
    scores = [-1.0 if r.best_val is None or r.best_val != r.best_val else r.best_val for r in results]
    chosen = scores.index(max(scores))  # the first of equals
    best = results[chosen]
    targets = []
    if not distributed.is_main():  # data parallel: every rank holds the same result; rank 0 writes it
        return best, results
    if len(values) > 1:
        targets.append(run_dir / ("expert.safetensors" if cfg.method == "svf" else "adapter"))
        (run_dir / "sweep.json").write_text(json.dumps(
            {f"chosen_{key}": float(values[chosen]),
             "runs": [{key: float(v), "status": r.status, "base_val": r.base_val, "best_val": r.best_val,
                       "best_step": r.best_step, "run_dir": str(r.run_dir)} for v, r in zip(values, results)]},
            indent=1) + "\n")
    if output:
        targets.append(Path(output))
    for path in targets:
        save_artifact(best.expert, path)
    return best, results
