#!/usr/bin/env bash
# Table 8: few-shot CEM (strategy=fewshot) with K shots of arc_challenge's validation split, on
# the full stock arc_challenge test set, paired against the committed per-document hf scores.
# Usage: bash scripts/eval_fewshot_shots.sh [K ...]   (default: 3 5 20; 10 shots: Table 2's run)
# Results: reports/runs/table8/fewshot<K>-arc_challenge.json.gz (per-document scores, gzipped) and
# reports/runs/table8/fewshot<K>-arc_challenge/t2/results_bench.json; the fitted mixes are a cache
# (runs/fewshot_mixes/, not committed: the α of each mix is recorded in the results file)
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
for k in "${@:-3 5 20}"; do
  for shots in $k; do
    out=reports/runs/table8/fewshot$shots-arc_challenge.json.gz
    [ -f "$out" ] && { echo "== $shots shots: done already ($out)"; continue; }
    echo "== $shots shots"
    python benchmarks/bench_pass1.py --tasks arc_challenge --limit 0 \
      --hf-from reports/runs/pass1/arc_challenge_full.json.gz \
      --t2-args "strategy=fewshot,shots=$shots,fewshot_dir=runs/fewshot_mixes" --out "$out"
  done
done
