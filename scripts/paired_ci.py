"""Paired bootstrap 95% CI of B - A for every task two lm-eval output folders share
(per-document metrics from their samples_*.jsonl, written with --log_samples, or the same
gzipped: samples_*.jsonl.gz).

Usage: python scripts/paired_ci.py BASE_DIR OTHER_DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from t2eval.report.runs import paired, read_results


def scores(folder: Path) -> dict:
    out = {}
    for path in sorted(folder.rglob("results_*.json")):
        for score in read_results(path):
            if score.per_doc:
                out[score.task] = score
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    a, b = scores(args.base), scores(args.other)
    rows = {}
    for task in sorted(set(a) & set(b)):
        diff = paired(a[task], b[task])
        rows[task] = {"metric": a[task].metric, "n": diff.n, "base": diff.mean_a, "other": diff.mean_b,
                      "diff": diff.diff, "low": diff.low, "high": diff.high, "significant": diff.significant}
        print(f"{task} {a[task].metric}: {diff}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
