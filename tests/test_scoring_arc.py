"""The ARC option-letter parser."""

import pytest

from t2eval.benchmarks.arc import arc_letter, score_arc


@pytest.mark.parametrize("response, letter", [
    ("A", "A"), ("B.", "B"), ("(C) the sun", "C"), ("D) wind", "D"), ("Answer: B", "B"),
    ("The answer is C", "C"), ("A. wood", "A"), ("A: yes", "A"), ("B is correct", "B"),
    # a leading article is not option A (three logged cases read "A woodpecker taps…" as A)
    ("A woodpecker taps on trees.", None), ("A plant needs light, so the answer is D", "D"), ("An animal", None),
])
def test_arc_letter(response, letter):
    assert arc_letter(response) == letter


def test_score_arc_relabels_numeric_keys():
    doc = {"choices": {"text": ["x", "y"], "label": ["1", "2"]}, "answerKey": "2"}
    assert score_arc("B", doc) == 1.0 and score_arc("A woodpecker", doc) == 0.0
