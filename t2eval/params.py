"""Exact parameter counts of SVF and PEFT adapters, from a model's config alone.

The model is built on the ``meta`` device (no weights are read or allocated), so an
8B model's counts come from its ``config.json`` in about a second.
"""

from __future__ import annotations

from .models import EMBEDDED, resolve_model_path
from .peft_methods import peft_config
from .svf.targets import select_targets


def meta_model(name_or_path: str):
    """A weight-less causal LM built from the config of ``name_or_path`` (alias, hub id,
    folder, or a folder/file holding just ``config.json``)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    path = resolve_model_path(name_or_path) if name_or_path in EMBEDDED else name_or_path
    config = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def svf_param_count(model, targets: str) -> int:
    """One parameter per singular value: sum of min(m, n) over the targeted matrices."""
    return sum(min(model.get_submodule(name).weight.shape) for name in select_targets(model, targets))


def peft_param_count(model, method: str, modules=None, rank: int = 16) -> int:
    """Trainable parameters PEFT adds for ``method`` in {lora, dora, ia3} on ``modules``
    (None: the method's defaults, see :mod:`t2eval.peft_methods`)."""
    from peft import get_peft_model

    peft_model = get_peft_model(model, peft_config(method, modules, rank=rank or 16))
    return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
