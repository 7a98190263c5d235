"""The lm-eval backend ``t2`` (imported only when ``--model t2`` is used)."""

from .lm import T2LM

__all__ = ["T2LM"]
