#!/usr/bin/env bash
# Base-model scores of the embedded model on t2eval's tasks, with CPU document limits.
# Writes lm-eval results (and samples) under reports/runs/base/.
# Usage: bash benchmarks/base_scores.sh [TASK ...]   (default: every task below)
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
declare -A LIMIT=([arc_easy_t2]=100 [arc_challenge_t2]=100 [dispatch_t2]=150 [gsm8k_t2]=20
                  [mbpp_t2]=10 [humaneval_t2]=10 [math]=10 [math500]=10)
ORDER=(arc_easy_t2 arc_challenge_t2 dispatch_t2 gsm8k_t2 mbpp_t2 humaneval_t2 math math500)
for task in "${@:-${ORDER[@]}}"; do
  echo "== $task (limit ${LIMIT[$task]})"
  lm_eval --model t2 --model_args strategy=none --tasks "$task" --limit "${LIMIT[$task]}" \
    --device cpu --batch_size 10 --apply_chat_template --confirm_run_unsafe_code \
    --output_path reports/runs/base --log_samples
done
