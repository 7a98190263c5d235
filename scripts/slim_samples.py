"""Copy an lm-eval output folder into reports/ with its per-document samples slimmed to what a
reviewer needs to re-derive every paired interval: ``doc_id``, ``doc_hash``, ``target`` and the
per-document metrics (``acc``, ``acc_norm``, ``exact_match``, ...), gzipped (``gzip -n``: no
timestamp). Responses and log-likelihoods stay in the run folder.

Results files over 50 kB (``--model t2`` runs keep every document's pass-1 decision; a 23-task
suite's results list every task's config) are
copied gzipped; ``t2eval report`` reads both.

Usage: python scripts/slim_samples.py SRC DST
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from t2eval.jsonl import plain_name, read_jsonl, write_text

KEEP = ("doc_id", "doc_hash", "target")
BIG = 50_000  # bytes: a results file larger than this is copied gzipped


def slim_row(row: dict) -> dict:
    """The row's identity, target and numeric per-document metrics."""
    out = {k: row[k] for k in KEEP if k in row}
    out.update({k: v for k, v in row.items() if k not in out and isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    args.dst.mkdir(parents=True, exist_ok=True)
    found = sorted(args.src.rglob("results_*.json"))
    if not found:
        raise SystemExit(f"no results_*.json under {args.src}")
    for results in found:
        if results.stat().st_size > BIG:  # per-document pass-1 details: gzipped (the report reads both)
            write_text(args.dst / f"{results.name}.gz", results.read_text())
        else:
            shutil.copy2(results, args.dst / results.name)
        stamp = results.stem.removeprefix("results_")
        for samples in sorted([*results.parent.glob(f"samples_*_{stamp}.jsonl"),
                               *results.parent.glob(f"samples_*_{stamp}.jsonl.gz")]):  # t2eval compare gzips
            rows = [slim_row(row) for row in read_jsonl(samples)]
            write_text(args.dst / f"{plain_name(samples)}.gz", "".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(found)} results file(s) -> {args.dst}")


if __name__ == "__main__":
    main()
