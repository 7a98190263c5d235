"""How many times each test set was read, per method, from the results files on record.

Counts every lm-eval results file under the given folders (default: reports/runs) by (task,
method key, documents): a claim's test set should be read once per configuration. Runs on fewer
than 100 documents are smoke tests and are counted apart. Prints a markdown table.

Usage: python scripts/test_reads.py [FOLDER ...] [--tasks arc_easy,arc_challenge,...]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from t2eval.report.runs import collect
from t2eval.report.tables import MIN_DOCS, current

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, default=[REPO / "reports" / "runs"])
    parser.add_argument("--tasks", default="", help="comma list: only these tasks")
    args = parser.parse_args()
    wanted = set(filter(None, args.tasks.split(",")))
    scores, _, _ = collect(args.folders)
    reads = Counter((s.task, s.method, s.n, current(s)) for s in scores
                    if s.n >= MIN_DOCS and (not wanted or s.task in wanted))
    smoke = Counter(s.task for s in scores if s.n < MIN_DOCS and (not wanted or s.task in wanted))
    print("| task | method | documents | results files | current task version |")
    print("|---|---|---:|---:|---|")
    for (task, method, n, now), count in sorted(reads.items()):
        print(f"| {task} | {method} | {n} | {count} | {'yes' if now else 'no (stale)'} |")
    if smoke:
        print("\nSmoke tests (< 100 documents): " + ", ".join(f"{t} {c}" for t, c in sorted(smoke.items())))


if __name__ == "__main__":
    main()
