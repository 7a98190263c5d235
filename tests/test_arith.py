"""The generated arithmetic task: deterministic splits disjoint on structure (not only text),
correct answers, one to three operations on non-negative integers (four in the long stratum,
larger numbers in the large one); it builds as lm-eval tasks and a training task scored
exactly like gsm8k_t2."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from t2eval.benchmarks.gsm8k import gsm8k_gold
from t2eval.data import arith, load_split

OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b, "÷": lambda a, b: a / b}
LINE = re.compile(r"^(\d+) ([+\-×÷]) (\d+) = (\d+)$")


def structure(row: dict) -> tuple:
    """The arithmetic of a row, read from its worked answer: (start, ((op, operand), ...))."""
    lines = [LINE.match(line).groups() for line in row["answer"].split("\n")[:-1]]
    return int(lines[0][0]), tuple((op, int(b)) for _, op, b, _ in lines)


def test_splits_have_their_sizes_and_never_share_a_problem():
    rows = {split: arith.rows(split) for split in arith.SPLITS}
    assert {split: len(r) for split, r in rows.items()} == arith.SIZES
    questions = [r["question"] for split in arith.SPLITS for r in rows[split]]
    assert len(set(questions)) == len(questions)


def test_no_validation_or_test_problem_shares_its_arithmetic_with_train():
    train = {structure(r) for r in arith.rows("train")}
    for split in ("validation", "test", "test_long", "test_large"):
        assert not train & {structure(r) for r in arith.rows(split)}, split
    assert not {structure(r) for r in arith.rows("validation")} & {structure(r) for r in arith.rows("test")}
    # the same arithmetic under other names and objects exists, and stays within one split
    test = [structure(r) for r in arith.rows("test")]
    assert len(set(test)) < len(test)


def test_out_of_distribution_strata_are_out_of_the_training_range():
    train = [structure(r) for r in arith.rows("train")]
    assert max(len(ops) for _, ops in train) == 3 and max(start for start, _ in train) <= 15
    assert {len(ops) for _, ops in map(structure, arith.rows("test_long"))} == {4}
    for start, ops in map(structure, arith.rows("test_large")):
        assert start >= 20 and all(n >= 10 for op, n in ops if op in "+-")


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
    assert steps_seen == ({4} if split == "test_long" else {1, 2, 3})


def test_load_split_serves_it_in_gsm8k_schema_and_refuses_an_unknown_split():
    rows = load_split("arith", "test")
    assert rows.column_names == ["question", "answer"] and len(rows) == 500
    with pytest.raises(Exception, match="no split 'dev'.*train, validation, test"):
        load_split("arith", "dev")


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

    train = build_task("arith_t2", seed=0, val_split="validation")
    assert train.label == "math" and (len(train.train_docs), len(train.val_docs)) == (2000, 200)
    assert train.val_docs == arith.rows("validation")
    tests = {r["question"] for r in arith.rows("test")}
    assert not tests & {d["question"] for d in train.train_docs + train.val_docs}
    assert train.score(["The answer is 3.", f"The answer is {gold}."], [doc, doc]) == [0.0, 1.0]
    assert train.reference(doc).endswith(f"The answer is {gold}.")


def test_strata_and_the_real_word_problem_slice_are_lm_eval_tasks():
    from lm_eval.tasks import TaskManager

    from t2eval.benchmarks.gsm8k import calculations

    names = ["arith_t2_long", "arith_t2_large", "gsm8k_t2_short"]
    tasks = TaskManager(include_path=str(REPO / "task_configs"), include_defaults=False).load(names)["tasks"]
    assert list(tasks["arith_t2_long"].test_docs()) == arith.rows("test_long")
    assert list(tasks["arith_t2_large"].test_docs()) == arith.rows("test_large")
    short = list(tasks["gsm8k_t2_short"].test_docs())
    assert len(short) == 440 and max(calculations(d) for d in short) == 2
    assert len(list(tasks["gsm8k_t2_short"].training_docs())) == 2674
