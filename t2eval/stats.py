"""Paired comparisons of two systems scored on the same documents."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class PairedDiff:
    n: int
    mean_a: float
    mean_b: float
    diff: float  # mean_b - mean_a
    low: float  # 95% bootstrap interval of diff
    high: float
    p: float = 1.0  # two-sided bootstrap p-value of diff = 0 (from the same resamples)

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        mark = "" if self.significant else ", CI includes 0"
        return (f"{self.mean_a:.4f} -> {self.mean_b:.4f} ({self.diff:+.4f}, paired 95% CI "
                f"{self.low:+.4f}..{self.high:+.4f}{mark}; n={self.n})")


def paired_bootstrap(a: list[float], b: list[float], resamples: int = 2000, seed: int = 0) -> PairedDiff:
    """Mean of ``b - a`` over documents with a percentile bootstrap 95% interval (documents resampled)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired scores need the same non-zero number of documents, got {len(a)} and {len(b)}")
    diffs = [y - x for x, y in zip(a, b)]
    n, rng = len(diffs), random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return PairedDiff(n, sum(a) / n, sum(b) / n, sum(diffs) / n, *_interval(means), _p_value(means))


def _interval(means: list[float]) -> tuple[float, float]:
    """The percentile 95% interval of sorted resampled means."""
    return means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def _p_value(means: list[float]) -> float:
    """Two-sided bootstrap p-value of a mean of 0: twice the smaller share of resampled means on
    either side of 0 (at least 1/resamples)."""
    below, above = sum(m <= 0 for m in means), sum(m >= 0 for m in means)
    return min(1.0, max(2 * min(below, above), 1) / len(means))


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (family-wise error over all the comparisons given)."""
    order = sorted(p_values, key=p_values.get)
    m, adjusted, running = len(order), {}, 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[key]))
        adjusted[key] = running
    return adjusted


def macro_paired_bootstrap(pairs: dict[str, tuple[list[float], list[float]]], resamples: int = 2000,
                           seed: int = 0) -> PairedDiff:
    """The macro average (mean over tasks of each task's mean) of ``b - a`` with a 95% interval
    from resampling documents within each task; ``n`` counts every document."""
    rng, tasks = random.Random(seed), list(pairs)
    diffs = {t: [y - x for x, y in zip(*pairs[t])] for t in tasks}
    if not tasks or any(not d for d in diffs.values()):
        raise ValueError("macro bootstrap needs at least one task and documents in every task")

    def macro(values: dict[str, list[float]]) -> float:
        return sum(sum(v) / len(v) for v in values.values()) / len(values)

    means = sorted(sum(sum(d[rng.randrange(len(d))] for _ in d) / len(d) for d in diffs.values()) / len(tasks)
                   for _ in range(resamples))
    return PairedDiff(sum(len(d) for d in diffs.values()), macro({t: pairs[t][0] for t in tasks}),
                      macro({t: pairs[t][1] for t in tasks}), macro(diffs), *_interval(means), _p_value(means))
