"""An unseen suite, task by task: base against ``--model t2`` on the same documents, beside
what needs no skill (chance, the majority-class constant predictor), with paired 95% CIs,
Holm-adjusted p-values over the suite, pass-1 routing and pass-1 / pass-2 seconds, and a
macro row (bootstrap over documents within tasks).

Input: the record ``benchmarks/bench_pass1.py`` writes (per-document ``acc`` of hf and t2 for
each task, the t2 run's per-task timings and labels).
"""

from __future__ import annotations

from ..stats import bootstrap_p, holm, macro_paired_bootstrap, paired_bootstrap


def suite_rows(record: dict, rates: dict[str, dict[str, float]], metric: str = "acc") -> list[dict]:
    """One dict per task: n, chance, majority, base, t2, diff with CI, p, Holm p, labels, seconds."""
    rows, pvalues = [], {}
    for task, detail in record["tasks_detail"].items():
        base, t2 = detail[metric]["hf"], detail[metric]["t2"]
        diff = paired_bootstrap(base, t2)
        pvalues[task] = bootstrap_p(base, t2)
        rows.append({"task": task, "n": diff.n, **rates.get(task, {}), "base": diff.mean_a, "t2": diff.mean_b,
                     "diff": diff, "p": pvalues[task], "labels": detail.get("labels", {}),
                     "pass1_s": detail.get("pass1_s", 0.0), "pass2_s": detail.get("pass2_s", 0.0)})
    adjusted = holm(pvalues)
    for row in rows:
        row["holm_p"] = adjusted[row["task"]]
        row["verdict"] = ("gain" if row["diff"].diff > 0 else "loss") if row["holm_p"] < 0.05 else "≈"
    return rows


def suite_table(record: dict, rates: dict[str, dict[str, float]], metric: str = "acc", prefix: str = "") -> str:
    """The markdown table (×100), a macro row, and the suite's wall-time line."""
    rows = suite_rows(record, rates, metric)
    lines = ["| task | n | chance | majority | base | t2 | Δ (95% CI) | Holm p | verdict | pass 1 labels | "
             "pass 1 s | pass 2 s |", "|---|---:|---:|---:|---:|---:|---|---:|---|---|---:|---:|"]
    for r in rows:
        d, labels = r["diff"], ", ".join(f"{k} {v}" for k, v in sorted(r["labels"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {r['task'].removeprefix(prefix)} | {r['n']} | {100 * r.get('chance', float('nan')):.1f} | "
                     f"{100 * r.get('majority', float('nan')):.1f} | {100 * r['base']:.1f} | {100 * r['t2']:.1f} | "
                     f"{100 * d.diff:+.1f} ({100 * d.low:+.1f}..{100 * d.high:+.1f}) | {r['holm_p']:.3f} | "
                     f"{r['verdict']} | {labels} | {r['pass1_s']:.0f} | {r['pass2_s']:.0f} |")
    macro = macro_paired_bootstrap({t: (d[metric]["hf"], d[metric]["t2"]) for t, d in record["tasks_detail"].items()})
    mean = lambda key: sum(r.get(key, 0.0) for r in rows) / len(rows)  # noqa: E731
    lines.append(f"| **macro ({len(rows)} tasks)** | {macro.n} | {100 * mean('chance'):.1f} | "
                 f"{100 * mean('majority'):.1f} | {100 * macro.mean_a:.1f} | {100 * macro.mean_b:.1f} | "
                 f"**{100 * macro.diff:+.1f} ({100 * macro.low:+.1f}..{100 * macro.high:+.1f})** | | | | "
                 f"{sum(r['pass1_s'] for r in rows):.0f} | {sum(r['pass2_s'] for r in rows):.0f} |")
    hf_s, t2_s = record.get("hf_seconds"), record.get("t2_seconds")
    if hf_s and t2_s:
        lines.append(f"\nWhole run, one process, side by side: `--model hf` {hf_s:.0f} s, `--model t2` {t2_s:.0f} s "
                     f"(t2 / hf = {t2_s / hf_s:.2f}; {record.get('threads')} torch thread(s), batch size "
                     f"{record.get('batch_size')}).")
    return "\n".join(lines)
