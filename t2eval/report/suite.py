"""An unseen suite, task by task: base against ``--model t2`` on the same documents, beside
what needs no skill (chance, the majority-class constant predictor), with paired 95% CIs,
Holm-adjusted p-values over the suite, pass-1 routing and pass-1 / pass-2 seconds, and a
macro row (bootstrap over documents within tasks).

Input: the record ``benchmarks/bench_pass1.py`` writes (per-document ``acc`` of hf and t2 for
each task, the t2 run's per-task timings and labels), or the same built by :func:`suite_record`
from the runs of ``t2eval compare`` (which adds each task's oracle: the best fixed configuration
in hindsight, an upper bound).
"""

from __future__ import annotations

from ..stats import holm, macro_paired_bootstrap, paired_bootstrap
from .runs import paired, per_doc_pair


def suite_rows(record: dict, rates: dict[str, dict[str, float]], metric: str = "acc") -> list[dict]:
    """One dict per task: n, chance, majority, base, t2, diff with CI, p, Holm p, labels, seconds."""
    rows, pvalues = [], {}
    for task, detail in record["tasks_detail"].items():
        base, t2 = detail[metric]["hf"], detail[metric]["t2"]
        diff = paired_bootstrap(base, t2)
        pvalues[task] = diff.p
        rows.append({"task": task, "n": diff.n, **rates.get(task, {}), "base": diff.mean_a, "t2": diff.mean_b,
                     "diff": diff, "p": pvalues[task], "labels": detail.get("labels", {}),
                     "pass1_s": detail.get("pass1_s", 0.0), "pass2_s": detail.get("pass2_s", 0.0),
                     "oracle": detail.get("oracle")})
    adjusted = holm(pvalues)
    for row in rows:
        row["holm_p"] = adjusted[row["task"]]
        row["verdict"] = ("gain" if row["diff"].diff > 0 else "loss") if row["holm_p"] < 0.05 else "≈"
    return rows


def suite_table(record: dict, rates: dict[str, dict[str, float]], metric: str = "acc", prefix: str = "") -> str:
    """The markdown table (×100), a macro row, and the suite's wall-time line."""
    rows = suite_rows(record, rates, metric)
    oracle = all(r["oracle"] for r in rows)  # (configuration, score) per task, from suite_record
    lines = ["| task | n | chance | majority | base | t2 | Δ (95% CI) | Holm p | verdict | "
             + ("oracle (hindsight) | regret | " if oracle else "") + "pass 1 labels | pass 1 s | pass 2 s |",
             "|---|---:|---:|---:|---:|---:|---|---:|---|" + ("---|---:|" if oracle else "") + "---|---:|---:|"]
    for r in rows:
        d, labels = r["diff"], ", ".join(f"{k} {v}" for k, v in sorted(r["labels"].items(), key=lambda kv: -kv[1]))
        best = (f"{100 * r['oracle'][1]:.1f} ({r['oracle'][0]}) | {100 * (r['oracle'][1] - r['t2']):+.1f} | "
                if oracle else "")
        lines.append(f"| {r['task'].removeprefix(prefix)} | {r['n']} | {100 * r.get('chance', float('nan')):.1f} | "
                     f"{100 * r.get('majority', float('nan')):.1f} | {100 * r['base']:.1f} | {100 * r['t2']:.1f} | "
                     f"{100 * d.diff:+.1f} ({100 * d.low:+.1f}..{100 * d.high:+.1f}) | {r['holm_p']:.3f} | "
                     f"{r['verdict']} | {best}{labels} | {r['pass1_s']:.0f} | {r['pass2_s']:.0f} |")
    macro = macro_paired_bootstrap({t: (d[metric]["hf"], d[metric]["t2"]) for t, d in record["tasks_detail"].items()})
    mean = lambda key: sum(r.get(key, 0.0) for r in rows) / len(rows)  # noqa: E731
    best = sum(r["oracle"][1] for r in rows) / len(rows) if oracle else None
    lines.append(f"| **macro ({len(rows)} tasks)** | {macro.n} | {100 * mean('chance'):.1f} | "
                 f"{100 * mean('majority'):.1f} | {100 * macro.mean_a:.1f} | {100 * macro.mean_b:.1f} | "
                 f"**{100 * macro.diff:+.1f} ({100 * macro.low:+.1f}..{100 * macro.high:+.1f})** | | | "
                 + (f"*{100 * best:.1f}* | {100 * (best - macro.mean_b):+.1f} | " if oracle else "") + "| "
                 f"{sum(r['pass1_s'] for r in rows):.0f} | {sum(r['pass2_s'] for r in rows):.0f} |")
    hf_s, t2_s = record.get("hf_seconds"), record.get("t2_seconds")
    if hf_s and t2_s:
        shared = record.get("base") == "t2 strategy=none"
        base = "`--model t2 strategy=none` (base weights, shared contexts)" if shared else "`--model hf`"
        lines.append(f"\nWhole run, one process, side by side: {base} {hf_s:.0f} s, `--model t2` {t2_s:.0f} s "
                     f"(t2 / {'base' if shared else 'hf'} = {t2_s / hf_s:.2f}; {record.get('threads')} torch thread(s), batch size "
                     f"{record.get('batch_size')}).")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- t2eval compare


def fixed_configs(scores_by_config: dict, base: str = "none") -> list[str]:
    """The configurations that answer a whole task with one set of weights: ``base`` and every
    ``expert:<name>`` (the oracle's candidates)."""
    return [c for c in scores_by_config if c == base or c.startswith("expert:")]


