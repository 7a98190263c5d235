"""vLLM parallel settings and the data-parallel helpers, checked before anything loads."""

from __future__ import annotations

import pytest
import torch

from t2eval.engine import parallel_kwargs
from t2eval.train import build_config
from t2eval.train.config import ConfigError
from t2eval.train.loop import Ranks
from t2eval.train.objective import rl_advantages


def test_one_process_one_engine():
    assert parallel_kwargs() == {"distributed_executor_backend": "uni"}


def test_tensor_parallel_needs_that_many_gpus():
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus >= 2:
        assert parallel_kwargs(2) == {"tensor_parallel_size": 2, "distributed_executor_backend": "mp"}
    else:
        with pytest.raises(ValueError, match=f"over 2 GPUs; this machine has {gpus}"):
            parallel_kwargs(2)


def test_tensor_parallel_and_a_multi_process_launch_are_refused_together():
    with pytest.raises(ValueError, match="with a 2-process launch is not supported"):
        parallel_kwargs(2, world_size=2)
    with pytest.raises(ValueError, match=">= 1"):
        parallel_kwargs(0)


def test_data_parallel_engines(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert parallel_kwargs(1, world_size=2) == {"distributed_executor_backend": "uni"}   # CPU: one engine per rank
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert parallel_kwargs(1, world_size=2) == {"distributed_executor_backend": "external_launcher",
                                                "data_parallel_size": 2}


def test_backend_refuses_tensor_parallel_without_vllm_before_loading():
    from t2eval.harness import T2LM

    with pytest.raises(ValueError, match="needs engine=vllm"):
        T2LM(pretrained="/nonexistent", strategy="none", tensor_parallel_size=2)


def test_trainer_config_refuses_tensor_parallel_without_vllm():
    with pytest.raises(ConfigError, match="needs engine=vllm"):
        build_config("gsm8k_t2", overrides={"tensor_parallel_size": 2})


def test_single_process_ranks_are_the_identity():
    ranks = Ranks()
    assert (ranks.rank, ranks.world, ranks.main) == (0, 1, True)
    assert ranks.shard([1, 2, 3]) == [1, 2, 3] and ranks.sum(1.5, 2) == [1.5, 2]


def test_mean_baseline_can_use_the_global_batch_mean():
    rewards = torch.tensor([1.0, -1.0, -1.0, -1.0])
    assert rl_advantages(rewards, "mean")[0].tolist() == [1.5, -0.5, -0.5, -0.5]
    assert rl_advantages(rewards, "mean", batch_mean=0.0)[0].tolist() == [1.0, -1.0, -1.0, -1.0]
