"""Mixing experts: z' = sum_k alpha_k z_k, with one alpha per expert (shape (K,)), one per
expert per layer (shape (K, L)), or one per expert per targeted matrix (shape (K, M), the
reference implementation's finest granularity; its columns follow the ``names`` given).

Composition is linear in z, so the mixed weight is also sum_k alpha_k U diag(S z_k) Vh:
``MergedBank`` keeps those K matrices pre-merged and mixes them with one weighted sum,
never touching U and V again. The optional rescale sum(S)/sum(S z') is a scalar per matrix,
computed from the per-expert masses sum(S z_k).
"""

from __future__ import annotations

import torch

from .expert import Expert, ExpertError
from .targets import layer_index


def _alpha_column(alpha: torch.Tensor, name: str, names: list[str] | None = None) -> torch.Tensor:
    """The K mixing weights that apply to module ``name`` (``names``: per-matrix alpha)."""
    if alpha.dim() == 1:
        return alpha
    if names is not None:
        return alpha[:, names.index(name)]
    layer = layer_index(name)
    if layer is None or layer >= alpha.shape[1]:
        raise ValueError(f"per-layer alpha has {alpha.shape[1]} layers; module {name} is outside them")
    return alpha[:, layer]


def _check_alpha(experts: list[Expert], alpha: torch.Tensor, names: list[str] | None = None) -> torch.Tensor:
    alpha = torch.as_tensor(alpha, dtype=torch.float32)
    if alpha.dim() not in (1, 2) or alpha.shape[0] != len(experts):
        raise ValueError(f"alpha must have shape (K,), (K, layers) or (K, matrices) with K={len(experts)} "
                         f"experts; got {tuple(alpha.shape)}")
    if names is not None and alpha.dim() == 2 and alpha.shape[1] != len(names):
        raise ValueError(f"per-matrix alpha needs {len(names)} columns (one per targeted matrix); "
                         f"got {alpha.shape[1]}")
    if len({e.rescale for e in experts}) > 1:
        raise ExpertError("cannot mix experts with different rescale modes: "
                          + ", ".join(f"{e.source}={e.rescale}" for e in experts))
    if len({e.base_fingerprint for e in experts}) > 1:
        raise ExpertError("cannot mix experts made for different base models: "
                          + ", ".join(e.source for e in experts))
    return alpha


def mix_experts(experts: list[Expert], alpha, name: str = "mix", names: list[str] | None = None) -> Expert:
    """A new expert with z' = sum_k alpha_k z_k (per matrix; alpha (K,), (K, L), or (K, M)
    with ``names`` the M matrices in column order)."""
    alpha = _check_alpha(experts, alpha, names)
    z = {key: sum(a * e.z[key] for a, e in zip(_alpha_column(alpha, key, names), experts))
         for key in experts[0].z}
    provenance = {"kind": "mix", "alpha": alpha.tolist(),
                  "experts": [{"name": e.name, "fingerprint": e.fingerprint} for e in experts]}
    return experts[0].with_z(z, name=name, label="", provenance=provenance, source=f"<mix {name}>")


class MergedBank:
    """Pre-merged matrices W_k = U diag(S z_k) Vh (without rescale) for K experts.

    ``base_weights`` are the base matrices W (module name -> (m, n)), e.g.
    ``SVFAdapter.base_weights``. Memory: K float32 copies of every targeted matrix.
    """

    def __init__(self, decomposition, experts: list[Expert], base_weights: dict[str, torch.Tensor]):
        _check_alpha(experts, torch.ones(len(experts)))
        self.experts = experts
        self.rescale = experts[0].rescale
        self.weights: dict[str, torch.Tensor] = {}  # name -> (K, m, n)
        self.masses: dict[str, torch.Tensor] = {}  # name -> (K,) sum(S z_k)
        self.total: dict[str, torch.Tensor] = {}  # name -> sum(S)
        for name, f in decomposition.factors.items():
            zs = [e.z[name].to(f.S.device) for e in experts]
            base = base_weights[name]
            self.weights[name] = torch.stack([f.compose(z, False, base) for z in zs])
            self.masses[name] = torch.stack([(f.S * z).sum() for z in zs])
            self.total[name] = f.S.sum()

    def weight(self, name: str, alpha: torch.Tensor, names: list[str] | None = None) -> torch.Tensor:
        """The mixed matrix (m, n) for module ``name`` under ``alpha`` ((K,), (K, L), or (K, M)
        with ``names``)."""
        column = _alpha_column(alpha, name, names).to(self.weights[name])
        mixed = torch.tensordot(column, self.weights[name], dims=1)
        if self.rescale:
            mixed = mixed * (self.total[name] / (column @ self.masses[name]))
        return mixed
