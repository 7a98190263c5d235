"""Default ``--model t2`` against ``--model hf`` on stock multiple-choice tasks, side by side
in one process: wall time (P2c), pass 1 as a share of pass 2 (P2b), and scores with a
paired bootstrap 95% CI over the same documents.

Run:  HF_DATASETS_OFFLINE=1 python benchmarks/bench_pass1.py --tasks arc_easy,arc_challenge --limit 200
      (--limit 0: the full test sets; --t2-args strategy=prompt,dispatch=generate ... to compare others;
      --hf-from reports/runs/pass1/arc_easy_full.json.gz reuses that file's per-document hf scores
      instead of running hf again: scores only, no wall-time ratio)
Writes the per-document scores and timings to --out (JSON; gzipped when the name ends with
``.gz``, as committed under reports/), lm-eval results files for ``t2eval report`` to
``<out without .json[.gz]>/{hf,t2}/results_bench.json``, and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from t2eval.jsonl import plain_name, read_json, write_text

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def per_doc(samples: list[dict], metric: str) -> dict[int, float]:
    return {s["doc_id"]: float(s[metric]) for s in samples}


def reused_hf(paths: list[str], tasks: list[str], limit: int | None) -> dict:
    """Per-document hf scores of earlier runs, shaped like lm-eval's samples."""
    samples = {}
    for path in paths:
        record = read_json(path)
        if record.get("limit") != limit:
            raise SystemExit(f"{path} was run with limit {record.get('limit')}, not {limit}")
        for task, detail in record["tasks_detail"].items():
            metrics = {m: detail[m]["hf"] for m in ("acc", "acc_norm")}
            samples[task] = [{"doc_id": i, **{m: v[i] for m, v in metrics.items()}} for i in range(len(metrics["acc"]))]
    missing = [t for t in tasks if t not in samples]
    if missing:
        raise SystemExit(f"--hf-from has no hf scores for {', '.join(missing)}")
    return {"samples": samples}


def run(lm, tasks: list[str], limit: int | None) -> tuple[float, dict]:
    from lm_eval import simple_evaluate

    start = time.perf_counter()
    out = simple_evaluate(model=lm, tasks=tasks, limit=limit, log_samples=True)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="arc_easy,arc_challenge")
    parser.add_argument("--limit", type=int, default=200, help="documents per task (0: all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--t2-args", default="", help="extra t2 model args, k=v,k=v")
    parser.add_argument("--out", default="reports/runs/pass1/bench_pass1.json")
    parser.add_argument("--base-t2", action="store_true",
                        help="score the base model with --model t2 strategy=none (the same weights; shared-context "
                             "log-likelihoods, equal to HFLM's to 1e-4: tests/test_backend.py) instead of --model hf: "
                             "HFLM runs a context once per option, hours on long multiple-choice suites on a CPU")
    parser.add_argument("--hf-from", action="append", default=[],
                        help="an earlier output of this script whose per-document hf scores are reused "
                             "(repeatable; same model, same limit); hf is then not run")
    args = parser.parse_args()
    import torch
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM
    from t2eval.models import resolve_model_path
    from t2eval.stats import paired_bootstrap

    tasks, limit = args.tasks.split(","), (args.limit or None)
    t2_args = dict(kv.split("=", 1) for kv in args.t2_args.split(",") if kv)
    if args.hf_from:
        hf_s = hf_load = float("nan")
        hf_out = reused_hf(args.hf_from, tasks, limit)
    else:
        start = time.perf_counter()
        hf = (T2LM(device="cpu", batch_size=args.batch_size, strategy="none") if args.base_t2 else
              HFLM(pretrained=resolve_model_path(), device="cpu", batch_size=args.batch_size))
        hf_load = time.perf_counter() - start
        hf_s, hf_out = run(hf, tasks, limit)
    start = time.perf_counter()
    t2 = T2LM(device="cpu", batch_size=args.batch_size, **t2_args)
    t2_load = time.perf_counter() - start
    t2_s, t2_out = run(t2, tasks, limit)
    info = t2_out["config"]["t2"]
    print(f"torch threads {torch.get_num_threads()}, batch size {args.batch_size}, limit {limit or 'all'}, "
          f"t2: strategy={info['strategy']} dispatch={info['dispatch']} layout={info['pass1_layout']} "
          f"options={info['pass1_options']}\n")
    print(f"| P2c wall time | hf {hf_s:.1f} s (+ load {hf_load:.1f} s) | t2 {t2_s:.1f} s (+ load {t2_load:.1f} s) "
          f"| t2/hf = {t2_s / hf_s:.2f} (with loads {(t2_s + t2_load) / (hf_s + hf_load):.2f}) |\n")
    print("| task | n | pass 1 s | pass 2 s | pass 1 / pass 2 | labels | metric | hf -> t2 (paired 95% CI) |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    record = {"tasks": tasks, "limit": limit, "batch_size": args.batch_size, "t2_args": t2_args,
              "base": "t2 strategy=none" if args.base_t2 else "hf",
              "hf_seconds": hf_s, "t2_seconds": t2_s, "hf_load_seconds": hf_load, "t2_load_seconds": t2_load,
              "threads": torch.get_num_threads(), "t2": info, "tasks_detail": {}}
    for task in tasks:
        timing = info["per_task"].get(task, {})
        p1, p2 = timing.get("pass1_s", 0.0), timing.get("pass2_s", 0.0)
        detail = {"pass1_s": p1, "pass2_s": p2, "labels": info["pass1_labels"].get(task, {})}
        for metric in ("acc", "acc_norm"):
            a, b = per_doc(hf_out["samples"][task], metric), per_doc(t2_out["samples"][task], metric)
            ids = sorted(a)
            diff = paired_bootstrap([a[i] for i in ids], [b[i] for i in ids])
            detail[metric] = {"hf": [a[i] for i in ids], "t2": [b[i] for i in ids], "summary": str(diff)}
            print(f"| {task} | {diff.n} | {p1:.1f} | {p2:.1f} | {100 * p1 / max(p2, 1e-9):.0f}% | "
                  f"{detail['labels']} | {metric} | {diff} |")
        record["tasks_detail"][task] = detail
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(record, indent=1))
    folder = out.with_name(plain_name(out).removesuffix(".json"))
    for model, result in (("hf", hf_out), ("t2", t2_out)):  # lm-eval results files, for `t2eval report`
        if model == "hf" and args.hf_from:
            continue
        result = {k: v for k, v in result.items() if k != "samples"}
        result["config"] = {**result["config"], "model": model}
        if model == "hf" and args.base_t2:  # the base weights, scored through t2's shared-context path
            result["config"]["model"] = "t2"
        path = folder / model / "results_bench.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1, default=str))
    print(f"\nwrote {out} and {folder}/{{hf,t2}}/results_bench.json")


if __name__ == "__main__":
    main()
