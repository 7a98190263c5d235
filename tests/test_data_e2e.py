"""End-to-end checks that lm-eval's *stock* tasks run offline after `t2eval data import`.

Slow (each test starts lm-eval in a subprocess, which indexes ~10k task YAMLs):
run with ``pytest -m slow tests/test_data_e2e.py``. Data comes from $T2EVAL_DATA_DIR,
defaulting to ../shared/datasets next to the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2eval.data import STOCK_TASKS

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("T2EVAL_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "datasets")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA_DIR.is_dir(),
                       reason=f"local benchmark copies not found at {DATA_DIR} (set T2EVAL_DATA_DIR)"),
]


def _offline_env(cache: Path) -> dict[str, str]:
    """dict[str, str]: this environment, offline, with the datasets cache at `cache`."""
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("T2EVAL_DATA_DIR", None)
    return env


def _run(args: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `args`; fail the test with the output tail when it exits non-zero."""
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, f"{args[:4]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def _cli_import(cache: Path, *only: str) -> str:
    """str: output of `t2eval data import DATA_DIR --cache-dir cache [--only ...]` run as a subprocess."""
    args = [sys.executable, "-m", "t2eval.cli", "data", "import", str(DATA_DIR), "--cache-dir", str(cache)]
    for name in only:
        args += ["--only", name]
    return _run(args, _offline_env(cache)).stdout


@pytest.fixture(scope="module")
def full_cache(tmp_path_factory) -> Path:
    """A datasets cache into which the CLI imported every dataset."""
    cache = tmp_path_factory.mktemp("hf-cache-all")
    out = _cli_import(cache)
    assert out.count("written") == len(STOCK_TASKS)
    return cache


_BUILD_TASKS = r"""
import json, sys
from pathlib import Path
import lm_eval.tasks
from lm_eval.tasks import TaskManager
builtin = Path(lm_eval.tasks.__file__).parent
targets = {tuple(t) for t in json.loads(sys.argv[1])}
tm = TaskManager()
# every built-in task (not t2eval's own) reading one of our hub configs
using = sorted(name for name, entry in tm.task_index.items()
               if entry.cfg and entry.yaml_path and Path(entry.yaml_path).is_relative_to(builtin)
               and (entry.cfg.get("dataset_path"), entry.cfg.get("dataset_name")) in targets)
docs = {}
for name in json.loads(sys.argv[2]):
    built = tm.load_task_or_group([name])
    (task,) = built.values()
    docs[name] = len(list(task.eval_docs))
print(json.dumps({"using": using, "docs": docs}))
"""

# Tasks whose data AND code run offline with the packages t2eval installs. Not built here:
# minerva_math* (need the `lm-eval[math]` extras: sympy, math_verify, antlr4) and mbpp /
# mbpp_instruct (their metric calls evaluate.load("code_eval"), which needs the hub);
# their datasets are the same hub configs as tasks below / are checked by test_data.py.
_MATH_TEST = {"algebra": 1187, "counting_and_prob": 474, "geometry": 479, "intermediate_algebra": 903,
              "num_theory": 540, "prealgebra": 871, "precalc": 546}
_EXPECTED_DOCS = {
    "arc_easy": 2376, "arc_challenge": 1172, "arc_challenge_chat": 1172,
    "arc_challenge_llama": 1165,  # its process_docs keeps the 4-choice questions only
    **{task: 1319 for task in STOCK_TASKS[("openai/gsm8k", "main")]},
    **{f"hendrycks_math_{subject}": n for subject, n in _MATH_TEST.items()},
    **{f"non_greedy_robustness_math_{subject}": n for subject, n in _MATH_TEST.items()},
    **{f"prompt_robustness_math_{subject}": 10 * n for subject, n in _MATH_TEST.items()},  # 10 prompts each
    "hendrycks_math500": 500,
    "bbh_zeroshot_boolean_expressions": 250, "bbh_cot_fewshot_snarks": 178,  # BIG-Bench Hard, two of 132
}


def test_stock_tasks_build_offline_and_list_is_complete(full_cache):
    targets = [list(key) for key in STOCK_TASKS]
    proc = _run([sys.executable, "-c", _BUILD_TASKS, json.dumps(targets), json.dumps(sorted(_EXPECTED_DOCS))],
                _offline_env(full_cache))
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    listed = sorted(task for tasks in STOCK_TASKS.values() for task in tasks)
    assert got["using"] == listed, "STOCK_TASKS is out of date with lm-eval's task YAMLs"
    assert got["docs"] == _EXPECTED_DOCS


def _minerva_extras_ok() -> bool:
    """lm-eval's minerva_math needs sympy, math_verify and exactly antlr4-python3-runtime 4.11
    (its utils.py asserts it); t2eval's own math tasks use math-verify with antlr4 4.13."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        antlr_ok = version("antlr4-python3-runtime").startswith("4.11")
    except PackageNotFoundError:
        return False
    return antlr_ok and all(importlib.util.find_spec(m) for m in ("sympy", "math_verify"))


@pytest.mark.skipif(not _minerva_extras_ok(),
                    reason="minerva_math needs the lm-eval[math] extras incl. antlr4-python3-runtime==4.11 "
                           "(t2eval's math-verify needs 4.13)")
def test_minerva_math_builds_offline(full_cache):
    proc = _run([sys.executable, "-c", _BUILD_TASKS, "[]", json.dumps(["minerva_math_algebra", "minerva_math500"])],
                _offline_env(full_cache))
    docs = json.loads(proc.stdout.strip().splitlines()[-1])["docs"]
    assert docs == {"minerva_math_algebra": 1187, "minerva_math500": 500}


def _model_path() -> str:
    """str: the embedded SmolLM2-135M-Instruct as a plain HF folder (skip when t2eval.models is missing)."""
    try:
        from t2eval.models import resolve_model_path
    except ImportError as error:
        pytest.skip(f"t2eval.models.resolve_model_path not available: {error}")
    return resolve_model_path()


def test_stock_lm_eval_cli_runs_arc_easy_and_gsm8k_offline(tmp_path):
    model = _model_path()
    cache = tmp_path / "hf-cache"
    out = _cli_import(cache, "arc_easy", "gsm8k")
    assert "written     allenai/ai2_arc [ARC-Easy]" in out and "written     openai/gsm8k [main]" in out
    results_dir = tmp_path / "results"
    _run(["lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
          "--tasks", "arc_easy,gsm8k", "--limit", "5", "--batch_size", "8", "--device", "cpu",
          "--gen_kwargs", "max_gen_toks=16", "--output_path", str(results_dir)],
         _offline_env(cache))
    (results_file,) = results_dir.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert 0.0 <= results["results"]["arc_easy"]["acc,none"] <= 1.0
    assert 0.0 <= results["results"]["gsm8k"]["exact_match,strict-match"] <= 1.0
    assert results["n-samples"]["arc_easy"]["effective"] == 5
    assert results["n-samples"]["gsm8k"]["effective"] == 5
