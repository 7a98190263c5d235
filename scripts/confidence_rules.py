"""Per-document rules that combine base and adapted answers, measured offline from two runs.

Usage:
  python scripts/confidence_rules.py --base runs/val_bbh/none --adapted runs/val_bbh/cls \
      --test-base runs/bbh_full/none --test-adapted runs/bbh_full/cls

Both runs must be `t2eval compare` (or lm-eval ``--log_samples``) folders of multiple-choice
tasks with full samples (``filtered_resps``: each option's log-likelihood). For every document
the option distributions p_base and p_adapted (softmax over the options' log-likelihoods) give:

  base / adapted   the run's own answer (argmax log-likelihood: lm-eval's ``acc``)
  confident        the answer of whichever run puts more probability on its own top option
  average          argmax of (p_base + p_adapted) / 2
  margin>=t        the adapted answer unless its top-2 probability margin is below t (then base)
  mix l            argmax of (1 - l) log p_base + l log p_adapted

The thresholds t and l are chosen on the first pair of folders (held-out documents: choose
there) by macro accuracy; the second pair (the test split) is read once with the chosen values.
Output: a markdown table, macro accuracy over tasks and the paired 95% CI of each rule against
base (documents resampled within tasks).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from t2eval.jsonl import read_jsonl
from t2eval.stats import macro_paired_bootstrap

THRESHOLDS = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]
WEIGHTS = [0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def option_logps(folder: Path) -> dict[str, dict[str, tuple[list[float], int]]]:
    """task -> doc_id -> (each option's log-likelihood, gold index), from a run's samples."""
    out: dict[str, dict] = {}
    for path in sorted(folder.glob("samples_*.jsonl*")):
        for sample in read_jsonl(path):
            if "filtered_resps" not in sample:
                raise SystemExit(f"{path}: samples without filtered_resps (slimmed?): need full samples")
            logps = [float(r[0]) for r in sample["filtered_resps"]]
            task = sample.get("task_name") or _task_of(path)
            out.setdefault(task, {})[str(sample["doc_id"])] = (logps, int(sample["target"]))
    if not out:
        raise SystemExit(f"{folder}: no samples_*.jsonl[.gz] files")
    return out


def _task_of(path: Path) -> str:
    """samples_<task>_<date>.jsonl[.gz] -> <task>."""
    return path.name.removeprefix("samples_").rsplit("_", 1)[0]


def softmax(logps: list[float]) -> list[float]:
    top = max(logps)
    exps = [math.exp(v - top) for v in logps]
    return [e / sum(exps) for e in exps]


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _margin(p: list[float]) -> float:
    ranked = sorted(p, reverse=True) + [0.0]  # a one-option document (one snarks item): margin 1
    return ranked[0] - ranked[1]


def rules() -> dict[str, object]:
    """name -> choose(lb, la) -> option index; thresholded families keyed by their value."""
    out = {
        "base": lambda lb, la: argmax(lb),
        "adapted": lambda lb, la: argmax(la),
        "confident": lambda lb, la: argmax(lb) if max(softmax(lb)) > max(softmax(la)) else argmax(la),
        "average": lambda lb, la: argmax([x + y for x, y in zip(softmax(lb), softmax(la))]),
    }
    for t in THRESHOLDS:
        out[f"margin>={t}"] = lambda lb, la, t=t: argmax(la) if _margin(softmax(la)) >= t else argmax(lb)
    for w in WEIGHTS:
        out[f"mix {w}"] = lambda lb, la, w=w: argmax([(1 - w) * x + w * y for x, y in zip(lb, la)])
    return out


def per_doc(base: dict, adapted: dict, choose) -> dict[str, list[float]]:
    """task -> 1/0 per document (documents both runs scored, in doc_id order)."""
    out = {}
    for task, docs in base.items():
        both = sorted(set(docs) & set(adapted.get(task, {})), key=lambda d: (len(d), d))
        out[task] = [float(choose(docs[d][0], adapted[task][d][0]) == docs[d][1]) for d in both]
    return out


def macro(scores: dict[str, list[float]]) -> float:
    return sum(sum(v) / len(v) for v in scores.values()) / len(scores)


def best(family: str, table: dict[str, float]) -> str:
    """The best value of a thresholded family on held-out data (ties: the most base-like)."""
    names = [n for n in table if n.startswith(family)]
    return max(names, key=lambda n: (round(table[n], 6), -names.index(n) if family == "mix" else names.index(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--base", "--adapted"):
        parser.add_argument(flag, type=Path, required=True, help=f"{flag[2:]} run on held-out documents")
    for flag in ("--test-base", "--test-adapted"):
        parser.add_argument(flag, type=Path, help="the same on the test split (omit: held-out columns only)")
    args = parser.parse_args()
    held_out = option_logps(args.base), option_logps(args.adapted)
    test = (option_logps(args.test_base), option_logps(args.test_adapted)) if args.test_base else None
    all_rules = rules()
    val = {name: per_doc(*held_out, choose) for name, choose in all_rules.items()}
    val_macro = {name: macro(s) for name, s in val.items()}
    chosen = {best("margin", val_macro), best("mix", val_macro)}
    shown = ["base", "adapted", "confident", "average", *sorted(chosen)]
    print(f"held out: {args.base} vs {args.adapted}" + (f"; test: {args.test_base} vs {args.test_adapted}"
                                                        if test else ""))
    print("thresholds chosen on held-out macro accuracy:",
          json.dumps({n: round(v, 4) for n, v in val_macro.items() if n.startswith(("margin", "mix"))}))
    print()
    print("| rule | held-out macro | Δ vs base (95% CI) |" + (" test macro | Δ vs base (95% CI) |" if test else ""))
    print("|---|---:|---|" + ("---:|---|" if test else ""))
    test_base = per_doc(*test, all_rules["base"]) if test else None
    for name in shown:
        cells = []
        pairs = [(val["base"], val[name])]
        if test:
            pairs.append((test_base, per_doc(*test, all_rules[name])))
        for base_scores, scores in pairs:
            diff = macro_paired_bootstrap({t: (base_scores[t], scores[t]) for t in base_scores})
            cells += [f"{100 * macro(scores):.1f}",
                      f"{100 * diff.diff:+.1f} ({100 * diff.low:+.1f}..{100 * diff.high:+.1f})"]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
