"""The trainer under torchrun on CPU (gloo): two processes end at the z of one process with the
same global batch (deterministic objective), both ranks hold the same z, rank 0 alone writes the
run folder, and a run whose rank is killed with SIGKILL resumes to the same z."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TESTS = Path(__file__).parent
WORKER = TESTS / "dp_train_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(run_dir, objective="sft", steps=4, procs=1, extra=()) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    env.pop("WORLD_SIZE", None)
    launcher = [sys.executable] if procs == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]
    return subprocess.run([*launcher, str(WORKER), str(run_dir), objective, str(steps), *extra], env=env,
                          capture_output=True, text=True, timeout=600)


def _z(run_dir, rank=0) -> dict:
    return load_file(str(Path(run_dir) / f"z_rank{rank}.safetensors"))


def _same(a: dict, b: dict, atol=1e-5) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=1e-4)


def _steps(run_dir) -> list[dict]:
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return rows


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp") / "single"
    done = _run(out, steps=6)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_two_processes_reach_the_z_of_one(single, tmp_path):
    done = _run(tmp_path / "two", steps=6, procs=2)
    assert done.returncode == 0, done.stderr[-3000:]
    moved = _z(single)
    assert any(not torch.allclose(v, torch.ones_like(v)) for v in moved.values())  # training did something
    _same(_z(tmp_path / "two", 0), moved)
    _same(_z(tmp_path / "two", 1), _z(tmp_path / "two", 0), atol=0)  # every rank holds the same z
    one, two = _steps(single), _steps(tmp_path / "two")
    assert [r["type"] for r in two] == [r["type"] for r in one]      # rank 0 wrote each line once
    for a, b in zip(one, two):
        for key in ("nll", "val_acc", "val_nll", "tokens", "batch"):
            if key in a and a[key] is not None:
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key
    assert json.loads((tmp_path / "two" / "config.json").read_text())["data_parallel"] == 2


def test_a_killed_rank_stops_the_launch_and_the_run_resumes(single, tmp_path):
    run = tmp_path / "killed"
    done = _run(run, steps=6, procs=2, extra=["--kill-after", "3"])
    assert done.returncode != 0                                   # the launch failed, it did not hang
    assert sum(r["type"] == "step" for r in _steps(run)) == 3       # the kill came after update 3
    again = _run(run, steps=6, procs=2, extra=["--resume"])
    assert again.returncode == 0, again.stderr[-3000:]
    _same(_z(run, 0), _z(single))
    assert sum(r["type"] == "step" for r in _steps(run)) == 6


def test_sampled_rollouts_shard_and_stay_in_step(tmp_path):
    """objective=rl (k=2 samples, leave-one-out): ranks sample different rollouts, yet end with
    the same z (the summed gradient), and every step line counts the global batch's samples."""
    done = _run(tmp_path / "rl", objective="rl", steps=2, procs=2)
    assert done.returncode == 0, done.stderr[-3000:]
    _same(_z(tmp_path / "rl", 1), _z(tmp_path / "rl", 0), atol=0)
    steps = [r for r in _steps(tmp_path / "rl") if r["type"] == "step"]
    assert [r["samples"] for r in steps] == [16, 16]


@pytest.mark.slow
def test_cli_under_torchrun_on_the_embedded_model(tmp_path):
    """`torchrun -m t2eval.cli train` (choice objective, stock arc_easy): rank 0 writes the
    expert, and its z equals the single-process CLI's."""
    from conftest import data_dir
    from t2eval.svf import load_expert

    if not data_dir().is_dir():
        pytest.skip(f"benchmark data not found at {data_dir()}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "T2EVAL_DATA_DIR": str(data_dir())}
    args = ["-m", "t2eval.cli", "train", "--task", "arc_easy", "--objective", "choice", "--quiet", "steps=2",
            "batch_size=4", "micro_batch=2", "eval_every=2", "val_size=4", "track_kl=false", "threads=1"]
    experts = {}
    for name, procs in (("one", 1), ("two", 2)):
        done = subprocess.run([*([sys.executable] if procs == 1 else
                                 [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                                  "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]),
                               *args, "--run-dir", str(tmp_path / name), "-o", str(tmp_path / f"{name}.safetensors")],
                              env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count("written to") == 1          # one rank reports
        experts[name] = load_expert(tmp_path / f"{name}.safetensors")
    assert json.loads((tmp_path / "two" / "config.json").read_text())["data_parallel"] == 2
    for key, z in experts["one"].z.items():
        torch.testing.assert_close(experts["two"].z[key], z, atol=1e-5, rtol=1e-4)
    assert any(not torch.allclose(z, torch.ones_like(z)) for z in experts["one"].z.values())
