"""Copy an lm-eval output folder into reports/ with its per-document samples slimmed to what a
reviewer needs to re-derive every paired interval: ``doc_id``, ``doc_hash``, ``target`` and the
per-document metrics (``acc``, ``acc_norm``, ``exact_match``, ...), gzipped (``gzip -n``: no
timestamp). Responses and log-likelihoods stay in the run folder.

Usage: python scripts/slim_samples.py SRC DST
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

KEEP = ("doc_id", "doc_hash", "target")


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
        shutil.copy2(results, args.dst / results.name)
        stamp = results.stem.removeprefix("results_")
        for samples in sorted(results.parent.glob(f"samples_*_{stamp}.jsonl")):
            rows = [slim_row(json.loads(line)) for line in samples.read_text().splitlines() if line.strip()]
            text = "".join(json.dumps(r) + "\n" for r in rows).encode()
            with open(args.dst / f"{samples.name}.gz", "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
                out.write(text)
    print(f"{len(found)} results file(s) -> {args.dst}")


if __name__ == "__main__":
    main()
