#!/usr/bin/env bash
# Table 4 / Table 7 runs on the generated arithmetic task (arith_t2: the math training task where
# the embedded model has headroom; gsm8k_t2 is at the floor). Same budget as the shipped `math`
# expert (100 updates x 16 problems, validation on 100 held-out train problems every 25 updates),
# one change per run. Run folders: runs/train/abl-<name>/ (resumable: add --resume by hand).
# Usage: bash scripts/train_ablations.sh NAME ...
#   lora       LoRA r16 q,v, next-token        (Tables 1, 4, 7)     -> PEFT adapter folder
#   ia3 dora   IA3 k,v,down / DoRA r16 q,v      (Table 7)
#   svf-attn   SVF z on attention, next-token  (Table 4)
#   svf-all    SVF z on MLP + attention         (Table 4)
#   svf-rl     SVF z on MLP, REINFORCE from the base model, 4 samples per problem, leave-one-out
#              advantages, no KL                (Tables 1, 4: the paper's recipe)
#   code-all   mbpp_t2, not arith: the code recipe of scripts/train_experts.sh with z on MLP + attention
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
SFT="objective=sft steps=100 batch_size=16 micro_batch=8 val_size=100 eval_every=25 eval_batch=32 max_new_tokens=160 ckpt_every=5 patience=3 baseline=none kl=0 track_kl=false"
for name in "$@"; do
  dir=runs/train/abl-$name
  case $name in
    # IA3 scales activations like z scales singular values: it gets SVF's learning rate
    lora|dora) cmd="t2eval baseline --method $name --task arith_t2 --preset cpu --lr 1e-3 $SFT -o runs/adapters/$name-arith_t2" ;;
    ia3) cmd="t2eval baseline --method ia3 --task arith_t2 --preset cpu --lr 2e-3 $SFT -o runs/adapters/ia3-arith_t2" ;;
    svf-attn) cmd="t2eval train --task arith_t2 --preset cpu --targets attn $SFT lr=2e-3 engine=vllm -o $dir/expert.safetensors" ;;
    svf-all)  cmd="t2eval train --task arith_t2 --preset cpu --targets all $SFT lr=2e-3 engine=vllm -o $dir/expert.safetensors" ;;
    svf-rl)   cmd="t2eval train --task arith_t2 --preset cpu --objective rl samples=4 baseline=loo kl=0 track_kl=false steps=40 batch_size=8 lr=2e-3 temperature=0.7 val_size=100 eval_every=10 eval_batch=32 max_new_tokens=160 ckpt_every=5 patience=3 engine=vllm -o $dir/expert.safetensors" ;;
    code-all) cmd="t2eval train --task mbpp_t2 --preset cpu --targets all objective=sft steps=69 batch_size=16 micro_batch=8 lr=2e-3 val_split=validation val_size=90 eval_every=23 eval_batch=32 max_new_tokens=256 ckpt_every=5 patience=3 baseline=none kl=0 track_kl=false engine=vllm -o $dir/expert.safetensors" ;;
    *) echo "unknown run: $name (lora ia3 dora svf-attn svf-all svf-rl code-all)" >&2; exit 2 ;;
  esac
  echo "== $name: $cmd --run-dir $dir"
  # shellcheck disable=SC2086
  $cmd --quiet name="$name" --run-dir "$dir"
done
