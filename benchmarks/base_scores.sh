#!/usr/bin/env bash
# Base-model scores of the embedded model on t2eval's tasks, with CPU document limits
# (the limits live in method_scores.sh). Writes under reports/runs/base/.
# Usage: bash benchmarks/base_scores.sh [TASK ...]   (default: every task below)
ORDER=(arc_easy_t2 arc_challenge_t2 dispatch_t2 gsm8k_t2 mbpp_t2 humaneval_t2 math math500)
exec bash "$(dirname "$0")/method_scores.sh" none "${@:-${ORDER[@]}}"
