"""Pass-1 accuracy and cost on all dispatch_t2 documents (100 test rows each of gsm8k -> math,
mbpp -> code, arc_easy -> reasoning), for every combination asked:

  weights  base (strategy=prompt) | cls (strategy=cls: the cls expert installed)
  mode     score | generate
  layout   user | system
  options  with | without the multiple-choice options

Run:  HF_DATASETS_OFFLINE=1 python benchmarks/bench_dispatch.py \
          --configs base-score-user,cls-score-user,base-generate-user,cls-generate-user
      (a config is WEIGHTS-MODE-LAYOUT[-nooptions]; "all-score" expands to every score config)
Each finished config is saved in --out at once (a rerun skips configs already there).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ALL_SCORE = [f"{w}-score-{l}{o}" for w in ("base", "cls") for l in ("user", "system") for o in ("", "-nooptions")]


def pool_requests(per_task: int, seed: int, options: bool):
    """The dispatch_t2 pool as lm-eval Instances whose documents are the source rows."""
    import random

    from lm_eval.api.instance import Instance

    from t2eval.data import load_split
    from t2eval.benchmarks.dispatch import DISPATCH_LABELS

    rows = []
    for name, label in DISPATCH_LABELS.items():  # the same rows as task_configs/utils.dispatch_pool
        split = load_split(name, "test")
        chosen = sorted(random.Random(f"{seed}:{name}").sample(range(len(split)), min(per_task, len(split))))
        rows += [(split[i], label) for i in chosen]
    random.Random(seed).shuffle(rows)
    reqs = [Instance("loglikelihood", doc, ("", ""), 0, metadata=("dispatch_t2", i, 1)) for i, (doc, _) in enumerate(rows)]
    return reqs, [label for _, label in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="base-score-user,cls-score-user")
    parser.add_argument("--per-task", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default="reports/runs/pass1/dispatch_accuracy.json")
    args = parser.parse_args()
    from t2eval.harness import T2LM
    from t2eval.dispatch import Classifier, get_mode

    configs = [c for name in args.configs.split(",") for c in (ALL_SCORE if name == "all-score" else [name])]
    out = Path(args.out)
    done = json.loads(out.read_text()) if out.exists() else {}
    lm = T2LM(strategy="cls", device="cpu", batch_size=args.batch_size)
    for config in configs:
        if config in done:
            continue
        weights, mode, layout, *rest = config.split("-")
        options = "nooptions" not in rest
        reqs, gold = pool_requests(args.per_task, args.seed, options)
        lm.pass1 = Classifier(lm.pass1.runner, get_mode(mode), layout)
        lm.pass1_options = options
        expert = lm.library.get("cls") if weights == "cls" else None
        start = time.perf_counter()
        labels = lm.classify(reqs, expert)
        seconds = time.perf_counter() - start
        per_label = {g: sum(l == g for l, t in zip(labels, gold) if t == g) / gold.count(g) for g in sorted(set(gold))}
        done[config] = {"n": len(gold), "acc": sum(l == g for l, g in zip(labels, gold)) / len(gold),
                        "per_label": per_label, "predicted": dict(Counter(labels)),
                        "seconds": seconds, "seconds_per_doc": seconds / len(gold), "labels": labels, "gold": gold}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(done, indent=1))
        print(f"{config}: acc {done[config]['acc']:.3f} {per_label} ({seconds / len(gold):.3f} s/doc)", flush=True)
    print("\n| weights | mode | layout | options | n | acc | acc code | acc math | acc reasoning | predicted | s/doc |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---|---:|")
    for config, r in done.items():
        weights, mode, layout, *rest = config.split("-")
        p = r["per_label"]
        print(f"| {weights} | {mode} | {layout} | {'no' if rest else 'yes'} | {r['n']} | {r['acc']:.3f} | "
              f"{p.get('code', 0):.2f} | {p.get('math', 0):.2f} | {p.get('reasoning', 0):.2f} | "
              f"{r['predicted']} | {r['seconds_per_doc']:.3f} |")


if __name__ == "__main__":
    main()
