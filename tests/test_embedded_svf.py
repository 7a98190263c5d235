"""SVF on the real embedded model (SmolLM2-135M-Instruct, float32)."""

from __future__ import annotations

import pytest
import torch

from t2eval.svf import SVFAdapter, decompose, ones_expert

pytestmark = pytest.mark.slow


def test_z_one_reproduces_embedded_logits_and_removal_restores(embedded):
    model, tokenizer = embedded
    ids = tokenizer(["Janet has 3 apples and buys 5 more. How many apples does she have now?"] * 2,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        base = model(ids).logits
    dec = decompose(model, "mlp", progress=False)
    assert dec.num_params == 30 * (576 + 576 + 576)
    adapter = SVFAdapter(model, dec)
    identity = ones_expert(dec, "smollm2-135m-instruct", "mlp")
    with adapter.applied(identity), torch.no_grad():
        assert (model(ids).logits - base).abs().max().item() <= 1e-4
    bumped = identity.with_z({n: torch.where(torch.arange(v.numel()) < 8, 1.2, 1.0)
                              for n, v in identity.z.items()})
    with adapter.applied(bumped), torch.no_grad():
        assert (model(ids).logits - base).abs().max().item() > 1e-2
    with torch.no_grad():
        assert torch.equal(model(ids).logits, base)
