"""lm-eval task YAMLs of t2eval (indexed by lm-eval through t2eval.lm_eval_plugin)."""
