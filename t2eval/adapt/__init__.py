"""Self-adaptation, independent of lm-eval: the expert library, the strategies that plan
which weights answer each document (pass 1), and the CEM search over mixing weights.

The lm-eval layer (:mod:`t2eval.harness`) calls into this package and passes what it needs
as arguments; nothing here imports lm-eval.
"""

from .cem import PRESETS as CEM_PRESETS, CEMConfig, CEMResult, cem_config, cem_search
from .library import EXPERTS_ENV, ExpertLibrary, default_experts_dir, shipped_experts_root
from .strategies import BASE, STRATEGIES, FixedExpert, Strategy, make_strategy, majority_per_task

__all__ = ["BASE", "CEM_PRESETS", "CEMConfig", "CEMResult", "EXPERTS_ENV", "ExpertLibrary", "FixedExpert",
           "STRATEGIES", "Strategy", "cem_config", "cem_search", "default_experts_dir", "majority_per_task",
           "make_strategy", "shipped_experts_root"]
