"""Data parallelism for ``--model t2`` under a multi-process launcher.

lm-eval's HFLM turns data parallelism on only when accelerate sees several CUDA devices; under
``torchrun`` / ``accelerate launch`` on CPUs (or one GPU) every process would report rank 0 and
do the whole job. t2 therefore joins the launcher's process group itself (gloo on CPU, NCCL on
GPUs) when the launcher started several processes and HFLM stayed single-process; lm-eval then
shards the documents by rank, and each rank plans (pass 1) and answers its own shard.

What t2 records is gathered from every rank at lm-eval's barriers (after each request type):
every document's pass-1 decision, and each rank's seconds and expert installs.
"""

from __future__ import annotations

import os

import torch


def launched_world_size() -> int:
    """The number of processes the launcher started (``WORLD_SIZE``; 1 without a launcher)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def join_process_group() -> tuple[int, int]:
    """(rank, world size) of this process in the launcher's process group (joined if needed)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def all_gather_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated (0-d tensors stacked), as accelerate's ``gather``."""
    import torch.distributed as dist

    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.stack(parts) if tensor.dim() == 0 else torch.cat(parts)


def all_gather_object(obj) -> list:
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()
