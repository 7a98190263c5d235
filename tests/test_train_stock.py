"""Training on any lm-eval task: stock ``generate_until`` tasks (gsm8k) rewarded by their own
filter and metric, prompts as lm-eval renders them, and the splits lm-eval scores never read."""

from __future__ import annotations

import pytest

from conftest import data_dir
from t2eval.train.data import StockOptions, TaskError, build_task


@pytest.fixture(autouse=True)
def _stock_data(monkeypatch):
    if not data_dir().is_dir():
        pytest.skip("no local benchmark data")
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def gsm8k():
    """Stock lm-eval gsm8k (not written by this project), trained through the generic path."""
    return build_task("gsm8k")


def test_stock_gsm8k_trains_on_its_train_split_halved(gsm8k):
    assert gsm8k.label == "math" and gsm8k.choice is None
    assert len(gsm8k.train_docs) + len(gsm8k.val_docs) == 7473  # GSM8K train; its 1319 test never read
    assert gsm8k.stop == ["Question:", "</s>", "<|im_end|>"] and gsm8k.max_gen_toks == 256  # the task's own
    question = {d["question"] for d in gsm8k.train_docs}
    assert not question & {d["question"] for d in gsm8k.val_docs}


def test_reward_is_the_tasks_own_filter_and_metric(gsm8k):
    doc = gsm8k.train_docs[0]
    number = doc["answer"].split("####")[-1].strip()
    responses = [gsm8k.reference(doc), f"so the answer is {number}.", "#### 0"]
    assert gsm8k.reference(doc) == doc["answer"]  # doc_to_target
    assert gsm8k.score(responses, [doc] * 3) == [1.0, 0.0, 0.0]  # strict-match: needs "#### N"
    flexible = build_task("gsm8k", stock=StockOptions(reward_filter="flexible-extract"))
    assert flexible.score(responses, [doc] * 3) == [1.0, 1.0, 0.0]  # the last number


def test_rewards_equal_lm_evals_own_per_document_metric(gsm8k):
    """The same responses through lm-eval's evaluator path (filters on the task's instances, then
    process_results) give the rewards."""
    from t2eval.harness.tasks import lm_eval_task

    task = lm_eval_task("gsm8k")
    docs = gsm8k.train_docs[:4]
    responses = [gsm8k.reference(docs[0]), "no idea", f"#### {docs[2]['answer'].split('####')[-1].strip()}", "42"]
    task.build_all_requests(limit=4)
    instances = task.instances[:4]
    for inst, doc, response in zip(instances, docs, responses):
        inst.doc, inst.resps = doc, [response]
    task.apply_filters()
    expected = [task.process_results(inst.doc, [inst.filtered_resps["strict-match"]])["exact_match"]
                for inst in instances]
    assert gsm8k.score(responses, docs) == [float(v) for v in expected] == [1.0, 0.0, 1.0, 0.0]


def test_prompts_are_the_requests_lm_eval_builds(tiny_hf_folder):
    """With the chat template (--apply_chat_template) and without it, the trainer's prompt of a
    document is the context lm-eval's own request builder gives that document (`--num_fewshot 0`;
    gsm8k's shots are drawn at random per request, so equal contexts are checked zero-shot)."""
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness.tasks import load_task

    lm = HFLM(pretrained=str(tiny_hf_folder), batch_size=1, device="cpu")
    task = load_task("gsm8k")  # a fresh object: its config is changed below
    task.set_config(key="num_fewshot", value=0)
    for chat in (True, False):
        task.build_all_requests(limit=3, apply_chat_template=chat, chat_template=lm.apply_chat_template)
        stock = build_task("gsm8k", stock=StockOptions(chat="on" if chat else "off"))
        for inst in task.instances:
            assert stock.render(inst.doc, lm.tokenizer) == inst.args[0]
        assert ("<|im_start|>user" in task.instances[0].args[0]) is chat
    shots = build_task("gsm8k", stock=StockOptions(chat="off", num_fewshot=2)).render(inst.doc, lm.tokenizer)
    assert shots.endswith(inst.args[0]) and shots.count("Question:") == 3


def test_bad_reward_names_fail_before_any_model_loads():
    with pytest.raises(TaskError, match="did you mean 'flexible-extract'"):
        build_task("gsm8k", stock=StockOptions(reward_filter="flexible"))
    with pytest.raises(TaskError, match="reports exact_match"):
        build_task("gsm8k", stock=StockOptions(reward_metric="acc"))
    with pytest.raises(TaskError, match="reference_field='solution'.*answer"):
        build_task("gsm8k", stock=StockOptions(reference_field="solution"))
    with pytest.raises(TaskError, match="chat='yes'"):
        build_task("gsm8k", stock=StockOptions(chat="yes"))


def test_non_binary_metric_needs_a_threshold():
    from t2eval.harness.generative import GenerativeTaskError, Reward

    with pytest.raises(GenerativeTaskError, match="reward_threshold"):
        Reward("none", "bleu").of(23.5, "toy")
    assert Reward("none", "bleu", 20.0).of(23.5, "toy") == 1.0
    assert Reward("none", "bleu", 30.0).of(23.5, "toy") == 0.0


def test_the_scored_split_is_never_a_training_or_validation_split():
    with pytest.raises(TaskError, match="its test split is the one lm-eval scores"):
        build_task("gsm8k", val_split="validation")
    # a BBH task has one split, the one lm-eval scores: refused, with how to hold documents out
    with pytest.raises(TaskError, match="no training split.*training_split"):
        build_task("bbh_zeroshot_boolean_expressions")


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["rl", "sft"])
def test_cli_trains_stock_gsm8k_on_the_embedded_model(objective, tmp_path):
    """`t2eval train --task gsm8k steps=2` (stock lm-eval gsm8k, untouched) writes an expert with
    the task's reward settings in its provenance."""
    from click.testing import CliRunner

    from t2eval.cli import main
    from t2eval.svf.expert import load_expert

    out = tmp_path / "gsm8k.safetensors"
    args = ["train", "--task", "gsm8k", "--objective", objective, "--run-dir", str(tmp_path / "run"), "-o", str(out),
            "--threads", "1", "steps=2", "batch_size=2", "micro_batch=2", "max_new_tokens=8", "train_size=4",
            "val_size=2", "eval_every=2", "eval_batch=2"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expert = load_expert(out)
    prov = expert.provenance
    assert expert.label == "math" and prov["task"] == "gsm8k" and prov["objective"] == objective
    assert prov["steps_done"] == 2 and prov["val_docs"] == 2
    assert prov["lm_eval_task"]["reward"] == {"filter": "strict-match", "metric": "exact_match", "threshold": None}
    assert any(abs(float(v) - 1.0) > 0 for z in expert.z.values() for v in z.flatten()[:64])  # z moved
