"""Data parallel on this machine: 2 processes (torchrun, gloo, 1 thread each) against 1 process
(1 thread, and 2 threads), for a log-likelihood lm-eval task and for training steps, run one
after another in one invocation, each configuration ``--repeats`` times, alternating.

* eval: ``lm_eval --model t2 --tasks arc_easy --limit N`` (pass 1 + pass 2; wall seconds of the
  whole command, model loads included, and lm-eval's own evaluation seconds).
* train: ``t2eval train --task arc_easy --objective choice steps=S batch_size=16`` (the mean
  ``sec`` of the update lines: rollout-free choice updates, the gradient all-reduce included).

On a 2-core machine two processes share the two cores with nothing else; the ratio says what
data parallelism buys here, not on a GPU node.

Run:  python benchmarks/bench_data_parallel.py --limit 200 --steps 4 --repeats 2 --out reports/runs/data_parallel.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launcher(procs: int) -> list[str]:
    if procs == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
            "--master_addr", "127.0.0.1", "--master_port", str(_port())]


def _env(threads: int) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def run_eval(procs: int, threads: int, limit: int, out: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run([*_launcher(procs), "-m", "lm_eval", "--model", "t2", "--tasks", "arc_easy",
                           "--limit", str(limit), "--device", "cpu", "--batch_size", "8", "--output_path", str(out)],
                          env=_env(threads), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    return {"wall_s": wall, "eval_s": float(results["total_evaluation_time_seconds"]),
            "acc": results["results"]["arc_easy"]["acc,none"]}


def run_train(procs: int, threads: int, steps: int, out: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run([*_launcher(procs), "-m", "t2eval.cli", "train", "--task", "arc_easy", "--objective",
                           "choice", "--quiet", f"steps={steps}", "batch_size=16", "micro_batch=8", "eval_every=0",
                           "track_kl=false", f"threads={threads}", "--run-dir", str(out)],
                          env=_env(threads), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    secs = [r["sec"] for r in rows if r["type"] == "step"]
    return {"wall_s": wall, "step_s": statistics.mean(secs[1:] if len(secs) > 1 else secs)}


CONFIGS = (("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2), ("2 processes, 1 thread each", 2, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs: dict[str, dict[str, list[dict]]] = {name: {"eval": [], "train": []} for name, _, _ in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, procs, threads in CONFIGS:
                key = re.sub(r"\W+", "-", name)
                runs[name]["eval"].append(run_eval(procs, threads, args.limit, Path(tmp) / f"e{rep}{key}"))
                runs[name]["train"].append(run_train(procs, threads, args.steps, Path(tmp) / f"t{rep}{key}"))
                print(name, runs[name]["eval"][-1], runs[name]["train"][-1], flush=True)
    ref = CONFIGS[0][0]
    med = {name: {"eval_wall_s": statistics.median(r["wall_s"] for r in v["eval"]),
                  "eval_s": statistics.median(r["eval_s"] for r in v["eval"]),
                  "train_step_s": statistics.median(r["step_s"] for r in v["train"]),
                  "acc": v["eval"][0]["acc"]} for name, v in runs.items()}
    print(f"\narc_easy --limit {args.limit} (t2, default strategy) and choice training steps (batch 16), "
          f"median of {args.repeats}:")
    print(f"{'configuration':<28} {'eval wall s':>11} {'eval s':>8} {'speed-up':>8} {'step s':>8} {'speed-up':>8}  acc")
    for name, m in med.items():
        print(f"{name:<28} {m['eval_wall_s']:>11.1f} {m['eval_s']:>8.1f} {med[ref]['eval_s'] / m['eval_s']:>7.2f}x "
              f"{m['train_step_s']:>8.2f} {med[ref]['train_step_s'] / m['train_step_s']:>7.2f}x  {m['acc']:.4f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"limit": args.limit, "steps": args.steps, "repeats": args.repeats,
                                        "median": med, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
