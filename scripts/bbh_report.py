"""The BBH log-likelihood suite's table, task by task, with chance and majority-class rates.

Usage:
  python scripts/bbh_report.py reports/runs/bbh_ll/default_first40.json.gz   # a bench_pass1.py record
  python scripts/bbh_report.py runs/bbh_full [--t2 prompt]                   # a `t2eval compare` folder
From a compare folder, every fixed configuration in it (``none``, ``expert:<name>``) is an
oracle candidate (the best per task in hindsight, an upper bound). Chance and majority-class
rates are computed from the scored documents of each task (the first ``limit`` of its test split
when the runs were made with a limit).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from t2eval.benchmarks.bbh import constant_predictor_rates, load_bbh_splits
from t2eval.jsonl import read_json
from t2eval.report.runs import folder_scores
from t2eval.report.suite import compare_table, suite_record, suite_table


def compare_scores(folder: Path) -> tuple[dict[str, list], int | None]:
    """configuration -> its Scores, from every finished configuration of a compare folder."""
    scores, limits = {}, set()
    markers = [(json.loads(m.read_text()), m) for m in folder.glob("*/done.json")]
    for settings, marker in sorted(markers, key=lambda sm: (sm[0]["strategy"] != "none", sm[0]["strategy"])):
        scores[settings["strategy"]] = folder_scores(marker.parent)
        limits.add(settings.get("limit"))
    if len(limits) > 1:
        raise SystemExit(f"{folder}: its configurations were run with different limits {sorted(limits, key=str)}")
    return scores, limits.pop() if limits else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a bench_pass1.py record, or a t2eval compare --out folder")
    parser.add_argument("--t2", default="cls", help="the compared configuration of a compare folder (default: cls, the default strategy)")
    parser.add_argument("--macro", action="store_true",
                        help="a compare folder: every configuration's macro row instead of the per-task table")
    args = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.source.is_dir():
        scores, limit = compare_scores(args.source)
        if args.macro:
            print(compare_table(scores, per_task=False))
            return
        record = suite_record(scores, t2=args.t2)
    else:
        record = read_json(args.source)
        limit = record.get("limit")  # lm-eval's --limit scores the first documents of the test split
    rates = {task: constant_predictor_rates(list(load_bbh_splits(task.replace("bbh_ll_", "bbh_"))["test"])[:limit])
             for task in record["tasks_detail"]}
    print(suite_table(record, rates, prefix="bbh_ll_"))


if __name__ == "__main__":
    main()
