"""Shared fixtures: a tiny random Llama for the math, the real embedded model for e2e."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Benchmark data: $T2EVAL_DATA_DIR, else ../shared/datasets beside the repo."""
    return Path(os.environ.get("T2EVAL_DATA_DIR") or REPO.parent / "shared" / "datasets")


def make_tiny_llama(seed: int = 0, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=96,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128)
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def tiny_model():
    return make_tiny_llama()


@pytest.fixture
def tokens():
    return torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(1))


@pytest.fixture
def tiny_hf_folder(tmp_path):
    """A 2-layer random Llama saved with the embedded model's tokenizer (HFLM needs one)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from t2eval.models import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=96,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests write SVD caches into a temporary folder, never the user's cache. The
    embedded model's converted folder is shared through a link to the real cache's
    models/, so end-to-end tests do not convert it again."""
    from t2eval.models import cache_root

    real = cache_root()
    tmp = tmp_path_factory.mktemp("t2eval-cache")
    (real / "models").mkdir(parents=True, exist_ok=True)
    (tmp / "models").symlink_to(real / "models", target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("T2EVAL_CACHE", str(tmp))
        yield tmp


@pytest.fixture(scope="session")
def embedded():
    """(model, tokenizer) of the real embedded SmolLM2-135M-Instruct, float32."""
    from t2eval.models import load_model

    return load_model("smollm2-135m-instruct")


#: The real models the slow tests run on: the default (Llama family) and Gemma 3 270M (gated
#: GELU MLP, tied embeddings, q/k norms, sliding-window layers; `scripts/install.sh gemma`).
REAL_MODELS = ("smollm2-135m-instruct", "gemma3-270m")
_loaded: dict = {}


def have_embedded(alias: str) -> bool:
    """Whether the PyPI package holding ``alias``'s GGUF is installed."""
    import importlib.util

    from t2eval.models import EMBEDDED

    return importlib.util.find_spec(EMBEDDED[alias].package) is not None


@pytest.fixture(scope="session", params=REAL_MODELS)
def real_model(request, embedded):
    """(alias, model, tokenizer) of each real model, float32; Gemma is skipped when its packages
    are not installed (`scripts/install.sh gemma`)."""
    from t2eval.models import load_model

    alias = request.param
    if alias == REAL_MODELS[0]:
        return (alias, *embedded)
    if not have_embedded(alias):
        pytest.skip(f"{alias} is not installed (scripts/install.sh gemma)")
    if alias not in _loaded:
        _loaded[alias] = load_model(alias)
    return (alias, *_loaded[alias])
