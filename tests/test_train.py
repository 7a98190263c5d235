"""The SVF trainer on a tiny random Llama and a toy task (fast), plus one slow e2e step."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from conftest import data_dir, make_tiny_llama
from t2eval.svf import SVFAdapter, decompose, load_expert
from t2eval.train import TaskError, TrainTask, Trainer, build_config, build_task, train, train_sweep
from t2eval.train.config import ConfigError, TrainConfig
from t2eval.train.loop import TIMING_KEYS, ResumeError
from t2eval.train.objective import kl_per_token, micro_loss, response_log_softmax
from t2eval.train.rollout import generate, position_ids

torch.set_num_threads(1)


class CharTokenizer:
    """ids 2..127 <-> characters chr(id + 30); 0 = pad, 1 = end of sequence."""

    pad_token_id, eos_token_id = 0, 1

    def encode(self, text, add_special_tokens=False):
        return [min(127, max(2, ord(c) - 30)) for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i + 30) for i in ids if i >= 2)


def even_first(responses, docs):
    """Toy reward: the first generated token has an even id."""
    return [float(bool(r) and (ord(r[0]) - 30) % 2 == 0) for r in responses]


def toy_task(seed=0, data_dir=None, n=64, **_):
    rng = random.Random(f"toy:{seed}")
    docs = [{"q": "".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 6))), "ref": "bd"}
            for _ in range(n)]
    return TrainTask(name="toy", label="toy", prompt=lambda d: d["q"], score=even_first,
                     train_docs=docs[: n // 2], val_docs=docs[n // 2:], stop=[], max_gen_toks=2,
                     reference=lambda d: d["ref"], chat=False)


def toy_config(**changes):
    values = dict(steps=4, batch_size=8, micro_batch=4, lr=0.05, eval_every=2, ckpt_every=2, eval_batch=16,
                  targets="mlp", model="tiny-llama", threads=1, device="cpu")
    values.update(changes)
    return build_config("toy", overrides=values)


def tiny(scale: float = 5.0):
    """The tiny random Llama with its layer matrices scaled up, so that z moves the outputs."""
    model = make_tiny_llama()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".layers." in name and p.dim() == 2:
                p.mul_(scale)
    return model


def run(tmp_path, name="run", model=None, **changes):
    model = model or tiny()
    trainer = Trainer(toy_config(**changes), tmp_path / name, model=model, tokenizer=CharTokenizer(),
                      task=toy_task(), progress=False)
    return trainer


def metrics(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_training_step_changes_z_and_nothing_else(tmp_path):
    trainer = run(tmp_path)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in trainer.model.named_parameters()}
    z0 = trainer.policy.snapshot()
    stats = trainer.train_step(1)
    z1 = trainer.policy.snapshot()
    assert any(not torch.equal(z0[n], z1[n]) for n in z0)
    after = trainer.model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # base weights bit for bit
    assert {n: p.requires_grad for n, p in trainer.model.named_parameters()} == flags
    assert all(p.grad is None for p in trainer.model.parameters())
    assert stats["tokens"] > 0 and "kl" in stats and -1 <= stats["reward"] <= 1


def _sampled(model, n=4):
    tok = CharTokenizer()
    torch.manual_seed(3)
    return generate(model, tok, ["abc", "bcdefg", "hh", "dcba"][:n], 6, [], do_sample=True)


def _policy_setup(targets: str):
    """(model, decomposition, adapter, a sampled batch, the base model's response log-softmax)."""
    model = make_tiny_llama()
    dec = decompose(model, targets, use_cache=False, progress=False)
    adapter = SVFAdapter(model, dec)
    batch = _sampled(model)
    with torch.no_grad():
        base = response_log_softmax(model, batch.input_ids, batch.attention_mask, batch.response_mask)[0]
    return model, dec, adapter, batch, base


def test_kl_is_zero_at_identity():
    model, dec, adapter, batch, base = _policy_setup("all")
    z = {n: torch.nn.Parameter(torch.ones_like(f.S)) for n, f in dec.factors.items()}
    with adapter.trainable(z, rescale=True):
        loss, stats = micro_loss(model, batch, torch.ones(4), base, kl_coef=0.5, num_seqs=4,
                                 num_tokens=batch.num_response_tokens)
    assert stats["kl_sum"] == pytest.approx(0.0, abs=1e-6)


def test_kl_direction_matches_manual_computation():
    model = make_tiny_llama()
    dec = decompose(model, "mlp", use_cache=False, progress=False)
    adapter = SVFAdapter(model, dec)
    batch = _sampled(model)
    gen = torch.Generator().manual_seed(0)
    z_val = {n: (2 * torch.randn(f.S.shape, generator=gen)).exp() for n, f in dec.factors.items()}

    def full_log_softmax():  # plain forward over every position, then pick the response ones
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                       position_ids=position_ids(batch.attention_mask)).logits[:, :-1]
        return torch.log_softmax(logits.float(), -1)[batch.response_mask[:, 1:].bool()]

    with torch.no_grad():
        log_base = full_log_softmax()
        adapter.apply_z(z_val, rescale=True)
        log_new = full_log_softmax()
        adapter.remove()
    manual = (log_new.exp() * (log_new - log_base)).sum(-1).mean()
    reverse = (log_base.exp() * (log_base - log_new)).sum(-1).mean()
    assert manual > 1e-4 and abs(manual - reverse) > 1e-3 * manual  # > 10x the tolerance below

    with torch.no_grad():
        base = response_log_softmax(model, batch.input_ids, batch.attention_mask, batch.response_mask)[0]
    z = {n: torch.nn.Parameter(v.clone()) for n, v in z_val.items()}
    with adapter.trainable(z, rescale=True):
        _, stats = micro_loss(model, batch, torch.ones(4), base, kl_coef=0.1, num_seqs=4,
                              num_tokens=batch.num_response_tokens)
    ours = stats["kl_sum"] / batch.num_response_tokens
    assert ours == pytest.approx(float(manual), rel=1e-4)
    assert kl_per_token(log_new, log_base).mean() == pytest.approx(float(manual), rel=1e-6)
    p, q = torch.tensor([[0.9, 0.1]]).log(), torch.tensor([[0.5, 0.5]]).log()
    assert float(kl_per_token(p, q)) == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-5)
    assert float(kl_per_token(p, q)) != pytest.approx(float(kl_per_token(q, p)), rel=1e-2)


