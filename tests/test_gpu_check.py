"""The prepared GPU check runs end to end in its CPU dry mode (so it is ready when a GPU is lent)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]


def test_gpu_check_dry_run_passes_every_check(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, "scripts/gpu_check.py", "--dry-run", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(out.read_text())
    assert set(record["checks"]) == {"equivalence", "install", "vllm", "timing", "train"}
    assert all(check["ok"] in (True, None) for check in record["checks"].values())  # None: vLLM not installed
    assert record["checks"]["install"]["tensors_differing_after_removal"] == 0
    assert record["checks"]["equivalence"]["max_abs_loglik_diff"] < 1e-3


def test_gpu_check_refuses_to_run_without_a_gpu_unless_dry():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    done = subprocess.run([sys.executable, "scripts/gpu_check.py", "--out", "/dev/null"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "pass --dry-run" in done.stderr
