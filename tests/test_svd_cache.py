"""The on-disk SVD cache: reuse, and rejection of stale, foreign or broken files."""

from __future__ import annotations

import shutil

import pytest
import torch

from t2eval.svf import TargetError, decompose, select_targets
from t2eval.svf.factors import _cache_path

from conftest import make_tiny_llama


def _forbid_svd(monkeypatch):
    def no_svd(*args, **kwargs):
        raise AssertionError("SVD recomputed")

    monkeypatch.setattr(torch.linalg, "svd", no_svd)


def test_second_decompose_loads_the_cache(tiny_model, tmp_path, monkeypatch):
    first = decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("svd-*.safetensors"))) == 1
    _forbid_svd(monkeypatch)
    second = decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    assert second.key == first.key
    for name in first.names:
        assert torch.equal(first.factors[name].S, second.factors[name].S)


def test_key_depends_on_weights_targets_and_dtype(tmp_path):
    a, b = make_tiny_llama(seed=0), make_tiny_llama(seed=1)
    keys = {decompose(a, "mlp", cache_dir=tmp_path, progress=False).key,
            decompose(b, "mlp", cache_dir=tmp_path, progress=False).key,
            decompose(a, "attn", cache_dir=tmp_path, progress=False).key,
            decompose(a.to(torch.bfloat16), "mlp", cache_dir=tmp_path, progress=False).key}
    assert len(keys) == 4


def test_foreign_cache_is_rejected_and_recomputed(tmp_path, caplog):
    a, b = make_tiny_llama(seed=0), make_tiny_llama(seed=1)
    dec_a = decompose(a, "mlp", cache_dir=tmp_path, progress=False)
    dec_b = decompose(b, "mlp", cache_dir=tmp_path / "other", progress=False)
    # plant model a's cache where model b's belongs
    shutil.copy(_cache_path(tmp_path, dec_a.key), _cache_path(tmp_path, dec_b.key))
    again = decompose(b, "mlp", cache_dir=tmp_path, progress=False)
    assert "rejecting SVD cache" in caplog.text
    assert torch.equal(again.factors[again.names[0]].S, dec_b.factors[dec_b.names[0]].S)


def test_stale_cache_with_matching_key_fails_spot_check(tiny_model, tmp_path, caplog, monkeypatch):
    dec = decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    # weights edited in a way the sampled fingerprint cannot see: force the same key
    monkeypatch.setattr("t2eval.svf.factors.cache_key", lambda *a: dec.key)
    with torch.no_grad():
        tiny_model.get_submodule(dec.names[0]).weight.mul_(1.5)
    fresh = decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    out = caplog.text
    assert "do not reproduce the live weights" in out
    torch.testing.assert_close(fresh.factors[dec.names[0]].S, dec.factors[dec.names[0]].S * 1.5)


def test_truncated_cache_is_rejected(tiny_model, tmp_path, caplog):
    dec = decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    path = _cache_path(tmp_path, dec.key)
    path.write_bytes(path.read_bytes()[:1000])
    decompose(tiny_model, "mlp", cache_dir=tmp_path, progress=False)
    assert "unreadable" in caplog.text
    assert path.stat().st_size > 1000  # rewritten whole


def test_bad_target_specs_say_what_to_do(tiny_model):
    with pytest.raises(TargetError, match="did you mean 'mlp'"):
        select_targets(tiny_model, "mpl")
    with pytest.raises(TargetError, match="matches no linear layer.*q_proj"):
        select_targets(tiny_model, r"\.c_attn$")
    with pytest.raises(TargetError, match="not a valid regular expression"):
        select_targets(tiny_model, "q_proj(")