def oracle_of(by_config: dict, fixed: list[str], base: str = "none") -> str | None:
    """The fixed configuration with the best score on one task, picked in hindsight (an upper
    bound, not a method); ties go to ``base``. None when fewer than two fixed configurations ran
    the task: base alone is no choice, and a regret against it would only be a gain, negated."""
    ran = [c for c in fixed if c in by_config]
    return max(ran, key=lambda c: (by_config[c].value, c == base)) if len(ran) > 1 else None


def suite_record(scores_by_config: dict[str, list], t2: str = "prompt", base: str = "none",
                 metric: str = "acc") -> dict:
    """The record :func:`suite_table` reads, from ``t2eval compare`` runs: per task, ``base``'s and
    ``t2``'s per-document ``metric`` over the documents both scored, ``t2``'s routing and seconds,
    and the oracle: the best fixed configuration (``base`` or an ``expert:<name>``) on that task,
    picked in hindsight (an upper bound, not a method)."""
    table = compare_rows(scores_by_config)
    fixed = fixed_configs(scores_by_config, base)
    detail = {}
    for task, by_config in table.items():
        if base not in by_config or t2 not in by_config:
            continue
        pair = per_doc_pair(by_config[base], by_config[t2])
        if pair is None:
            raise ValueError(f"{task}: the {base} and {t2} runs have no per-document {metric} on the same documents")
        info = by_config[t2].info.get("t2") or {}
        timing = (info.get("per_task") or {}).get(task, {})
        best = oracle_of(by_config, fixed, base)
        detail[task] = {metric: {"hf": pair[0], "t2": pair[1]}, "labels": (info.get("pass1_labels") or {}).get(task, {}),
                        "pass1_s": timing.get("pass1_s", 0.0), "pass2_s": timing.get("pass2_s", 0.0),
                        "oracle": (best.removeprefix("expert:"), by_config[best].value) if best else None}
    return {"tasks_detail": detail}


def compare_rows(scores_by_config: dict[str, list]) -> dict[str, dict[str, object]]:
    """task -> configuration -> its :class:`~t2eval.report.runs.Score` (one run per configuration)."""
    table: dict[str, dict[str, object]] = {}
    for config, scores in scores_by_config.items():
        for score in scores:
            table.setdefault(score.task, {})[config] = score
    return table


def compare_table(scores_by_config: dict[str, list], base: str = "none", per_task: bool = True) -> str:
    """Per task: every configuration's score (×100), its difference to ``base`` with the paired
    95% CI, pass-1 routing, pass-1 / pass-2 seconds; the oracle (the best fixed choice — base or
    one expert for the whole task — picked in hindsight: an upper bound, not a method) and each
    strategy's regret against it; a macro row per configuration (bootstrap within tasks).
    ``per_task=False``: the macro rows only."""
    table = compare_rows(scores_by_config)
    fixed = fixed_configs(scores_by_config, base)
    lines = []
    for task, by_config in table.items() if per_task else ():
        ref = by_config.get(base)
        best = oracle_of(by_config, fixed, base)
        oracle = by_config[best] if best is not None else None
        lines += [f"\n### {task} ({ref.metric if ref else next(iter(by_config.values())).metric})\n",
                  "| configuration | n | score | Δ vs base (95% CI) | regret vs oracle | pass 1 labels | pass 1 s | "
                  "pass 2 s |", "|---|---:|---:|---|---:|---|---:|---:|"]
        for config, score in by_config.items():
            t2 = score.info.get("t2") or {}
            timing = (t2.get("per_task") or {}).get(task, {})
            labels = ", ".join(f"{k} {v}" for k, v in sorted(((t2.get("pass1_labels") or {}).get(task) or {}).items(),
                                                              key=lambda kv: -kv[1]))
            diff = paired(ref, score) if config != base else None
            regret = f"{100 * (oracle.value - score.value):+.1f}" if oracle is not None and config not in fixed else ""
            lines.append(f"| {config} | {score.n} | {100 * score.value:.1f} | {_diff_text(diff)} | {regret} | "
                         f"{labels} | {timing.get('pass1_s', 0.0):.1f} | {timing.get('pass2_s', 0.0):.1f} |")
        if oracle is not None:
            lines.append(f"| *oracle (upper bound, chosen in hindsight: {best})* | {oracle.n} | "
                         f"*{100 * oracle.value:.1f}* | | | | | |")
    lines += ["\n### macro over tasks (mean of task scores; CI: documents resampled within tasks)\n",
              "| configuration | tasks | score | Δ vs base (95% CI) |", "|---|---:|---:|---|"]
    for config in scores_by_config:
        pairs = {t: per_doc_pair(row.get(base), row.get(config)) for t, row in table.items()}
        pairs = {t: p for t, p in pairs.items() if p is not None}
        if config != base and pairs and len(pairs) == len(table):
            macro = macro_paired_bootstrap(pairs)
            lines.append(f"| {config} | {len(pairs)} | {100 * macro.mean_b:.1f} | {_diff_text(macro)} |")
        else:
            scores = [row[config].value for row in table.values() if config in row]
            lines.append(f"| {config} | {len(scores)} | {100 * sum(scores) / max(1, len(scores)):.1f} | |")
    picks = [(row, oracle_of(row, fixed, base)) for row in table.values()]
    best = [row[pick].value for row, pick in picks if pick is not None]
    if len(fixed) > 1 and len(best) == len(table):
        lines.append(f"| *oracle (upper bound: per task the best of {', '.join(fixed)}, chosen in hindsight)* | "
                     f"{len(best)} | *{100 * sum(best) / len(best):.1f}* | |")
    return "\n".join(lines).lstrip("\n")


def _diff_text(diff) -> str:
    if diff is None:
        return ""
    mark = "" if diff.significant else " ≈"
    return f"{100 * diff.diff:+.1f} ({100 * diff.low:+.1f}..{100 * diff.high:+.1f}){mark}"
