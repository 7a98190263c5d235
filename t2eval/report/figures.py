"""Figures next to the report (PNG; need matplotlib, the ``plots`` extra).

* the dispatch confusion matrix (rows = true task, columns = predicted label) from logged
  pass-1 decisions: ``dispatch_t2`` samples (``--log_samples``, plain or gzipped) and the ``pass1_decisions``
  that ``strategy=prompt|cls`` runs record in their results;
* the CEM α weights per task (the paper's Figure 7) from ``strategy=fewshot`` results;
* learning curves of training runs (the paper's Figure 4).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..jsonl import plain_name, read_jsonl
from ..benchmarks import BENCHMARKS
from ..dispatch import LABELS, parse_label
from .runs import Score, read_results



def dispatch_counts(samples: list[Path], scores: list[Score]) -> dict[str, Counter]:
    """Per method: Counter of (true task or label, predicted label)."""
    out: dict[str, Counter] = {}
    for path in samples:
        stamp = plain_name(path).removesuffix(".jsonl").split("_")[-1]
        results = path.with_name(f"results_{stamp}.json")
        found = read_results(results) if results.exists() else []
        method = found[0].method if found else "unknown method"
        counts = out.setdefault(f"{method} (dispatch_t2)", Counter())
        for sample in read_jsonl(path):
            counts[(sample["target"], parse_label(sample["resps"][0][0]))] += 1
    seen = set()
    for s in scores:
        decisions = s.info.get("t2", {}).get("pass1_decisions", {}).get(s.task)
        if s.method in ("prompt", "cls") and decisions and (s.source, s.task) not in seen:
            seen.add((s.source, s.task))
            counts = out.setdefault(f"{s.method} (evaluation tasks)", Counter())
            for label in decisions.values():
                counts[(_row(s.task), label)] += 1
    return out


def _row(task: str) -> str:
    """A task's row in the routing figure: its suite (one row for all of BBH) or itself."""
    suite = BENCHMARKS.get(task).suite if task in BENCHMARKS else None
    return f"{suite} (all tasks)" if suite else task


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(counts: dict[str, Counter], output: Path) -> Path | None:
    plt = _pyplot()
    if plt is None or not counts:
        return None
    fig, axes = plt.subplots(1, len(counts), figsize=(4.6 * len(counts), 3.6), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], sorted(counts.items())):
        rows = sorted({t for t, _ in matrix})
        data = [[matrix[(r, c)] for c in LABELS] for r in rows]
        ax.imshow(data, cmap="Blues")
        for i, row in enumerate(data):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(LABELS)), LABELS, fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true task")
        ax.set_title(title, fontsize=9)
    return _save(fig, plt, output)


def alpha_weights(scores: list[Score]) -> dict[str, tuple[list[str], list[float]]]:
    """task -> (expert names, mean α per expert) of the newest few-shot run per task."""
    out = {}
    for s in sorted(scores, key=lambda s: s.date):
        entry = s.info.get("t2", {}).get("fewshot", {}).get(s.task)
        if not entry:
            continue
        alpha = entry["alpha"]
        means = [sum(a) / len(a) if isinstance(a, list) else float(a) for a in alpha]
        names = entry.get("experts") or [f"expert {i}" for i in range(len(means))]
        out[s.task] = (names, means)
    return out


def plot_alpha(weights: dict, output: Path) -> Path | None:
    plt = _pyplot()
    if plt is None or not weights:
        return None
    fig, axes = plt.subplots(1, len(weights), figsize=(3.4 * len(weights), 3.0), squeeze=False)
    for ax, (task, (names, values)) in zip(axes[0], sorted(weights.items())):
        total = sum(abs(v) for v in values) or 1.0
        ax.bar(names, [v / total for v in values])
        ax.set_title(task, fontsize=9)
        ax.set_ylabel("normalised α")
    return _save(fig, plt, output)


def _save(fig, plt, output: Path) -> Path:
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def have_matplotlib() -> bool:
    return _pyplot() is not None