def test_kl_norm_per_sequence_scales_the_penalty_by_tokens_per_sequence():
    model, dec, adapter, batch, base = _policy_setup("mlp")
    gen = torch.Generator().manual_seed(0)
    z = {n: torch.nn.Parameter((torch.randn(f.S.shape, generator=gen)).exp()) for n, f in dec.factors.items()}
    losses = {}
    with adapter.trainable(z, rescale=True):
        for norm in ("per_token", "per_sequence"):
            for coef in (0.0, 1.0):
                losses[norm, coef], stats = micro_loss(model, batch, torch.zeros(4), base, kl_coef=coef, num_seqs=4,
                                                       num_tokens=batch.num_response_tokens, kl_norm=norm)
    kl_sum = stats["kl_sum"]
    assert float(losses["per_token", 1.0] - losses["per_token", 0.0]) == pytest.approx(kl_sum / batch.num_response_tokens, rel=1e-4)
    assert float(losses["per_sequence", 1.0] - losses["per_sequence", 0.0]) == pytest.approx(kl_sum / 4, rel=1e-4)
    with pytest.raises(ConfigError, match="kl_norm"):
        TrainConfig(task="arc_easy_t2", kl_norm="per_doc").validate()


def test_logprobs_are_recomputed_on_the_sampled_ids():
    model = make_tiny_llama()
    tok = CharTokenizer()
    torch.manual_seed(5)
    batch = generate(model, tok, ["abc", "bcdefgh"], 5, [], do_sample=True)
    log_probs, ids, rows = response_log_softmax(model, batch.input_ids, batch.attention_mask, batch.response_mask)
    sampled = [batch.input_ids[i][batch.response_mask[i].bool()].tolist() for i in range(2)]
    assert [ids[rows == i].tolist() for i in range(2)] == sampled
    # same distribution as the sampler saw: greedy continuation of each row = argmax at its first step
    greedy = generate(model, tok, ["abc", "bcdefgh"], 1, [], do_sample=False)
    first = [int(torch.nonzero(rows == i)[0]) for i in range(2)]
    assert log_probs[first].argmax(-1).tolist() == [greedy.input_ids[i, -1].item() for i in range(2)]


def test_same_seed_gives_identical_z(tmp_path):
    a = run(tmp_path, "a", eval_every=0).run()
    b = run(tmp_path, "b", eval_every=0).run()
    assert all(torch.equal(a.expert.z[n], b.expert.z[n]) for n in a.expert.z)
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")
    c = run(tmp_path, "c", seed=1, eval_every=0).run()
    assert any(not torch.equal(a.expert.z[n], c.expert.z[n]) for n in a.expert.z)


