#!/usr/bin/env bash
# Train the experts shipped for the embedded model, on CPU, one after another.
# Usage: bash scripts/train_experts.sh [NAME ...]   (names: reasoning cls math code; default: all)
# Each run keeps its folder under runs/train/<name>/ (resumable: add --resume by hand) and
# copies the chosen expert, its config and its metrics into experts/smollm2-135m-instruct/.
set -euo pipefail
cd "$(dirname "$0")/.."
export T2EVAL_DATA_DIR="${T2EVAL_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
OUT=experts/smollm2-135m-instruct
declare -A TASK=([reasoning]=arc_easy [cls]=cls [math]=gsm8k_t2 [code]=mbpp_t2)
# reasoning: stock lm-eval arc_easy as a choice policy (REINFORCE's exact expected reward over the
# choices lm-eval scores); cls: the score-mode pass-1 decision as a choice over the labels.
# math / code: next-token (SFT) on the reference answers, because REINFORCE had no signal at this
# model size (reports/training.md): every sampled answer was wrong (gsm8k: 0/16), so the
# mean-baseline advantage, and with it the policy gradient, was exactly zero.
declare -A ARGS=(
  [reasoning]="--objective choice"
  [cls]="--objective choice"
  [math]="--kl 0.1 --objective sft steps=6 val_size=16 eval_every=3"
  [code]="--kl 0.1 --objective sft steps=6 val_size=16 eval_every=3"
)
for name in "${@:-reasoning cls math code}"; do
  for n in $name; do
    echo "== $n: t2eval train --task ${TASK[$n]} --preset cpu ${ARGS[$n]}"
    # shellcheck disable=SC2086
    t2eval train --task "${TASK[$n]}" --preset cpu ${ARGS[$n]} --quiet name="$n" \
      --run-dir "runs/train/$n" -o "$OUT/$n.safetensors"
    cp "runs/train/$n/config.json" "$OUT/$n.config.json"
    cp "runs/train/$n/metrics.jsonl" "$OUT/$n.metrics.jsonl"
  done
done
