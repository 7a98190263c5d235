"""Batched generation that keeps the exact sampled token ids.

``generate`` left-pads the rendered prompts, samples (or decodes greedily) with
``model.generate``, and cuts every row at its first end-of-sequence token or stop string.
The result keeps the token ids the model produced, so the objective recomputes
log-probabilities on exactly those ids (no re-tokenising of text). A row cut by a stop
string keeps the tokens up to and including the one that completed the stop string; its
text (what is scored) ends before the stop string, as lm-eval's ``until`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    input_ids: torch.Tensor       # (B, P + T) left-padded prompt + generated ids
    attention_mask: torch.Tensor  # (B, P + T) 1 on real prompt tokens and kept response tokens
    response_mask: torch.Tensor   # (B, P + T) 1 on kept response tokens
    texts: list[str]              # responses as scored (cut before any stop string)

    @property
    def num_response_tokens(self) -> int:
        return int(self.response_mask.sum())

    def select(self, keep: torch.Tensor) -> "Rollout":
        """The rows where ``keep`` (bool, one per row) is true."""
        rows = keep.nonzero().flatten()
        return Rollout(self.input_ids[rows], self.attention_mask[rows], self.response_mask[rows],
                       [self.texts[i] for i in rows.tolist()])


def pad_id(tokenizer) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    return pad if pad is not None else tokenizer.eos_token_id


def left_pad(rows: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id rows left-padded to one width: (ids, attention mask)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row)
            mask[i, width - len(row):] = 1
    return ids.to(device), mask.to(device)


def pair_rows(pairs: list[tuple[list[int], list[int]]], pad: int, device, texts: list[str] | None = None) -> Rollout:
    """(prompt ids, response ids) pairs as a left-padded Rollout whose response is the second part."""
    ids, mask = left_pad([p + r for p, r in pairs], pad, device)
    response = torch.zeros_like(mask)
    for i, (_, r) in enumerate(pairs):
        if r:
            response[i, ids.shape[1] - len(r):] = 1
    return Rollout(ids, mask, response, list(texts or []))


def encode_prompts(tokenizer, prompts: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and attention mask of ``prompts`` (no special tokens added: the chat
    template already has them)."""
    return left_pad([tokenizer.encode(p, add_special_tokens=False) for p in prompts], pad_id(tokenizer), device)


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions as ``generate`` computes them for left-padded rows."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.masked_fill(attention_mask == 0, 0)


class _StopStrings:
    """Per-row stopping criterion: a stop string appeared in the generated text."""

    def __init__(self, tokenizer, stop: list[str], prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, [s for s in stop if s], prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stop:
            return done
        for i, row in enumerate(input_ids[:, self.prompt_len:].tolist()):
            text = self.tokenizer.decode(row, skip_special_tokens=False)
            done[i] = any(s in text for s in self.stop)
        return done


def _cut(tokenizer, ids: list[int], stop: list[str], eos: set[int]) -> tuple[int, str]:
    """(number of generated tokens kept, scored text) of one generated row."""
    keep = next((j + 1 for j, tok in enumerate(ids) if tok in eos), len(ids))  # end token kept
    body = [t for t in ids[:keep] if t not in eos]
    stop = [s for s in stop if s]
    if not any(s in tokenizer.decode(body, skip_special_tokens=False) for s in stop):
        return keep, tokenizer.decode(body, skip_special_tokens=True)
    lo, hi = 1, len(body)  # smallest prefix whose text contains a stop string
    while lo < hi:
        mid = (lo + hi) // 2
        if any(s in tokenizer.decode(body[:mid], skip_special_tokens=False) for s in stop):
            hi = mid
        else:
            lo = mid + 1
    return lo, _strip_from(tokenizer.decode(body[:lo], skip_special_tokens=True), stop)


def _strip_from(text: str, stop: list[str]) -> str:
    cuts = [text.find(s) for s in stop if s and s in text]
    return text[:min(cuts)] if cuts else text


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, stop: list[str] | None = None,
             do_sample: bool = True, temperature: float = 1.0, engine=None) -> Rollout:
    """Generate one answer per prompt (see module docstring) with HF ``generate``, or with
    ``engine`` (a :class:`~t2eval.engine.VLLMEngine` that holds the model's current weights)."""
    device = next(model.parameters()).device
    input_ids, mask = encode_prompts(tokenizer, prompts, device)
    stop = list(stop or [])
    if engine is None:
        rows = _hf_rows(model, tokenizer, input_ids, mask, max_new_tokens, stop, do_sample, temperature)
    else:
        rows = _engine_rows(engine, input_ids, mask, max_new_tokens, stop, do_sample, temperature)
    width = max(1, max(len(r) for r in rows))
    gen = torch.full((len(rows), width), pad_id(tokenizer), dtype=torch.long)
    response_mask = torch.zeros((len(rows), input_ids.shape[1] + width), dtype=torch.long)
    texts, prompt_len, eos = [], input_ids.shape[1], {tokenizer.eos_token_id}
    for i, row in enumerate(rows):
        gen[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        keep, text = _cut(tokenizer, row, stop, eos)
        response_mask[i, prompt_len:prompt_len + keep] = 1
        texts.append(text)
    out = torch.cat([input_ids, gen.to(device)], dim=1)
    response_mask = response_mask.to(device)
    attention = torch.cat([mask, torch.zeros_like(gen, device=device)], dim=1) + response_mask
    return Rollout(out, attention, response_mask, texts)


def _hf_rows(model, tokenizer, input_ids, mask, max_new_tokens, stop, do_sample, temperature) -> list[list[int]]:
    from transformers import StoppingCriteriaList

    kwargs = dict(do_sample=do_sample, max_new_tokens=max_new_tokens, pad_token_id=pad_id(tokenizer),
                  eos_token_id=tokenizer.eos_token_id,
                  stopping_criteria=StoppingCriteriaList([_StopStrings(tokenizer, stop, input_ids.shape[1])]))
    if do_sample:
        kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
    else:
        kwargs.update(temperature=None, top_k=None, top_p=None)
    out = model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
    return out[:, input_ids.shape[1]:].tolist()


def _engine_rows(engine, input_ids, mask, max_new_tokens, stop, do_sample, temperature) -> list[list[int]]:
    ids = [row[keep == 1].tolist() for row, keep in zip(input_ids.cpu(), mask.cpu())]  # the prompts, unpadded
    # one seed per prompt drawn from torch's RNG: a seeded / resumed run samples the same answers
    seeds = torch.randint(0, 2**31 - 1, (len(ids),)).tolist() if do_sample else None
    return engine.generate(ids, max_new_tokens, stop, temperature if do_sample else 0.0, seeds)


def teacher_forced(tokenizer, prompts: list[str], targets: list[str], device) -> Rollout:
    """Prompt + reference answer (+ end token) as a Rollout, for ``--objective sft``."""
    pairs = [(tokenizer.encode(p, add_special_tokens=False),
              tokenizer.encode(t, add_special_tokens=False) + [tokenizer.eos_token_id]) for p, t in zip(prompts, targets)]
    return pair_rows(pairs, pad_id(tokenizer), device, targets)
