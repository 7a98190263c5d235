#!/usr/bin/env bash
# Scores of one method on t2eval's tasks, with the same CPU document limits as base_scores.sh.
# Usage: bash benchmarks/method_scores.sh METHOD TASK [TASK ...]
#   METHOD: a t2 strategy (none = the base model, an expert name such as reasoning,
#           expert:cls, prompt, cls, fewshot, uniform) or peft=ADAPTER_DIR (stock
#           `--model hf` with a PEFT adapter).
# Writes lm-eval results (and samples) under reports/runs/<method>/ (none: reports/runs/base/).
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
declare -A LIMIT=([arc_easy_t2]=100 [arc_challenge_t2]=100 [dispatch_t2]=60 [gsm8k_t2]=20
                  [mbpp_t2]=10 [humaneval_t2]=10 [math]=10 [math500]=10)
method="$1"; shift
if [[ "$method" == peft=* ]]; then
  model=(--model hf --model_args "pretrained=$(t2eval model path),${method}")
  out="reports/runs/$(basename "${method#peft=}")"
else
  model=(--model t2 --model_args "strategy=${method}")
  out="reports/runs/${method//:/-}"
  [ "$method" = none ] && out=reports/runs/base
fi
for task in "$@"; do
  echo "== $method on $task (limit ${LIMIT[$task]})"
  lm_eval "${model[@]}" --tasks "$task" --limit "${LIMIT[$task]}" --device cpu --batch_size 10 \
    --apply_chat_template --confirm_run_unsafe_code --output_path "$out" --log_samples
done
