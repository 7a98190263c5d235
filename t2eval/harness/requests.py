"""How ``--model t2`` answers lm-eval requests on whatever weights are installed: chat wrapping
of raw generative prompts (``chat=auto``), generation by HF or the vLLM engine, pass 1's open
assistant turn, and log-likelihoods with each shared context run once."""

from __future__ import annotations

import logging

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from ..dispatch import continuation_scores
from .vllm_requests import generate_until as vllm_generate_until

log = logging.getLogger("lm_eval.t2")


def chat_tail(lm) -> str | None:
    """What the chat template puts after a user message (None: no chat template)."""
    if not getattr(lm.tokenizer, "chat_template", None):
        return None
    try:
        tail = lm.apply_chat_template([{"role": "user", "content": "\x00"}]).split("\x00")[-1]
    except Exception:
        return None
    return tail if tail.strip() else None


def rendered_with_chat(requests: list[Instance], tail: str | None) -> bool:
    """Were these requests rendered with the chat template (lm-eval's --apply_chat_template)?"""
    return tail is not None and any(tail in str(r.args[0]) for r in requests)


def wrap_in_chat(lm, requests: list[Instance], tail: str | None, wrapped: set[str]) -> list[Instance]:
    """Prompts lm-eval did not render with the chat template become one user turn of it
    (``tail`` None: leave them); each task so wrapped is added to ``wrapped`` and logged once."""
    if tail is None or all(tail in str(r.args[0]) for r in requests):
        return requests
    out = []
    for r in requests:
        if tail in str(r.args[0]):
            out.append(r)
            continue
        task = r.task_name or "?"
        if task not in wrapped:
            wrapped.add(task)
            log.warning("t2: %s prompts were not rendered with the model's chat template (no "
                        "--apply_chat_template): t2 sends each as one user turn of it (chat=auto; "
                        "chat=off keeps them raw)", task)
        rendered = lm.apply_chat_template([{"role": "user", "content": r.args[0]}])
        out.append(Instance(r.request_type, r.doc, (rendered, *r.args[1:]), r.idx,
                            metadata=(r.task_name, r.doc_id, r.repeats)))
    return out


def generate(lm, engine, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
    """generate_until on the installed weights: HF generate, or the vLLM engine."""
    if engine is None:
        return HFLM.generate_until(lm, requests, disable_tqdm=disable_tqdm)
    return vllm_generate_until(lm, engine, requests, disable_tqdm)


def open_turn(lm, messages: list[dict]) -> str:
    """A chat with the assistant turn open; without a chat template, the plain texts."""
    if getattr(lm.tokenizer, "chat_template", None):
        return lm.apply_chat_template(messages, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


def as_requests(prompts: list[str], gen_kwargs: dict) -> list[Instance]:
    """Plain prompts as generate_until requests (pass 1's generate mode)."""
    return [Instance("generate_until", {}, (p, dict(gen_kwargs)), i) for i, p in enumerate(prompts)]


def shared_context_loglikelihoods(lm, requests, batch_size: int, pad_id: int, disable_tqdm: bool,
                                  fallback) -> list:
    """HFLM's ``_loglikelihood_tokens`` with each distinct context run once for all its
    continuations (a multiple-choice question costs one forward, not one per option).
    Requests HFLM would truncate go to ``fallback`` (HFLM's own loop) unchanged."""
    groups: dict[tuple, list[int]] = {}
    for i, (_, context, continuation) in enumerate(requests):
        if continuation and len(context) + len(continuation) <= lm.max_length + 1:
            groups.setdefault(tuple(context), []).append(i)
    out: list = [None] * len(requests)
    if groups:
        scored = continuation_scores(lm.model, [list(c) for c in groups],
                                     [[requests[i][2] for i in idx] for idx in groups.values()],
                                     batch_size=batch_size, pad_id=pad_id,
                                     progress=None if disable_tqdm else "Running loglikelihood requests "
                                     f"(t2: {len(groups)} contexts, each run once)")
        for idx, row in zip(groups.values(), scored):
            for i, answer in zip(idx, row):
                out[i] = answer
                if requests[i][0] is not None:
                    lm.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
    rest = [i for i, answer in enumerate(out) if answer is None]
    if rest:
        for i, answer in zip(rest, fallback([requests[i] for i in rest])):
            out[i] = answer
    return out
