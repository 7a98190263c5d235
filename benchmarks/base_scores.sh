#!/usr/bin/env bash
# Base-model scores of the embedded model on t2eval's tasks (document limits for CPU).
# Writes lm-eval results under reports/runs/base/. Usage: bash benchmarks/base_scores.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
out=reports/runs/base
run() {  # run TASK LIMIT
  echo "== $1 (limit $2)"
  lm_eval --model t2 --model_args strategy=none --tasks "$1" --limit "$2" --device cpu \
    --batch_size 8 --apply_chat_template --confirm_run_unsafe_code --output_path "$out" --log_samples
}
run arc_easy_t2 100
run arc_challenge_t2 100
run dispatch_t2 150
run gsm8k_t2 50
run mbpp_t2 30
run humaneval_t2 30
run math 30
