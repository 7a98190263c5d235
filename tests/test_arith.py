"""The generated arithmetic task: deterministic, disjoint splits, correct answers, one to
three operations on non-negative integers; it builds as an lm-eval task and a training task
scored exactly like gsm8k_t2."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from t2eval.benchmarks.gsm8k import gsm8k_gold
from t2eval.data import arith, load_split

OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b, "÷": lambda a, b: a / b}
LINE = re.compile(r"^(\d+) ([+\-×÷]) (\d+) = (\d+)$")


def test_splits_have_their_sizes_and_never_share_a_problem():
    train, test = arith.rows("train"), arith.rows("test")
    assert (len(train), len(test)) == (arith.SIZES["train"], arith.SIZES["test"])
    assert not {r["question"] for r in train} & {r["question"] for r in test}
    assert len({r["question"] for r in train}) == len(train)


def test_generation_is_deterministic_across_calls():
    arith._all_splits.cache_clear()
    first = arith.rows("test")
    arith._all_splits.cache_clear()
    assert arith.rows("test") == first


@pytest.mark.parametrize("split", arith.SPLITS)
def test_every_worked_answer_is_right_and_stays_a_non_negative_integer(split):
    steps_seen = set()
    for row in arith.rows(split):
        *work, final = row["answer"].split("\n")
        steps_seen.add(len(work))
        value = int(re.search(r"has (\d+) ", row["question"]).group(1))
        for line in work:
            a, op, b, result = LINE.match(line).groups()
            assert int(a) == value
            exact = OPS[op](int(a), int(b))
            assert exact == int(exact) and exact >= 0 and int(result) == exact
            value = int(result)
        assert final == f"#### {value}"
        assert gsm8k_gold(row) == value  # gsm8k_t2's scorer reads it
    assert steps_seen == {1, 2, 3}


def test_load_split_serves_it_in_gsm8k_schema_and_refuses_an_unknown_split():
    rows = load_split("arith", "test")
    assert rows.column_names == ["question", "answer"] and len(rows) == 500
    with pytest.raises(Exception, match="no split 'validation'.*train, test"):
        load_split("arith", "validation")


def test_lm_eval_task_and_training_task(monkeypatch):
    from lm_eval.tasks import TaskManager

    from t2eval.train.data import build_task

    task = TaskManager(include_path=str(REPO / "task_configs"), include_defaults=False).load(["arith_t2"])
    task = task["tasks"]["arith_t2"]
    doc = list(task.test_docs())[0]
    assert doc == arith.rows("test")[0]
    assert task.doc_to_text(doc).startswith(doc["question"]) and "The answer is N." in task.doc_to_text(doc)
    gold = str(int(gsm8k_gold(doc)))
    assert task.process_results(doc, [f"so\nThe answer is {gold}."]) == {"exact_match": 1.0}
    assert task.process_results(doc, [f"The answer is {int(gold) + 1}."]) == {"exact_match": 0.0}

    train = build_task("arith_t2", seed=0)
    assert train.label == "math" and len(train.train_docs) == len(train.val_docs) == 1000
    tests = {r["question"] for r in arith.rows("test")}
    assert not tests & {d["question"] for d in train.train_docs + train.val_docs}
    assert train.score(["The answer is 3.", f"The answer is {gold}."], [doc, doc]) == [0.0, 1.0]
    assert train.reference(doc).endswith(f"The answer is {gold}.")
