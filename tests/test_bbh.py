"""The BBH log-likelihood suite: options parsed from the documents, the held-out documents
kept out of the scored ones by construction, constant-predictor rates."""

from __future__ import annotations

import pytest

from conftest import data_dir
from t2eval.benchmarks.bbh import (FREE_FORM, HELD_OUT, LL_TASKS, constant_predictor_rates, held_out_indices,
                                   lettered_options, load_bbh_splits, with_choices)
from t2eval.benchmarks.bbh import BBH_TASKS


def test_lettered_options_are_the_option_texts():
    text = "Which is a fruit?\nOptions:\n(A) carrot\n(B) apple pie\n(C) pear"
    assert lettered_options(text) == {"A": "carrot", "B": "apple pie", "C": "pear"}
    [row] = with_choices([{"input": text, "target": "(C)"}])
    assert row["choices"] == ["carrot", "apple pie", "pear"] and row["gold"] == 2


def test_two_answer_tasks_share_their_words_and_free_form_is_refused():
    rows = with_choices([{"input": "x", "target": "Yes"}, {"input": "y", "target": "No"}])
    assert [r["choices"] for r in rows] == [["No", "Yes"]] * 2 and [r["gold"] for r in rows] == [1, 0]
    with pytest.raises(ValueError, match="free-form"):
        with_choices([{"input": "x", "target": "12"}, {"input": "y", "target": "7"}, {"input": "z", "target": "3"}])
    assert set(LL_TASKS) | set(FREE_FORM) == set(BBH_TASKS) and len(LL_TASKS) == 23


def test_held_out_documents_are_fixed_and_never_scored(monkeypatch):
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))
    assert held_out_indices("navigate", 250) == held_out_indices("navigate", 250)
    splits = load_bbh_splits("bbh_navigate")
    held, scored = list(splits["validation"]), list(splits["test"])
    assert len(held) == HELD_OUT and len(held) + len(scored) == 250
    assert not {r["input"] for r in held} & {r["input"] for r in scored}


def test_constant_predictor_rates():
    docs = [{"choices": ["a", "b"], "gold": 0}, {"choices": ["a", "b", "c", "d"], "gold": 0},
            {"choices": ["a", "b"], "gold": 1}, {"choices": ["a", "b"], "gold": 0}]
    assert constant_predictor_rates(docs) == {"chance": pytest.approx((0.5 * 3 + 0.25) / 4), "majority": 0.75}
