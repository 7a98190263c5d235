"""SVF experts: one z vector per targeted matrix, stored as a safetensors file.

File layout: one float32 tensor per targeted module (key = module name, shape (r,)),
plus string metadata::

    format            "t2eval-expert"
    format_version    "1"
    name, label       expert name and the pass-1 label it serves ("math", "code", ...)
    base_model        name of the base model it was made for
    base_fingerprint  ``model_fingerprint`` of that base model
    targets           the target spec it was made with (e.g. "mlp")
    rescale           "true"/"false": whether W' is rescaled by sum(S)/sum(S*z)
    provenance        JSON: {"kind": "trained", ...} or {"kind": "mix", "experts": [...], "alpha": ...}
    t2eval_version    version that wrote the file

Writes are atomic (temporary file + rename). Every bad file fails with an ``ExpertError``
naming the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .. import __version__
from ..atomic import atomic_path

FORMAT = "t2eval-expert"
FORMAT_VERSION = "1"


class ExpertError(ValueError):
    """An expert file or vector set is unusable; the message names the file and the problem."""


@dataclass
class Expert:
    """z vectors (module name -> float32 tensor of shape (r,)) and what they are for."""

    z: dict[str, torch.Tensor]
    base_model: str
    base_fingerprint: str
    targets: str
    rescale: bool = True
    name: str = ""
    label: str = ""
    provenance: dict = field(default_factory=dict)
    source: str = "<memory>"  # file it was loaded from, for error messages

    @property
    def fingerprint(self) -> str:
        """sha256 over the z values and the base fingerprint (identifies exactly these weights)."""
        digest = hashlib.sha256(self.base_fingerprint.encode() + str(self.rescale).encode())
        for name in sorted(self.z):
            digest.update(name.encode())
            digest.update(self.z[name].detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()

    @property
    def num_params(self) -> int:
        return sum(v.numel() for v in self.z.values())

    def with_z(self, z: dict[str, torch.Tensor], **changes) -> "Expert":
        return replace(self, z=z, **changes)


def ones_expert(decomposition, base_model: str, targets: str, rescale: bool = True) -> Expert:
    """The identity expert (z = 1 everywhere): reproduces the base model."""
    z = {name: torch.ones_like(f.S) for name, f in decomposition.factors.items()}
    return Expert(z, base_model, decomposition.base_fingerprint, targets, rescale,
                  name="identity", provenance={"kind": "identity"})


def save_expert(expert: Expert, path: str | Path) -> Path:
    """Write ``expert`` to ``path`` atomically; returns the path."""
    from safetensors.torch import save_file

    _check_finite(expert)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": expert.name,
            "label": expert.label, "base_model": expert.base_model,
            "base_fingerprint": expert.base_fingerprint, "targets": expert.targets,
            "rescale": json.dumps(expert.rescale), "provenance": json.dumps(expert.provenance),
            "t2eval_version": __version__}
    tensors = {name: v.detach().float().cpu().contiguous() for name, v in expert.z.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_expert(path: str | Path) -> Expert:
    """Read and validate an expert file (format, metadata, finite values)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ExpertError(f"expert file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            z = {key: fh.get_tensor(key).float() for key in fh.keys()}
    except Exception as err:
        raise ExpertError(f"{path} is not a readable safetensors file ({err})") from err
    expert = _from_metadata(path, meta, z)
    _check_finite(expert)
    return expert


def _from_metadata(path: Path, meta: dict, z: dict) -> Expert:
    if meta.get("format") != FORMAT:
        raise ExpertError(f"{path} is not a t2eval expert file (format={meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ExpertError(f"{path} has expert format version {meta.get('format_version')!r}; "
                          f"this t2eval reads version {FORMAT_VERSION}. Upgrade t2eval.")
    missing = [k for k in ("base_model", "base_fingerprint", "targets", "rescale") if k not in meta]
    if missing:
        raise ExpertError(f"{path} lacks metadata fields {missing}")
    try:
        return Expert(z, meta["base_model"], meta["base_fingerprint"], meta["targets"],
                      json.loads(meta["rescale"]), meta.get("name", path.stem), meta.get("label", ""),
                      json.loads(meta.get("provenance", "{}")), source=str(path))
    except ValueError as err:
        raise ExpertError(f"{path} has malformed metadata: {err}") from err


def _check_finite(expert: Expert) -> None:
    bad = [name for name, v in expert.z.items() if not torch.isfinite(v).all()]
    if bad:
        raise ExpertError(f"expert {expert.source} has non-finite values in {len(bad)} vector(s), "
                          f"e.g. {bad[0]}")


def check_compatible(expert: Expert, decomposition, allow_foreign: bool = False) -> None:
    """Raise ``ExpertError`` unless ``expert`` fits ``decomposition`` exactly.

    A different base fingerprint is refused unless ``allow_foreign`` (cross-model transfer,
    the paper's Table 5); vector names and shapes must always match.
    """
    where = expert.source
    if expert.base_fingerprint != decomposition.base_fingerprint and not allow_foreign:
        raise ExpertError(
            f"expert {where} was made for base model '{expert.base_model}' "
            f"(fingerprint {expert.base_fingerprint[:12]}) but the loaded model has fingerprint "
            f"{decomposition.base_fingerprint[:12]}; load the right base model, or pass "
            "allow_foreign=True to transfer it across models on purpose")
    names, wanted = set(expert.z), set(decomposition.names)
    if names != wanted:
        missing, extra = sorted(wanted - names), sorted(names - wanted)
        raise ExpertError(f"expert {where} does not match the decomposed targets: "
                          f"{len(missing)} missing (e.g. {missing[:2]}), {len(extra)} extra "
                          f"(e.g. {extra[:2]}); it was made with targets '{expert.targets}'")
    for name in decomposition.names:
        if expert.z[name].shape != (decomposition.rank(name),):
            raise ExpertError(f"expert {where}: vector {name} has shape {tuple(expert.z[name].shape)}, "
                              f"expected ({decomposition.rank(name)},)")


def shuffled(expert: Expert, seed: int = 0) -> Expert:
    """The paper's cross-model control: each z vector randomly permuted (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    z = {name: v[torch.randperm(v.numel(), generator=gen)] for name, v in expert.z.items()}
    return expert.with_z(z, name=f"{expert.name}-shuffled",
                         provenance={"kind": "shuffled", "of": expert.fingerprint, "seed": seed})
