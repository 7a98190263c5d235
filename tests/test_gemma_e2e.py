"""Gemma 3 270M (alias gemma3-270m) end to end: the alias resolves offline from the installed PyPI
packages, and `lm_eval --model t2 --model_args pretrained=gemma3-270m` runs through lm-eval with
and without experts. Skipped when the packages are not installed (`scripts/install.sh gemma`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import data_dir, have_embedded

ALIAS = "gemma3-270m"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not have_embedded(ALIAS), reason=f"{ALIAS} is not installed (scripts/install.sh gemma)"),
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, T2EVAL_DATA_DIR=str(data_dir()), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")


def _lm_eval(env, model: str, model_args: str, out, limit: int = 8) -> dict:
    cmd = [sys.executable, "-m", "lm_eval", "--model", model, "--model_args", model_args, "--tasks", "arc_easy",
           "--limit", str(limit), "--log_samples", "--output_path", str(out), "--device", "cpu", "--batch_size", "8"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(max(out.rglob("results_*.json"), key=lambda p: p.stat().st_mtime).read_text())
    samples = [json.loads(line) for line in max(out.rglob("samples_arc_easy_*.jsonl"),
                                                key=lambda p: p.stat().st_mtime).read_text().splitlines()]
    return results, samples


def _lls(samples) -> list[float]:
    """Every choice's log-likelihood, in document order."""
    return [float(resp[0][0]) for s in samples for resp in s["resps"]]


def test_model_path_resolves_the_alias_offline(env):
    from click.testing import CliRunner

    from t2eval.cli import main
    from t2eval.models import verify_folder

    result = CliRunner(env={"HF_HUB_OFFLINE": "1"}).invoke(main, ["model", "path", ALIAS], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    folder = result.output.strip().splitlines()[-1]
    assert verify_folder(Path(folder)) and json.loads((Path(folder) / "config.json").read_text())["model_type"] \
        == "gemma3_text"


def test_t2_on_gemma_equals_hf_without_experts_and_applies_an_expert(env, tmp_path):
    """No experts for the alias: t2 answers with the base weights, exactly as --model hf; with an
    expert library (here: one random reasoning expert) the expert is applied and changes scores."""
    from t2eval.models import load_model, resolve_model_path
    from t2eval.svf import decompose, ones_expert, save_expert

    hf, hf_samples = _lm_eval(env, "hf", f"pretrained={resolve_model_path(ALIAS)}", tmp_path / "hf")
    empty = tmp_path / "no-experts"
    empty.mkdir()
    t2, t2_samples = _lm_eval(env, "t2", f"pretrained={ALIAS},experts={empty}", tmp_path / "t2")
    assert _lls(t2_samples) == pytest.approx(_lls(hf_samples), abs=1e-3)  # t2 runs each shared context once
    assert t2["results"]["arc_easy"]["acc,none"] == hf["results"]["arc_easy"]["acc,none"]

    model, _ = load_model(ALIAS)
    base = ones_expert(decompose(model, "mlp", progress=False), ALIAS, "mlp")
    gen = torch.Generator().manual_seed(0)
    folder = tmp_path / "experts"
    folder.mkdir()
    save_expert(base.with_z({n: 1 + 0.3 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()},
                            name="reasoning", label="reasoning"), folder / "reasoning.safetensors")
    adapted, adapted_samples = _lm_eval(env, "t2", f"pretrained={ALIAS},experts={folder},strategy=expert:reasoning",
                                        tmp_path / "t2x")
    assert max(abs(a - b) for a, b in zip(_lls(adapted_samples), _lls(hf_samples))) > 0.1
    info = adapted["config"]["t2"]
    assert info["strategy"] == "expert:reasoning" and set(info["experts"]) == {"reasoning"}
