"""The `t2` backend end to end on the embedded model, through lm-eval itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]

ARC_GEN = "max_gen_toks=8"  # an option letter
GSM_GEN = "max_gen_toks=32"


@pytest.fixture(scope="module")
def env():
    env = dict(os.environ, T2EVAL_DATA_DIR=str(data_dir()), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    os.environ.update(T2EVAL_DATA_DIR=env["T2EVAL_DATA_DIR"])
    return env


@pytest.fixture(scope="module")
def experts_dir(tmp_path_factory):
    """Random experts for the embedded model (labels math/code/reasoning, plus cls)."""
    from t2eval.models import load_model
    from t2eval.svf import decompose, ones_expert, save_expert

    model, _ = load_model()
    dec = decompose(model, "mlp", progress=False)
    folder = tmp_path_factory.mktemp("experts")
    gen = torch.Generator().manual_seed(0)
    for label in ("math", "code", "reasoning", "cls"):
        base = ones_expert(dec, "smollm2-135m-instruct", "mlp")
        z = {n: 1 + 0.05 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
        save_expert(base.with_z(z, name=label, label=label), folder / f"{label}.safetensors")
    return folder


def _evaluate(model: str, model_args: dict, tasks: list[str], limit: int, gen: str = ARC_GEN):
    from lm_eval import simple_evaluate

    return simple_evaluate(model=model, model_args=model_args, tasks=tasks, limit=limit,
                           apply_chat_template=True, gen_kwargs=gen, log_samples=True,
                           batch_size=8, device="cpu")


def _responses(results, task):
    return [s["resps"] for s in results["samples"][task]]


def test_strategy_none_equals_hf(env):
    from t2eval.models import resolve_model_path

    for task, limit, gen in (("arc_easy_t2", 24, ARC_GEN), ("gsm8k_t2", 12, GSM_GEN)):
        hf = _evaluate("hf", {"pretrained": resolve_model_path()}, [task], limit, gen)
        t2 = _evaluate("t2", {"strategy": "none"}, [task], limit, gen)
        assert len(t2["samples"][task]) == limit
        assert _responses(t2, task) == _responses(hf, task)
        assert t2["results"][task]["exact_match,none"] == hf["results"][task]["exact_match,none"]


def _cli(env, model_args: str, task: str, limit: int, out) -> dict:
    """Run the stock `lm_eval` CLI and return its results JSON."""
    cmd = [sys.executable, "-m", "lm_eval", "--model", "t2", "--model_args", model_args,
           "--tasks", task, "--limit", str(limit), "--apply_chat_template", "--gen_kwargs", ARC_GEN,
           "--output_path", str(out), "--device", "cpu", "--batch_size", "8"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(max(out.rglob("results_*.json"), key=lambda p: p.stat().st_mtime).read_text())


@pytest.mark.parametrize("strategy", ["prompt", "cls", "uniform", "math", "expert:cls", "fewshot"])
def test_every_strategy_runs_through_the_stock_cli(env, experts_dir, strategy, tmp_path):
    args = f"strategy={strategy},experts={experts_dir}"
    if strategy == "fewshot":
        args += f",shots=2,population=3,generations=2,fewshot_dir={tmp_path / 'mixes'}"
    results = _cli(env, args, "arc_easy_t2", 3, tmp_path / "run1")
    info = results["config"]["t2"]
    assert info["strategy"] == strategy
    assert set(info["experts"]) == {"math", "code", "reasoning", "cls"}
    assert "exact_match,none" in results["results"]["arc_easy_t2"]
    if strategy in ("prompt", "cls"):
        assert sum(info["pass1_labels"]["arc_easy_t2"].values()) == 3
        assert len(info["pass1_decisions"]["arc_easy_t2"]) == 3
    if strategy == "fewshot":  # the fitted mix is recorded, saved, and reused on rerun
        mix = info["fewshot"]["arc_easy_t2"]
        assert mix["split"] == "validation" and mix["shots"] == 2 and len(mix["alpha"]) == 3
        assert sorted(mix["experts"]) == ["code", "math", "reasoning"]
        assert len(list((tmp_path / "mixes").glob("arc_easy_t2-*.safetensors"))) == 1
        again = _cli(env, args, "arc_easy_t2", 3, tmp_path / "run2")["config"]["t2"]["fewshot"]["arc_easy_t2"]
        assert again["fingerprint"] == mix["fingerprint"]


def test_fewshot_per_matrix_alpha(env, experts_dir, tmp_path):
    """alpha=matrix: one weight per expert per targeted matrix (the reference's granularity)."""
    args = (f"strategy=fewshot,alpha=matrix,experts={experts_dir},shots=2,population=3,generations=1,"
            f"fewshot_dir={tmp_path / 'mixes'}")
    mix = _cli(env, args, "arc_easy_t2", 2, tmp_path / "run")["config"]["t2"]["fewshot"]["arc_easy_t2"]
    assert len(mix["alpha"]) == 3 and {len(row) for row in mix["alpha"]} == {90}  # 30 layers x 3 MLP matrices
    for col in zip(*mix["alpha"]):
        assert abs(sum(col) - 1) < 1e-4 and min(col) >= 0  # clamped and normalised per matrix


def test_fewshot_can_mix_the_base_weights_back_in(env, experts_dir, tmp_path):
    """mix_base=true: the identity expert (z = 1) is one more CEM candidate; the mix records it."""
    args = (f"strategy=fewshot,mix_base=true,experts={experts_dir},shots=2,population=3,generations=1,"
            f"fewshot_dir={tmp_path / 'mixes'}")
    results = _cli(env, args, "arc_easy_t2", 2, tmp_path / "run")
    mix = results["config"]["t2"]["fewshot"]["arc_easy_t2"]
    assert mix["experts"][-1] == "base" and sorted(mix["experts"]) == ["base", "code", "math", "reasoning"]
    assert len(mix["alpha"]) == 4 and abs(sum(mix["alpha"]) - 1) < 1e-4
    from t2eval.report.runs import method_of
    assert method_of(results["config"]).startswith("fewshot:2[mix_base,population=3,generations=1]")


def _stock(env, args: list[str], out) -> tuple[dict, list[dict], str]:
    """The literal `lm_eval --model t2 ...` (no chat flag unless given): results and samples."""
    cmd = [sys.executable, "-m", "lm_eval", "--model", "t2", *args, "--output_path", str(out),
           "--log_samples", "--device", "cpu", "--batch_size", "8"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(max(out.rglob("results_*.json"), key=lambda p: p.stat().st_mtime).read_text())
    samples = [json.loads(line) for path in out.rglob("samples_*.jsonl") for line in path.read_text().splitlines()]
    return results, samples, done.stderr


@pytest.mark.parametrize("dispatch", ["score", "generate"])
def test_pass1_modes_through_the_stock_cli_are_visible(env, experts_dir, dispatch, tmp_path):
    results, _, log = _stock(env, ["--model_args", f"experts={experts_dir},dispatch={dispatch}",
                                   "--tasks", "arc_easy", "--limit", "4"], tmp_path)
    info = results["config"]["t2"]
    assert info["strategy"] == "cls" and info["dispatch"] == dispatch  # the default where cls ships
    assert f"strategy=cls (dispatch={dispatch}, pass1_layout=system" in log  # start-up line
    assert "t2 pass 1 (cls weights)" in log or dispatch == "generate"  # progress bar
    assert "t2 summary" in log and "arc_easy: pass 1" in log
    details = info["pass1_details"]["arc_easy"]
    assert len(details) == 4
    for record in details.values():
        assert record["weights"] == (record["label"] if record["label"] != "others" else "base")
        assert ("scores" in record) == (dispatch == "score") and ("response" in record) == (dispatch == "generate")
    (decisions,) = tmp_path.rglob("t2_decisions_*.jsonl")
    assert len(decisions.read_text().splitlines()) == 4


def test_literal_quick_start_math_gives_real_answers(env, tmp_path):
    """`lm_eval --model t2 --tasks math` with no chat flag: the chat-only model still answers."""
    _, samples, log = _stock(env, ["--tasks", "math", "--limit", "8", "--gen_kwargs", "max_gen_toks=32"], tmp_path)
    answers = [s["resps"][0][0] for s in samples]
    assert len(answers) == 8
    assert sum(bool(a.strip()) for a in answers) >= 0.95 * len(answers), answers
    assert "sends each as one user turn" in log


def test_guard_compares_expert_and_base_on_held_out_documents(env, experts_dir, tmp_path):
    """guard=true through the stock CLI: the (task, expert) verdict on held-out documents (the
    validation split, never the scored one) is recorded, and a rejected expert's documents are
    answered by the base weights."""
    args = f"strategy=expert:math,experts={experts_dir},guard=true,guard_shots=4"
    results = _cli(env, args, "arc_easy_t2", 3, tmp_path / "run")
    verdict = results["config"]["t2"]["guard"]["arc_easy_t2"]["math"]
    assert verdict["shots"] == 4 and verdict["split"] == "validation" and set(verdict) >= {"kept", "base", "expert"}
    assert verdict["kept"] == (verdict["expert"] >= verdict["base"])
    used = results["config"]["t2"]["per_task"]["arc_easy_t2"]
    assert ("installs:math" in used) == verdict["kept"] and ("installs:base" in used) != verdict["kept"]
