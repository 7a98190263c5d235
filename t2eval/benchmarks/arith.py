"""``arith_t2``: generated arithmetic word problems (:mod:`t2eval.data.arith`: one to three
operations on small integers); label ``math``. GSM8K's schema, so GSM8K's prompt, scorer and
SFT reference (:mod:`t2eval.benchmarks.gsm8k`). The math expert trains on its train split;
its 500-problem test split is never read in training (disjoint by construction).
"""

from __future__ import annotations

from t2eval.benchmarks.base import register
from t2eval.benchmarks.gsm8k import GSM8K

# dataset: t2eval.data.arith.NAME (not imported here: t2eval.data imports `datasets`, slow)
ARITH = GSM8K.variant(name="arith_t2", dataset="arith", train_split="train", test_split="test")

register(ARITH)
