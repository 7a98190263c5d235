#!/usr/bin/env bash
# Full stock ARC test sets with a candidate reasoning expert, paired against the committed
# per-document hf (base) scores: the expert alone (strategy=expert:reasoning), then the default
# --model t2 (strategy=prompt: pass 1 routes, pass 2 answers).
# Usage: bash scripts/eval_reasoning.sh EXPERTS_DIR OUT_DIR [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
experts=$1 out=$2 threads=${3:-1}
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$threads
hf="--hf-from reports/runs/pass1/arc_easy_full.json.gz --hf-from reports/runs/pass1/arc_challenge_full.json.gz"
for strategy in expert:reasoning prompt; do
  name=${strategy/:/-}
  [ -f "$out/$name.json.gz" ] && { echo "== $name: done already ($out/$name.json.gz)"; continue; }
  echo "== $strategy"
  # shellcheck disable=SC2086
  python benchmarks/bench_pass1.py --tasks arc_easy,arc_challenge --limit 0 $hf \
    --t2-args "strategy=$strategy,experts=$experts" --out "$out/$name.json.gz"
done
