"""Training configuration: defaults from the paper, a CPU preset, YAML files and key=value overrides.

Precedence (later wins): dataclass defaults (the paper's recipe) < ``--preset`` < ``--config``
file < command-line options < ``key=value`` overrides.

The z parametrisation:
  * ``param=raw`` (default): the trained parameter *is* the multiplier z, initialised to
    ``init`` (default 1.0, i.e. exactly the base model).
  * ``param=sigmoid`` (the reference implementation): z = sigmoid(p); ``init`` is the
    multiplier at the start (default 0.5; with ``rescale=true`` a uniform z is the base
    model again), so p starts at logit(init).
The expert file always stores the effective multiplier z (after the transform).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from ..coerce import as_annotated
from ..distributed import launched_world_size
from ..engine import check_tensor_parallel
from ..models import DEFAULT_MODEL
from ..names import did_you_mean
from ..peft_methods import ALIASES
from .policy import METHODS


class ConfigError(ValueError):
    """An unknown key, a bad value, or an unusable combination of settings."""


@dataclass
class TrainConfig:
    task: str = ""
    model: str = DEFAULT_MODEL
    targets: str = "mlp"
    objective: str = "rl"           # rl (REINFORCE + KL) | sft (next-token on reference solutions) |
                                    # choice (multiple-choice lm-eval tasks: a policy over the choices)
    choice_estimator: str = "expectation"  # choice: exact expected reward | sample (REINFORCE, one choice)
    choice_norm: str = "acc"        # choice: score = summed log-likelihood (acc) | per character (acc_norm)
    method: str = "svf"             # svf (z vectors) | lora | dora | ia3 (PEFT baselines)
    rank: int = 16                  # LoRA / DoRA rank
    lora_alpha: int = 32
    peft_modules: str | None = None  # comma list; default: q_proj,v_proj (lora/dora), k,v,down (ia3)
    # optimisation (the paper: AdamW, lr 2e-3, cosine, clip 1e-3, global batch 256)
    steps: int = 200
    batch_size: int = 256           # prompts per update (one sample each)
    micro_batch: int = 8            # prompts per forward/backward (gradient accumulation)
    lr: float = 2e-3
    min_lr_ratio: float = 0.0       # cosine decays lr to lr * min_lr_ratio at the last step
    warmup_steps: int = 0
    weight_decay: float = 0.0       # AdamW decay pulls z towards 0; off by default
    betas: tuple = (0.9, 0.999)
    clip: float = 1e-3              # gradient max-norm
    kl: float = 0.0                 # lambda of the KL(pi_W' || pi_W) penalty
    kl_norm: str = "per_token"      # per_token: KL averaged over response tokens | per_sequence: summed
                                    # per sequence, averaged over sequences (the reference; the policy
                                    # term sums log-probabilities per sequence, so lambda matches its scale)
    # z
    param: str = "raw"              # raw | sigmoid
    init: float | None = None       # initial multiplier (raw: 1.0, sigmoid: 0.5)
    init_expert: str | None = None  # start z from this expert file (e.g. REINFORCE on top of a next-token
                                    # expert); the KL term still compares with the base weights
    rescale: bool = True            # W' *= sum(S) / sum(S z) (reference implementation)
    # rewards / policy gradient
    reward_correct: float = 1.0
    reward_wrong: float = -1.0
    baseline: str = "none"          # none | mean (subtract the batch mean reward) | loo (leave-one-out:
                                    # each sample's reward minus the mean of its prompt's other samples)
    samples: int = 1                # samples per prompt (k); with baseline=loo a prompt whose k rewards
                                    # are all equal has zero advantage and is left out of the update
    logp: str = "sum"               # sum | mean: log pi(y|x) summed (paper) or averaged over tokens
    temperature: float = 1.0        # sampling temperature (objective=choice: of the choice policy pi)
    max_new_tokens: int | None = None   # default: the task YAML's max_gen_toks
    # data / selection
    train_size: int | None = None   # cap on the train half (None: all)
    val_size: int | None = None     # cap on the validation half (None: all)
    val_split: str = "half"         # half: the training split halved (seeded; the paper) | a split name
                                    # (e.g. validation): train on the whole training split, validate there
    eval_every: int = 10            # validation every N steps (0: never; keep the last z)
    eval_batch: int = 16
    patience: int | None = None     # stop after N evaluations without improvement
    # runs
    seed: int = 0
    ckpt_every: int = 10
    threads: int | None = None
    device: str = "auto"            # auto | cpu | cuda[:i]
    engine: str = "hf"              # hf | vllm: who generates rollouts and validation answers (svf only)
    tensor_parallel_size: int = 1   # engine=vllm: shard vLLM's weights over N GPUs (one process only)
    track_kl: bool = True           # compute the KL for logging even when kl == 0
    # stock lm-eval generate_until tasks (t2eval.train.data.StockOptions)
    num_fewshot: int = 0            # shots in each training prompt (lm-eval's --num_fewshot)
    chat: str = "auto"              # auto | on | off: prompts as one user turn of the chat template
                                    # (lm-eval's --apply_chat_template; auto: when the tokenizer has one)
    reward_filter: str | None = None    # the task's filter pipeline that is scored (default: its first)
    reward_metric: str | None = None    # the task's metric that is the reward (default: its first)
    reward_threshold: float | None = None  # reward 1 when metric >= this (default: the metric must be 0/1)
    reference_field: str | None = None  # --objective sft: this document field instead of doc_to_target
    name: str = ""                  # expert name (default: the task's label)
    label: str = ""                 # pass-1 label (default: from the task)
    data_dir: str | None = None

    # ------------------------------------------------------------------ helpers
    def initial_multiplier(self) -> float:
        if self.init is not None:
            return float(self.init)
        return 0.5 if self.param == "sigmoid" else 1.0

    def validate(self) -> "TrainConfig":
        from .objectives import OBJECTIVES  # cycle: train.config <-> train.objectives

        if not self.task:
            raise ConfigError("no task given (--task gsm8k_t2 | mbpp_t2 | arc_easy_t2 | cls | ...)")
        choices = {"objective": OBJECTIVES.names(), "choice_estimator": ("expectation", "sample"),
                   "choice_norm": ("acc", "acc_norm"), "param": ("raw", "sigmoid"), "method": METHODS.names(),
                   "baseline": ("none", "mean", "loo"), "logp": ("sum", "mean"), "engine": ("hf", "vllm"),
                   "kl_norm": ("per_token", "per_sequence")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key}={getattr(self, key)!r}: expected one of {', '.join(allowed)}")
        positive = ("steps", "batch_size", "micro_batch", "eval_batch", "samples", "tensor_parallel_size")
        for key in positive:
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.clip <= 0:
            raise ConfigError("lr and clip must be positive")
        if self.baseline == "loo" and self.samples < 2:
            raise ConfigError("baseline=loo compares samples of the same prompt: set samples >= 2 (e.g. samples=4)")
        if self.kl < 0:
            raise ConfigError(f"kl must be >= 0, got {self.kl}")
        if self.param == "sigmoid" and not 0 < self.initial_multiplier() < 1:
            raise ConfigError(f"param=sigmoid needs 0 < init < 1, got init={self.init}")
        if self.temperature <= 0:
            raise ConfigError("temperature must be > 0 (sampling is required for REINFORCE)")
        method = METHODS.get(self.method)
        OBJECTIVES.get(self.objective).check_config(self, method)
        if self.init_expert is not None:
            if not method.starts_from_expert:
                raise ConfigError(f"init_expert starts SVF z vectors; method={self.method} has none")
            if not Path(self.init_expert).is_file():
                raise ConfigError(f"init_expert={self.init_expert!r}: no such file (an expert .safetensors, "
                                  "e.g. runs/train/<run>/expert.safetensors)")
        if self.engine == "vllm" and not method.supports_vllm:
            raise ConfigError(f"engine=vllm generates with SVF experts only; method={self.method} "
                              "trains with engine=hf")
        try:
            check_tensor_parallel(self.engine, self.tensor_parallel_size, launched_world_size())
        except ValueError as err:
            raise ConfigError(str(err)) from err
        return self

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def digest_fields(self) -> dict:
        """Settings that must not change across --resume (everything but bookkeeping)."""
        skip = {"threads", "device", "patience", "ckpt_every", "data_dir", "track_kl", "tensor_parallel_size"}
        return {k: v for k, v in self.to_dict().items() if k not in skip}


#: Presets. ``cpu`` trains an expert for the embedded 135M model in under an hour on a
#: 2-core CPU (see reports/training.md for measured times).
PRESETS: dict[str, dict] = {
    "paper": {},
    "cpu": {"steps": 12, "batch_size": 8, "micro_batch": 8, "eval_every": 4, "val_size": 32,
            "eval_batch": 16, "ckpt_every": 2, "threads": 1, "lr": 5e-3, "max_new_tokens": 160,
            "baseline": "mean", "patience": 2},
}

#: per-task tweaks of the cpu preset (generation length dominates the cost). One thread:
#: on a loaded 2-core machine two torch threads were 10x slower than one (reports/training.md).
CPU_TASK_OVERRIDES: dict[str, dict] = {
    "arc_easy_t2": {"max_new_tokens": 32, "steps": 10, "batch_size": 16, "micro_batch": 16,
                    "val_size": 64, "eval_every": 5, "ckpt_every": 2},
    "arc_challenge_t2": {"max_new_tokens": 32, "steps": 10, "batch_size": 16, "micro_batch": 16,
                         "val_size": 64, "eval_every": 5, "ckpt_every": 2},
    "cls": {"max_new_tokens": 48, "steps": 20, "batch_size": 24, "micro_batch": 12, "val_size": 96,
            "eval_every": 5, "ckpt_every": 5},
    "mbpp_t2": {"max_new_tokens": 256, "steps": 10, "val_size": 32, "eval_every": 5},
}

#: the cpu preset of ``--objective choice`` (any multiple-choice task): no generation, one
#: forward per (document, choice), no KL forward (kl 0, track_kl off); temperature 4 softens the
#: choice policy (at T = 1 the base model's gold-choice NLL on ARC-Easy validation is 2.40:
#: pi is nearly one-hot and confidently wrong documents give no gradient).
CPU_CHOICE_OVERRIDES: dict = {"steps": 100, "batch_size": 16, "micro_batch": 8, "lr": 2e-3,
                              "val_size": 300, "eval_every": 20, "eval_batch": 32, "ckpt_every": 5,
                              "patience": 3, "baseline": "none", "temperature": 4.0, "track_kl": False}
#: cls (pass 1 in score mode, ~250-token prompts): smaller micro-batches (memory) and validation
CPU_CHOICE_TASK_OVERRIDES: dict[str, dict] = {
    "cls": {"steps": 40, "micro_batch": 4, "val_size": 120, "eval_every": 10, "eval_batch": 8}}

_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _coerce(key: str, value):
    if key not in _FIELDS:
        raise ConfigError(f"unknown training setting '{key}'{did_you_mean(key, _FIELDS)}")
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value != "" else value
        except yaml.YAMLError:
            pass
    if key in ("betas",) and isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    if key in ("lr", "clip", "kl", "reward_correct", "reward_wrong", "temperature", "min_lr_ratio",
               "weight_decay") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if key in ("name", "label", "task", "model", "targets", "method", "peft_modules", "engine") and value is not None:
        return str(value)
    return as_annotated(f"training setting {key}", value, str(_FIELDS[key].type), error=ConfigError)


def _override_dict(overrides) -> dict:
    if isinstance(overrides, dict):
        return overrides
    return dict(item.split("=", 1) for item in overrides or [] if "=" in item)


def build_config(task: str, preset: str | None = None, config_file: str | Path | None = None,
                 options: dict | None = None, overrides: list[str] | dict | None = None) -> TrainConfig:
    """Merge defaults, a preset, a YAML/JSON file, options and ``key=value`` overrides. The
    method's own ``defaults`` (PEFT methods: the LoRA recipe's lr and clip) replace the
    dataclass defaults and the preset's, unless set explicitly."""
    from .objectives import OBJECTIVES  # cycle: train.config <-> train.objectives

    values: dict = {}
    loaded = None
    if config_file:
        text = Path(config_file).read_text()
        loaded = json.loads(text) if str(config_file).endswith(".json") else yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_file} must hold a mapping of settings")
    if preset:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}'; available: {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
        if preset == "cpu":  # the objective's cpu settings (an unknown objective: the default's; refused below)
            objective = {**(loaded or {}), **{k: v for k, v in (options or {}).items() if v is not None},
                         **_override_dict(overrides)}.get("objective")
            known = isinstance(objective, str) and objective in OBJECTIVES
            values.update(OBJECTIVES.get(objective if known else TrainConfig.objective).cpu_preset(task))
    values.update(loaded or {})
    values.update({k: v for k, v in (options or {}).items() if v is not None})
    if isinstance(overrides, dict):
        values.update(overrides)
    else:
        for item in overrides or []:
            if "=" not in item:
                raise ConfigError(f"override '{item}' is not of the form key=value")
            key, value = item.split("=", 1)
            values[key.strip()] = value
    method = values.get("method", TrainConfig.method)
    if isinstance(method, str) and method in ALIASES:  # lora-rl: the paper's RL ablation, REINFORCE driving LoRA
        values.update(ALIASES[method])
        method = values["method"]
    if isinstance(method, str) and method in METHODS:  # (an unknown method is refused below)
        explicit = {**(options or {}), **_override_dict(overrides)}
        values.update({k: v for k, v in METHODS.get(method).defaults.items() if explicit.get(k) is None
                       and not (config_file and k in (loaded or {}))})
    values.setdefault("task", task)
    if task:
        values["task"] = task
    cfg = TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})
    return cfg.validate()
