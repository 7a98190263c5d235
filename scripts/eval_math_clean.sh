#!/usr/bin/env bash
# The math expert trained on the arith split by structure (v2), against base, on:
#   arith_t2 (500, structures unseen in train), arith_t2_long (200, four operations),
#   arith_t2_large (200, larger numbers) and gsm8k_t2_short (440 real GSM8K word problems with
#   at most two calculations: the transfer check).
# Usage: bash scripts/eval_math_clean.sh EXPERT_DIR [OUT]   (OUT default: reports/runs/arith_by_structure)
# Resumable: a configuration with a results file is not rerun. vLLM CPU generates (engine=vllm).
set -euo pipefail
experts=${1:?the folder holding math.safetensors}
out=${2:-reports/runs/arith_by_structure}
tasks=arith_t2,arith_t2_long,arith_t2_large,gsm8k_t2_short
model=$(t2eval model path)
for config in base expert; do
  if ls "$out/$config"/*/results_*.json >/dev/null 2>&1; then continue; fi
  strategy=none; [ "$config" = expert ] && strategy=expert:math
  lm_eval --model t2 --model_args "pretrained=$model,engine=vllm,strategy=$strategy,experts=$experts" \
    --tasks "$tasks" --apply_chat_template --batch_size 32 --log_samples --output_path "$out/$config"
done
for task in ${tasks//,/ }; do
  echo "== $task"
  python scripts/paired_ci.py "$out/base" "$out/expert" | grep "^$task "
done
