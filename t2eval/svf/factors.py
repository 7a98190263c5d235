"""Thin SVD of the targeted weight matrices, W = U diag(S) Vh, cached on disk.

The cache is a safetensors file named after a key that hashes (base weights, target
names and shapes, weight dtype, format version). On load the file's own metadata must
carry that key and every matrix is spot-checked against the live weights, so a stale or
foreign cache is rejected (with a message saying why) and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from .fingerprint import model_fingerprint
from .targets import select_targets
from ..atomic import atomic_path
from ..models import cache_root

log = logging.getLogger(__name__)

SVD_FORMAT = "1"
SPOT_CHECK_ROWS = 4
SPOT_CHECK_RTOL = 1e-3


@dataclass
class Factors:
    """``W (m, n) = U (m, r) @ diag(S (r,)) @ Vh (r, n)``, r = min(m, n), float32."""

    U: torch.Tensor
    S: torch.Tensor
    Vh: torch.Tensor

    def compose(self, z: torch.Tensor, rescale: bool, weight: torch.Tensor) -> torch.Tensor:
        """W' = U diag(S * z) Vh (m, n) in float32, times sum(S) / sum(S * z) if ``rescale``.

        Computed as ``weight + U diag(S * (z - 1)) Vh`` with ``weight`` the base matrix W:
        the same thing in exact arithmetic (W = U diag(S) Vh), but z = 1 gives W back bit
        for bit, and float32 SVD round-off only enters through the (small) change.
        """
        changed = weight.float() + (self.U * (self.S * (z - 1))) @ self.Vh
        return changed * self.scale(z) if rescale else changed

    def scale(self, z: torch.Tensor) -> torch.Tensor:
        """The reference implementation's rescale factor sum(S) / sum(S * z)."""
        return self.S.sum() / (self.S * z).sum()

    def apply(self, x: torch.Tensor, z: torch.Tensor, rescale: bool) -> torch.Tensor:
        """x W'ᵀ in factored form, ((x Vhᵀ) * S z) Uᵀ (times the rescale factor): W' is never
        formed, and neither is the m × n gradient dL/dW' (z's gradient is the sum over tokens
        of (dL/dy U) * (x Vhᵀ)). Equal to ``x @ compose(z, rescale, W).T`` up to float32 SVD
        round-off (not bit for bit at z = 1)."""
        s = self.S * z
        if rescale:
            s = s * self.scale(z)
        return (((x.to(self.U.dtype) @ self.Vh.T) * s) @ self.U.T).to(x.dtype)

    def factored_is_cheaper(self) -> bool:
        """Per training token, the factored route costs 4·r·(m+n) flops (forward, input gradient,
        z's gradient); recomposing W' costs 6·m·n (forward, input gradient, dL/dW') plus
        4·m·n·r per step. Factored wins for MLP matrices (r = 576, 576 × 1536 here) and
        loses for square ones (q_proj)."""
        (m, r), n = self.U.shape, self.Vh.shape[1]
        return 4 * r * (m + n) < 6 * m * n


@dataclass
class Decomposition:
    """SVD factors of every targeted matrix of one base model."""

    factors: dict[str, Factors]  # module name -> factors, in model order
    base_fingerprint: str
    key: str

    @property
    def names(self) -> list[str]:
        return list(self.factors)

    def rank(self, name: str) -> int:
        return self.factors[name].S.numel()

    @property
    def num_params(self) -> int:
        """Number of SVF parameters: one per singular value."""
        return sum(f.S.numel() for f in self.factors.values())


class StaleCacheError(ValueError):
    """An SVD cache file does not belong to the model it was loaded for."""


def cache_key(base_fingerprint: str, weights: dict[str, torch.Tensor]) -> str:
    """Hash of (base weights, target names and shapes, weight dtype, format version)."""
    described = [(name, list(w.shape), str(w.dtype)) for name, w in weights.items()]
    payload = json.dumps([SVD_FORMAT, base_fingerprint, described])
    return hashlib.sha256(payload.encode()).hexdigest()


def decompose(model, targets: str = "mlp", cache_dir: str | Path | None = None,
              use_cache: bool = True, progress: bool = True) -> Decomposition:
    """Decompose the matrices ``targets`` selects (see ``targets.py``), using the disk
    cache in ``cache_dir`` (default ``cache_root()/svd``) unless ``use_cache`` is False."""
    weights = {name: model.get_submodule(name).weight for name in select_targets(model, targets)}
    fingerprint = model_fingerprint(model)
    key = cache_key(fingerprint, weights)
    path = _cache_path(cache_dir, key)
    if use_cache and path.exists():
        try:
            return _load(path, key, fingerprint, weights)
        except StaleCacheError as err:
            log.warning("rejecting SVD cache %s: %s; recomputing", path, err)
    result = Decomposition(_svd_all(weights, progress), fingerprint, key)
    if use_cache:
        _save(result, path)
    return result


def _cache_path(cache_dir, key: str) -> Path:
    if cache_dir is None:
        cache_dir = cache_root() / "svd"
    return Path(cache_dir) / f"svd-{key[:24]}.safetensors"


def _svd_all(weights: dict[str, torch.Tensor], progress: bool) -> dict[str, Factors]:
    from tqdm.auto import tqdm

    factors = {}
    for name, weight in tqdm(weights.items(), desc="SVD", disable=not progress, unit="matrix"):
        U, S, Vh = torch.linalg.svd(weight.detach().float(), full_matrices=False)
        factors[name] = Factors(U.contiguous(), S.contiguous(), Vh.contiguous())
    return factors


def _save(decomposition: Decomposition, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {}
    for name, f in decomposition.factors.items():
        tensors.update({f"{name}.U": f.U.cpu(), f"{name}.S": f.S.cpu(), f"{name}.Vh": f.Vh.cpu()})
    meta = {"format": "t2eval-svd", "format_version": SVD_FORMAT, "key": decomposition.key,
            "base_fingerprint": decomposition.base_fingerprint,
            "names": json.dumps(decomposition.names)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def _load(path: Path, key: str, fingerprint: str, weights: dict[str, torch.Tensor]) -> Decomposition:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if meta.get("key") != key:
                raise StaleCacheError("it was made for other weights, targets or dtype "
                                      f"(key {meta.get('key', 'missing')[:12]}, expected {key[:12]})")
            factors = {name: _read_factors(fh, name, w) for name, w in weights.items()}
    except StaleCacheError:
        raise
    except Exception as err:  # truncated / corrupt file
        raise StaleCacheError(f"unreadable ({type(err).__name__}: {err})") from err
    return Decomposition(factors, fingerprint, key)


def _read_factors(fh, name: str, weight: torch.Tensor) -> Factors:
    device = weight.device
    f = Factors(*(fh.get_tensor(f"{name}.{part}").to(device) for part in ("U", "S", "Vh")))
    rows = torch.linspace(0, weight.shape[0] - 1, SPOT_CHECK_ROWS).long().to(device)
    approx = (f.U[rows] * f.S) @ f.Vh
    exact = weight.detach()[rows].float()
    if (approx - exact).norm() > SPOT_CHECK_RTOL * exact.norm():
        raise StaleCacheError(f"its factors for {name} do not reproduce the live weights")
    return f