class _Killed(BaseException):
    """Stands for kill -9: nothing is saved."""


def _stop_at(step, exc):
    def hook(s, stats):
        if s == step:
            raise exc()
    return hook


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    config = dict(steps=6, eval_every=3, ckpt_every=2)
    full = run(tmp_path, "full", **config).run()
    killed = run(tmp_path, "killed", **config)
    killed.on_step = _stop_at(5, _Killed)  # dies after step 5's metrics, before any checkpoint of it
    with pytest.raises(_Killed):
        killed.run()
    assert len(metrics(tmp_path / "killed")) > len([r for r in metrics(tmp_path / "full") if r["step"] <= 4])
    with pytest.raises(ResumeError):
        run(tmp_path, "killed", **config)  # refuses to overwrite without --resume
    resumed = Trainer(toy_config(**config), tmp_path / "killed", model=tiny(),
                      tokenizer=CharTokenizer(), task=toy_task(), progress=False, resume=True)
    assert resumed.step == 4  # continues from the checkpoint, not from scratch
    result = resumed.run()
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "full")
    assert all(torch.equal(full.expert.z[n], result.expert.z[n]) for n in full.expert.z)
    assert result.best_step == full.best_step and result.best_val == full.best_val


def test_ctrl_c_saves_and_resume_finishes_identically(tmp_path):
    config = dict(steps=5, eval_every=2, ckpt_every=100)
    full = run(tmp_path, "full", **config).run()
    trainer = run(tmp_path, "int", **config)
    trainer.on_step = _stop_at(3, KeyboardInterrupt)
    out = trainer.run()
    assert out.status == "interrupted" and out.steps_done == 3
    assert not (tmp_path / "int" / "expert.safetensors").exists()
    resumed = Trainer(toy_config(**config), tmp_path / "int", model=tiny(), tokenizer=CharTokenizer(),
                      task=toy_task(), progress=False, resume=True)
    assert resumed.step == 3
    result = resumed.run()
    assert result.status == "finished"
    assert metrics(tmp_path / "int") == metrics(tmp_path / "full")
    assert all(torch.equal(full.expert.z[n], result.expert.z[n]) for n in full.expert.z)


def test_resume_refuses_changed_settings(tmp_path):
    trainer = run(tmp_path, "r", steps=2)
    trainer.run()
    with pytest.raises(ResumeError, match="lr"):
        Trainer(toy_config(steps=2, lr=0.1), tmp_path / "r", model=tiny(), tokenizer=CharTokenizer(),
                task=toy_task(), progress=False, resume=True)


def test_toy_task_reward_improves(tmp_path):
    result = run(tmp_path, "learn", steps=30, batch_size=32, micro_batch=32, lr=0.3, eval_every=10,
                 ckpt_every=100, baseline="mean").run()
    rows = [r for r in metrics(tmp_path / "learn") if r["type"] == "step"]
    early = sum(r["acc"] for r in rows[:5]) / 5
    late = sum(r["acc"] for r in rows[-5:]) / 5
    assert late > early + 0.05, (early, late)
    assert result.best_val > result.base_val + 0.15
    expert = load_expert(tmp_path / "learn" / "expert.safetensors")
    assert expert.label == "toy" and expert.provenance["best_step"] == result.best_step


def test_sigmoid_parametrisation_stores_the_multiplier(tmp_path):
    result = run(tmp_path, "sig", steps=2, param="sigmoid", eval_every=0).run()
    z = torch.cat([v for v in result.expert.z.values()])
    assert ((z > 0) & (z < 1)).all() and (z - 0.5).abs().max() < 0.05


def test_sft_objective_trains_z(tmp_path):
    trainer = run(tmp_path, "sft", objective="sft", steps=5, eval_every=0, lr=0.3)
    z0 = trainer.policy.snapshot()
    rows = []
    trainer.on_step = lambda s, st: rows.append(st["nll"])
    result = trainer.run()
    assert rows[-1] < rows[0]
    assert any(not torch.equal(z0[n], result.expert.z[n]) for n in z0)


