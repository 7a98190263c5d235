"""The `math` / `math500` scorer: \\boxed{} extraction, equivalence (math-verify in a
worker with a hard timeout) and the gold answers of both datasets."""

from __future__ import annotations

import threading
import time

import pytest

from t2eval.benchmarks import math as math_bench
from t2eval.math_equiv import MathChecker, is_equivalent, last_boxed, normalize_answer


@pytest.fixture(scope="module")
def checker():
    """A private checker (its own worker), closed at the end of the module."""
    chk = MathChecker()
    yield chk
    chk.close()


# ----------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("text, expected", [
    (r"so the answer is $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"\boxed{1} first, then \boxed{ 2 }", "2"),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"$\boxed 5$", "5"),
    (r"\fbox{x=3}", "x=3"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"unfinished \boxed{\frac{1}{2}", None),
    (r"\boxed{7} then unfinished \boxed{\frac{1}{2}", "7"),
    ("no box at all: 42", None),
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_normalize_answer_is_conservative():
    assert normalize_answer(r"\text{(C)}") == normalize_answer("(C)")
    assert normalize_answer(r"\dfrac{1}{2}") == normalize_answer(r"\frac{1}{2}")
    assert normalize_answer(r"\left( 1, 3 \right]") == normalize_answer("(1,3]")
    assert normalize_answer("(1,3]") != normalize_answer("[1,3]")
    assert normalize_answer("0.5") != normalize_answer("5")


# ----------------------------------------------------------------------------- equivalence

EQUIVALENT = [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", r"\dfrac12"),
    (r"\frac{1}{2}", "1/2"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"(1, 3]", r"\left(1,3\right]"),
    (r"(-\infty, 2) \cup (3, \infty)", r"(-\infty,2)\cup(3,\infty)"),
    ("3", "x=3"),
    ("3", "x = 3"),
    (r"\text{Monday}", "Monday"),
    (r"\text{(C)}", "C"),
    ("1,000", "1000"),
    (r"90^\circ", "90"),
    (r"x^2+2x+1", r"(x+1)^2"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
]

DIFFERENT = [
    ("5", "6"),
    (r"\frac{1}{2}", "0.51"),
    (r"(1, 3]", "[1, 3]"),
    (r"\text{even}", r"\text{odd}"),
    (r"2\sqrt{2}", r"\sqrt{2}"),
    ("3", "x=4"),
    ("3", ""),
]


@pytest.mark.parametrize("gold, pred", EQUIVALENT)
def test_equivalent_answers(checker, gold, pred):
    assert checker.check(gold, pred).equal, (gold, pred)


@pytest.mark.parametrize("gold, pred", DIFFERENT)
def test_different_answers(checker, gold, pred):
    assert not checker.check(gold, pred).equal, (gold, pred)


def test_pathological_answer_is_cut_off_by_the_hard_timeout(checker):
    start = time.monotonic()
    judged = checker.check("5", r"9^{9^{9}}", timeout=1.0)  # math-verify alone would take ~3 s
    assert (judged.equal, judged.how) == (False, "timeout")
    assert time.monotonic() - start < 2.5
    assert checker.check(r"\frac{1}{2}", "0.5").equal  # a fresh worker took over


def test_pathological_answer_within_default_timeout_is_wrong_not_hung():
    start = time.monotonic()
    assert not is_equivalent("5", r"(10^{8})!")
    assert time.monotonic() - start < 12


def test_checker_works_from_threads(checker):
    """math-verify's signal timeouts only work in a main thread; the worker makes threads safe."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(checker.check(r"2\sqrt{2}", r"\sqrt{8}").equal))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [True, True, True]


# ----------------------------------------------------------------------------- scorer

MATH_DOC = {"problem": "Compute $1/2$.", "level": "Level 1", "type": "Prealgebra",
            "solution": r"First \boxed{1}? No: it is $\boxed{\frac{1}{2}}$."}
MATH500_DOC = {"problem": "Where?", "solution": r"... $\boxed{(3, \frac{\pi}{2})}$",
               "answer": r"\left( 3, \frac{\pi}{2} \right)", "subject": "Precalculus", "level": 2,
               "unique_id": "test/precalculus/807.json"}


def test_math_gold():
    assert math_bench.math_gold(MATH_DOC) == r"\frac{1}{2}"  # the LAST box of the solution
    assert math_bench.math_gold(MATH500_DOC) == r"\left( 3, \frac{\pi}{2} \right)"  # the answer field
    with pytest.raises(ValueError, match="without a reference answer"):
        math_bench.math_gold({"problem": "p", "solution": "no box"})


@pytest.mark.parametrize("response, score", [
    (r"Half of one. The answer is $\boxed{0.5}$.", 1.0),
    (r"$\boxed{\dfrac12}$", 1.0),
    (r"I first thought \boxed{2}, but it is \boxed{1/2}.", 1.0),
    (r"The answer is 1/2.", 0.0),  # no \boxed{}: the format was asked for
    (r"$\boxed{2}$", 0.0),
    ("", 0.0),
])
def test_score_math(response, score):
    assert math_bench.score_math(response, MATH_DOC) == score


def test_score_math500():
    assert math_bench.score_math500(r"So $(r,\theta) = \boxed{(3, \pi/2)}$", MATH500_DOC) == 1.0
    assert math_bench.score_math500(r"$\boxed{(3, \pi)}$", MATH500_DOC) == 0.0
