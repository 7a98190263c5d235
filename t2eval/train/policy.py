"""What the trainer optimises: SVF's z vectors, or a PEFT adapter (the paper's baselines).

The training loop only talks to a policy through this small interface:

* ``params``: the trainable tensors (optimiser, gradient clipping);
* ``adapted()``: a context in which the model runs with the current trained weights
  (rollouts, validation; no gradient);
* ``base()``: a context in which the model is the base model (the KL reference);
* ``trainable()``: a context in which a forward pass is differentiable w.r.t. ``params``;
* ``snapshot()`` / ``load_snapshot()``: the trained values (checkpoints, best-by-validation);
* ``export(snapshot, ...)``: the artifact written at the end (an expert file for SVF, a PEFT
  adapter folder that ``lm_eval --model hf --model_args peft=DIR`` loads, for LoRA/DoRA/IA3);
* ``settings()``: what the artifact's provenance says of the policy (SVF: param, targets;
  PEFT: its modules as targets);
* ``close()``: leave the model as it was given.

Outside ``adapted()`` / ``trainable()`` the model is always the base model.

The policy classes are the training methods: ``METHODS`` maps ``--method`` (svf, lora, dora,
ia3) to its class, whose class attributes say what the method is (``artifact_name``: what the
run writes; ``decomposes``: trains on an SVD of the weights; ``supports_vllm``;
``starts_from_expert``: can start from ``init_expert``; ``defaults``: settings it replaces
unless given). Nothing else compares method names.
"""

from __future__ import annotations

import copy
import json
import math
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..models import EMBEDDED, resolve_model_path
from ..peft_methods import peft_config
from ..registry import Registry
from ..svf import Expert, ExpertError, SVFAdapter, check_compatible, decompose, load_expert, save_expert

#: The LoRA recipe's optimisation (PEFT methods): lr and clip norm of community practice for
#: LoRA (the paper sweeps both); they replace the SVF values unless set explicitly.
PEFT_DEFAULTS: dict = {"lr": 2e-4, "clip": 1.0}

METHODS: Registry[type] = Registry("method")


@METHODS.register()
class SVFPolicy:
    """z vectors, one per targeted matrix: W' = U diag(S z) Vh (see :mod:`t2eval.svf`)."""

    name: ClassVar[str] = "svf"
    artifact_name: ClassVar[str] = "expert.safetensors"  # in the run folder
    artifact_kind: ClassVar[str] = "expert"               # how messages call it
    decomposes: ClassVar[bool] = True          # needs the SVD of the targeted weights
    supports_vllm: ClassVar[bool] = True       # engine=vllm can mirror its weights
    starts_from_expert: ClassVar[bool] = True  # init_expert
    defaults: ClassVar[dict] = {}

    def __init__(self, model, cfg, decomposition=None, progress: bool = True):
        self.cfg = cfg
        self.dec = decomposition or decompose(model, cfg.targets, progress=progress)
        self.adapter = SVFAdapter(model, self.dec)
        init = cfg.initial_multiplier()
        raw = init if cfg.param == "raw" else math.log(init / (1 - init))
        self.z = {name: nn.Parameter(torch.full_like(f.S, raw)) for name, f in self.dec.factors.items()}
        self.transform = torch.sigmoid if cfg.param == "sigmoid" else None
        self.params = list(self.z.values())
        self.start: Expert | None = None  # the expert z started from (cfg.init_expert), for provenance
        if cfg.init_expert:
            self.load_raw_state(self._raw_from_expert(cfg.init_expert))

    def _raw_from_expert(self, path: str) -> dict[str, torch.Tensor]:
        """The raw parameters whose effective multipliers are the z vectors of expert ``path``."""
        expert = self.start = load_expert(path)
        check_compatible(expert, self.dec)
        if expert.rescale != self.cfg.rescale:
            raise ExpertError(f"init_expert {path} was trained with rescale={expert.rescale}; "
                              f"this run has rescale={self.cfg.rescale}")
        if self.transform is None:
            return {n: expert.z[n].to(p) for n, p in self.z.items()}
        if not all(bool(((v > 0) & (v < 1)).all()) for v in expert.z.values()):
            raise ExpertError(f"init_expert {path} has multipliers outside (0, 1): param=sigmoid cannot "
                              "start there; use param=raw")
        return {n: torch.logit(expert.z[n]).to(p) for n, p in self.z.items()}

    def snapshot(self) -> dict[str, torch.Tensor]:
        """The effective multipliers z (after the sigmoid, when used)."""
        with torch.no_grad():
            return {n: (self.transform(p) if self.transform else p).detach().clone() for n, p in self.z.items()}

    def raw_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.z.items()}

    def load_raw_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, p in self.z.items():
                p.copy_(state[name])

    @contextmanager
    def adapted(self):
        self.adapter.apply_z(self.snapshot(), self.cfg.rescale)  # replaces whatever was installed
        try:
            yield
        finally:
            self.adapter.remove()

    def base(self):
        return nullcontext()

    def trainable(self):
        return self.adapter.trainable(self.z, self.cfg.rescale, self.transform)

    def settings(self) -> dict:
        """What the trained artifact's provenance says of this policy."""
        return {"param": self.cfg.param, "targets": self.cfg.targets}

    def stats(self) -> dict:
        z = torch.cat([v.flatten() for v in self.snapshot().values()])
        return {"z_mean": float(z.mean()), "z_min": float(z.min()), "z_max": float(z.max())}

    def export(self, snapshot, name: str, label: str, provenance: dict) -> Expert:
        return Expert({n: v.detach().float().cpu() for n, v in snapshot.items()}, self.cfg.model,
                      self.dec.base_fingerprint, self.cfg.targets, self.cfg.rescale,
                      name=name, label=label, provenance=provenance)

    def close(self) -> None:
        self.adapter.remove()


