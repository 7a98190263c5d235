#!/usr/bin/env bash
# Extra seeds of the reasoning expert (SVF, choice objective, cpu preset) and of its matched
# LoRA (r16 on the MLP matrices, lr 2e-4), each evaluated on full arc_easy and arc_challenge with
# per-document samples. Resumable: a finished training or evaluation is not rerun.
#   OMP_NUM_THREADS=1 nohup scripts/seed_runs.sh 1 2 > runs/seeds/log 2>&1 &
# Seed 0 of both is already committed (experts/…/reasoning, reports/runs/reasoning_choice/).
set -euo pipefail
root=runs/seeds
model=$(t2eval model path)
export T2EVAL_EXPERTS=/nonexistent  # the t2 model sees only the expert folder it is given
for seed in "$@"; do
  for method in svf lora; do
    dir=$root/$method-seed$seed
    if [ "$method" = svf ]; then
      extra=(); out=$dir/expert/reasoning.safetensors
    else
      extra=(--method lora --lr 2e-4 peft_modules=gate_proj,up_proj,down_proj); out=$dir/adapter
    fi
    if [ ! -e "$out" ]; then
      resume=(); [ -e "$dir/train/checkpoint.pt" ] && resume=(--resume)
      t2eval train --task arc_easy --objective choice --preset cpu --seed "$seed" --threads 1 \
        "${extra[@]}" --run-dir "$dir/train" -o "$out" "${resume[@]}" --quiet
    fi
    if ! ls "$dir"/eval/*/results_*.json >/dev/null 2>&1; then
      if [ "$method" = svf ]; then
        args=(--model t2 --model_args "pretrained=$model,experts=$dir/expert,strategy=expert:reasoning")
      else
        args=(--model hf --model_args "pretrained=$model,peft=$out")
      fi
      lm_eval "${args[@]}" --tasks arc_easy,arc_challenge --batch_size 8 --log_samples \
        --output_path "$dir/eval"
    fi
  done
done
echo "seed runs done: $*"
