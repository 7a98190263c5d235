#!/usr/bin/env bash
# Test-split runs of the ablations (scripts/train_ablations.sh): all test problems (arith_t2: 500;
# code-all: mbpp_t2, 500), per-document samples logged, results under reports/runs/ablations/<name>/;
# then the paired bootstrap CI against the task's base run (reports/runs/arith/base,
# reports/runs/code_reference_format/base).
# Usage: bash scripts/eval_ablations.sh NAME ...   (lora ia3 dora: PEFT adapters through
# `--model hf --model_args peft=...`; svf-*, code-all: the expert through `--model t2` on vLLM)
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
MODEL=$(t2eval model path)
for name in "$@"; do
  out=reports/runs/ablations/$name
  task=arith_t2 base=reports/runs/arith/base unsafe=()
  [ "$name" = code-all ] && task=mbpp_t2 base=reports/runs/code_reference_format/base unsafe=(--confirm_run_unsafe_code)
  case $name in
    lora|ia3|dora)
      adapter=reports/runs/adapters/$name-arith_t2
      mkdir -p "$adapter" && cp -r runs/adapters/$name-arith_t2/. "$adapter/"
      python -m lm_eval --model hf --model_args "pretrained=$MODEL,peft=$adapter" --tasks "$task" \
        --apply_chat_template --log_samples --batch_size 32 --device cpu --output_path "$out" ;;
    svf-*|code-all)
      experts=runs/cand_abl/$name
      mkdir -p "$experts" && cp runs/train/abl-$name/expert.safetensors "$experts/$name.safetensors"
      python -m lm_eval --model t2 --model_args "engine=vllm,strategy=$name,experts=$experts" --tasks "$task" \
        --apply_chat_template "${unsafe[@]}" --log_samples --output_path "$out" ;;
    *) echo "unknown run: $name" >&2; exit 2 ;;
  esac
  python scripts/paired_ci.py "$base" "$out" --json "$out/ci.json"
done
