"""`t2eval check` on the embedded model: bounds are measured, kept, and a perturbed,
foreign or corrupted expert turns the gate red with a message naming what failed."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]

GATE = """model = "smollm2-135m-instruct"

[experts.reasoning]
task = "arc_easy_t2"
limit = {limit}
nll_docs = 6
"""


@pytest.fixture(scope="module")
def expert(embedded):
    from t2eval.svf import decompose, ones_expert

    model, _ = embedded
    base = ones_expert(decompose(model, "mlp", progress=False), "smollm2-135m-instruct", "mlp")
    gen = torch.Generator().manual_seed(0)
    return base.with_z({n: 1 + 0.01 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()},
                       name="reasoning", label="reasoning")


@pytest.fixture
def gate(tmp_path, expert, monkeypatch):
    from t2eval.svf import save_expert

    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    save_expert(expert, tmp_path / "reasoning.safetensors")
    path = tmp_path / "quality.toml"
    path.write_text(GATE.format(limit=0))
    return path


def _gate(path, update=False):
    from t2eval.quality import run_gate

    return run_gate(path, update=update, say=lambda msg: None)


def test_measured_bounds_pass_and_a_perturbed_expert_fails(gate, expert):
    from t2eval.quality import read_gate
    from t2eval.svf import save_expert

    gate.write_text(GATE.format(limit=4))
    assert _gate(gate, update=True) == []
    _, [bound] = read_gate(gate)
    rec = bound.recorded
    assert rec["fingerprint"] == expert.fingerprint and rec["nll_max"] > rec["nll"] > 0
    assert 0 <= rec["min"] <= rec["score"] and "base" in rec and "nll_base" in rec
    assert _gate(gate) == []                                           # unchanged expert: green

    gen = torch.Generator().manual_seed(1)
    worse = expert.with_z({n: v * (1 + 0.5 * torch.randn(v.shape, generator=gen)) for n, v in expert.z.items()})
    save_expert(worse, gate.parent / "reasoning.safetensors")
    [failure] = _gate(gate)
    assert "changed since its bounds were measured" in str(failure)  # a new file needs new bounds
    text = gate.read_text().replace(f'fingerprint = "{expert.fingerprint}"', f'fingerprint = "{worse.fingerprint}"')
    gate.write_text(text.replace("limit = 4", "limit = 0"))  # the NLL bound alone (the score slice is slow)
    failures = [str(f) for f in _gate(gate)]
    assert any("reasoning" in f and "arc_easy_t2" in f and "NLL" in f and "> bound" in f for f in failures), failures


def test_foreign_and_corrupted_experts_fail_clearly(gate, expert):
    from dataclasses import replace

    from t2eval.svf import save_expert

    save_expert(replace(expert, base_fingerprint="0" * 64), gate.parent / "reasoning.safetensors")
    [failure] = _gate(gate)
    assert "was made for base weights 000000000000" in str(failure)
    (gate.parent / "reasoning.safetensors").write_bytes(b"not a safetensors file")
    [failure] = _gate(gate)
    assert "cannot load" in str(failure) and "reasoning.safetensors" in str(failure)


def test_cli_exit_code_and_message(gate, expert, tmp_path):
    from click.testing import CliRunner

    from t2eval.cli import main
    from t2eval.svf import save_expert

    assert _gate(gate, update=True) == []
    runner = CliRunner()
    ok = runner.invoke(main, ["check", "--gate", str(gate)])
    assert ok.exit_code == 0 and "ok: every expert" in ok.output
    save_expert(expert.with_z({n: v ** 2 for n, v in expert.z.items()}), gate.parent / "reasoning.safetensors")
    bad = runner.invoke(main, ["check", "--gate", str(gate)])
    assert bad.exit_code == 1 and "FAIL reasoning" in bad.output
    missing = runner.invoke(main, ["check", "--gate", str(tmp_path / "none.toml")])
    assert missing.exit_code != 0 and "t2eval check --update" in missing.output


def test_stock_multiple_choice_task_gate(gate, expert):
    """An expert of a stock lm-eval multiple-choice task (--objective choice): its score slice
    runs without the chat template, its NLL is the gold choice's under the choice policy, and
    its bound is never below base."""
    from t2eval.quality import read_gate

    gate.write_text('model = "smollm2-135m-instruct"\n\n[experts.reasoning]\ntask = "arc_easy"\n'
                    "chat = false\nlimit = 4\nnll_docs = 4\n")
    assert _gate(gate, update=True) == []
    _, [bound] = read_gate(gate)
    rec = bound.recorded
    assert bound.chat is False and rec["chat"] is False
    assert rec["min"] >= rec["base"] and rec["min"] <= rec["score"]
    assert 0 < rec["nll"] < 10 and 0 < rec["nll_base"] < 10
    assert _gate(gate) == []


def test_validation_gate_measures_and_checks_off_the_test_split(gate, expert):
    """split = "validation": the slices come from ARC-Easy's own validation split, measured
    in-process with lm-eval's log-likelihood choice; the bound is written with its split."""
    from t2eval.quality import read_gate

    gate.write_text('model = "smollm2-135m-instruct"\n\n[experts.reasoning]\ntask = "arc_easy"\nsplit = "validation"\n'
                    "chat = false\nlimit = 6\nnll_docs = 4\n")
    assert _gate(gate, update=True) == []
    _, [bound] = read_gate(gate)
    assert bound.split == "validation" and bound.recorded["split"] == "validation"
    assert bound.recorded["min"] >= bound.recorded["base"]
    assert _gate(gate) == []


def test_a_bad_split_is_refused(gate):
    from t2eval.quality import GateError, read_gate

    gate.write_text('[experts.reasoning]\ntask = "arc_easy"\nsplit = "dev"\n')
    with pytest.raises(GateError, match="split = 'dev': expected one of validation, test"):
        read_gate(gate)
