"""SVF against a matched PEFT baseline, both trained with the same objective and budget, paired
per document against the base model and against each other, Holm-corrected over every
comparison made.

Inputs are per-document scores already written by earlier runs, read once:
  * base and SVF: ``benchmarks/bench_pass1.py`` result files (``tasks_detail.<task>.<metric>.<hf|t2>``
    lists in document order), e.g. ``reports/runs/pass1/arc_easy_full.json.gz`` (key ``hf``) and
    ``reports/runs/reasoning_choice/expert-reasoning.json.gz`` (key ``t2``);
  * the baseline: an lm-eval output folder written with ``--log_samples`` (``--model hf
    --model_args peft=ADAPTER``);
  * more seeds of either (``--svf-seed DIR`` / ``--other-seed DIR``, repeatable: lm-eval output
    folders). With seeds, each method's per-document score is its mean over seeds, the paired
    intervals are over documents of those means, and a second table gives every seed's score
    with the mean and the spread (sample standard deviation) across seeds.

Usage:
  python scripts/matched_baseline.py --base reports/runs/pass1/arc_easy_full.json.gz:hf,... \
      --svf reports/runs/reasoning_choice/expert-reasoning.json.gz:t2 --other DIR --other-name LoRA \
      --json OUT.json --markdown OUT.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from t2eval.jsonl import read_text
from t2eval.report.runs import read_per_doc
from t2eval.stats import holm, paired_bootstrap

METRICS = ("acc", "acc_norm")


def bench_scores(spec: str) -> dict[tuple[str, str], list[float]]:
    """{(task, metric): per-document scores} of ``FILE:KEY`` bench result files (comma list)."""
    out = {}
    for item in spec.split(","):
        path, key = item.rsplit(":", 1)
        detail = json.loads(read_text(Path(path)))["tasks_detail"]
        for task, per_metric in detail.items():
            for metric in METRICS:
                if metric in per_metric and key in per_metric[metric]:
                    out[(task, metric)] = [float(v) for v in per_metric[metric][key]]
    return out


def lm_eval_scores(folder: Path) -> dict[tuple[str, str], list[float]]:
    """{(task, metric): per-document scores in doc_id order} of an lm-eval output folder."""
    out = {}
    for path in sorted(folder.rglob("results_*.json")):
        for task in json.loads(path.read_text()).get("results") or {}:
            for metric in METRICS:
                per_doc = read_per_doc(path, task, metric)
                if per_doc:
                    out[(task, metric)] = [per_doc[i] for i in sorted(per_doc)]
    return out


def seed_mean(per_seed: list[dict]) -> dict:
    """{(task, metric): per-document mean over seeds} for the keys every seed has."""
    keys = set.intersection(*(set(run) for run in per_seed))
    out = {}
    for key in keys:
        lengths = {len(run[key]) for run in per_seed}
        if len(lengths) != 1:
            raise SystemExit(f"{key}: the seeds scored different document counts {lengths}")
        out[key] = [sum(values) / len(per_seed) for values in zip(*(run[key] for run in per_seed))]
    return out


def seeds_markdown(seeds: dict[str, list[dict]], keys) -> str:
    """Every seed's score per (task, metric) and method, with mean and sample standard deviation."""
    import statistics

    lines = ["| task | metric | method | score per seed (seed 0, 1, …) | mean ± spread (sd) |", "|---|---|---|---|---|"]
    for task, metric in keys:
        for name, per_seed in seeds.items():
            scores = [sum(run[(task, metric)]) / len(run[(task, metric)]) for run in per_seed]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            lines.append(f"| {task} | {metric} | {name} | {', '.join(f'{v:.4f}' for v in scores)} | "
                         f"{statistics.mean(scores):.4f} ± {spread:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--svf", required=True)
    parser.add_argument("--other", required=True, type=Path)
    parser.add_argument("--other-name", default="LoRA")
    parser.add_argument("--svf-seed", action="append", type=Path, default=[], help="lm-eval folder of another SVF seed")
    parser.add_argument("--other-seed", action="append", type=Path, default=[],
                        help="lm-eval folder of another seed of the baseline")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    seeds = {"SVF": [bench_scores(args.svf)] + [lm_eval_scores(d) for d in args.svf_seed],
             args.other_name: [lm_eval_scores(args.other)] + [lm_eval_scores(d) for d in args.other_seed]}
    runs = {"base": bench_scores(args.base), **{name: seed_mean(per_seed) for name, per_seed in seeds.items()}}
    keys = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not keys:
        raise SystemExit("no (task, metric) is in all three inputs")
    seed_table = seeds_markdown(seeds, keys) if args.svf_seed or args.other_seed else ""
    pairs = [("base", "SVF"), ("base", args.other_name), (args.other_name, "SVF")]
    rows, p_values = [], {}
    for task, metric in keys:
        lengths = {name: len(run[(task, metric)]) for name, run in runs.items()}
        if len(set(lengths.values())) != 1:
            raise SystemExit(f"{task} {metric}: different document counts {lengths}")
        for a, b in pairs:
            diff = paired_bootstrap(runs[a][(task, metric)], runs[b][(task, metric)])
            key = f"{task} {metric}: {b} - {a}"
            p_values[key] = diff.p
            rows.append({"task": task, "metric": metric, "a": a, "b": b, "n": diff.n, "mean_a": diff.mean_a,
                         "mean_b": diff.mean_b, "diff": diff.diff, "low": diff.low, "high": diff.high, "p": diff.p,
                         "key": key})
    adjusted = holm(p_values)
    for row in rows:
        row["p_holm"] = adjusted[row.pop("key")]
    lines = [f"| task (documents) | metric | comparison | A | B | B − A (paired 95% CI) | p | p (Holm, {len(rows)} comparisons) |",
             "|---|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        mark = "" if (r["low"] > 0 or r["high"] < 0) else " (CI includes 0)"
        bold = "**" if r["p_holm"] < 0.05 else ""
        lines.append(f"| {r['task']} ({r['n']}) | {r['metric']} | {r['b']} − {r['a']} | {r['mean_a']:.4f} | "
                     f"{r['mean_b']:.4f} | {bold}{r['diff']:+.4f}{bold} ({r['low']:+.4f}..{r['high']:+.4f}){mark} | "
                     f"{r['p']:.4f} | {r['p_holm']:.4f} |")
    table = "\n".join(lines) + "\n" + (f"\n{seed_table}" if seed_table else "")
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        seed_scores = {name: {f"{t} {m}": [sum(run[(t, m)]) / len(run[(t, m)]) for run in per_seed]
                              for t, m in keys} for name, per_seed in seeds.items()}
        args.json.write_text(json.dumps({"comparisons": rows, "seeds": seed_scores} if seed_table else rows,
                                        indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
