"""The arith_t2 results measured on the first (v1) split, re-derived on its structurally novel
test problems: those whose arithmetic (start value and operations with operands) occurs in no
v1 train problem. The v1 split hashed whole problems, so 223 of its 500 test problems shared
their arithmetic, and so the numbers of their worked solution, with a train problem.

Reads only committed files: the per-document samples of each run (the ``doc`` with its worked
``answer``) and ``reports/runs/arith/v1_train_structures.json`` (the v1 train structures, from
``git show a6ca0a9:t2eval/data/arith.py``). Writes a markdown table and a JSON file.

Usage: python scripts/arith_v1_strata.py [--json reports/runs/arith/v1_strata.json]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from t2eval.jsonl import read_jsonl
from t2eval.stats import paired_bootstrap

REPO = Path(__file__).resolve().parents[1]
RUNS = {
    "base": "reports/runs/arith/base",
    "SVF next-token, MLP (the v1 `math`)": "reports/runs/arith/expert",
    "SVF next-token, attention (q, v)": "reports/runs/ablations/svf-attn",
    "SVF next-token, MLP + attention": "reports/runs/ablations/svf-all",
    "IA3 (k, v, down)": "reports/runs/ablations/ia3",
    "LoRA r16 (q, v)": "reports/runs/ablations/lora",
    "DoRA r16 (q, v)": "reports/runs/ablations/dora",
}
LINE = re.compile(r"^(\d+) ([+\-×÷]) (\d+) = (\d+)$")


def structure(answer: str) -> list:
    """[start, [op, operand], ...] of a worked answer (the form of v1_train_structures.json)."""
    lines = [LINE.match(line).groups() for line in answer.split("\n")[:-1]]
    return [int(lines[0][0])] + [[op, int(b)] for _, op, b, _ in lines]


def per_doc(folder: Path) -> dict[int, tuple[str, float]]:
    """{doc_id: (structure key, exact_match)} of the arith_t2 samples in ``folder``."""
    [path] = sorted(folder.rglob("samples_arith_t2_*.jsonl*"))
    return {row["doc_id"]: (json.dumps(structure(row["doc"]["answer"])), float(row["exact_match"]))
            for row in read_jsonl(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=REPO / "reports/runs/arith/v1_strata.json")
    args = parser.parse_args()
    seen = {json.dumps(s) for s in json.loads((REPO / "reports/runs/arith/v1_train_structures.json").read_text())["structures"]}
    runs = {name: per_doc(REPO / folder) for name, folder in RUNS.items()}
    base = runs["base"]
    novel = [i for i in sorted(base) if base[i][0] not in seen]
    out = {"n_all": len(base), "n_novel": len(novel), "rows": {}}
    print(f"| run | all {len(base)} | structurally novel {len(novel)} | Δ vs base on novel (95% CI) |")
    print("|---|---:|---:|---|")
    for name, docs in runs.items():
        assert sorted(docs) == sorted(base) and all(docs[i][0] == base[i][0] for i in base), name
        everything = sum(v for _, v in docs.values()) / len(docs)
        a, b = [base[i][1] for i in novel], [docs[i][1] for i in novel]
        diff = paired_bootstrap(a, b)
        out["rows"][name] = {"all": everything, "novel": diff.mean_b, "diff": diff.diff, "low": diff.low,
                             "high": diff.high}
        cell = "—" if name == "base" else f"{diff.diff:+.3f} ({diff.low:+.3f}..{diff.high:+.3f})"
        print(f"| {name} | {everything:.3f} | {diff.mean_b:.3f} | {cell} |")
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
