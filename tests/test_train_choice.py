"""`--objective choice`: multiple-choice lm-eval tasks as a policy over their choices."""

from __future__ import annotations

import json
import random

import pytest
import torch

from conftest import data_dir
from test_train import CharTokenizer, local_data, tiny  # noqa: F401  (local_data: a fixture)
from t2eval.train import TrainTask, Trainer, build_config, build_task
from t2eval.train.choice import ChoiceItem, choice_eval, choice_kl, choice_loss, choice_scores, encode_pair
from t2eval.train.config import ConfigError

torch.set_num_threads(1)


def toy_choice_task(seed=0, data_dir=None, n=48, **_):
    """Pick the continuation "bb" among 3 or 4 doubled letters, after a random context."""
    rng = random.Random(f"toy-choice:{seed}")
    docs = []
    for _ in range(n):
        ctx = "".join(rng.choice("abcdef") for _ in range(4))
        wrong = list("acdef")
        rng.shuffle(wrong)
        choices = ["bb"] + [w * 2 for w in wrong[:rng.choice((2, 3))]]
        rng.shuffle(choices)
        docs.append({"ctx": ctx, "choices": choices, "gold": choices.index("bb")})

    def item(d, tokenizer=None):
        return ChoiceItem([(d["ctx"] + " ", c) for c in d["choices"]], d["gold"], [float(len(c)) for c in d["choices"]])

    return TrainTask(name="toy_choice", label="reasoning", prompt=lambda d: d["ctx"], score=None,
                     train_docs=docs[: n // 2], val_docs=docs[n // 2:], max_gen_toks=0, chat=False, choice=item)


def choice_config(**changes):
    values = dict(objective="choice", steps=4, batch_size=8, micro_batch=4, lr=0.05, eval_every=2, ckpt_every=2,
                  eval_batch=8, targets="mlp", model="tiny-llama", threads=1, device="cpu")
    values.update(changes)
    return build_config("toy_choice", overrides=values)


def manual_loglikelihood(model, tok, context, continuation):
    ctx, cont = encode_pair(tok, context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
    return float(sum(logp[len(ctx) - 1 + i, t] for i, t in enumerate(cont)))


def test_encode_pair_moves_trailing_spaces_to_the_continuation():
    tok = CharTokenizer()
    ctx, cont = encode_pair(tok, "ab  ", "cd")
    assert ctx == tok.encode("ab") and cont == tok.encode("  cd")


def test_choice_scores_are_summed_loglikelihoods_with_minus_inf_padding():
    model, tok = tiny(), CharTokenizer()
    task = toy_choice_task()
    items = [task.choice(d, tok) for d in task.train_docs[:5]]
    with torch.no_grad():
        scores = choice_scores(model, tok, items)
        norm = choice_scores(model, tok, items, "acc_norm")
    for d, item in enumerate(items):
        for c, (context, cont) in enumerate(item.pairs):
            expected = manual_loglikelihood(model, tok, context, cont)
            assert scores[d, c].item() == pytest.approx(expected, abs=1e-4)
            assert norm[d, c].item() == pytest.approx(expected / item.lengths[c], abs=1e-4)
        assert torch.isinf(scores[d, len(item.pairs):]).all()


def test_expected_reward_loss_is_two_pi_gold_minus_one():
    scores = torch.tensor([[0.0, 1.0, float("-inf")], [2.0, 0.0, 0.0]], requires_grad=True)
    gold = torch.tensor([1, 2])
    loss, stats = choice_loss(scores, gold, None, estimator="expectation", kl_coef=0.0, num_docs=2)
    pi = torch.softmax(scores.detach(), -1)
    assert loss.item() == pytest.approx(-((2 * pi[0, 1] - 1) + (2 * pi[1, 2] - 1)).item() / 2, abs=1e-6)
    assert stats["correct"] == 1
    loss.backward()
    assert scores.grad[0, 1] < 0 and scores.grad[1, 2] < 0  # raising the gold score lowers the loss
    assert scores.grad[0, 2] == 0


def test_temperature_softens_the_policy_but_not_the_answer():
    scores = torch.tensor([[0.0, -6.0, -9.0]], requires_grad=True)
    gold = torch.tensor([1])
    _, cold = choice_loss(scores, gold, None, estimator="expectation", kl_coef=0.0, num_docs=1)
    _, warm = choice_loss(scores, gold, None, estimator="expectation", kl_coef=0.0, num_docs=1, temperature=4.0)
    assert warm["reward_sum"] > cold["reward_sum"] and warm["correct"] == cold["correct"] == 0


def test_choice_kl_zero_for_equal_policies_and_positive_otherwise():
    a = torch.tensor([[1.0, 2.0, float("-inf")]])
    assert choice_kl(a, a).item() == pytest.approx(0.0, abs=1e-7)
    assert choice_kl(a, torch.tensor([[2.0, 1.0, float("-inf")]])).item() > 0


def test_sampled_estimator_is_unbiased_for_the_expected_reward_gradient():
    torch.manual_seed(0)
    scores = torch.tensor([[0.5, -0.2, 0.1, 0.0]], requires_grad=True)
    gold = torch.tensor([2])
    exact = torch.autograd.grad(choice_loss(scores, gold, None, estimator="expectation", kl_coef=0.0,
                                            num_docs=1)[0], scores)[0]
    grads = [torch.autograd.grad(choice_loss(scores, gold, None, estimator="sample", kl_coef=0.0, num_docs=1,
                                             baseline="mean")[0], scores)[0] for _ in range(4000)]
    assert torch.allclose(torch.stack(grads).mean(0), exact, atol=0.03)


def test_choice_training_raises_validation_accuracy_and_only_moves_z(tmp_path):
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = choice_config(steps=12, eval_every=6, lr=0.1, temperature=2.0)
    trainer = Trainer(cfg, tmp_path / "run", model=model, tokenizer=CharTokenizer(), task=toy_choice_task(),
                      progress=False)
    result = trainer.run()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model given back intact
    assert result.base_val is not None and result.best_val > result.base_val
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["type"] == "step"]
    assert len(steps) == 12 and all({"reward", "acc", "kl", "nll"} <= set(r) for r in steps)
    assert result.expert.provenance["objective"] == "choice"
    # the saved expert reproduces the best validation accuracy
    from t2eval.svf import SVFAdapter

    with SVFAdapter(model, trainer.policy.dec).applied(result.expert):
        acc, _ = choice_eval(model, CharTokenizer(), [trainer.task.choice(d, None) for d in trainer.val_docs])
    assert acc == pytest.approx(result.best_val)


@pytest.mark.parametrize("method", ["lora", "dora", "ia3"])
def test_choice_objective_trains_a_peft_adapter_as_a_matched_baseline(tmp_path, method):
    """The same choice objective on a PEFT adapter (the matched baselines of a choice-trained SVF
    expert): validation accuracy rises, the artifact is an adapter, the model is given back intact."""
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = choice_config(method=method, steps=12, eval_every=6, lr=0.02 if method != "ia3" else 0.2, clip=1.0,
                        temperature=2.0, peft_modules="gate_proj,up_proj,down_proj")
    trainer = Trainer(cfg, tmp_path / "run", model=model, tokenizer=CharTokenizer(), task=toy_choice_task(),
                      progress=False)
    result = trainer.run()
    assert result.best_val > result.base_val
    assert result.expert.provenance["objective"] == "choice" and result.expert.provenance["method"] == method
    assert {k: v for k, v in model.state_dict().items()}.keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_choice_resume_after_kill_is_identical(tmp_path):
    cfg = choice_config(steps=4, ckpt_every=2, choice_estimator="sample")

    def trainer(name, model=None, resume=False):
        return Trainer(cfg, tmp_path / name, model=model or tiny(), tokenizer=CharTokenizer(),
                       task=toy_choice_task(), progress=False, resume=resume)

    full = trainer("full").run()
    half = trainer("half")
    stopped = {}

    def stop_at_two(step, stats):
        if step == 2:
            stopped["yes"] = True
            raise SystemExit  # a crash right after the step-2 checkpoint

    half.on_step = stop_at_two
    with pytest.raises(SystemExit):
        half.run()
    resumed = trainer("half", resume=True).run()
    assert stopped and resumed.steps_done == 4
    for name, z in full.expert.z.items():
        assert torch.allclose(z, resumed.expert.z[name], atol=1e-6)


def test_objective_and_task_kind_must_match(tmp_path):
    with pytest.raises(ConfigError, match="objective choice"):
        Trainer(choice_config(objective="rl"), tmp_path / "a", model=tiny(), tokenizer=CharTokenizer(),
                task=toy_choice_task(), progress=False)
    from test_train import toy_task

    with pytest.raises(ConfigError, match="generative"):
        Trainer(choice_config(), tmp_path / "b", model=tiny(), tokenizer=CharTokenizer(), task=toy_task(),
                progress=False)
    with pytest.raises(ConfigError, match="choice_estimator"):
        choice_config(choice_estimator="bogus")


def test_cpu_preset_for_choice_objective():
    cfg = build_config("arc_easy", "cpu", options={"objective": "choice"})
    assert (cfg.steps, cfg.batch_size, cfg.val_size, cfg.temperature) == (100, 16, 300, 4.0)
    assert build_config("arc_easy", "cpu", overrides=["objective=choice", "steps=5"]).steps == 5


@pytest.mark.slow
def test_stock_arc_easy_choice_task_matches_lm_eval_loglikelihood(embedded):
    """The trainer's requests and scores are lm-eval's own for stock arc_easy (train split only)."""
    from lm_eval.models.huggingface import HFLM

    model, tok = embedded
    task = build_task("arc_easy", data_dir=str(data_dir()))
    assert task.label == "reasoning" and task.choice is not None
    assert len(task.train_docs) + len(task.val_docs) == 2251  # ARC-Easy train, halved
    items = [task.choice(d, tok) for d in task.train_docs[:3]]
    assert items[0].pairs[0][0].startswith("Question: ") and items[0].pairs[0][1].startswith(" ")
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=4)
    expected = lm.loglikelihood([_Req(p) for item in items for p in item.pairs])
    with torch.no_grad():
        scores = choice_scores(model, tok, items)
    flat = [scores[d, c].item() for d, item in enumerate(items) for c in range(len(item.pairs))]
    assert flat == pytest.approx([ll for ll, _ in expected], abs=2e-3)


class _Req:
    def __init__(self, args):
        self.args = args


def test_cls_task_as_a_choice_over_the_pass1_labels(local_data):
    """cls --objective choice trains z_c on the decision dispatch=score makes: the system-layout
    pass-1 chat opened with `Classification: \\boxed{`, one continuation per label."""
    from transformers import AutoTokenizer

    from t2eval.dispatch import LABELS
    from t2eval.dispatch.prompt import ANSWER_PREFIX, instructions
    from t2eval.models import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path())
    task = build_task("cls")
    doc = task.train_docs[0]
    item = task.choice(doc, tok)
    assert [cont for _, cont in item.pairs] == list(LABELS) and LABELS[item.gold] == doc["label"]
    context = item.pairs[0][0]
    assert context.endswith(ANSWER_PREFIX) and instructions() in context and doc["question"] in context
    assert context.index(instructions()) < context.index(doc["question"])  # system turn first


