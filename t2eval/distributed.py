"""Data parallelism under a multi-process launcher (``torchrun``, ``accelerate launch``):
``--model t2`` (below) and the trainer (:mod:`t2eval.train.loop`: each rank takes its shard of
every global batch, gradients are summed across ranks before the one optimiser step).

``--model t2``:

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


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def launched_world_size() -> int:
    """The number of processes the launcher started (``WORLD_SIZE``; 1 without a launcher)."""
    return _env_int("WORLD_SIZE", 1)


def join_process_group() -> tuple[int, int]:
    """(rank, world size) of this process in the launcher's process group (joined if needed)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():  # NCCL collectives (gathers of objects too) use the current device
            torch.cuda.set_device(local_rank())
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


def is_main() -> bool:
    """Whether this process is rank 0 (or the only process): the one that writes files."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 without a launcher)."""
    return _env_int("LOCAL_RANK", 0)


def all_reduce_sum(values: list[float]) -> list[float]:
    """The element-wise sum of ``values`` over every rank (float64)."""
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    buffer = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(buffer)
    return buffer.tolist()


def all_reduce_grads(params: list[torch.Tensor]) -> None:
    """Sum the gradients of ``params`` over every rank, in one flat buffer (a rank that had
    nothing to back-propagate contributes zeros)."""
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.detach().reshape(-1).to(torch.float32) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).to(p.dtype)
        offset += n
