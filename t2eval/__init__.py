"""t2eval: Transformer-Squared self-adaptive LLMs for lm-evaluation-harness."""

__version__ = "0.1.0"
