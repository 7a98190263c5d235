"""Dispatch confusion matrix from logged dispatch_t2 samples (lm-eval --log_samples).

Run:  python benchmarks/dispatch_matrix.py reports/runs/base/samples_dispatch_t2_*.jsonl.gz
      (plain ``.jsonl`` as lm-eval writes it, or gzipped as committed under reports/)
Re-parses each logged pass-1 response with the current ``parse_label`` and prints the
accuracy per true label and the matrix (rows = true task label, columns = parsed label).
"""

from __future__ import annotations

import sys
from collections import Counter

from t2eval.dispatch import LABELS, parse_label
from t2eval.jsonl import read_jsonl


def main(paths: list[str]) -> None:
    matrix: Counter = Counter()
    for path in paths:
        for sample in read_jsonl(path):
            matrix[(sample["target"], parse_label(sample["resps"][0][0]))] += 1
    truths = sorted({t for t, _ in matrix})
    total = sum(matrix.values())
    correct = sum(n for (t, p), n in matrix.items() if t == p)
    print(f"documents: {total}, accuracy: {correct / total:.3f}\n")
    print("| true \\ parsed | " + " | ".join(LABELS) + " |")
    print("|---|" + "---:|" * len(LABELS))
    for t in truths:
        print(f"| {t} | " + " | ".join(str(matrix[(t, p)]) for p in LABELS) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
