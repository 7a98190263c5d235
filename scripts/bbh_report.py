"""The BBH log-likelihood suite's table from a ``benchmarks/bench_pass1.py`` record.

Usage: python scripts/bbh_report.py reports/runs/bbh_ll/default.json.gz > table.md
Chance and majority-class rates are computed from the scored documents of each task (the
first ``limit`` of its test split when the record was made with a limit).
"""

from __future__ import annotations

import os
import sys

from t2eval.benchmarks.bbh import constant_predictor_rates, load_bbh_splits
from t2eval.jsonl import read_json
from t2eval.report.suite import suite_table


def main(path: str) -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    record = read_json(path)
    limit = record.get("limit")  # lm-eval's --limit scores the first documents of the test split
    rates = {task: constant_predictor_rates(list(load_bbh_splits(task.replace("bbh_ll_", "bbh_"))["test"])[:limit])
             for task in record["tasks_detail"]}
    print(suite_table(record, rates, prefix="bbh_ll_"))


if __name__ == "__main__":
    main(sys.argv[1])
