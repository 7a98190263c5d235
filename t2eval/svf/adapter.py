"""Installing SVF weights on a live model.

``SVFAdapter`` swaps each targeted ``nn.Linear`` weight for W' = U diag(S z) Vh (in the
weight's dtype) and restores the very tensors it replaced on removal, so the base model
is bit-identical afterwards. Switching between experts recomposes from the cached
factors (no new SVD); mixing pre-merged matrices (``MergedBank``) skips U and V entirely.
For training, ``trainable`` makes every targeted matrix a differentiable function of z: in
factored form (the layer's forward replaced) or recomposed (``torch.nn.utils.parametrize``),
whichever costs fewer flops for the matrix's shape.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from .expert import Expert, check_compatible
from .mixing import MergedBank


class SVFAdapter:
    """Apply / remove SVF experts on ``model`` whose targets ``decomposition`` describes."""

    def __init__(self, model: nn.Module, decomposition, allow_foreign: bool = False):
        self.model = model
        self.decomposition = decomposition
        self.allow_foreign = allow_foreign  # accept experts of another base model (cross-model transfer)
        self.modules = {name: model.get_submodule(name) for name in decomposition.names}
        self._originals = {name: m.weight.data for name, m in self.modules.items()}
        self.active: str | None = None  # description of what is installed; None = base
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change of the installed weights (e.g. to mirror
        them into a vLLM engine)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def base_weights(self) -> dict[str, torch.Tensor]:
        """The base matrices W (module name -> tensor), untouched by any expert."""
        return dict(self._originals)

    def merged_bank(self, experts: list[Expert]) -> MergedBank:
        """Pre-merge ``experts`` for fast mixing with ``apply_mix``."""
        for expert in experts:
            check_compatible(expert, self.decomposition, self.allow_foreign)
        return MergedBank(self.decomposition, experts, self._originals)

    # ---------------------------------------------------------------- install / remove
    def apply(self, expert: Expert, allow_foreign: bool | None = None) -> None:
        """Install ``expert`` (replacing whatever expert is installed)."""
        check_compatible(expert, self.decomposition,
                         self.allow_foreign if allow_foreign is None else allow_foreign)
        self.apply_z(expert.z, expert.rescale, label=expert.name or expert.source)

    def apply_z(self, z: Mapping[str, torch.Tensor], rescale: bool, label: str = "z") -> None:
        """Install raw z vectors (module name -> (r,) tensor)."""
        with torch.no_grad():
            for name, f in self.decomposition.factors.items():
                z_name = z[name].to(f.S.device, torch.float32)
                self._install(name, f.compose(z_name, rescale, self._originals[name]))
        self.active = label
        self._changed()

    def apply_mix(self, bank: MergedBank, alpha, label: str = "mix", per_matrix: bool = False) -> None:
        """Install sum_k alpha_k W_k from pre-merged matrices (alpha (K,) or (K, L); with
        ``per_matrix``, (K, M): one column per targeted matrix in ``decomposition.names`` order)."""
        alpha = torch.as_tensor(alpha, dtype=torch.float32)
        names = list(self.decomposition.names) if per_matrix else None
        if names is not None and (alpha.dim() != 2 or alpha.shape[1] != len(names)):
            raise ValueError(f"per-matrix alpha must have shape (K, {len(names)}); got {tuple(alpha.shape)}")
        with torch.no_grad():
            for name in self.decomposition.names:
                self._install(name, bank.weight(name, alpha, names))
        self.active = label
        self._changed()

    def remove(self) -> None:
        """Restore the base weights (the original tensors, bit for bit)."""
        for name, module in self.modules.items():
            module.weight.data = self._originals[name]
        self.active = None
        self._changed()

    def _install(self, name: str, weight: torch.Tensor) -> None:
        original = self._originals[name]
        self.modules[name].weight.data = weight.to(original.dtype)

    @contextmanager
    def applied(self, expert: Expert | None, allow_foreign: bool | None = None):
        """Install ``expert`` (None = base weights) for the ``with`` block, then put back
        exactly what was installed before, even if the block raises."""
        saved = {name: m.weight.data for name, m in self.modules.items()}
        saved_label = self.active
        try:
            if expert is None:
                self.remove()
            else:
                self.apply(expert, allow_foreign)
            yield self
        finally:
            for name, module in self.modules.items():
                module.weight.data = saved[name]
            self.active = saved_label
            self._changed()

    # ---------------------------------------------------------------- training
    @contextmanager
    def trainable(self, z: Mapping[str, nn.Parameter], rescale: bool = True,
                  transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  factored: bool | None = None):
        """Make every targeted weight a differentiable function of ``z`` for the block.

        ``transform`` maps the stored parameter to the multiplier (e.g. ``torch.sigmoid``);
        identity by default. All base parameters are frozen for the block (their
        ``requires_grad`` flags are restored afterwards), so gradients reach ``z`` only.
        Each matrix takes the cheaper route (``Factors.factored_is_cheaper``): its forward
        replaced by the factored product, or its weight recomposed as W' by a parametrization.
        ``factored`` forces one route for every matrix (True / False; tests, benchmarks). A
        module whose forward is already replaced on the instance (accelerate's device hooks)
        always takes the recomposed route.
        """
        flags = {p: p.requires_grad for p in self.model.parameters()}
        for p in flags:
            p.requires_grad_(False)
        self.remove()
        try:
            for name, module in self.modules.items():
                f = self.decomposition.factors[name]
                hooked = "forward" in module.__dict__  # e.g. accelerate's device hooks: leave them be
                if not hooked and (f.factored_is_cheaper() if factored is None else factored):
                    module.forward = _SVFForward(module, f, z[name], rescale, transform)
                else:
                    weight = _SVFWeight(f, z[name], rescale, transform)
                    parametrize.register_parametrization(module, "weight", weight, unsafe=True)
            yield z
        finally:
            for module in self.modules.values():
                if isinstance(module.__dict__.get("forward"), _SVFForward):
                    del module.forward  # back to nn.Linear.forward
                if parametrize.is_parametrized(module, "weight"):
                    parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
            for p, flag in flags.items():
                p.requires_grad_(flag)


class _SVFWeight(nn.Module):
    """Parametrization: ignores the stored weight and returns U diag(S t(z)) Vh."""

    def __init__(self, factors, z: nn.Parameter, rescale: bool, transform):
        super().__init__()
        self.factors, self.z, self.rescale = factors, z, rescale
        self.transform = transform or (lambda v: v)

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return self.factors.compose(self.transform(self.z), self.rescale, original).to(original.dtype)


class _SVFForward:
    """Forward of a targeted ``nn.Linear`` while z trains: x W'ᵀ + b in factored form."""

    def __init__(self, module: nn.Linear, factors, z: nn.Parameter, rescale: bool, transform):
        self.module, self.factors, self.z, self.rescale = module, factors, z, rescale
        self.transform = transform or (lambda v: v)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = self.factors.apply(x, self.transform(self.z), self.rescale)
        bias = self.module.bias
        return y if bias is None else y + bias
