"""Learning curves (validation accuracy vs step, base level dashed: the paper's Figure 4).

    python -m t2eval.report.curves RUN_DIR [RUN_DIR ...] -o reports/training_curves.png

Needs matplotlib (``pip install matplotlib``; not a t2eval dependency).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..jsonl import read_jsonl


def read_evals(run_dir: str | Path) -> list[dict]:
    rows = read_jsonl(Path(run_dir) / "metrics.jsonl")
    return [r for r in rows if r.get("type") == "eval"]


def run_curve(run_dir: str | Path) -> tuple[str, list[dict]]:
    """(title, eval rows) of one run folder."""
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return f"{config['task']} (kl={config['kl']:g})", read_evals(run_dir)


PANELS_PER_ROW = 4


def plot_curves(run_dirs: list[str | Path], output: str | Path, titles: list[str] | None = None) -> Path:
    """One panel per run folder (see :func:`plot_eval_curves`)."""
    curves = [run_curve(d) for d in run_dirs]
    if titles:
        curves = [(title, evals) for title, (_, evals) in zip(titles, curves)]
    return plot_eval_curves(curves, output)


def plot_eval_curves(curves: list[tuple[str, list[dict]]], output: str | Path) -> Path:
    """One panel per (title, eval rows), PANELS_PER_ROW to a row: validation accuracy vs step, the
    step-0 level (base, or the starting expert) dashed."""
    try:
        import matplotlib
    except ImportError as err:
        raise SystemExit("learning-curve plots need matplotlib: pip install 't2eval[plots]'") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(curves), PANELS_PER_ROW)
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    for ax, (title, evals) in zip(axes.flat, curves):
        steps, accs = [e["step"] for e in evals], [e["val_acc"] for e in evals]
        ax.plot(steps, accs, marker="o", label="expert (validation)")
        if evals and evals[0]["step"] == 0:
            ax.axhline(evals[0]["val_acc"], linestyle="--", color="gray", label="step 0 (base, or the starting expert)")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("update step")
        ax.set_ylabel("validation accuracy")
        ax.legend(fontsize=7)
    fig.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    print(plot_curves(args.run_dirs, args.output))


if __name__ == "__main__":
    main()
