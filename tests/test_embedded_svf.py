"""SVF on real weights: the embedded SmolLM2-135M-Instruct and Gemma 3 270M (float32)."""

from __future__ import annotations

import pytest
import torch

from t2eval.svf import SVFAdapter, decompose, ones_expert

pytestmark = pytest.mark.slow

#: per model: targets -> projections decomposed per layer
TARGETS = {"mlp": ("gate_proj", "up_proj", "down_proj"),
           "attn": ("q_proj", "v_proj")}  # the paper's attention targets


@pytest.mark.parametrize("targets", ["mlp", "attn"])
def test_z_one_reproduces_logits_and_removal_restores(real_model, targets):
    alias, model, tokenizer = real_model
    ids = tokenizer(["Janet has 3 apples and buys 5 more. How many apples does she have now?"] * 2,
                    return_tensors="pt").input_ids
    with torch.no_grad():
        base = model(ids).logits
    dec = decompose(model, targets, progress=False)
    layers = model.config.num_hidden_layers
    shapes = [m.weight.shape for name, m in model.named_modules() if name.split(".")[-1] in TARGETS[targets]]
    assert len(shapes) == layers * len(TARGETS[targets])  # every layer's projections, nothing else
    assert dec.num_params == sum(min(s) for s in shapes)
    adapter = SVFAdapter(model, dec)
    identity = ones_expert(dec, alias, targets)
    with adapter.applied(identity), torch.no_grad():
        assert (model(ids).logits - base).abs().max().item() <= 2e-4 * max(1.0, base.abs().max().item() / 30)
    bumped = identity.with_z({n: torch.where(torch.arange(v.numel()) < 8, 1.2, 1.0)
                              for n, v in identity.z.items()})
    with adapter.applied(bumped), torch.no_grad():
        assert (model(ids).logits - base).abs().max().item() > 1e-2
    with torch.no_grad():
        assert torch.equal(model(ids).logits, base)


def test_the_two_models_differ_where_the_code_must_not_assume_llama(real_model):
    """What Gemma brings that SmolLM2 does not (so the test above covers it): tied embeddings,
    q/k norms, GELU gating, sliding-window layers, a BOS the tokenizer must add."""
    alias, model, tokenizer = real_model
    ids = tokenizer("Hello").input_ids
    if alias == "gemma3-270m":
        assert model.config.tie_word_embeddings and "sliding_attention" in model.config.layer_types
        assert hasattr(model.model.layers[0].self_attn, "q_norm")
        assert ids[0] == tokenizer.bos_token_id  # the GGUF's add_bos_token, kept by the conversion
        assert tokenizer.chat_template is None  # a pre-trained model: prompts stay plain
    else:
        assert model.config.model_type == "llama" and tokenizer.chat_template
