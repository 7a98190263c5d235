"""Helpers the task YAMLs in this folder reference with ``!function utils.<name>``.

A thin shim: every function lives in its benchmark's module of :mod:`t2eval.benchmarks`
(lm-eval loads this file by path, so the imports are absolute and each benchmark module is
imported once, under its package name).
"""

from __future__ import annotations

from t2eval.benchmarks.arc import arc_prompt, arc_results, arc_target
from t2eval.benchmarks.base import load_splits
from t2eval.benchmarks.bbh import bbh_choices, bbh_prompt, bbh_target, load_bbh_splits
from t2eval.benchmarks.dispatch import (dispatch_pool, dispatch_prompt, dispatch_results, dispatch_target,
                                        load_dispatch_splits)
from t2eval.benchmarks.gsm8k import gsm8k_prompt, gsm8k_results, gsm8k_target, load_gsm8k_short
from t2eval.benchmarks.humaneval import (humaneval_pass_at_k_results, humaneval_prompt, humaneval_results,
                                         humaneval_target, load_humaneval_holdout, load_humaneval_splits)
from t2eval.benchmarks.math import math_prompt, math_results, math_target
from t2eval.benchmarks.mbpp import (load_code_splits, mbpp_pass_at_k_results, mbpp_prompt, mbpp_results,
                                    mbpp_target)

__all__ = [
    "arc_prompt", "arc_results", "arc_target",
    "bbh_choices", "bbh_prompt", "bbh_target", "load_bbh_splits",
    "dispatch_pool", "dispatch_prompt", "dispatch_results", "dispatch_target", "load_dispatch_splits",
    "gsm8k_prompt", "gsm8k_results", "gsm8k_target", "load_gsm8k_short",
    "humaneval_pass_at_k_results", "humaneval_prompt", "humaneval_results", "humaneval_target",
    "load_humaneval_holdout", "load_humaneval_splits",
    "load_code_splits", "load_splits",
    "math_prompt", "math_results", "math_target",
    "mbpp_pass_at_k_results", "mbpp_prompt", "mbpp_results", "mbpp_target",
]
