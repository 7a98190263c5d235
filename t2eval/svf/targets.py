"""Which weight matrices SVF adapts.

A *target spec* is a preset name or a regular expression matched (``re.search``) against
fully-qualified module names; only ``nn.Linear`` modules inside decoder layers (names with
a layer index, e.g. ``model.layers.3.mlp.up_proj``) are ever selected, so embeddings and
the LM head are never touched.

Presets (Llama/Mistral/Qwen naming), following the paper's ablation (Table 4):
  * ``mlp``  - gate, up and down projections (the paper's main experts)
  * ``attn`` - query and value projections
  * ``all``  - every linear layer of every decoder layer
"""

from __future__ import annotations

from ..names import did_you_mean
import re

PRESETS = {
    "mlp": r"\.(gate_proj|up_proj|down_proj)$",
    "attn": r"\.(q_proj|v_proj)$",
    "all": r".",
}

_LAYER_INDEX = re.compile(r"\.(\d+)\.")


class TargetError(ValueError):
    """A target spec selects nothing, or is not a valid pattern."""


def layer_index(module_name: str) -> int | None:
    """``model.layers.12.mlp.up_proj`` -> 12; ``None`` outside numbered layers."""
    found = _LAYER_INDEX.search(module_name)
    return int(found.group(1)) if found else None


def target_pattern(spec: str) -> str:
    """The regular expression a spec stands for (a preset or the spec itself)."""
    if spec in PRESETS:
        return PRESETS[spec]
    if spec.isidentifier() and not any(c in spec for c in "._"):
        raise TargetError(f"unknown target preset '{spec}'{did_you_mean(spec, PRESETS)} available: {', '.join(PRESETS)}; "
                          "or pass a regular expression over module names, e.g. '\\.o_proj$'")
    try:
        re.compile(spec)
    except re.error as err:
        raise TargetError(f"target pattern {spec!r} is not a valid regular expression: {err}") from err
    return spec


def linear_names(model) -> list[str]:
    """Names of all ``nn.Linear`` modules inside numbered decoder layers."""
    import torch.nn as nn

    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and layer_index(name) is not None]


def select_targets(model, spec: str) -> list[str]:
    """Module names selected by ``spec`` (model order). Raises ``TargetError`` if none."""
    pattern = re.compile(target_pattern(spec))
    candidates = linear_names(model)
    chosen = [name for name in candidates if pattern.search(name)]
    if not chosen:
        sample = ", ".join(candidates[:8]) or "(this model has no linear layers in numbered blocks)"
        raise TargetError(f"target spec {spec!r} matches no linear layer of this model; "
                          f"its linear layers look like: {sample}")
    return chosen
