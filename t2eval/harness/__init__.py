"""The lm-eval layer: everything of t2eval that imports lm-eval lives in this package.

* :mod:`.model` — ``T2LM``, the ``--model t2`` class (plan -> group -> install -> run);
* :mod:`.args` — its ``--model_args`` (one dataclass, help text and checks per field);
* :mod:`.requests` — chat wrapping, generation (HF / vLLM), shared-context log-likelihoods;
* :mod:`.fewshot` — held-out documents as lm-eval requests, the CEM fitter of strategy=fewshot;
* :mod:`.record` — pass-1 decisions, timings, the results file's ``t2`` block, fingerprints;
* :mod:`.plugin` — the hook that registers ``t2`` and t2eval's tasks with the stock CLI;
* :mod:`.tasks` — the one door for the trainer, the report and the gate into lm-eval's tasks
  and evaluator.

This ``__init__`` imports nothing: the plugin is imported at every interpreter start, and a
plain ``lm_eval --model hf`` run must not load the model class.
"""

from __future__ import annotations

_LAZY = {"T2LM": ".model", "T2Args": ".args"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["T2LM", "T2Args"]
