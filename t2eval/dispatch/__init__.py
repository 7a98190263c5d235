"""Pass 1 of two-pass inference, importable without lm-eval's HFLM: the classification
prompt and its layouts (:mod:`.prompt`), the label scorer (:mod:`.scorer`) and the pass-1
modes ``score`` / ``generate`` (:mod:`.modes`)."""

from .modes import MODES, Classifier, Decision, Pass1Mode, Pass1Runner, get_mode
from .prompt import (ANSWER_PREFIX, LABELS, LAYOUTS, PASS1_GEN, classification_prompt, instructions,
                     parse_label, pass1_messages, question_of)
from .scorer import common_prefix_len, continuation_logprobs, continuation_scores

__all__ = ["ANSWER_PREFIX", "LABELS", "LAYOUTS", "MODES", "PASS1_GEN", "Classifier", "Decision", "Pass1Mode",
           "Pass1Runner", "classification_prompt", "common_prefix_len", "continuation_logprobs", "continuation_scores", "get_mode",
           "instructions", "parse_label", "pass1_messages", "question_of"]