@dataclass
class PeftAdapter:
    """A trained PEFT adapter, detached from the model: PEFT's config and state dict, plus
    t2eval's provenance (written as ``t2eval.json`` beside PEFT's own files)."""

    config: object
    state: dict[str, torch.Tensor]
    name: str
    label: str
    provenance: dict = field(default_factory=dict)


class PeftPolicy:
    """A LoRA / DoRA / IA3 adapter injected with PEFT (``cfg.method``); one registered
    subclass per PEFT method (below)."""

    name: ClassVar[str]
    artifact_name: ClassVar[str] = "adapter"  # a PEFT adapter folder
    artifact_kind: ClassVar[str]              # "<method> adapter"
    decomposes: ClassVar[bool] = False
    supports_vllm: ClassVar[bool] = False
    starts_from_expert: ClassVar[bool] = False
    defaults: ClassVar[dict] = PEFT_DEFAULTS
    start = None  # PEFT adapters always start fresh (init_expert is SVF only)

    def __init__(self, model, cfg, decomposition=None, progress: bool = True):
        from peft import get_peft_model

        self.cfg = cfg
        self.config = peft_config(self.name, cfg.peft_modules, rank=cfg.rank, alpha=cfg.lora_alpha)
        torch.manual_seed(cfg.seed)  # LoRA's A matrices are initialised randomly
        self.peft = get_peft_model(model, self.config)
        self.named = {n: p for n, p in self.peft.named_parameters() if p.requires_grad}
        self.params = list(self.named.values())

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.named.items()}

    raw_state = snapshot

    def load_raw_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, p in self.named.items():
                p.copy_(state[name])

    def adapted(self):
        return nullcontext()

    def base(self):
        return self.peft.disable_adapter()

    def trainable(self):
        return nullcontext()

    def settings(self) -> dict:
        """What the trained adapter's provenance says of this policy: its PEFT modules."""
        return {"targets": ",".join(sorted(self.config.target_modules))}

    def stats(self) -> dict:
        return {"param_norm": float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in self.params)))}

    def export(self, snapshot, name: str, label: str, provenance: dict) -> PeftAdapter:
        from peft import get_peft_model_state_dict

        current = self.snapshot()
        self.load_raw_state(snapshot)
        try:
            state = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(self.peft).items()}
        finally:
            self.load_raw_state(current)
        config = copy.deepcopy(self.peft.peft_config["default"])
        config.base_model_name_or_path = _model_path(self.cfg.model)
        return PeftAdapter(config, state, name, label, provenance)

    def close(self) -> None:
        self.peft.unload()  # removes the injected layers, leaves the base weights untouched


def _model_path(name: str) -> str:
    return str(resolve_model_path(name)) if name in EMBEDDED else name


@METHODS.register()
class LoRAPolicy(PeftPolicy):
    name, artifact_kind = "lora", "lora adapter"


@METHODS.register()
class DoRAPolicy(PeftPolicy):
    name, artifact_kind = "dora", "dora adapter"


@METHODS.register()
class IA3Policy(PeftPolicy):
    name, artifact_kind = "ia3", "ia3 adapter"


def make_policy(model, cfg, decomposition=None, progress: bool = True):
    """The policy of ``cfg.method`` (``decomposition``: a cached SVD, used by methods that decompose)."""
    return METHODS.get(cfg.method)(model, cfg, decomposition, progress)


def save_artifact(artifact, path: str | Path) -> Path:
    """Write an expert file (SVF) or a PEFT adapter folder (atomically: temp folder, rename)."""
    path = Path(path)
    if isinstance(artifact, Expert):
        save_expert(artifact, path)
        return path
    import shutil
    import tempfile

    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        artifact.config.save_pretrained(tmp)
        save_file({k: v.contiguous() for k, v in artifact.state.items()}, tmp / "adapter_model.safetensors")
        meta = {"name": artifact.name, "label": artifact.label, **artifact.provenance}
        (tmp / "t2eval.json").write_text(json.dumps(meta, indent=1) + "\n")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
