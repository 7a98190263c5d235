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
    return PairedDiff(n, sum(a) / n, sum(b) / n, sum(diffs) / n,
                      means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1])
