"""The training loop: updates of the policy's parameters (SVF's z, or a PEFT adapter) by an
objective (rl, sft, choice: :mod:`t2eval.train.objectives`), validation, early stopping,
atomic checkpoints, resume, Ctrl-C, and the lambda sweep. The loop never asks which objective
or method it runs: the objective computes each update's loss and the validation metric, the
policy (:mod:`t2eval.train.policy`) says what is trained and written.

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
from ..engine import VLLMEngine
from ..models import load_model, resolve_model_path
from ..svf import Expert, decompose
from .checkpoint import RunFolder, changed_settings, load_checkpoint, rng_state, seed_everything, set_rng_state
from .config import ConfigError, TrainConfig
from .data import StockOptions, TrainTask, build_task
from .objectives import OBJECTIVES
from .policy import METHODS, PeftAdapter, make_policy, save_artifact

TIMING_KEYS = ("sec", "tok_per_s", "gen_sec")
log = logging.getLogger(__name__)


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
        self.folder = RunFolder(run_dir, main=self.ranks.main)
        self.progress = progress and self.ranks.main
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        seed_everything(cfg.seed)  # the same on every rank: the same initial weights
        if model is None:
            model, tokenizer = load_model(cfg.model, device=resolve_device(cfg.device))
        self.model, self.tokenizer = model, tokenizer
        self.task = task or build_task(cfg.task, cfg.seed, cfg.data_dir, cfg.val_split, StockOptions.of(cfg))
        self.train_docs = self.task.train_docs[:cfg.train_size] if cfg.train_size else self.task.train_docs
        self.val_docs = self.task.val_docs[:cfg.val_size] if cfg.val_size else self.task.val_docs
        self.objective = OBJECTIVES.get(cfg.objective)(cfg, self.task)  # refuses a task it cannot train on
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

    def _prepare_run_dir(self, resume: bool) -> None:
        ckpt = self.folder.checkpoint
        exists = self.ranks.gather(ckpt.exists())[0]  # rank 0's folder decides for all
        if self.ranks.world > 1 and exists != ckpt.exists():
            raise ResumeError(f"rank {self.ranks.rank} does not see {ckpt} as rank 0 does: a "
                              "data-parallel run needs its run folder on a file system every rank shares")
        if exists:
            if not resume:
                raise ResumeError(f"{self.run_dir} already holds a run (checkpoint.pt); pass --resume "
                                  "to continue it, or choose another --run-dir")
            state = load_checkpoint(ckpt)
            # a setting added since the checkpoint was written counts at its default
            diff = changed_settings({**type(self.cfg)().digest_fields(), **state["config"]}, self.cfg.digest_fields())
            if diff:
                raise ResumeError(f"cannot resume {self.run_dir}: settings changed since the checkpoint "
                                  f"({', '.join(diff)})")
            self.load_state_dict(state)
            self._log(f"resuming {self.run_dir} after step {self.step}")
        parallel = {"data_parallel": self.ranks.world} if self.ranks.world > 1 else {}
        self.folder.start({**self.cfg.to_dict(), **parallel},
                          self.metric_lines if exists else None)  # resumed: drop metrics after the checkpoint
        if self.ranks.world > 1:
            self._log(f"data parallel: {self.ranks.world} processes, each takes 1/{self.ranks.world} of every "
                      f"batch of {self.cfg.batch_size} (gradients summed across ranks)")
        self._snapshot = self.state_dict()

    def _write_metrics(self, record: dict) -> None:
        self.metric_lines += 1
        self.folder.append(record)

    def _log(self, msg: str) -> None:
        if self.progress:
            log.info(msg)

    # ------------------------------------------------------------------ validation
    def validate(self) -> float:
        """Validation accuracy of the current weights (see the objective's ``validate``)."""
        return self._validation()[0]

    def _validation(self) -> tuple[float, float | None]:
        """(accuracy, NLL or None) on the validation documents (none: nan, None)."""
        if not self.val_docs:
            return float("nan"), None
        return self.objective.validate(self, self.val_docs)

    def _evaluate(self, step: int) -> None:
        """Validation accuracy; ties are broken by the lower NLL (of the reference answers, or of
        the gold choice: a 135M model scores 0 on GSM8K / MBPP validation, where accuracy alone
        would always keep z = 1)."""
        acc, nll = self._validation()
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

    # ------------------------------------------------------------------ one update
    def train_step(self, step: int) -> dict:
        """One update: the objective's loss on this rank's share of the next global batch, then
        clip + AdamW (no policy signal in the whole batch: the schedule alone moves on)."""
        start = time.perf_counter()
        docs = [self.train_docs[i] for i in self.order.take(self.cfg.batch_size)]  # the global batch
        result = self.objective.step(self, self.ranks.shard(docs))  # this rank's part of it, back-propagated
        lr, grad_norm = (self._skip_update(), None) if result.skipped else self._update()
        sec = time.perf_counter() - start
        return result.record(lr, grad_norm, self.policy.stats(), sec)

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

    def _skip_update(self) -> float:
        """Step the schedule alone (it follows the update count, skipped or not); the lr after."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected call of")
            self.sched.step()
        return self.opt.param_groups[0]["lr"]

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
                if step % cfg.ckpt_every == 0 or self.status != "running":
                    self.folder.save(self._snapshot)
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
            self.folder.save(self._snapshot)
            self._log(f"interrupted: saved the state after step {self._snapshot['step']} to {self.folder.checkpoint}; "
                      "continue with --resume")
            self.load_state_dict(self._snapshot)
            self.status = "interrupted"
            return self._finish(save=False)
        finally:
            bar.close()
        return self._finish(save=True)

    @property
    def artifact_path(self) -> Path:
        return self.run_dir / self.policy.artifact_name

    def expert(self) -> Expert | PeftAdapter:
        """The best weights by validation (the last ones without validation), as an artifact."""
        snapshot = self.best_z if self.best_z is not None else self.policy.snapshot()
        label = self.cfg.label or self.task.label
        provenance = {"kind": "trained", "task": self.task.name, "method": self.cfg.method,
                      "objective": self.objective.name, "kl": self.cfg.kl, "seed": self.cfg.seed,
                      "steps_done": self.step, "best_step": self.best_step, "base_val": self.base_val,
                      "best_val": self.best_val, "val_docs": len(self.val_docs),
                      "lr": self.cfg.lr, "batch_size": self.cfg.batch_size, **self.policy.settings(),
                      **self.objective.provenance(), **self.task.provenance}
        start = self.policy.start  # the expert z started from (init_expert), or None
        if start is not None:  # a second stage: "sft+rl" says both objectives (report rows, results files)
            first = (start.provenance or {}).get("objective") or "?"
            provenance.update(objective=f"{first}+{self.objective.name}", init_expert={
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
    task = task or build_task(cfg.task, cfg.seed, cfg.data_dir, cfg.val_split, StockOptions.of(cfg))  # fails fast, before loading the model
    if model is None:
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        model, tokenizer = load_model(cfg.model, device=resolve_device(cfg.device))
    method = METHODS.get(cfg.method)
    dec = decompose(model, cfg.targets, progress=progress) if method.decomposes else None
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
        targets.append(run_dir / method.artifact_name)
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