def test_shared_context_scores_and_gradients_equal_full_rows():
    """One context forward + its KV cache per document gives the same scores and the same
    gradient with respect to z as one full row per choice."""
    from t2eval.svf import SVFAdapter, decompose

    model, tok = tiny(), CharTokenizer()
    task = toy_choice_task()
    items = [task.choice(d) for d in task.train_docs[:6]]
    items[0] = ChoiceItem([(p[0], p[1] + "xyz"[:i]) for i, p in enumerate(items[0].pairs)], items[0].gold,
                          items[0].lengths)  # continuations of different lengths
    adapter = SVFAdapter(model, decompose(model, "mlp", progress=False))
    z = {n: torch.nn.Parameter(1 + 0.1 * torch.randn(f.S.shape, generator=torch.Generator().manual_seed(1)))
         for n, f in adapter.decomposition.factors.items()}
    grads = []
    for share in (True, False):
        for p in z.values():
            p.grad = None
        with adapter.trainable(z):
            scores = choice_scores(model, tok, items, share_context=share)
            scores[torch.isfinite(scores)].sum().backward()
        grads.append((scores.detach(), {n: p.grad.clone() for n, p in z.items()}))
    (shared, g_shared), (rows, g_rows) = grads
    torch.testing.assert_close(shared, rows, atol=1e-4, rtol=1e-4)
    for name in g_rows:
        torch.testing.assert_close(g_shared[name], g_rows[name], atol=1e-4, rtol=1e-3)