def test_init_expert_starts_from_its_z_and_the_kl_still_compares_with_base(tmp_path):
    model = tiny()
    first = run(tmp_path, "sft", model=model, objective="sft", steps=3, eval_every=0, lr=0.3).run()
    path = tmp_path / "sft" / "expert.safetensors"
    trainer = run(tmp_path, "rl", model=model, init_expert=str(path), steps=1, eval_every=0, kl=0.1)
    start = trainer.policy.snapshot()
    assert all(torch.equal(start[n], first.expert.z[n]) for n in start)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with trainer.policy.base():
        base = model(ids).logits
    with trainer.policy.adapted():
        adapted = model(ids).logits
    assert not torch.allclose(base, adapted)  # base() is the KL's reference: the plain weights
    second = trainer.run().expert.provenance
    assert second["objective"] == "sft+rl" and second["init_expert"]["fingerprint"] == first.expert.fingerprint
    from t2eval.svf import ExpertError

    with pytest.raises(ExpertError, match=r"outside \(0, 1\): param=sigmoid"):
        run(tmp_path, "sig", model=model, init_expert=str(path), param="sigmoid")
    with pytest.raises(ConfigError, match="no such file"):
        toy_config(init_expert=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ExpertError, match="does not match the decomposed targets"):
        run(tmp_path, "attn", model=model, init_expert=str(path), targets="attn")


def test_kl_sweep_keeps_the_best_by_validation(tmp_path):
    model = tiny()
    best, results = train_sweep(toy_config(steps=2), [0.0, 0.5], tmp_path / "sweep", output=tmp_path / "e.safetensors",
                                progress=False, model=model, tokenizer=CharTokenizer(), task=toy_task())
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [r["kl"] for r in sweep["runs"]] == [0.0, 0.5]
    assert best.best_val == max(r.best_val for r in results)
    assert load_expert(tmp_path / "e.safetensors").provenance["kl"] == sweep["chosen_kl"]


def test_config_layers_and_errors(tmp_path):
    cfg = build_config("gsm8k_t2", "cpu", overrides=["kl=0.2", "param=sigmoid", "betas=[0.8, 0.9]"])
    assert cfg.kl == 0.2 and cfg.param == "sigmoid" and cfg.betas == (0.8, 0.9) and cfg.threads == 1
    file = tmp_path / "c.yaml"
    file.write_text("lr: 0.01\nsteps: 7\n")
    assert build_config("gsm8k_t2", config_file=file, options={"steps": 9}).steps == 9
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        build_config("gsm8k_t2", overrides=["stpes=3"])
    with pytest.raises(ConfigError, match="objective"):
        build_config("gsm8k_t2", overrides=["objective=ppo"])


def test_task_without_training_split_is_a_clear_error():
    with pytest.raises(TaskError, match="no training split"):
        build_task("humaneval_t2")
    # stock generate_until tasks (gsm8k) now train through their own metric: tests/test_train_stock.py
    with pytest.raises(TaskError, match="unknown task 'nosuchtask'"):
        build_task("nosuchtask")


@pytest.fixture
def local_data(monkeypatch):
    if not data_dir().is_dir():
        pytest.skip("no local benchmark data")
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))


def test_real_tasks_use_the_evaluation_prompts_and_halves(local_data):
    from t2eval.task_configs import utils

    task = build_task("gsm8k_t2", seed=0)
    assert task.prompt is utils.gsm8k_prompt and task.label == "math"
    assert task.stop == ["<|im_end|>", "<|eot_id|>", "</s>", "Question:"] and task.max_gen_toks == 384
    questions = [d["question"] for d in task.train_docs] + [d["question"] for d in task.val_docs]
    assert len(task.val_docs) == len(task.train_docs) + (len(questions) % 2) and len(set(questions)) > 7000
    assert not {d["question"] for d in task.train_docs} & {d["question"] for d in task.val_docs}
    assert build_task("gsm8k_t2", seed=0).train_docs == task.train_docs  # seeded
    assert task.score(["The answer is 72."], [{"answer": "#### 72"}]) == [1.0]
    assert task.reference(task.train_docs[0]).rstrip(".").endswith(task.train_docs[0]["answer"].split("####")[-1].strip())
    arc = build_task("arc_easy_t2")
    assert arc.prompt is utils.arc_prompt and arc.stop[-1] == "\n\n" and arc.label == "reasoning"


