"""Per-program overhead of the sandbox vs a bare `python -c` run, side by side.

Usage: python benchmarks/bench_sandbox.py [--n 40] [--pool 200] [--json]

Every variant runs the same trivial program; variants are interleaved round-robin so
that machine noise hits them alike. Prints a table of median / mean wall time per
program and the ratio to the bare run, then the throughput of check_many on a batch
of small MBPP-style jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

from t2eval.sandbox import Limits, MbppJob, check_many, check_mbpp, probe_layers, run_program

PROGRAM = "x = sum(range(1000))"
TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]
GOOD = "def add(a, b):\n    return a + b\n"


def bare(flags: list[str]):
    return lambda: subprocess.run([sys.executable, *flags, "-c", PROGRAM], check=True, env={},
                                  stdin=subprocess.DEVNULL, capture_output=True)


def boxed(backend: str):
    def run():
        os.environ["T2EVAL_SANDBOX_BACKEND"] = backend
        try:
            res = run_program(PROGRAM, limits=Limits())
        finally:
            os.environ.pop("T2EVAL_SANDBOX_BACKEND", None)
        assert res.status == "ok", res.reason
    return run


def judged():
    assert check_mbpp(GOOD, TESTS).passed


def variants() -> dict:
    found = {"bare python -c": bare([]), "bare python -I -S -c": bare(["-I", "-S"])}
    if probe_layers().os_isolation:
        found["sandbox run_program (bwrap)"] = boxed("bwrap")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ["T2EVAL_SANDBOX_BACKEND"] = "rlimits"
        probe_layers()
        os.environ.pop("T2EVAL_SANDBOX_BACKEND")
    found["sandbox run_program (rlimits only)"] = boxed("rlimits")
    found["check_mbpp, 3 asserts (default backend)"] = judged
    return found


def measure(funcs: dict, n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for func in funcs.values():  # warm-up
        func()
    for _ in range(n):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return times


def throughput(count: int) -> tuple[float, int]:
    jobs = [MbppJob(GOOD, TESTS) for _ in range(count)]
    start = time.perf_counter()
    verdicts = check_many(jobs)
    elapsed = time.perf_counter() - start
    assert all(v.passed for v in verdicts)
    return elapsed, len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="runs per variant")
    parser.add_argument("--pool", type=int, default=200, help="jobs for the check_many throughput run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    layers = probe_layers()
    times = measure(variants(), args.n)
    base = statistics.median(times["bare python -c"])
    rows = [{"variant": k, "median_ms": 1000 * statistics.median(v), "mean_ms": 1000 * statistics.mean(v),
             "ratio_vs_bare": statistics.median(v) / base} for k, v in times.items()]
    elapsed, count = throughput(args.pool)
    pool = {"jobs": count, "workers": os.cpu_count(), "seconds": elapsed, "programs_per_s": count / elapsed}
    if args.json:
        print(json.dumps({"layers": layers.label, "n": args.n, "rows": rows, "pool": pool}, indent=2))
        return
    print(f"layers: {layers.label}; {args.n} runs per variant, interleaved; program: {PROGRAM!r}")
    print(f"| {'variant':42s} | median ms | mean ms | x bare python -c |")
    print(f"|{'-' * 44}|-----------|---------|------------------|")
    for row in rows:
        print(f"| {row['variant']:42s} | {row['median_ms']:9.1f} | {row['mean_ms']:7.1f} | {row['ratio_vs_bare']:16.2f} |")
    print(f"check_many: {count} MBPP-style jobs on {pool['workers']} workers in {elapsed:.2f} s "
          f"= {pool['programs_per_s']:.1f} programs/s")


if __name__ == "__main__":
    main()
