"""SVF math on a tiny random Llama: identity, composition, rescale, mixing, gradients."""

from __future__ import annotations

import pytest
import torch

from t2eval.svf import (SVFAdapter, decompose, mix_experts, ones_expert, select_targets)


def _logits(model, tokens):
    with torch.no_grad():
        return model(tokens).logits


def _random_expert(dec, seed, targets="mlp", rescale=True, spread=0.3):
    gen = torch.Generator().manual_seed(seed)
    base = ones_expert(dec, "tiny", targets, rescale)
    z = {n: 1 + spread * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
    return base.with_z(z, name=f"random{seed}")


@pytest.fixture
def setup(tiny_model):
    dec = decompose(tiny_model, "mlp", progress=False)
    return tiny_model, dec, SVFAdapter(tiny_model, dec)


def test_identity_expert_reproduces_base_exactly(setup, tokens):
    model, dec, adapter = setup
    base = _logits(model, tokens)
    with adapter.applied(ones_expert(dec, "tiny", "mlp")):
        assert torch.equal(_logits(model, tokens), base)


def test_applied_weight_is_u_diag_sigma_z_vt(setup):
    model, dec, adapter = setup
    expert = _random_expert(dec, 0, rescale=False)
    adapter.apply(expert)
    for name, f in dec.factors.items():
        expected = f.U @ torch.diag(f.S * expert.z[name]) @ f.Vh
        torch.testing.assert_close(model.get_submodule(name).weight, expected, atol=1e-5, rtol=1e-4)


def test_rescale_makes_uniform_scaling_a_no_op(setup, tokens):
    model, dec, adapter = setup
    expert = _random_expert(dec, 1)
    doubled = expert.with_z({n: 2 * v for n, v in expert.z.items()})
    with adapter.applied(expert):
        once = _logits(model, tokens)
    with adapter.applied(doubled):
        torch.testing.assert_close(_logits(model, tokens), once, atol=1e-5, rtol=1e-5)
    raw = expert.with_z(expert.z, rescale=False)
    raw_doubled = doubled.with_z(doubled.z, rescale=False)
    with adapter.applied(raw):
        a = _logits(model, tokens)
    with adapter.applied(raw_doubled):
        assert not torch.allclose(_logits(model, tokens), a, atol=1e-3)


def test_expert_changes_output_and_remove_restores_bits(setup, tokens):
    model, dec, adapter = setup
    before = {n: (m.weight.data.clone(), m.weight.data_ptr()) for n, m in adapter.modules.items()}
    base = _logits(model, tokens)
    adapter.apply(_random_expert(dec, 2))
    assert not torch.allclose(_logits(model, tokens), base, atol=1e-4)
    adapter.remove()
    for name, module in adapter.modules.items():
        assert torch.equal(module.weight.data, before[name][0])
        assert module.weight.data_ptr() == before[name][1]
    assert torch.equal(_logits(model, tokens), base)


def test_applied_is_exception_safe_and_nests(setup, tokens):
    model, dec, adapter = setup
    first, second = _random_expert(dec, 3), _random_expert(dec, 4)
    base = _logits(model, tokens)
    with adapter.applied(first):
        with_first = _logits(model, tokens)
        with pytest.raises(RuntimeError):
            with adapter.applied(second):
                raise RuntimeError("boom")
        assert torch.equal(_logits(model, tokens), with_first)
        assert adapter.active == "random3"
        with adapter.applied(None):
            assert torch.equal(_logits(model, tokens), base)
    assert adapter.active is None
    assert torch.equal(_logits(model, tokens), base)


def test_switching_experts_does_not_recompute_svd(setup, tokens, monkeypatch):
    model, dec, adapter = setup
    first, second = _random_expert(dec, 5), _random_expert(dec, 6)
    adapter.apply(second)
    want = _logits(model, tokens)
    adapter.remove()

    def no_svd(*args, **kwargs):
        raise AssertionError("SVD recomputed")

    monkeypatch.setattr(torch.linalg, "svd", no_svd)
    adapter.apply(first)
    adapter.apply(second)  # switch directly, no remove in between
    assert torch.equal(_logits(model, tokens), want)


@pytest.mark.parametrize("granularity", ["expert", "layer", "matrix"])
def test_mixing_is_linear_and_fast_path_matches(setup, tokens, granularity):
    model, dec, adapter = setup
    experts = [_random_expert(dec, s, rescale=False) for s in (7, 8, 9)]
    names = list(dec.names) if granularity == "matrix" else None
    if granularity == "matrix":  # one column per targeted matrix, in decomposition order
        alpha = torch.rand(3, len(names), generator=torch.Generator().manual_seed(3))
    else:
        alpha = torch.tensor([[0.2, 0.7], [0.5, 0.1], [0.3, 0.4]]) if granularity == "layer" else torch.tensor([0.2, 0.5, 0.6])

    def column(name):
        if granularity == "matrix":
            return alpha[:, names.index(name)]
        return alpha[:, int(name.split(".")[2])] if granularity == "layer" else alpha

    mixed = mix_experts(experts, alpha, names=names)
    for name in dec.names:  # z' = sum_k alpha_k z_k
        torch.testing.assert_close(mixed.z[name], sum(a * e.z[name] for a, e in zip(column(name), experts)))
    adapter.apply(mixed)
    slow = {n: m.weight.data.clone() for n, m in adapter.modules.items()}
    slow_logits = _logits(model, tokens)
    for name in dec.names:  # W(z') = sum_k alpha_k W(z_k)
        parts = []
        for e in experts:
            adapter.apply(e)
            parts.append(adapter.modules[name].weight.data.clone())
        torch.testing.assert_close(slow[name], sum(a * w for a, w in zip(column(name), parts)), atol=1e-5, rtol=1e-4)
    adapter.apply_mix(adapter.merged_bank(experts), alpha, per_matrix=granularity == "matrix")
    torch.testing.assert_close(_logits(model, tokens), slow_logits, atol=1e-5, rtol=1e-4)


def test_per_matrix_alpha_of_the_wrong_width_is_refused(setup):
    _, dec, adapter = setup
    experts = [_random_expert(dec, s, rescale=False) for s in (1, 2)]
    with pytest.raises(ValueError, match=f"per-matrix alpha must have shape \\(K, {len(dec.names)}\\)"):
        adapter.apply_mix(adapter.merged_bank(experts), torch.ones(2, len(dec.names) + 1), per_matrix=True)
    with pytest.raises(ValueError, match="one per targeted matrix"):
        mix_experts(experts, torch.ones(2, 3), names=list(dec.names))


def test_fast_mix_with_rescale_matches_recomposed(setup, tokens):
    model, dec, adapter = setup
    experts = [_random_expert(dec, s) for s in (10, 11)]
    alpha = torch.tensor([0.3, 0.9])
    with adapter.applied(mix_experts(experts, alpha)):
        slow = _logits(model, tokens)
    adapter.apply_mix(adapter.merged_bank(experts), alpha)
    torch.testing.assert_close(_logits(model, tokens), slow, atol=1e-5, rtol=1e-4)


def test_gradients_reach_z_only_and_training_leaves_no_trace(setup, tokens):
    model, dec, adapter = setup
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    z = {n: torch.nn.Parameter(torch.ones(dec.rank(n))) for n in dec.names}
    with adapter.trainable(z):
        loss = model(tokens, labels=tokens).loss
        loss.backward()
        torch.optim.SGD(z.values(), lr=0.5).step()
        after_step = model(tokens, labels=tokens).loss
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in z.values())
    assert all(p.grad is None for p in model.parameters())
    assert after_step.item() != loss.item()  # the step changed z and so the model
    assert all(p.requires_grad for p in model.parameters())  # flags restored
    for name, p in model.named_parameters():
        assert torch.equal(p, base[name]), name
    assert not any("parametrizations" in n for n, _ in model.named_parameters())


