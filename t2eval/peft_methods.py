"""The PEFT baselines (LoRA, DoRA, IA3): one place that builds their configs.

Used by the trainer (``--method lora|dora|ia3``), ``t2eval baseline`` and the parameter
counts, so a reported #params is the count of exactly the adapter that was trained.

Defaults follow the paper's LoRA recipe (Appendix A.2): query and value projections, rank 16;
alpha 32 and no dropout (the forward passes run in eval mode, so training is deterministic).
DoRA is ``LoraConfig(use_dora=True)``; IA3 uses PEFT's own defaults for Llama-style models
(keys, values and the MLP's down projection, which is a feed-forward module).
"""

from __future__ import annotations

from .names import did_you_mean

METHODS = ("lora", "dora", "ia3")  # the PEFT baselines
TRAIN_METHODS = ("svf", *METHODS)  # what `t2eval train --method` trains (plus the ALIASES)
#: `t2eval train --method` names that stand for settings: lora-rl, the paper's RL ablation
#: (REINFORCE driving LoRA)
ALIASES = {"lora-rl": {"method": "lora", "objective": "rl"}}

DEFAULT_MODULES = {"lora": ("q_proj", "v_proj"), "dora": ("q_proj", "v_proj"),
                   "ia3": ("k_proj", "v_proj", "down_proj")}
FEEDFORWARD = ("down_proj", "mlp.c_proj", "fc2", "w2")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown PEFT method '{method}'{did_you_mean(method, METHODS)} available: {', '.join(METHODS)}")
    return method


def parse_modules(modules: str | list[str] | tuple[str, ...] | None, method: str) -> list[str]:
    """``"q_proj,v_proj"`` (or a list, or None for the method's defaults) as a list."""
    if not modules:
        return list(DEFAULT_MODULES[check_method(method)])
    if isinstance(modules, str):
        modules = modules.split(",")
    return [m.strip() for m in modules if m.strip()]


def _lora(targets: list[str], rank: int, alpha: int, dropout: float, use_dora: bool = False):
    from peft import LoraConfig

    return LoraConfig(task_type="CAUSAL_LM", r=rank, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=targets, use_dora=use_dora)


def _dora(targets: list[str], rank: int, alpha: int, dropout: float):
    return _lora(targets, rank, alpha, dropout, use_dora=True)


def _ia3(targets: list[str], rank: int, alpha: int, dropout: float):
    from peft import IA3Config

    feedforward = [m for m in targets if m.endswith(FEEDFORWARD)]
    return IA3Config(task_type="CAUSAL_LM", target_modules=targets, feedforward_modules=feedforward)


#: method -> builder of its PEFT config (targets, rank, alpha, dropout); IA3 has no rank
_BUILDERS = {"lora": _lora, "dora": _dora, "ia3": _ia3}


def peft_config(method: str, modules=None, rank: int = 16, alpha: int = 32, dropout: float = 0.0):
    """The PEFT config of ``method`` on ``modules`` (task type causal LM)."""
    targets = parse_modules(modules, method)
    return _BUILDERS[check_method(method)](targets, rank, alpha, dropout)


def describe(config) -> dict:
    """What identifies an adapter config in reports: method, modules, rank."""
    peft_type = str(getattr(config, "peft_type", "")).split(".")[-1].lower()
    method = "dora" if getattr(config, "use_dora", False) else peft_type
    modules = getattr(config, "target_modules", None) or []
    return {"method": method, "modules": sorted(modules) if not isinstance(modules, str) else [modules],
            "rank": getattr(config, "r", None)}
