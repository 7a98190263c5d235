"""Paired comparisons: bootstrap interval, p-value, Holm adjustment, macro over tasks."""

from __future__ import annotations

import pytest

from t2eval.stats import holm, macro_paired_bootstrap, paired_bootstrap


def test_a_clear_gain_is_significant_and_a_tie_is_not():
    base, better = [0.0] * 50 + [1.0] * 50, [1.0] * 90 + [0.0] * 10
    gain = paired_bootstrap(base, better)
    assert gain.diff == pytest.approx(0.4) and gain.low > 0 and gain.significant
    assert gain.p == pytest.approx(1 / 2000)  # no resample reaches 0
    same = [0.0, 1.0] * 50
    tie = paired_bootstrap(same, same[::-1])
    assert not tie.significant and tie.p > 0.5


def test_holm_multiplies_by_the_remaining_count_and_stays_monotone():
    got = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert got == {"a": pytest.approx(0.03), "c": pytest.approx(0.06), "b": pytest.approx(0.06)}
    assert holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}


def test_macro_weights_tasks_equally():
    pairs = {"small": ([0.0] * 10, [1.0] * 10), "large": ([1.0] * 90, [1.0] * 90)}
    macro = macro_paired_bootstrap(pairs)
    assert macro.diff == pytest.approx(0.5) and macro.n == 100 and macro.low == pytest.approx(0.5)
    with pytest.raises(ValueError):
        macro_paired_bootstrap({"empty": ([], [])})
