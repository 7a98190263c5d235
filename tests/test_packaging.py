"""A regular (non-editable) install works: every package, the task YAMLs, the shipped experts
and the lm-eval hook are in the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_declared():
    """A package missing from pyproject's list is missing from the wheel (t2eval.dispatch was)."""
    tomllib = pytest.importorskip("tomllib")
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "t2eval").rglob("__init__.py")}
    assert found <= declared, f"add to [tool.setuptools] packages: {sorted(found - declared)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True)
    return next(out.glob("t2eval-*.whl"))


@pytest.mark.slow
def test_wheel_holds_experts_tasks_and_hook(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.relative_to(ROOT / "experts").as_posix() for p in (ROOT / "experts").rglob("*")
                     if p.is_file() and p.suffix in (".safetensors", ".toml") and "__pycache__" not in p.parts)
    assert shipped and all(f"t2eval/experts/{name}" in names for name in shipped)
    assert "t2eval/task_configs/arc_easy_t2.yaml" in names and "t2eval/task_configs/utils.py" in names
    assert "t2eval/dispatch/scorer.py" in names and "t2eval-lm-eval.pth" in names


@pytest.mark.slow
def test_installed_wheel_runs_lm_eval_with_the_shipped_experts(wheel, tmp_path):
    """Installed into a fresh virtualenv (reusing the installed dependencies) and run from
    outside the checkout, `lm_eval --model t2` finds t2eval's tasks and shipped experts."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "T2EVAL_EXPERTS")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH="")
    where = subprocess.run([str(python), "-c", "import t2eval, t2eval.adapt.library as l; "
                            "print(t2eval.__file__); print(l.default_experts_dir('smollm2-135m-instruct'))"],
                           cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert str(venv) in where[0] and str(venv) in where[1], where  # the wheel's copy, not the checkout
    run = subprocess.run([str(python), "-m", "lm_eval", "--model", "t2", "--tasks", "arc_easy_t2", "--limit", "2",
                          "--gen_kwargs", "max_gen_toks=8"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    assert "strategy=cls" in log and str(venv) in log and "reasoning [reasoning]" in log, log[-3000:]
    assert "arc_easy_t2" in run.stdout
