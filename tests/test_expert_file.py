"""The expert file format: round trip, atomic writes, and every bad-file case."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from t2eval.svf import (ExpertError, SVFAdapter, check_compatible, decompose, load_expert,
                        ones_expert, save_expert, shuffled)

from conftest import make_tiny_llama


@pytest.fixture
def dec(tiny_model):
    return decompose(tiny_model, "mlp", progress=False)


@pytest.fixture
def expert(dec):
    base = ones_expert(dec, "tiny-llama", "mlp")
    gen = torch.Generator().manual_seed(0)
    z = {n: 1 + 0.1 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
    return base.with_z(z, name="math", label="math", provenance={"kind": "trained", "run": "r1"})


def _rewrite(path, mutate_tensors=None, mutate_meta=None):
    """Rewrite an expert file with edited tensors/metadata (simulating a bad file)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if mutate_tensors:
        mutate_tensors(tensors)
    if mutate_meta:
        mutate_meta(meta)
    save_file(tensors, str(path), metadata=meta)


def test_round_trip_keeps_values_and_metadata(expert, dec, tmp_path):
    path = save_expert(expert, tmp_path / "math.safetensors")
    loaded = load_expert(path)
    assert loaded.name == "math" and loaded.label == "math" and loaded.rescale is True
    assert loaded.base_fingerprint == dec.base_fingerprint and loaded.targets == "mlp"
    assert loaded.provenance == {"kind": "trained", "run": "r1"}
    assert loaded.fingerprint == expert.fingerprint
    assert all(torch.equal(loaded.z[n], expert.z[n]) for n in expert.z)
    check_compatible(loaded, dec)
    assert [p.name for p in tmp_path.iterdir()] == ["math.safetensors"]  # no temp file left


def test_failed_write_leaves_old_file_intact(expert, tmp_path):
    path = save_expert(expert, tmp_path / "e.safetensors")
    before = path.read_bytes()
    broken = expert.with_z({n: v.clone() for n, v in expert.z.items()})
    next(iter(broken.z.values()))[0] = float("nan")
    with pytest.raises(ExpertError, match="non-finite"):
        save_expert(broken, path)
    assert path.read_bytes() == before
    assert len(list(tmp_path.iterdir())) == 1


def test_foreign_base_model_is_refused_unless_asked(expert, tmp_path):
    path = save_expert(expert, tmp_path / "e.safetensors")
    other = make_tiny_llama(seed=1)
    other_dec = decompose(other, "mlp", progress=False)
    with pytest.raises(ExpertError, match=r"e\.safetensors.*made for base model 'tiny-llama'"):
        SVFAdapter(other, other_dec).apply(load_expert(path))
    SVFAdapter(other, other_dec).apply(load_expert(path), allow_foreign=True)


@pytest.mark.parametrize("case, pattern", [
    ("missing", "1 missing"),
    ("extra", "1 extra"),
    ("shape", "has shape"),
])
def test_mismatched_vectors_are_named(expert, dec, tmp_path, case, pattern):
    path = save_expert(expert, tmp_path / "e.safetensors")
    first = dec.names[0]

    def mutate(tensors):
        if case == "missing":
            del tensors[first]
        elif case == "extra":
            tensors["model.layers.9.mlp.up_proj"] = torch.ones(4)
        else:
            tensors[first] = torch.ones(3)

    _rewrite(path, mutate_tensors=mutate)
    with pytest.raises(ExpertError, match=f"e.safetensors.*{pattern}"):
        check_compatible(load_expert(path), dec)


def test_non_finite_values_in_file_are_refused(expert, tmp_path):
    path = save_expert(expert, tmp_path / "e.safetensors")
    _rewrite(path, mutate_tensors=lambda t: next(iter(t.values())).__setitem__(0, float("inf")))
    with pytest.raises(ExpertError, match="e.safetensors has non-finite"):
        load_expert(path)


@pytest.mark.parametrize("edit, pattern", [
    (lambda m: m.update(format="something-else"), "not a t2eval expert file"),
    (lambda m: m.update(format_version="99"), "format version '99'"),
    (lambda m: m.pop("base_fingerprint"), "lacks metadata fields"),
    (lambda m: m.update(provenance="{not json"), "malformed metadata"),
])
def test_bad_metadata_is_named(expert, tmp_path, edit, pattern):
    path = save_expert(expert, tmp_path / "e.safetensors")
    _rewrite(path, mutate_meta=edit)
    with pytest.raises(ExpertError, match=pattern):
        load_expert(path)


def test_garbage_and_missing_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ExpertError, match="junk.safetensors is not a readable safetensors file"):
        load_expert(junk)
    with pytest.raises(ExpertError, match="does not exist"):
        load_expert(tmp_path / "nope.safetensors")


def test_shuffled_is_a_seeded_permutation(expert):
    a, b, c = shuffled(expert, seed=0), shuffled(expert, seed=0), shuffled(expert, seed=1)
    for name, v in expert.z.items():
        assert torch.equal(a.z[name], b.z[name])
        assert torch.equal(a.z[name].sort().values, v.sort().values)
    assert any(not torch.equal(a.z[n], c.z[n]) for n in expert.z)
    assert not any(torch.equal(a.z[n], expert.z[n]) for n in expert.z)
    assert json.dumps(a.provenance)