def test_trainable_at_ones_equals_base(setup, tokens):
    model, dec, adapter = setup
    base = _logits(model, tokens)
    z = {n: torch.nn.Parameter(torch.zeros(dec.rank(n))) for n in dec.names}
    with adapter.trainable(z, transform=lambda v: 1 + v, factored=False):
        assert torch.equal(_logits(model, tokens), base)  # recomposed: W + U diag(S·0) Vh = W
    with adapter.trainable(z, transform=lambda v: 1 + v, factored=True):
        torch.testing.assert_close(_logits(model, tokens), base, atol=1e-5, rtol=1e-5)  # SVD round-off


@pytest.mark.parametrize("rescale", [True, False])
def test_factored_and_recomposed_routes_agree_on_loss_and_z_gradient(setup, tokens, rescale):
    model, dec, adapter = setup
    gen = torch.Generator().manual_seed(3)
    init = {n: 1 + 0.3 * torch.randn(dec.rank(n), generator=gen) for n in dec.names}
    results = []
    for factored in (False, True):
        z = {n: torch.nn.Parameter(v.clone()) for n, v in init.items()}
        with adapter.trainable(z, rescale=rescale, transform=torch.nn.functional.softplus, factored=factored):
            loss = model(tokens, labels=tokens).loss
            loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in z.items()}))
    (loss_r, grad_r), (loss_f, grad_f) = results
    torch.testing.assert_close(loss_f, loss_r, atol=1e-5, rtol=1e-5)
    for name in dec.names:
        torch.testing.assert_close(grad_f[name], grad_r[name], atol=1e-6, rtol=1e-3)
    assert all(type(m).forward is m.forward.__func__ for m in adapter.modules.values())  # forwards restored


def test_trainable_leaves_a_hooked_forward_alone(setup, tokens):
    model, dec, adapter = setup
    name = dec.names[0]
    module = adapter.modules[name]
    calls = []

    def hooked(x, _forward=module.forward):  # what accelerate's device hooks install
        calls.append(1)
        return _forward(x)
    module.forward = hooked
    try:
        z = {n: torch.nn.Parameter(torch.ones(dec.rank(n))) for n in dec.names}
        with adapter.trainable(z, factored=True):
            model(tokens).logits.sum().backward()
        assert calls and module.forward is hooked and z[name].grad is not None
    finally:
        del module.forward


def test_trainable_picks_the_cheaper_route_per_matrix_shape():
    from t2eval.svf.factors import Factors

    def factors(m, n):
        r = min(m, n)
        return Factors(torch.zeros(m, r), torch.ones(r), torch.zeros(r, n))
    assert factors(1536, 576).factored_is_cheaper() and factors(576, 1536).factored_is_cheaper()  # MLP
    assert not factors(576, 576).factored_is_cheaper()                                            # q_proj
    assert factors(192, 576).factored_is_cheaper()                                                # k/v_proj


def test_target_presets(tiny_model):
    mlp = select_targets(tiny_model, "mlp")
    attn = select_targets(tiny_model, "attn")
    assert len(mlp) == 6 and all(n.endswith(("gate_proj", "up_proj", "down_proj")) for n in mlp)
    assert len(attn) == 4 and all(n.endswith(("q_proj", "v_proj")) for n in attn)
    assert len(select_targets(tiny_model, "all")) == 14
    assert "lm_head" not in select_targets(tiny_model, "all")
