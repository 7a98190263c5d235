"""lm-eval ``generate_until`` requests answered by a :class:`~t2eval.engine.VLLMEngine`.

Mirrors HFLM's own ``generate_until`` step for step, so ``engine=vllm`` and ``engine=hf``
give the same text for the same tokens: the same prompt tokens (HFLM's ``tok_batch_encode``,
left-truncated to ``max_length - max_gen_toks``), the same stop sequences (the task's
``until`` plus the end-of-turn token), the same decoding (``tok_decode``) and the same cut
(``postprocess_generated_text``), and the same response-cache entries.
"""

from __future__ import annotations

import json

from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from tqdm import tqdm


def generate_until(lm, engine, requests, disable_tqdm: bool = False) -> list[str]:
    """Answers of ``requests`` (lm-eval Instances) in their order; ``lm`` is the HFLM."""
    groups: dict[str, list[int]] = {}
    for i, req in enumerate(requests):
        groups.setdefault(json.dumps(req.args[1], sort_keys=True, default=str), []).append(i)
    results: list[str | None] = [None] * len(requests)
    bar = tqdm(total=len(requests), disable=disable_tqdm, desc="Running generate_until requests (vLLM)")
    for idx in groups.values():
        contexts = [requests[i].args[0] for i in idx]
        gen_kwargs = requests[idx[0]].args[1]
        for i, text in zip(idx, _generate_group(lm, engine, contexts, gen_kwargs)):
            results[i] = text
            lm.cache_hook.add_partial("generate_until", (requests[i].args[0], gen_kwargs), text)
            bar.update(1)
    bar.close()
    return results


SAMPLING_KEYS = ("temperature", "top_k", "top_p", "min_p", "repetition_penalty")


def sampling_settings(kwargs: dict, generation_config=None) -> dict:
    """The sampling settings HF ``generate`` would use for these lm-eval gen_kwargs: each from
    the request, else the model's generation_config, else transformers' own defaults (top_k
    50 among them), else vLLM's neutral value. Greedy (no do_sample) is temperature 0."""
    if not kwargs.get("do_sample"):
        return {"temperature": 0.0}
    defaults = _hf_generation_defaults()
    out = {}
    for key in SAMPLING_KEYS:
        value = kwargs.get(key)
        if value is None:
            value = getattr(generation_config, key, None)
        if value is None:
            value = defaults.get(key)
        if value is not None:
            out[key] = int(value) if key == "top_k" else float(value)
    return out


def _hf_generation_defaults() -> dict:
    from transformers import GenerationConfig

    getter = getattr(GenerationConfig, "_get_default_generation_params", None)
    return getter() if getter else {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}


def _generate_group(lm, engine, contexts: list[str], gen_kwargs: dict) -> list[str]:
    kwargs = normalize_gen_kwargs(gen_kwargs, lm.max_gen_toks)
    until = handle_stop_sequences(kwargs.pop("until", None), eos=lm.tok_decode(lm.eot_token_id,
                                                                                skip_special_tokens=False))
    max_gen_toks = kwargs.pop("max_gen_toks")
    max_ctx_len = lm.max_length - max_gen_toks
    prompts = [lm.tok_batch_encode([c], left_truncate_len=max_ctx_len, truncation=lm.truncation)[0][0].tolist()
               for c in contexts]
    outputs = engine.generate(prompts, max_gen_toks, until, **sampling_settings(kwargs, lm.model.generation_config))
    think = lm.think_end_token if isinstance(lm.think_end_token, str) else None
    return [postprocess_generated_text(generation=lm.tok_decode(ids), stop=until, think_end_token=think)
            for ids in outputs]
