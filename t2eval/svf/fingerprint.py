"""Weight fingerprints: short hashes that tell models (and SVD caches) apart.

Hashing every byte of an 8B model would take minutes, so each tensor contributes its
name, shape and a fixed strided sample of its values rounded to bfloat16. Rounding makes
the fingerprint the same whether a bf16 checkpoint is loaded in bf16 or float32; any
retraining or different checkpoint changes the sampled values.
"""

from __future__ import annotations

import hashlib

SAMPLES_PER_TENSOR = 16384


def _tensor_bytes(tensor) -> bytes:
    import torch

    flat = tensor.detach().reshape(-1)
    step = max(1, flat.numel() // SAMPLES_PER_TENSOR)
    sample = flat[::step][:SAMPLES_PER_TENSOR].to("cpu", torch.bfloat16)
    return sample.view(torch.int16).numpy().tobytes()


def tensors_fingerprint(named_tensors) -> str:
    """sha256 hex digest over ``(name, tensor)`` pairs (order-independent)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(named_tensors, key=lambda item: item[0]):
        digest.update(f"{name}:{tuple(tensor.shape)};".encode())
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()


def model_fingerprint(model) -> str:
    """Fingerprint of every parameter of ``model`` (tied weights counted once)."""
    return tensors_fingerprint(model.named_parameters())
