"""Data-parallel `--model t2` under torchrun and `accelerate launch` on CPU (gloo): each rank
plans and answers its own shard, and the results equal a single-process run's, decisions included."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]

ARGS = ["--model", "t2", "--tasks", "arc_easy,gsm8k_t2", "--limit", "4", "--gen_kwargs", "max_gen_toks=16",
        "--apply_chat_template", "--log_samples", "--batch_size", "4", "--device", "cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(launcher: list[str], out, extra=()) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "T2EVAL_DATA_DIR": str(data_dir()),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, "-m", "lm_eval", *ARGS, *extra, "--output_path", str(out)], env=env,
                          capture_output=True, text=True, timeout=900)


def _load(out) -> tuple[dict, dict]:
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = {}
    for path in out.rglob("samples_*.jsonl"):
        for line in path.read_text().splitlines():
            s = json.loads(line)
            samples[(s["doc_id"], path.name.split("samples_")[1].rsplit("_", 1)[0])] = (s["resps"], s.get("acc"),
                                                                                      s.get("exact_match"))
    return results, samples


def _torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_addr", "127.0.0.1", "--master_port", str(_free_port())]


def _accelerate() -> list[str]:
    """accelerate's torchrun launcher (its ``--multi_gpu`` mode also runs CPU processes; its
    ``--cpu`` mode would need mpirun)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(_free_port())]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp") / "single"
    done = _run([sys.executable], out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.parametrize("launcher", [_torchrun, _accelerate], ids=["torchrun", "accelerate"])
def test_two_processes_equal_one(single, launcher, tmp_path):
    double = _run(launcher(), tmp_path / "double")
    assert double.returncode == 0, double.stderr[-3000:]
    assert "on rank 1" in double.stderr  # lm-eval really sharded the documents
    (one, one_samples), (two, two_samples) = _load(single), _load(tmp_path / "double")
    assert len(two_samples) == 8 and two_samples.keys() == one_samples.keys()
    for key, (resps, acc, em) in one_samples.items():   # same answers; log-likelihoods equal up to
        resps2, acc2, em2 = two_samples[key]             # batching noise (other batch neighbours per rank)
        assert (acc2, em2) == (acc, em)
        if key[1] == "gsm8k_t2":
            assert resps2 == resps
        else:
            assert [float(r[0][0]) for r in resps2] == pytest.approx([float(r[0][0]) for r in resps], abs=1e-3)
    t2_one, t2_two = one["config"]["t2"], two["config"]["t2"]
    assert t2_two["pass1_decisions"] == t2_one["pass1_decisions"]      # gathered from both ranks
    assert t2_two["pass1_labels"] == t2_one["pass1_labels"]
    ranks = t2_two["data_parallel"]["ranks"]
    assert t2_two["data_parallel"]["world_size"] == 2 and [r["rank"] for r in ranks] == [0, 1]
    assert all(r["seconds"]["pass1"] > 0 for r in ranks) and t2_one["data_parallel"] is None
    for task in ("arc_easy", "gsm8k_t2"):
        assert two["results"][task] == one["results"][task]


def test_settings_that_cannot_run_data_parallel_fail_clearly(tmp_path):
    done = _run(_torchrun(), tmp_path / "bad", ["--model_args", "adapt=task"])
    assert done.returncode != 0 and "adapt=task" in done.stderr and "every rank sees only its own shard" in done.stderr