def test_val_split_trains_on_the_whole_training_split_and_never_reads_test(local_data, tmp_path):
    task = build_task("mbpp_t2", val_split="validation")
    assert (len(task.train_docs), len(task.val_docs)) == (374, 90)  # MBPP's own train / validation
    assert not {d["task_id"] for d in task.train_docs} & {d["task_id"] for d in task.val_docs}
    assert len(build_task("mbpp_t2").train_docs) == 187  # the default halves the training split
    with pytest.raises(TaskError, match="test split of mbpp; the test split is never read"):
        build_task("mbpp_t2", val_split="test")
    with pytest.raises(TaskError, match="val_split='nope'.*available splits: train, test, validation"):
        build_task("mbpp_t2", val_split="nope")
    with pytest.raises(TaskError, match="needs a dataset task"):
        build_task("cls", val_split="validation")
    with pytest.raises(TaskError, match="val_split='validation'.*'gsm8k' has no split 'validation'"):
        build_task("gsm8k_t2", val_split="validation")  # gsm8k has no validation split
    assert build_config("mbpp_t2", overrides=["val_split=validation"]).val_split == "validation"


def test_cls_task_pools_the_three_tasks(local_data):
    from t2eval.dispatch import classification_prompt

    task = build_task("cls", seed=0)
    labels = [d["label"] for d in task.train_docs]
    assert {labels.count(x) for x in ("math", "code", "reasoning")} == {len(labels) // 3}
    doc = task.train_docs[0]
    assert task.prompt(doc) == classification_prompt(doc["question"])
    assert task.score(["Classification: \\boxed{%s}" % doc["label"], "\\boxed{others}"], [doc, doc]) == [1.0, 0.0]


def test_mbpp_rewards_run_in_the_sandbox():
    from t2eval.benchmarks.mbpp import score_mbpp_batch

    doc = {"task_id": 1, "code": "def add(a, b):\n  return a + b", "test_list": ["assert add(1, 2) == 3"],
           "test_setup_code": ""}
    good = "return a + b\n```"   # completions of the prefilled head (the reference format)
    bad = "return a - b\n```"
    assert score_mbpp_batch([good, bad], [doc, doc]) == [1.0, 0.0]


@pytest.mark.slow
def test_one_rl_step_on_the_embedded_model(embedded, local_data, tmp_path):
    model, tok = embedded
    cfg = build_config("arc_easy_t2", overrides=dict(steps=1, batch_size=2, micro_batch=2, max_new_tokens=4,
                                                      eval_every=1, val_size=2, threads=1, kl=0.1))
    result = train(cfg, tmp_path / "arc", model=model, tokenizer=tok, progress=False)
    assert result.status == "finished" and result.base_val is not None
    step = [r for r in metrics(tmp_path / "arc") if r["type"] == "step"][0]
    assert step["tokens"] > 0 and step["kl"] >= 0
    expert = load_expert(tmp_path / "arc" / "expert.safetensors")
    assert expert.label == "reasoning" and expert.base_model == "smollm2-135m-instruct"


# ----------------------------------------------------------------------------- PEFT methods


def _lora_modules(model):
    return [n for n, _ in model.named_modules() if "lora_" in n or "ia3_" in n]


@pytest.mark.parametrize("method", ["lora", "dora", "ia3"])
def test_peft_sft_step_trains_only_the_adapter_and_restores_the_model(tmp_path, method):
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = run(tmp_path, method, model=model, method=method, objective="sft", steps=3, eval_every=0,
                  lr=0.05, clip=1.0)
    p0 = trainer.policy.snapshot()
    nll = []
    trainer.on_step = lambda s, st: nll.append(st["nll"])
    result = trainer.run()
    assert nll[-1] < nll[0], nll
    assert any(not torch.equal(p0[n], result.expert.state[k]) for n in p0 for k in result.expert.state
               if k.replace(".weight", "") in n)
    assert _lora_modules(model) == []                             # the adapter is unloaded
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # base weights untouched
    assert result.expert.provenance["method"] == method
    modules = ",".join(sorted(result.expert.config.target_modules))
    assert result.expert.provenance["targets"] == modules and "param" not in result.expert.provenance


def test_lora_adapter_is_saved_in_peft_format_and_reloads_identically(tmp_path):
    from peft import PeftModel

    model = tiny()
    trainer = run(tmp_path, "lora", model=model, method="lora", objective="sft", steps=2, eval_every=0, lr=0.05)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    trainer.train_step(1)
    with torch.no_grad():
        trained = trainer.model(ids).logits
    trainer.step = 1
    from t2eval.train.policy import save_artifact

    folder = save_artifact(trainer.expert(), tmp_path / "adapter")
    trainer.policy.close()
    assert {"adapter_config.json", "adapter_model.safetensors", "t2eval.json"} <= {p.name for p in folder.iterdir()}
    fresh = tiny()
    fresh.load_state_dict(model.state_dict())
    reloaded = PeftModel.from_pretrained(fresh, folder)
    with torch.no_grad():
        again = reloaded(ids).logits
    assert torch.allclose(trained, again, atol=1e-6)
    assert not torch.allclose(trained, model(ids).logits, atol=1e-6)   # and it is not the base model


def test_lora_rl_is_reinforce_on_lora_with_kl_against_the_disabled_adapter(tmp_path):
    cfg = build_config("toy", overrides={"method": "lora-rl"})
    assert (cfg.method, cfg.objective, cfg.lr, cfg.clip) == ("lora", "rl", 2e-4, 1.0)
    assert build_config("toy", options={"lr": 0.01}, overrides={"method": "lora"}).lr == 0.01
    trainer = run(tmp_path, "lrl", method="lora", objective="rl", steps=2, eval_every=0, lr=0.05, clip=1.0, kl=0.1)
    first = trainer.train_step(1)
    assert first["kl"] == pytest.approx(0.0, abs=1e-7)           # B = 0 at init: adapted == base
    p0 = trainer.policy.snapshot()
    trainer.train_step(2)
    second = trainer.train_step(3)
    assert second["kl"] > 0
    assert any(not torch.equal(p0[n], p) for n, p in trainer.policy.snapshot().items())
    trainer.policy.close()


def test_validation_ties_are_broken_by_reference_nll(tmp_path):
    trainer = run(tmp_path, "tie")
    nlls = iter([2.0, 1.5, 1.7])
    trainer.objective.validate = lambda run, docs: (0.0, next(nlls))  # a task the model never solves
    for step in (0, 1, 2):
        trainer._evaluate(step)
    assert trainer.best_step == 1 and trainer.best_nll == 1.5 and trainer.since_best == 1
    assert [r["val_nll"] for r in trainer.history] == [2.0, 1.5, 1.7]
    trainer.policy.close()


def test_settings_are_type_checked_when_parsed():
    from t2eval.train.config import build_config

    for bad, message in ((["eval_every=abc"], "eval_every='abc': expected int"), (["steps=2.5"], "steps=2.5: expected int"),
                         (["track_kl=maybe"], "track_kl='maybe': expected bool"),
                         (["evl_every=3"], "unknown training setting 'evl_every' — did you mean 'eval_every'")):
        with pytest.raises(ConfigError, match=message):
            build_config("arc_easy_t2", overrides=bad)
    cfg = build_config("arc_easy_t2", overrides=["lr=1e-3", "patience=none", "kl=1", "betas=[0.9, 0.99]"])
    assert (cfg.lr, cfg.patience, cfg.kl, cfg.betas) == (1e-3, None, 1.0, (0.9, 0.99))


def test_leave_one_out_advantages_and_flat_groups():
    from t2eval.train.objective import rl_advantages

    rewards = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    adv, keep = rl_advantages(rewards, "loo", samples=4)
    torch.testing.assert_close(adv[:4], torch.tensor([2.0, -2 / 3, -2 / 3, -2 / 3]))
    assert keep.tolist() == [True] * 4 + [False] * 4            # an all-correct group carries no signal
    adv, keep = rl_advantages(rewards, "mean")
    assert keep.all() and abs(float(adv.sum())) < 1e-6
    with pytest.raises(ConfigError, match="samples >= 2"):
        toy_config(baseline="loo")


def test_k_samples_per_prompt_with_loo_baseline(tmp_path):
    trainer = run(tmp_path, samples=4, baseline="loo", batch_size=4, micro_batch=8, steps=1, eval_every=0)
    stats = trainer.train_step(1)
    assert stats["batch"] == 4 and stats["samples"] == 16 and 0 <= stats["kept"] <= 16
    assert stats.get("skipped") or stats["kept"] % 4 == 0       # whole groups are kept or dropped


def test_all_flat_groups_skip_the_update(tmp_path):
    """Every sample wrong: no policy gradient, so neither z nor Adam's state moves."""
    task = toy_task()
    task.score = lambda responses, docs: [0.0] * len(responses)
    trainer = Trainer(toy_config(samples=2, baseline="loo", kl=0.1, steps=1, eval_every=0), tmp_path / "flat",
                      model=tiny(), tokenizer=CharTokenizer(), task=task, progress=False)
    before = trainer.policy.snapshot()
    stats = trainer.train_step(1)
    assert stats["skipped"] is True and stats["kept"] == 0
    assert all(torch.equal(before[n], v) for n, v in trainer.policy.snapshot().items())
    assert not trainer.opt.state  # Adam never stepped
