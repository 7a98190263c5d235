"""Learning curves (validation accuracy vs step, base level dashed: the paper's Figure 4).

    python -m t2eval.train.plot RUN_DIR [RUN_DIR ...] -o reports/training_curves.png

Needs matplotlib (``pip install matplotlib``; not a t2eval dependency).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_evals(run_dir: str | Path) -> list[dict]:
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line]
    return [r for r in rows if r.get("type") == "eval"]


def plot_curves(run_dirs: list[str | Path], output: str | Path, titles: list[str] | None = None) -> Path:
    try:
        import matplotlib
    except ImportError as err:
        raise SystemExit("learning-curve plots need matplotlib: pip install 't2eval[plots]'") from err

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(run_dirs), figsize=(4.2 * len(run_dirs), 3.2), squeeze=False)
    for i, (ax, run_dir) in enumerate(zip(axes[0], run_dirs)):
        evals = read_evals(run_dir)
        config = json.loads((Path(run_dir) / "config.json").read_text())
        steps, accs = [e["step"] for e in evals], [e["val_acc"] for e in evals]
        ax.plot(steps, accs, marker="o", label="SVF expert (validation)")
        if evals and evals[0]["step"] == 0:
            ax.axhline(evals[0]["val_acc"], linestyle="--", color="gray", label="base model")
        ax.set_title(titles[i] if titles else f"{config['task']} (kl={config['kl']:g})")
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
