"""``arith_t2``: generated arithmetic word problems (:mod:`t2eval.data.arith`: one to three
operations on small integers); label ``math``. GSM8K's schema, so GSM8K's prompt, scorer and
SFT reference (:mod:`t2eval.benchmarks.gsm8k`). The math expert trains on the train split and is
selected on the validation split; splits are assigned by the problem's structure, so no
validation or test problem shares its arithmetic with a train problem. Two out-of-distribution
strata are tasks of their own: ``arith_t2_long`` (four operations) and ``arith_t2_large``
(larger numbers).
"""

from __future__ import annotations

from t2eval.benchmarks.base import register
from t2eval.benchmarks.gsm8k import GSM8K

# dataset: t2eval.data.arith.NAME (not imported here: t2eval.data imports `datasets`, slow)
ARITH = GSM8K.variant(name="arith_t2", dataset="arith", train_split="train", validation_split="validation",
                      test_split="test")
ARITH_LONG = ARITH.variant(name="arith_t2_long", test_split="test_long")
ARITH_LARGE = ARITH.variant(name="arith_t2_large", test_split="test_large")

register(ARITH, ARITH_LONG, ARITH_LARGE)
