"""`t2eval train`: the SVF expert trainer (REINFORCE + KL, SFT, or a choice policy), faithful to
the paper; the objectives (``OBJECTIVES``) and methods (``METHODS``: svf, lora, dora, ia3) are
registered classes.

    from t2eval.train import build_config, train
    cfg = build_config("gsm8k_t2", preset="cpu")
    result = train(cfg, "runs/train/math")     # result.expert, result.best_val, ...
"""

from .config import PRESETS, ConfigError, TrainConfig, build_config
from .data import TaskError, TrainTask, build_task
from .loop import ResumeError, Trainer, TrainResult, train, train_sweep
from .objectives import OBJECTIVES
from .policy import METHODS

__all__ = ["PRESETS", "ConfigError", "TrainConfig", "build_config", "TaskError", "TrainTask", "build_task",
           "ResumeError", "Trainer", "TrainResult", "train", "train_sweep", "OBJECTIVES", "METHODS"]
